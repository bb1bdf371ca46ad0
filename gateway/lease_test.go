package gateway_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/rtcmesh/rtcmesh/internal/meshtest"
	"github.com/rtcmesh/rtcmesh/internal/siotest"
	"github.com/rtcmesh/rtcmesh/internal/testutil"
	"github.com/rtcmesh/rtcmesh/shared"
)

func joined(t *testing.T, url, room string) *siotest.Client {
	t.Helper()
	c, err := siotest.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	if err := c.Emit(shared.EventJoinRoom, map[string]any{"roomId": room}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Wait(shared.EventJoinOK, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	return c
}

func purgeLease(t *testing.T, m *meshtest.Mesh, id string) {
	t.Helper()
	js, err := jetstream.New(m.NATS.Connect(t))
	if err != nil {
		t.Fatal(err)
	}
	kv, err := js.KeyValue(context.Background(), shared.BucketGateways)
	if err != nil {
		t.Fatal(err)
	}
	if err := kv.Purge(context.Background(), id); err != nil {
		t.Fatal(err)
	}
}

// A lease that lapses while the gateway is alive (as while JetStream
// elects a leader) is not reaped: the room service's probe is answered,
// the gateway re-acquires the lease, and every socket stays.
func TestLapsedLeaseKeepsSockets(t *testing.T) {
	m := meshtest.Start(t, meshtest.Options{Gateways: 1, RoomServices: 1})
	gw := m.Gateways[0]
	a := joined(t, gw.URL, "keep")
	b := joined(t, gw.URL, "keep")
	id := gw.GW.ID()
	purgeLease(t, m, id)
	st := m.Store()
	testutil.Eventually(t, 10*time.Second, "lease re-acquired", func() bool {
		live, err := st.LiveGateways(context.Background())
		return err == nil && live[id]
	})
	if gw.GW.ID() != id {
		t.Fatalf("gateway changed id from %s to %s", id, gw.GW.ID())
	}
	// Nothing may have left: wait past the probe window, then check.
	if ev, err := a.Wait(shared.EventUserDisconnected, 3*time.Second); err == nil {
		t.Fatalf("a lapsed lease made %v leave", ev.Args)
	}
	d, err := st.ShowRoom(context.Background(), "keep")
	if err != nil || len(d.Members) != 2 {
		t.Fatalf("room after lapse: %+v %v", d, err)
	}
	if a.Closed() || b.Closed() {
		t.Fatal("a socket was dropped")
	}
}

// When the room service claimed the gateway first (it did not answer its
// probe), the gateway must drop its sockets, which were reaped, and carry
// on under a new id.
func TestReapedGatewayDropsSockets(t *testing.T) {
	m := meshtest.Start(t, meshtest.Options{Gateways: 1, RoomServices: 1})
	gw := m.Gateways[0]
	a := joined(t, gw.URL, "drop")
	id := gw.GW.ID()
	st := m.Store()
	purgeLease(t, m, id)
	if ok, err := st.MarkReaped(context.Background(), id); err != nil || !ok {
		t.Fatalf("MarkReaped = %v %v", ok, err)
	}
	testutil.Eventually(t, 10*time.Second, "socket dropped", a.Closed)
	testutil.Eventually(t, 10*time.Second, "new lease", func() bool {
		live, err := st.LiveGateways(context.Background())
		return err == nil && gw.GW.ID() != id && live[gw.GW.ID()]
	})
	testutil.Eventually(t, 10*time.Second, "room emptied", func() bool {
		d, err := st.ShowRoom(context.Background(), "drop")
		return err == nil && len(d.Members) == 0
	})
	// The gateway serves again under its new id.
	joined(t, gw.URL, "drop")
}
