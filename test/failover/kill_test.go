package failover

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rtcmesh/rtcmesh/internal/bintest"
	"github.com/rtcmesh/rtcmesh/internal/siotest"
	"github.com/rtcmesh/rtcmesh/internal/testutil"
	"github.com/rtcmesh/rtcmesh/presence"
	"github.com/rtcmesh/rtcmesh/shared"
)

// splitDeployment starts one NATS, two room services and two gateways
// from the real binary and returns the NATS URL, the room services and
// the gateways' URLs with their processes.
func splitDeployment(t *testing.T) (string, []*bintest.Proc, []string, []*bintest.Proc) {
	t.Helper()
	n := bintest.Start(t, "nats", nil, "nats", "--addr", "127.0.0.1:0", "--store", t.TempDir())
	natsURL := "nats://" + n.Addr("nats", 20*time.Second)
	var rooms []*bintest.Proc
	for i := 0; i < 2; i++ {
		rooms = append(rooms, bintest.Start(t, fmt.Sprintf("roomsvc%d", i), nil, "roomsvc", "--nats", natsURL))
	}
	var urls []string
	var gws []*bintest.Proc
	for i := 0; i < 2; i++ {
		p := bintest.Start(t, fmt.Sprintf("gateway%d", i), nil, "gateway", "--nats", natsURL, "--addr", "127.0.0.1:0")
		urls = append(urls, "http://"+p.Addr("gateway", 60*time.Second))
		gws = append(gws, p)
	}
	return natsURL, rooms, urls, gws
}

func store(t *testing.T, natsURL string) *presence.Store {
	t.Helper()
	st, err := presence.Bind(context.Background(), jetStream(t, natsURL), nil)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestKilledRoomServiceLosesAndDoublesNothing SIGKILLs a room-service
// process while joins stream in: every joiner still gets exactly one
// join-ok, every pair exactly one init-offer, and the rosters end equal to
// the sockets.
func TestKilledRoomServiceLosesAndDoublesNothing(t *testing.T) {
	natsURL, rooms, urls, _ := splitDeployment(t)
	const perRoom, nRooms = 6, 4
	var mu sync.Mutex
	var clients []*siotest.Client
	var wg sync.WaitGroup
	errs := make(chan error, perRoom*nRooms)
	killAt := perRoom * nRooms / 3
	var started sync.WaitGroup
	started.Add(killAt)
	for i := 0; i < perRoom*nRooms; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := siotest.Dial(urls[i%2], nil)
			if err != nil {
				errs <- err
				return
			}
			t.Cleanup(c.Close)
			mu.Lock()
			clients = append(clients, c)
			mu.Unlock()
			if i < killAt {
				defer started.Done()
			}
			if err := c.Emit(shared.EventJoinRoom, map[string]any{"roomId": fmt.Sprintf("k%d", i%nRooms)}); err != nil {
				errs <- err
			}
		}()
	}
	started.Wait()
	rooms[0].Kill()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// Every joiner gets exactly one join-ok (within the takeover time).
	for _, c := range clients {
		if _, err := c.Wait(shared.EventJoinOK, 20*time.Second); err != nil {
			t.Fatalf("socket %s: %v", c.ID(), err)
		}
	}
	st := store(t, natsURL)
	testutil.Eventually(t, 10*time.Second, "rosters equal the sockets", func() bool {
		all, err := st.AllMembers(context.Background())
		return err == nil && len(all) == len(clients)
	})
	// Exactly one init-offer per pair of members of a room, and no second
	// join-ok anywhere.
	offers := map[string]int{}
	room := map[string]string{}
	for _, c := range clients {
		for _, e := range c.Events() {
			switch e.Name {
			case shared.EventJoinOK:
				t.Fatalf("socket %s got a second join-ok", c.ID())
			case shared.EventInitOffer:
				var p struct{ Source string }
				_ = e.Arg(0, &p)
				a, b := c.ID(), p.Source
				if a > b {
					a, b = b, a
				}
				offers[a+"|"+b]++
			}
		}
	}
	all, _ := st.AllMembers(context.Background())
	for _, m := range all {
		room[m.SID] = m.Room
	}
	pairs := 0
	for _, m := range all {
		for _, o := range all {
			if m.SID < o.SID && m.Room == o.Room {
				pairs++
				if n := offers[m.SID+"|"+o.SID]; n != 1 {
					t.Fatalf("pair %s/%s in %s got %d init-offers", m.SID, o.SID, m.Room, n)
				}
			}
		}
	}
	if len(offers) != pairs {
		t.Fatalf("%d pairs were offered, %d pairs exist", len(offers), pairs)
	}
}

