// Package departure tests crash detection with the real binary: a
// SIGKILLed gateway's sockets leave their rooms with #rtcio:peer-left as
// soon as the room service finds the gateway silent, and with
// user-disconnected one grace window later, exactly once each.
package departure

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rtcmesh/rtcmesh/internal/bintest"
	"github.com/rtcmesh/rtcmesh/internal/siotest"
	"github.com/rtcmesh/rtcmesh/internal/testutil"
	"github.com/rtcmesh/rtcmesh/shared"
)

// grace is the room services' --grace in this test: shorter than the
// default so that 20 runs take about a minute and a half.
const grace = 2 * time.Second

// runs is how many gateways are killed: RTCMESH_KILL_RUNS, default 3 (the
// README's figure comes from 20).
func runs(t *testing.T) int {
	if v := os.Getenv("RTCMESH_KILL_RUNS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("RTCMESH_KILL_RUNS=%q: want a positive number", v)
		}
		return n
	}
	return 3
}

func join(t *testing.T, url, room string) *siotest.Client {
	t.Helper()
	c, err := siotest.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	if err := c.Emit(shared.EventJoinRoom, map[string]any{"roomId": room, "name": "n"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Wait(shared.EventJoinOK, 20*time.Second); err != nil {
		t.Fatalf("join %s: %v", room, err)
	}
	return c
}

// about returns the events named name about sid.
func about(c *siotest.Client, name, sid string) []siotest.Event {
	var out []siotest.Event
	for _, e := range c.Events() {
		var p struct{ ID string }
		if e.Name == name && e.Arg(0, &p) == nil && p.ID == sid {
			out = append(out, e)
		}
	}
	return out
}

// TestKilledGatewayPeerLeftThenUserDisconnected SIGKILLs a gateway again
// and again. Each time two sockets on it share a room with two sockets on
// a surviving gateway; each survivor must get, per lost socket, exactly
// one #rtcio:peer-left and then exactly one user-disconnected, the latter
// no earlier than a grace window after the kill. The delays from the kill
// to each peer-left are logged with their p50/p99 (no timed assertion).
func TestKilledGatewayPeerLeftThenUserDisconnected(t *testing.T) {
	n := bintest.Start(t, "nats", nil, "nats", "--addr", "127.0.0.1:0", "--store", t.TempDir())
	natsURL := "nats://" + n.Addr("nats", 20*time.Second)
	for i := 0; i < 2; i++ {
		bintest.Start(t, fmt.Sprintf("roomsvc%d", i), nil, "roomsvc", "--nats", natsURL, "--grace", grace.String())
	}
	survivorGW := bintest.Start(t, "survivor", nil, "gateway", "--nats", natsURL, "--addr", "127.0.0.1:0")
	survivorURL := "http://" + survivorGW.Addr("gateway", 60*time.Second)

	type lost struct {
		room    string
		sid     string
		killed  time.Time
		victims []*siotest.Client
	}
	var all []lost
	var survivors []*siotest.Client
	var delays []time.Duration
	for run := 0; run < runs(t); run++ {
		room := fmt.Sprintf("kill-%d", run)
		gw := bintest.Start(t, fmt.Sprintf("victim%d", run), nil, "gateway", "--nats", natsURL, "--addr", "127.0.0.1:0")
		url := "http://" + gw.Addr("gateway", 60*time.Second)
		ss := []*siotest.Client{join(t, survivorURL, room), join(t, survivorURL, room)}
		vs := []*siotest.Client{join(t, url, room), join(t, url, room)}
		for _, s := range ss {
			for _, v := range vs {
				testutil.Eventually(t, 10*time.Second, "survivors know the victims", func() bool {
					for _, e := range s.Events() {
						var p struct{ ID string }
						if e.Name == shared.EventUserConnected && e.Arg(0, &p) == nil && p.ID == v.ID() {
							return true
						}
					}
					return s.ID() == v.ID()
				})
			}
		}
		gw.Kill()
		killed := time.Now()
		for _, s := range ss {
			for _, v := range vs {
				var pl, ud []siotest.Event
				testutil.Eventually(t, 20*time.Second, "peer-left and user-disconnected for "+v.ID(), func() bool {
					pl, ud = about(s, shared.EventPeerLeft, v.ID()), about(s, shared.EventUserDisconnected, v.ID())
					return len(pl) > 0 && len(ud) > 0
				})
				if pl[0].At.After(ud[0].At) {
					t.Fatalf("run %d: user-disconnected before peer-left for %s", run, v.ID())
				}
				if ud[0].At.Before(killed.Add(grace)) {
					t.Fatalf("run %d: user-disconnected %v after the kill, within the %v grace window", run, ud[0].At.Sub(killed), grace)
				}
				delays = append(delays, pl[0].At.Sub(killed))
			}
		}
		t.Logf("run %d: peer-left after %v", run, delays[len(delays)-4:])
		for _, v := range vs {
			all = append(all, lost{room: room, sid: v.ID(), killed: killed})
		}
		survivors = append(survivors, ss...)
	}

	// Every killed gateway is reaped (its lease expired, the reaped marker
	// written) before the final count, so that a second departure, if
	// there were one, would have arrived.
	nc, err := nats.Connect(natsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	testutil.Eventually(t, 30*time.Second, "every killed gateway reaped", func() bool {
		return reapedCount(t, nc) >= runs(t)
	})
	for i, s := range survivors {
		room := fmt.Sprintf("kill-%d", i/2)
		marker := join(t, survivorURL, room) // processed after any reap
		testutil.Eventually(t, 10*time.Second, "marker seen", func() bool { return len(about(s, shared.EventUserConnected, marker.ID())) == 1 })
		for _, l := range all {
			if l.room != room {
				continue
			}
			if np, nu := len(about(s, shared.EventPeerLeft, l.sid)), len(about(s, shared.EventUserDisconnected, l.sid)); np != 1 || nu != 1 {
				t.Fatalf("survivor %s: %d peer-left and %d user-disconnected for %s, want one each", s.ID(), np, nu, l.sid)
			}
		}
		marker.Close()
	}
	sort.Slice(delays, func(i, j int) bool { return delays[i] < delays[j] })
	t.Logf("kill to #rtcio:peer-left over %d runs, %d samples: min %v p50 %v p99 %v max %v",
		runs(t), len(delays), delays[0], quantile(delays, 0.50), quantile(delays, 0.99), delays[len(delays)-1])
}

// quantile returns the q-quantile of sorted d (nearest rank).
func quantile(d []time.Duration, q float64) time.Duration {
	i := int(float64(len(d))*q+0.999999) - 1
	return d[min(max(i, 0), len(d)-1)]
}

// reapedCount counts the reaped markers in the gateways bucket.
func reapedCount(t *testing.T, nc *nats.Conn) int {
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	kv, err := js.KeyValue(ctx, shared.BucketGateways)
	if err != nil {
		return 0
	}
	keys, err := kv.Keys(ctx)
	if err != nil {
		return 0
	}
	n := 0
	for _, k := range keys {
		e, err := kv.Get(ctx, k)
		var lease shared.GatewayLease
		if err == nil && json.Unmarshal(e.Value(), &lease) == nil && lease.Reaped {
			n++
		}
	}
	return n
}
