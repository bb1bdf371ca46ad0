package failover

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rtcmesh/rtcmesh/internal/siotest"
	"github.com/rtcmesh/rtcmesh/internal/testutil"
	"github.com/rtcmesh/rtcmesh/presence"
	"github.com/rtcmesh/rtcmesh/shared"
)

func join(t *testing.T, url, room string) (*siotest.Client, error) {
	c, err := siotest.Dial(url, nil)
	if err != nil {
		return nil, err
	}
	t.Cleanup(c.Close)
	if err := c.Emit(shared.EventJoinRoom, map[string]any{"roomId": room, "name": room}); err != nil {
		return nil, err
	}
	ev, err := c.WaitFunc(20*time.Second, func(e siotest.Event) bool {
		return e.Name == shared.EventJoinOK || e.Name == shared.EventJoinError
	})
	if err != nil {
		return nil, fmt.Errorf("join %s: %w", room, err)
	}
	if ev.Name != shared.EventJoinOK {
		return nil, fmt.Errorf("join %s: %s %s", room, ev.Name, ev.Args)
	}
	return c, nil
}

// joinConcurrently connects n sockets round-robin over the gateways and
// makes them join rooms room-0..room-3 at the same time; every join must
// succeed.
func joinConcurrently(t *testing.T, gateways []string, n int) []*siotest.Client {
	t.Helper()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var out []*siotest.Client
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := join(t, gateways[i%len(gateways)], fmt.Sprintf("room-%d", i%4))
			if err != nil {
				errs <- err
				return
			}
			mu.Lock()
			out = append(out, c)
			mu.Unlock()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		t.FailNow()
	}
	return out
}

func liveSet(clients []*siotest.Client) map[string]bool {
	live := make(map[string]bool, len(clients))
	for _, c := range clients {
		live[c.ID()] = true
	}
	return live
}

// expectUndisturbed checks that no socket was dropped and none saw a
// departure.
func expectUndisturbed(t *testing.T, clients []*siotest.Client) {
	t.Helper()
	for _, c := range clients {
		if c.Closed() {
			t.Fatalf("socket %s was dropped", c.ID())
		}
		for _, e := range c.Events() {
			if e.Name == shared.EventUserDisconnected || e.Name == shared.EventPeerLeft {
				t.Fatalf("socket %s saw a departure: %s %s", c.ID(), e.Name, e.Args)
			}
		}
	}
}

// expectRosters waits until the KV rosters hold exactly the live sockets.
func expectRosters(t *testing.T, st *presence.Store, live map[string]bool) {
	t.Helper()
	testutil.Eventually(t, 10*time.Second, "rosters equal the live sockets", func() bool {
		all, err := st.AllMembers(context.Background())
		if err != nil || len(all) != len(live) {
			return false
		}
		for _, mem := range all {
			if !live[mem.SID] {
				return false
			}
		}
		return true
	})
}

// leaderVotes counts, per server name, how many of the mesh's main streams
// it leads.
func leaderVotes(t *testing.T, js jetstream.JetStream) map[string]int {
	t.Helper()
	votes := map[string]int{}
	for _, name := range []string{shared.StreamRoomCommands, shared.StreamPresence, "KV_" + shared.BucketRooms, "KV_" + shared.BucketGateways} {
		s, err := js.Stream(context.Background(), name)
		if err != nil {
			t.Fatal(err)
		}
		info, err := s.Info(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		votes[info.Cluster.Leader]++
	}
	return votes
}

// mustJoin connects to url and joins room, failing the test otherwise.
func mustJoin(t *testing.T, url, room string) *siotest.Client {
	t.Helper()
	c, err := join(t, url, room)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// jetStream connects to url (reconnecting through node failures) and
// returns a JetStream context; the connection closes at cleanup.
func jetStream(t *testing.T, url string) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}
