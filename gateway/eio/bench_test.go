package eio_test

import (
	"testing"

	"github.com/rtcmesh/rtcmesh/gateway/eio"
)

func BenchmarkDecodePayload(b *testing.B) {
	body := []byte("42[\"join-room\",{\"roomId\":\"stand-up\",\"name\":\"Ann\"}]\x1e3\x1e42[\"media-state\",{\"roomId\":\"stand-up\",\"mic\":true,\"cam\":false}]\x1ebAQIDBA==")
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := eio.DecodePayload(body); err != nil {
			b.Fatal(err)
		}
	}
}
