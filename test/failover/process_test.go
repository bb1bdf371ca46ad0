package failover

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rtcmesh/rtcmesh/internal/bintest"
	"github.com/rtcmesh/rtcmesh/internal/natstest"
	"github.com/rtcmesh/rtcmesh/internal/siotest"
	"github.com/rtcmesh/rtcmesh/internal/testutil"
	"github.com/rtcmesh/rtcmesh/presence"
)

// TestKilledNATSNodeProcesses runs the split deployment from the real
// binary on a three-node cluster (JetStream R3), SIGKILLs the node leading
// most streams, and checks that nothing is lost: existing sockets stay,
// new joins succeed, every join reaches the PRESENCE stream once, and the
// rosters equal the live sockets.
func TestKilledNATSNodeProcesses(t *testing.T) {
	ports := []int{natstest.RoutePort(t), natstest.RoutePort(t), natstest.RoutePort(t)}
	var routes []string
	for _, p := range ports {
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", p))
	}
	nodes := map[string]*bintest.Proc{}
	var urls []string
	for i, p := range ports {
		name := fmt.Sprintf("n%d", i+1)
		proc := bintest.Start(t, name, nil, "nats", "--addr", "127.0.0.1:0", "--store", t.TempDir(), "--name", name,
			"--cluster-addr", fmt.Sprintf("127.0.0.1:%d", p), "--routes", strings.Join(routes, ","))
		nodes[name] = proc
		urls = append(urls, "nats://"+proc.Addr("nats", 20*time.Second))
	}
	natsURL := strings.Join(urls, ",")
	began := time.Now()
	for i := 0; i < 2; i++ {
		bintest.Start(t, fmt.Sprintf("roomsvc%d", i), nil, "roomsvc", "--nats", natsURL, "--replicas", "3")
	}
	var gws []string
	for i := 0; i < 2; i++ {
		p := bintest.Start(t, fmt.Sprintf("gateway%d", i), nil, "gateway", "--nats", natsURL, "--replicas", "3", "--addr", "127.0.0.1:0")
		gws = append(gws, "http://"+p.Addr("gateway", 60*time.Second))
	}

	t.Logf("gateways ready %v after the NATS nodes", time.Since(began))
	watch := bintest.Start(t, "presence-watch", nil, "presence", "watch", "--nats", natsURL)
	var before []*siotest.Client
	for i := 0; i < 6; i++ {
		c, err := join(t, gws[i%2], fmt.Sprintf("room-%d", i%3))
		if err != nil {
			t.Fatal(err)
		}
		before = append(before, c)
	}

	js := jetStream(t, natsURL)
	votes := leaderVotes(t, js)
	victim := ""
	for name := range nodes {
		if victim == "" || votes[name] > votes[victim] {
			victim = name
		}
	}
	t.Logf("SIGKILL %s (leader of %d of 4 streams)", victim, votes[victim])
	nodes[victim].Kill()
	killed := time.Now()

	after := joinConcurrently(t, gws, 12)
	t.Logf("joins after the kill done in %v", time.Since(killed))
	live := liveSet(append(before, after...))
	// A presence watcher started before the kill follows through it.
	for _, c := range after {
		watch.WaitOutput(`"id":"`+c.ID()+`"`, 20*time.Second)
	}
	t.Logf("presence watch caught up %v after the kill", time.Since(killed))
	// Give a lapsed lease time to be (wrongly) reaped before checking.
	testutil.Eventually(t, 15*time.Second, "ten seconds after the kill", func() bool { return time.Since(killed) > 10*time.Second })
	expectUndisturbed(t, append(before, after...))
	st, err := presence.Bind(context.Background(), js, nil)
	if err != nil {
		t.Fatal(err)
	}
	expectRosters(t, st, live)
	testutil.Eventually(t, 15*time.Second, "every join in the PRESENCE stream exactly once", func() bool {
		joins := countJoins(t, js)
		for id := range live {
			if joins[id] != 1 {
				return false
			}
		}
		return len(joins) == len(live)
	})
}
