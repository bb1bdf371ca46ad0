// Package failover tests the mesh on a three-node NATS cluster with
// JetStream R3 when one node dies (DESIGN §5 invariant 4): commands keep
// being processed, presence events keep being stored, no socket is dropped
// or reaped, and the rosters equal the live sockets within 10 s.
package failover

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/rtcmesh/rtcmesh/internal/meshtest"
	"github.com/rtcmesh/rtcmesh/internal/natstest"
	"github.com/rtcmesh/rtcmesh/internal/siotest"
	"github.com/rtcmesh/rtcmesh/internal/testutil"
	"github.com/rtcmesh/rtcmesh/presence"
	"github.com/rtcmesh/rtcmesh/shared"
)

// leaderNode returns the node leading the most of the mesh's streams.
func leaderNode(t *testing.T, m *meshtest.Mesh) *natstest.Server {
	js, err := jetstream.New(m.Connect())
	if err != nil {
		t.Fatal(err)
	}
	votes := leaderVotes(t, js)
	var best *natstest.Server
	for _, n := range m.Nodes {
		if best == nil || votes[n.Name()] > votes[best.Name()] {
			best = n
		}
	}
	return best
}

func presenceJoins(t *testing.T, m *meshtest.Mesh) map[string]int {
	js, err := jetstream.New(m.Connect())
	if err != nil {
		t.Fatal(err)
	}
	return countJoins(t, js)
}

// countJoins counts the join events per socket in the PRESENCE stream.
func countJoins(t *testing.T, js jetstream.JetStream) map[string]int {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cons, err := js.OrderedConsumer(ctx, shared.StreamPresence, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Logf("presence consumer: %v", err)
		return nil
	}
	out := map[string]int{}
	for {
		batch, err := cons.FetchNoWait(1000)
		if err != nil {
			return out
		}
		n := 0
		for msg := range batch.Messages() {
			n++
			var ev shared.PresenceEvent
			if json.Unmarshal(msg.Data(), &ev) == nil && ev.Type == shared.PresenceJoin {
				out[ev.ID]++
			}
		}
		if n == 0 {
			return out
		}
	}
}

func TestNATSNodeLoss(t *testing.T) {
	m := meshtest.Start(t, meshtest.Options{Cluster: true, LeaseTTL: 5 * time.Second, PinnedTTL: 3 * time.Second})
	var before []*siotest.Client
	for i := 0; i < 6; i++ {
		c, err := join(t, m.Gateways[i%2].URL, fmt.Sprintf("room-%d", i%3))
		if err != nil {
			t.Fatal(err)
		}
		before = append(before, c)
	}
	victim := leaderNode(t, m)
	t.Logf("killing %s", victim.Name())
	victim.Shutdown()
	killed := time.Now()

	// Joins right after the kill, across rooms and gateways.
	after := joinConcurrently(t, []string{m.Gateways[0].URL, m.Gateways[1].URL}, 16)
	t.Logf("joins after the kill done in %v", time.Since(killed))
	all := append(before, after...)
	expectUndisturbed(t, all)
	live := liveSet(all)
	expectRosters(t, m.Store(), live)
	testutil.Eventually(t, 15*time.Second, "every join in the PRESENCE stream exactly once", func() bool {
		joins := presenceJoins(t, m)
		for id := range live {
			if joins[id] != 1 {
				return false
			}
		}
		return len(joins) == len(live)
	})
	_ = presence.Config{}
}
