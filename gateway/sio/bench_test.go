package sio_test

import (
	"testing"

	"github.com/rtcmesh/rtcmesh/gateway/sio"
)

// A typical relay packet: an ICE candidate in an rtc.io envelope.
var relayPacket = []byte(`2["#rtcio:message",{"source":"q3JbiRvbqJzxkGDFA97p","target":"lHi8NTz-q7_MonfFJfn8","data":{"candidate":{"candidate":"candidate:1 1 udp 2122260223 192.0.2.1 54321 typ host","sdpMid":"0","sdpMLineIndex":0}}}]`)

func BenchmarkDecode(b *testing.B) {
	b.SetBytes(int64(len(relayPacket)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := sio.Decode(relayPacket); err != nil {
			b.Fatal(err)
		}
	}
}
