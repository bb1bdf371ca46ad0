package mesh_test

import (
	"testing"
	"time"

	"github.com/rtcmesh/rtcmesh/internal/meshtest"
	"github.com/rtcmesh/rtcmesh/internal/siotest"
	"github.com/rtcmesh/rtcmesh/shared"
)

// Two sockets that already share a room and then meet in a second one get
// no second #rtcio:init-offer: their peer connection exists, and the rtc.io
// client would overwrite it. The second room's presence (user-connected)
// is still delivered.
func TestSecondSharedRoomNoSecondOffer(t *testing.T) {
	m := meshtest.Start(t, meshtest.Options{})
	dial := func(url string) *siotest.Client {
		c, err := siotest.Dial(url, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		return c
	}
	join := func(c *siotest.Client, room string) {
		if err := c.Emit(shared.EventJoinRoom, map[string]any{"roomId": room}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Wait(shared.EventJoinOK, 10*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	a, b := dial(m.Gateways[0].URL), dial(m.Gateways[1].URL)
	join(a, "first")
	join(b, "first")
	if _, err := a.Wait(shared.EventInitOffer, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	join(a, "second")
	join(b, "second")
	if _, err := a.WaitFunc(10*time.Second, func(e siotest.Event) bool {
		var p struct{ ID string }
		return e.Name == shared.EventUserConnected && e.Arg(0, &p) == nil && p.ID == b.ID()
	}); err != nil {
		t.Fatalf("no user-connected for the second room: %v", err)
	}
	// A fence through the same path: a third socket joining the second
	// room gives A an init-offer about it, which comes after anything the
	// room service sent A about B's second join.
	c := dial(m.Gateways[1].URL)
	join(c, "second")
	ev, err := a.Wait(shared.EventInitOffer, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var offer struct{ Source string }
	if err := ev.Arg(0, &offer); err != nil || offer.Source != c.ID() {
		t.Fatalf("second init-offer to A is about %q, want only the newcomer %q", offer.Source, c.ID())
	}
}
