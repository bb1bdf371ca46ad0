package mesh_test

import (
	"testing"
	"time"

	"github.com/rtcmesh/rtcmesh/internal/meshtest"
	"github.com/rtcmesh/rtcmesh/internal/siotest"
)

func TestSmokeTwoGateways(t *testing.T) {
	m := meshtest.Start(t, meshtest.Options{})
	a, err := siotest.Dial(m.Gateways[0].URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := siotest.Dial(m.Gateways[1].URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	a.Emit("join-room", map[string]any{"roomId": "r", "name": "A"})
	if _, err := a.Wait("join-ok", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	b.Emit("join-room", map[string]any{"roomId": "r", "name": "B"})
	if _, err := b.Wait("join-ok", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Wait("#rtcio:init-offer", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	a.Emit("#rtcio:message", map[string]any{"target": b.ID(), "data": map[string]any{"x": 1}})
	ev, err := b.Wait("#rtcio:message", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s", ev.Args[0])
	m.Gateways[1].Crash()
	start := time.Now()
	if _, err := a.Wait("user-disconnected", 15*time.Second); err != nil {
		t.Fatal(err)
	}
	t.Logf("crash noticed after %v", time.Since(start))
}
