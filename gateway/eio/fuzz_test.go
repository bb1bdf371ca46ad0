package eio_test

import (
	"bytes"
	"testing"

	"github.com/rtcmesh/rtcmesh/gateway/eio"
)

// FuzzDecodePayload checks that the polling payload decoder never panics
// and that whatever it accepts survives an encode/decode round trip.
func FuzzDecodePayload(f *testing.F) {
	for _, s := range []string{
		"4hello", "4test1\x1e4test2\x1e4test3", "4hello\x1ebAQIDBA==", "1", "2", "3", "6",
		"2probe", "abc", "", "b", "b===", "4\x1e\x1e4", "40/custom,{\"token\":\"x\"}",
		"452-[\"m\",{\"_placeholder\":true,\"num\":0}]\x1ebAQID",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		pkts, err := eio.DecodePayload(body)
		if err != nil {
			return
		}
		if len(pkts) == 0 {
			t.Fatal("no packets and no error")
		}
		enc := eio.AppendPayload(nil, pkts)
		again, err := eio.DecodePayload(enc)
		if err != nil {
			t.Fatalf("re-decode of %q: %v", enc, err)
		}
		if len(again) != len(pkts) {
			t.Fatalf("round trip: %d packets became %d", len(pkts), len(again))
		}
		for i := range pkts {
			a, b := pkts[i], again[i]
			if a.Type != b.Type || a.Binary != b.Binary || !bytes.Equal(a.Data, b.Data) {
				t.Fatalf("packet %d changed: %+v -> %+v", i, a, b)
			}
		}
	})
}

// FuzzDecodeText covers single WebSocket text frames.
func FuzzDecodeText(f *testing.F) {
	for _, s := range []string{"4hello", "2probe", "5", "", "9", "\x00"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		p, err := eio.DecodeText(frame)
		if err != nil {
			return
		}
		if p.Binary || len(frame) == 0 || byte(p.Type) != frame[0] || !bytes.Equal(p.Data, frame[1:]) {
			t.Fatalf("decoded %q as %+v", frame, p)
		}
	})
}