// TestKilledGatewaySocketsLeaveWithin10s SIGKILLs a gateway process: its
// sockets leave their rooms (peer-left, then user-disconnected after the
// grace window, one presence leave with reason gateway-lost each) within
// 10 s.
func TestKilledGatewaySocketsLeaveWithin10s(t *testing.T) {
	natsURL, _, urls, gws := splitDeployment(t)
	survivor := mustJoin(t, urls[0], "doomed")
	victims := []*siotest.Client{mustJoin(t, urls[1], "doomed"), mustJoin(t, urls[1], "doomed")}
	gws[1].Kill()
	killed := time.Now()
	for _, v := range victims {
		match := func(name string) func(siotest.Event) bool {
			return func(e siotest.Event) bool {
				var p struct{ ID string }
				return e.Name == name && e.Arg(0, &p) == nil && p.ID == v.ID()
			}
		}
		if _, err := survivor.WaitFunc(10*time.Second-time.Since(killed), match(shared.EventPeerLeft)); err != nil {
			t.Fatalf("no peer-left for %s within 10 s of the kill: %v", v.ID(), err)
		}
		// user-disconnected follows a grace window (5 s) after the gateway
		// was found silent (about a second).
		if _, err := survivor.WaitFunc(10*time.Second-time.Since(killed), match(shared.EventUserDisconnected)); err != nil {
			t.Fatalf("no user-disconnected for %s within 10 s of the kill: %v", v.ID(), err)
		}
	}
	t.Logf("departures seen %v after the kill", time.Since(killed))
	st := store(t, natsURL)
	d, err := st.ShowRoom(context.Background(), "doomed")
	if err != nil || len(d.Members) != 1 || d.Members[0].SID != survivor.ID() {
		t.Fatalf("roster after the kill: %+v %v", d, err)
	}
	// Exactly one presence leave per victim, with reason gateway-lost.
	w := bintest.Start(t, "presence-watch", nil, "presence", "watch", "--nats", natsURL, "--from-start", "--room", "doomed")
	for _, v := range victims {
		w.WaitOutput(`"type":"leave","room":"doomed","id":"`+v.ID()+`"`, 10*time.Second)
	}
	leaves := 0
	for _, line := range strings.Split(w.Output(), "\n") {
		var ev shared.PresenceEvent
		if json.Unmarshal([]byte(line), &ev) != nil || ev.Type != shared.PresenceLeave {
			continue
		}
		leaves++
		if ev.Reason != shared.ReasonGatewayLost {
			t.Fatalf("leave reason %q, want gateway-lost", ev.Reason)
		}
	}
	if leaves != len(victims) {
		t.Fatalf("%d presence leaves, want %d", leaves, len(victims))
	}
	// No further departures reach the survivor.
	for _, e := range survivor.Events() {
		if e.Name == shared.EventUserDisconnected || e.Name == shared.EventPeerLeft {
			t.Fatalf("extra departure event %s %s", e.Name, e.Args)
		}
	}
}

// TestStoppedGatewayDeparts sends SIGTERM to a gateway process: it exits
// cleanly after its sockets have left their rooms (peer-left, then
// user-disconnected, presence leave with reason disconnect), and it
// releases its lease instead of waiting for it to expire.
func TestStoppedGatewayDeparts(t *testing.T) {
	natsURL, _, urls, gws := splitDeployment(t)
	survivor := mustJoin(t, urls[0], "graceful")
	leaver := mustJoin(t, urls[1], "graceful")
	stopped := time.Now()
	if err := gws[1].Stop(15 * time.Second); err != nil {
		t.Fatalf("gateway did not exit cleanly: %v", err)
	}
	match := func(name string) func(siotest.Event) bool {
		return func(e siotest.Event) bool {
			var p struct{ ID string }
			return e.Name == name && e.Arg(0, &p) == nil && p.ID == leaver.ID()
		}
	}
	// The departure was stored before the process exited, so it arrives
	// well before any lease could have expired.
	if _, err := survivor.WaitFunc(3*time.Second, match(shared.EventPeerLeft)); err != nil {
		t.Fatalf("no peer-left after a clean stop: %v", err)
	}
	if _, err := survivor.WaitFunc(time.Second, match(shared.EventUserDisconnected)); err != nil {
		t.Fatalf("no user-disconnected after a clean stop: %v", err)
	}
	t.Logf("departure seen %v after SIGTERM", time.Since(stopped))
	st := store(t, natsURL)
	live, err := st.LiveGateways(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(live) != 1 {
		t.Fatalf("live gateways after a clean stop: %v (the lease must be released)", live)
	}
}

// TestDevStopsCleanly: `rtcmesh dev` exits 0 on SIGTERM with a socket in a
// room, after draining its departures.
func TestDevStopsCleanly(t *testing.T) {
	p := bintest.Start(t, "dev", nil, "dev", "--addr", "127.0.0.1:0", "--nats-addr", "127.0.0.1:0")
	mustJoin(t, "http://"+p.Addr("gateway", 30*time.Second), "bye")
	if err := p.Stop(15 * time.Second); err != nil {
		t.Fatalf("dev did not exit cleanly: %v\n%s", err, p.Output())
	}
}
