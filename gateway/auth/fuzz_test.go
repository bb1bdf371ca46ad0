package auth

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/rtcmesh/rtcmesh/gateway/sio"
)

// FuzzMiddleware feeds arbitrary CONNECT auth payloads through the
// middleware: it must never panic, must refuse with an "unauthorized: "
// *sio.ConnectError or accept with a bounded Identity.
func FuzzMiddleware(f *testing.F) {
	tok, err := SignHS256(TokenSpec{Subject: "u", Name: "n", Rooms: []string{"a", "b-*"}, ExpiresAt: testNow.Add(1e12)}, testSecret)
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{`{}`, `{"token":"` + tok + `"}`, `{"token":"a.b.c"}`, `{"token":5}`, `[]`, `"x"`, ``, `{"token":"eyJhbGciOiJub25lIn0.e30."}`} {
		f.Add([]byte(s))
	}
	v, err := New(Config{Secret: testSecret, Now: fixedNow})
	if err != nil {
		f.Fatal(err)
	}
	mw := v.Middleware(nil)
	f.Fuzz(func(t *testing.T, data []byte) {
		h := &sio.Handshake{Auth: json.RawMessage(data)}
		err := mw(h)
		if err != nil {
			var ce *sio.ConnectError
			if !errors.As(err, &ce) || !strings.HasPrefix(ce.Message, "unauthorized: ") {
				t.Fatalf("refusal %v is not an unauthorized ConnectError", err)
			}
			return
		}
		id := h.Data.(Identity)
		if id.UserID == "" || len(id.UserID) > MaxSubjectBytes {
			t.Fatalf("accepted identity with bad user id %q", id.UserID)
		}
	})
}
