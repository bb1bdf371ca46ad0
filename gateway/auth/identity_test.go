package auth

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rtcmesh/rtcmesh/gateway/sio"
)

func TestRoomsAllows(t *testing.T) {
	cases := []struct {
		name     string
		patterns []string // nil: no claim
		room     string
		want     bool
	}{
		{name: "no claim allows all", patterns: nil, room: "anything", want: true},
		{name: "empty claim allows none", patterns: []string{}, room: "anything", want: false},
		{name: "exact", patterns: []string{"stand-up"}, room: "stand-up", want: true},
		{name: "exact is not a prefix", patterns: []string{"stand-up"}, room: "stand-up-2", want: false},
		{name: "case matters", patterns: []string{"stand-up"}, room: "Stand-up", want: false},
		{name: "prefix", patterns: []string{"team-*"}, room: "team-blue", want: true},
		{name: "prefix matches itself", patterns: []string{"team-*"}, room: "team-", want: true},
		{name: "prefix needs the prefix", patterns: []string{"team-*"}, room: "team", want: false},
		{name: "prefix is anchored", patterns: []string{"team-*"}, room: "my-team-x", want: false},
		{name: "star alone allows all", patterns: []string{"*"}, room: "x.y z", want: true},
		{name: "inner star is literal", patterns: []string{"a*b"}, room: "a*b", want: true},
		{name: "inner star does not glob", patterns: []string{"a*b"}, room: "axxb", want: false},
		{name: "second entry", patterns: []string{"a", "b", "c-*"}, room: "c-1", want: true},
		{name: "unicode", patterns: []string{"Café-*"}, room: "Café-1", want: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var r Rooms
			if tc.patterns != nil {
				var err error
				if r, err = ParseRooms(tc.patterns); err != nil {
					t.Fatal(err)
				}
			}
			if got := r.Allows(tc.room); got != tc.want {
				t.Fatalf("Allows(%q) with %q = %v, want %v", tc.room, tc.patterns, got, tc.want)
			}
		})
	}
}

func TestParseRoomsBounds(t *testing.T) {
	long := strings.Repeat("r", 257)
	for _, bad := range [][]string{{""}, {long}, {long + "*"}, make([]string, MaxRoomPatterns+1)} {
		if _, err := ParseRooms(bad); err == nil {
			t.Errorf("ParseRooms(%d entries, first %d bytes): want an error", len(bad), len(bad[0]))
		}
	}
	if _, err := ParseRooms([]string{strings.Repeat("r", 256) + "*"}); err != nil {
		t.Errorf("256-byte prefix: %v", err)
	}
}

func TestTokenFromAuth(t *testing.T) {
	cases := []struct {
		auth  string
		token string
		want  Reason
	}{
		{auth: `{"token":"abc"}`, token: "abc"},
		{auth: `{"token":"abc","other":1}`, token: "abc"},
		{auth: `{}`, want: ReasonMissing},
		{auth: `{"token":null}`, want: ReasonMissing},
		{auth: `{"token":""}`, want: ReasonMissing},
		{auth: `{"token":5}`, want: ReasonMalformed},
		{auth: `{"token":{"a":1}}`, want: ReasonMalformed},
		{auth: `"abc"`, want: ReasonMalformed},
		{auth: `[1]`, want: ReasonMalformed},
		{auth: `{"token":"` + strings.Repeat("a", maxAuthBytes) + `"}`, want: ReasonTooLarge},
	}
	for _, tc := range cases {
		tok, err := TokenFromAuth(json.RawMessage(tc.auth))
		if got := reasonOf(err); got != tc.want || tok != tc.token {
			t.Errorf("TokenFromAuth(%.40s) = %q, %q; want %q, %q", tc.auth, tok, got, tc.token, tc.want)
		}
	}
}

func TestMiddleware(t *testing.T) {
	v := newHS(t, nil)
	var refused []Reason
	mw := v.Middleware(func(e *Error) { refused = append(refused, e.Reason) })

	s := valid()
	s.Name = "Alice"
	auth, _ := json.Marshal(map[string]string{"token": mustHS(t, s)})
	h := &sio.Handshake{Namespace: "/", Auth: auth}
	if err := mw(h); err != nil {
		t.Fatalf("valid token refused: %v", err)
	}
	id, ok := h.Data.(Identity)
	if !ok || id.UserID != "user-1" || id.Name != "Alice" {
		t.Fatalf("Data = %#v", h.Data)
	}
	if h.Auth != nil {
		t.Fatalf("the token was kept in Handshake.Auth")
	}

	h = &sio.Handshake{Namespace: "/", Auth: json.RawMessage(`{}`)}
	err := mw(h)
	var ce *sio.ConnectError
	if !errors.As(err, &ce) || ce.Message != "unauthorized: token missing" {
		t.Fatalf("no token: err = %v", err)
	}
	if h.Data != nil {
		t.Fatalf("refused handshake got Data %#v", h.Data)
	}
	s.ExpiresAt = testNow.Add(-time.Minute)
	auth, _ = json.Marshal(map[string]string{"token": mustHS(t, s)})
	if err := mw(&sio.Handshake{Auth: auth}); err == nil || err.Error() != "unauthorized: token expired" {
		t.Fatalf("expired: err = %v", err)
	}
	if len(refused) != 2 || refused[0] != ReasonMissing || refused[1] != ReasonExpired {
		t.Fatalf("refusals reported = %v", refused)
	}
}
