package presence_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/rtcmesh/rtcmesh/internal/natstest"
	"github.com/rtcmesh/rtcmesh/presence"
	"github.com/rtcmesh/rtcmesh/shared"
)

func open(t *testing.T) (*presence.Store, *nats.Conn) {
	t.Helper()
	ns := natstest.Run(t)
	nc := ns.Connect(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := presence.Open(ctx, nc, presence.Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Provisioning twice is a no-op.
	if _, err := presence.Open(ctx, nc, presence.Config{}, nil); err != nil {
		t.Fatalf("second provision: %v", err)
	}
	return st, nc
}

// The stream's partition transform must agree with shared.RoomPartition,
// which gateways and tests use to predict where a room's commands go.
func TestPartitionMatchesServer(t *testing.T) {
	st, _ := open(t)
	ctx := context.Background()
	js := st.JetStream()
	for i := 0; i < 200; i++ {
		key, _ := shared.EscapeRoom(fmt.Sprintf("room %d é", i))
		if _, err := js.Publish(ctx, shared.RoomCmd(key, shared.VerbCheck), []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
	}
	stream, err := js.Stream(ctx, shared.StreamRoomCommands)
	if err != nil {
		t.Fatal(err)
	}
	for seq := uint64(1); seq <= 200; seq++ {
		m, err := stream.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		parts := strings.Split(m.Subject, ".")
		if len(parts) != 4 || parts[0] != "roomp" {
			t.Fatalf("stored subject %q", m.Subject)
		}
		want := fmt.Sprint(shared.RoomPartition(shared.RoomKey(parts[2])))
		if parts[1] != want {
			t.Fatalf("room %s stored in partition %s, shared.RoomPartition says %s", parts[2], parts[1], want)
		}
	}
}

func TestRoomRecords(t *testing.T) {
	st, _ := open(t)
	ctx := context.Background()
	a, _ := shared.EscapeRoom("x.y z")
	b, _ := shared.EscapeRoom("x")
	name := "Ann"
	for _, m := range []struct {
		room shared.RoomKey
		sid  string
	}{{a, "s1"}, {a, "s2"}, {b, "s3"}} {
		if err := st.PutMember(ctx, m.room, shared.Member{SID: m.sid, Room: m.room.ID(), Name: &name, Gateway: "g1", Seq: 7}); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.PutMedia(ctx, a, shared.MediaState{SID: "s1", Room: "x.y z", Mic: true}); err != nil {
		t.Fatal(err)
	}
	members, media, err := st.LoadRoom(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	if len(members) != 2 || len(media) != 1 || !media[0].Mic {
		t.Fatalf("room a: %+v %+v", members, media)
	}
	if err := st.DeleteMember(ctx, a, "s1"); err != nil {
		t.Fatal(err)
	}
	members, media, _ = st.LoadRoom(ctx, a)
	if len(members) != 1 || members[0].SID != "s2" || len(media) != 0 {
		t.Fatalf("after delete: %+v %+v", members, media)
	}
	all, err := st.AllMembers(ctx)
	if err != nil || len(all) != 2 {
		t.Fatalf("all members %v %v", all, err)
	}
	empty, _ := shared.EscapeRoom("nobody")
	if members, _, err := st.LoadRoom(ctx, empty); err != nil || len(members) != 0 {
		t.Fatalf("empty room: %v %v", members, err)
	}
}

// A lease expires unless refreshed; a refresh extends it; watchers see the
// expiry; a stale revision cannot refresh.
func TestLease(t *testing.T) {
	st, _ := open(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type leaseEvent struct {
		Gateway string
		Live    bool
	}
	events := make(chan leaseEvent, 16)
	go func() {
		_ = st.WatchLeases(ctx, func(gw string, live bool) { events <- leaseEvent{gw, live} })
	}()

	lease := shared.GatewayLease{ID: "gw1", Started: time.Now()}
	rev, err := st.AcquireLease(ctx, lease, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if e := <-events; e.Gateway != "gw1" || !e.Live {
		t.Fatalf("event %+v", e)
	}
	if _, err := st.AcquireLease(ctx, lease, 2*time.Second); !errors.Is(err, shared.ErrLeaseTaken) {
		t.Fatalf("second acquire: %v", err)
	}
	// Keep refreshing for longer than the TTL: the lease must stay.
	began := time.Now()
	for time.Since(began) < 3*time.Second {
		rev, err = st.RefreshLease(ctx, lease, rev, 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		select {
		case e := <-events:
			if !e.Live {
				t.Fatalf("lease ended while refreshed: %+v", e)
			}
		case <-time.After(500 * time.Millisecond):
		}
	}
	if _, err := st.RefreshLease(ctx, lease, rev-1, 2*time.Second); !errors.Is(err, presence.ErrLeaseLost) {
		t.Fatalf("stale refresh: %v", err)
	}
	// Stop refreshing: it expires and the watcher sees it.
	stopped := time.Now()
	for e := range events {
		if !e.Live {
			break
		}
	}
	if d := time.Since(stopped); d > 6*time.Second {
		t.Fatalf("expiry seen after %v", d)
	}
	live, err := st.LiveGateways(ctx)
	if err != nil || live["gw1"] {
		t.Fatalf("live gateways after expiry: %v %v", live, err)
	}
	if _, err := st.RefreshLease(ctx, lease, rev, 2*time.Second); !errors.Is(err, presence.ErrLeaseLost) {
		t.Fatalf("refresh after expiry: %v", err)
	}
}

// MarkReaped claims a gateway with a compare-and-set: it fails against a
// live lease, succeeds on an absent key, and is idempotent.
func TestMarkReaped(t *testing.T) {
	st, _ := open(t)
	ctx := context.Background()
	if _, err := st.AcquireLease(ctx, shared.GatewayLease{ID: "gw2"}, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if ok, err := st.MarkReaped(ctx, "gw2"); err != nil || ok {
		t.Fatalf("MarkReaped over a live lease = %v %v", ok, err)
	}
	if ok, err := st.MarkReaped(ctx, "gw3"); err != nil || !ok {
		t.Fatalf("MarkReaped of an absent lease = %v %v", ok, err)
	}
	if ok, err := st.MarkReaped(ctx, "gw3"); err != nil || !ok {
		t.Fatalf("MarkReaped again = %v %v", ok, err)
	}
	if _, err := st.AcquireLease(ctx, shared.GatewayLease{ID: "gw3"}, 5*time.Second); !errors.Is(err, shared.ErrLeaseTaken) {
		t.Fatalf("acquire over a reaped marker: %v", err)
	}
	live, err := st.LiveGateways(ctx)
	if err != nil || !live["gw2"] || live["gw3"] {
		t.Fatalf("live = %v %v", live, err)
	}
}
