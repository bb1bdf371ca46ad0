// Package bench holds end-to-end benchmarks of the mesh running in one
// process (embedded JetStream, two gateways, two room-service replicas),
// driven by Go Socket.IO clients over real WebSockets. Run with
//
//	go test -run '^$' -bench . -benchtime 2000x ./test/bench/
//
// Figures are recorded in docs/benchmarks.md.
package bench

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/rtcmesh/rtcmesh/internal/meshtest"
	"github.com/rtcmesh/rtcmesh/internal/siotest"
)

func dial(b *testing.B, url string) *siotest.Client {
	b.Helper()
	c, err := siotest.Dial(url, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Close)
	return c
}

func joinRoom(b *testing.B, c *siotest.Client, room string) {
	b.Helper()
	if err := c.Emit("join-room", map[string]any{"roomId": room, "name": c.ID()}); err != nil {
		b.Fatal(err)
	}
	if _, err := c.Wait("join-ok", 10*time.Second); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkRelayRoundTrip measures a #rtcio:message round trip between
// two sockets on different gateways: A sends to B, B answers A.
func BenchmarkRelayRoundTrip(b *testing.B) {
	m := meshtest.Start(b, meshtest.Options{})
	a := dial(b, m.Gateways[0].URL)
	c := dial(b, m.Gateways[1].URL)
	joinRoom(b, a, "bench")
	joinRoom(b, c, "bench")
	if _, err := a.Wait("#rtcio:init-offer", 10*time.Second); err != nil {
		b.Fatal(err)
	}
	data := json.RawMessage(`{"candidate":{"candidate":"candidate:1 1 udp 2122260223 192.0.2.1 54321 typ host","sdpMid":"0","sdpMLineIndex":0}}`)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_ = a.Emit("#rtcio:message", map[string]any{"target": c.ID(), "data": data})
		if _, err := c.Wait("#rtcio:message", 5*time.Second); err != nil {
			b.Fatal(err)
		}
		_ = c.Emit("#rtcio:message", map[string]any{"target": a.ID(), "data": data})
		if _, err := a.Wait("#rtcio:message", 5*time.Second); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkJoin measures join-room to join-ok for a newcomer joining a
// room that already has a few members on the other gateway.
func BenchmarkJoin(b *testing.B) {
	for _, members := range []int{1, 8} {
		b.Run(fmt.Sprintf("members=%d", members), func(b *testing.B) {
			m := meshtest.Start(b, meshtest.Options{})
			for i := 0; i < members; i++ {
				joinRoom(b, dial(b, m.Gateways[1].URL), "join-bench")
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				c := dial(b, m.Gateways[0].URL)
				b.StartTimer()
				joinRoom(b, c, "join-bench")
				b.StopTimer()
				_ = c.Emit("leave-room", map[string]any{"roomId": "join-bench"})
				c.Close()
				b.StartTimer()
			}
		})
	}
}
