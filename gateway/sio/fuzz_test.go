package sio_test

import (
	"bytes"
	"testing"

	"github.com/rtcmesh/rtcmesh/gateway/sio"
)

// FuzzDecode checks that the packet decoder never panics and that every
// packet it accepts re-encodes to something that decodes to the same
// packet.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		"0", "0{}", `0{"token":"123"}`, "0/custom,", "0/custom", `0/custom,{"token":"abc"}`, "0/random",
		"1", "1/custom,", `2["message",1,"2",{"3":[true]}]`, `2456["message-with-ack",1,"2",{"3":[false]}]`,
		`3456[1,"2",{"3":[false]}]`, `52-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`,
		`52-789["message-with-ack",{"_placeholder":true,"num":0}]`, `62-789[{"_placeholder":true,"num":0}]`,
		`4{"message":"x"}`, `4"x"`, "abc", "2{}", `2abc["m"]`, `2[]`, `2["disconnect"]`, `2[1]`,
		`2/a,12["x"]`, `511-["m"]`, `5-["m"]`, `2999999999999999["x"]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := sio.Decode(b)
		if err != nil {
			return
		}
		enc := p.Encode()
		q, err := sio.Decode(enc)
		if err != nil {
			t.Fatalf("%q decoded to %+v, whose encoding %q does not decode: %v", b, p, enc, err)
		}
		if p.Type != q.Type || p.Namespace != q.Namespace || p.HasID != q.HasID || p.ID != q.ID ||
			p.Attachments != q.Attachments || !bytes.Equal(p.Data, q.Data) {
			t.Fatalf("round trip changed %q: %+v -> %+v", b, p, q)
		}
	})
}
