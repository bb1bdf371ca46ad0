package mesh_test

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/rtcmesh/rtcmesh/internal/meshtest"
	"github.com/rtcmesh/rtcmesh/internal/siotest"
	"github.com/rtcmesh/rtcmesh/shared"
)

// departed checks, once the scenario's marker join has been confirmed,
// that the presence stream holds exactly one leave of sid from room, with
// reason and gateway, and returns it.
func departed(t *testing.T, l *presenceLog, room, sid, reason, gateway string) presenceEntry {
	t.Helper()
	leaves := l.find("leave", room, sid)
	if len(leaves) != 1 {
		t.Fatalf("%d presence leave events for %s in %q, want exactly 1:\n%s", len(leaves), sid, room, renderPresence(leaves))
	}
	e := leaves[0]
	if e.Reason != reason || e.Gateway != gateway || e.Seq == 0 || e.Time.IsZero() {
		t.Fatalf("presence leave %s, want reason %q gateway %q", e.Raw, reason, gateway)
	}
	return e
}

// TestDepartureLeaveRoom: leave-room gives each remaining member exactly
// one user-disconnected and no #rtcio:peer-left (§4, §5.3), one presence
// leave with reason "leave"; the leaver hears nothing more of the room,
// and its later disconnect is not a second departure.
func TestDepartureLeaveRoom(t *testing.T) {
	m := meshtest.Start(t, meshtest.Options{})
	l := watchPresence(t, m)
	const room = "leave"
	a := dial(t, m, 0, "a")
	b := dial(t, m, 1, "b")
	c := dial(t, m, 1, "c")
	a.join(room, "A")
	b.join(room, "B")
	c.join(room, "C")

	c.emit(evLeaveRoom, map[string]any{"roomId": room})
	for _, o := range []*client{a, b} {
		waitCount(t, o, evDisconn, 1, deliverWait)
	}
	d := dial(t, m, 0, "d") // joins after the leave: c must not hear of it
	d.join(room, "D")
	c.Close() // a disconnect after leave-room is not a second departure
	waitSeq(t, c, nil, []string{userConn(a.ID(), "A"), userConn(b.ID(), "B"), joinOK(room)}, deliverWait)

	e := dial(t, m, 1, "e") // marker: everything before it is processed
	e.join(room, "E")
	checkModel(t, l, deliverWait, a, b, d, e)
	waitSeq(t, a, []string{evPeerLeft, evDisconn}, []string{userDisc(c.ID())}, deliverWait)
	waitSeq(t, b, []string{evPeerLeft, evDisconn}, []string{userDisc(c.ID())}, deliverWait)
	wantKeys(t, departed(t, l, room, c.ID(), reasonLeave, m.Gateways[1].GW.ID()),
		"type", "room", "id", "name", "reason", "gateway", "seq", "time")
	checkRosters(t, m.Store(), rosterWant{room: {a.ID(), b.ID(), d.ID(), e.ID()}}, deliverWait)
}

// TestDepartureDisconnect: a socket whose client closes the transport
// leaves every room it was in; each remaining member gets exactly one
// #rtcio:peer-left then one user-disconnected, and the stream one leave
// per room with reason "disconnect"; its socket record is deleted.
func TestDepartureDisconnect(t *testing.T) {
	m := meshtest.Start(t, meshtest.Options{})
	l := watchPresence(t, m)
	st := m.Store()
	a := dial(t, m, 0, "a")
	b := dial(t, m, 1, "b")
	c := dial(t, m, 0, "c") // in two rooms
	d := dial(t, m, 1, "d")
	a.join("one", "A")
	b.join("one", "B")
	c.join("one", "C")
	c.join("two", "C")
	d.join("two", "D")
	if got := socketRecords(t, st); !slices.Contains(got, c.ID()) {
		t.Fatalf("no socket record for %s: %v", c.ID(), got)
	}

	c.Close()
	for _, o := range []*client{a, b, d} {
		waitSeq(t, o, []string{evPeerLeft, evDisconn}, []string{peerLeft(c.ID()), userDisc(c.ID())}, deliverWait)
	}
	e := dial(t, m, 1, "e") // markers
	e.join("one", "E")
	f := dial(t, m, 0, "f")
	f.join("two", "F")
	checkModel(t, l, deliverWait, a, b, d, e, f)
	departed(t, l, "one", c.ID(), reasonDisc, m.Gateways[0].GW.ID())
	departed(t, l, "two", c.ID(), reasonDisc, m.Gateways[0].GW.ID())
	checkRosters(t, st, rosterWant{"one": {a.ID(), b.ID(), e.ID()}, "two": {d.ID(), f.ID()}}, deliverWait)
	if !poll(deliverWait, func() bool { return !slices.Contains(socketRecords(t, st), c.ID()) }) {
		t.Fatalf("socket record of the disconnected %s still present", c.ID())
	}
}

// TestDepartureGatewayLost: a gateway killed without a goodbye. When its
// lease expires the room service disconnects each of its sockets, within
// 10 s: remaining members (on the other gateway) get exactly one
// #rtcio:peer-left and one user-disconnected per lost socket, the stream
// exactly one leave each with reason "gateway-lost", and the rosters and
// socket records keep only live sockets.
func TestDepartureGatewayLost(t *testing.T) {
	m := meshtest.Start(t, meshtest.Options{Gateway: shortRetry})
	l := watchPresence(t, m)
	st := m.Store()
	lostID := m.Gateways[1].GW.ID()
	a := dial(t, m, 0, "a")
	b := dial(t, m, 0, "b")
	c := dial(t, m, 1, "c")
	d := dial(t, m, 1, "d")
	e := dial(t, m, 0, "e")
	f := dial(t, m, 1, "f") // in two rooms
	a.join("main", "A")
	c.join("main", "C")
	b.join("main", "B")
	d.join("main", "D")
	e.join("side", "E")
	f.join("side", "F")
	f.join("main", "F")

	crashed := kill(t, m.Gateways[1].NC, m.Gateways[1].Crash)
	for _, o := range []*client{a, b} {
		waitEvents(t, o, crashBound-time.Since(crashed), "peer-left and user-disconnected for c, d and f", func([]siotest.Event) bool {
			got := seq(o, evPeerLeft, evDisconn)
			return len(got) >= 6
		})
	}
	waitCount(t, e, evDisconn, 1, crashBound-time.Since(crashed))
	for _, sid := range []string{c.ID(), d.ID(), f.ID()} {
		l.wait(t, "leave", "main", sid, 1, crashBound-time.Since(crashed))
	}
	l.wait(t, "leave", "side", f.ID(), 1, crashBound-time.Since(crashed))
	t.Logf("lost gateway's sockets reaped %v after the crash", time.Since(crashed).Round(time.Millisecond))
	for _, lost := range []*client{c, d, f} {
		if !lost.Closed() {
			t.Errorf("%s: the crashed gateway's client is still connected", lost.label)
		}
	}

	g := dial(t, m, 0, "g") // markers
	g.join("main", "G")
	h := dial(t, m, 0, "h")
	h.join("side", "H")
	checkModel(t, l, deliverWait, a, b, e, g, h)
	for _, o := range []*client{a, b} {
		got := seq(o, evPeerLeft, evDisconn)
		for _, sid := range []string{c.ID(), d.ID(), f.ID()} {
			// The peer-left goes out when the gateway is found silent, the
			// user-disconnected a grace window later: one each, in order.
			i, j := slices.Index(got, peerLeft(sid)), slices.Index(got, userDisc(sid))
			if i < 0 || j < i || slices.Index(got[i+1:], peerLeft(sid)) >= 0 || slices.Index(got[j+1:], userDisc(sid)) >= 0 {
				t.Errorf("%s: want exactly one peer-left then user-disconnected for %s; got %v", o.label, sid, got)
			}
		}
		if len(got) != 6 {
			t.Errorf("%s: %d departure events, want 6: %v", o.label, len(got), got)
		}
	}
	waitSeq(t, e, []string{evPeerLeft, evDisconn}, []string{peerLeft(f.ID()), userDisc(f.ID())}, deliverWait)
	for _, sid := range []string{c.ID(), d.ID(), f.ID()} {
		departed(t, l, "main", sid, reasonGwLost, lostID)
	}
	departed(t, l, "side", f.ID(), reasonGwLost, lostID)
	checkRosters(t, st, rosterWant{"main": {a.ID(), b.ID(), g.ID()}, "side": {e.ID(), h.ID()}}, deliverWait)
	if got, want := socketRecords(t, st), sortedIDs(a, b, e, g, h); !slices.Equal(got, want) {
		t.Fatalf("socket records %v, want the live sockets %v", got, want)
	}
}

// TestDepartureGatewayStop: a gateway shut down cleanly disconnects its
// sockets itself (reason "disconnect"); its released lease also makes the
// room service reap it, which must not make a second departure of any of
// them.
func TestDepartureGatewayStop(t *testing.T) {
	m := meshtest.Start(t, meshtest.Options{})
	l := watchPresence(t, m)
	st := m.Store()
	stopped := m.Gateways[1].GW.ID()
	a := dial(t, m, 0, "a")
	b := dial(t, m, 1, "b")
	c := dial(t, m, 1, "c")
	a.join("room", "A")
	b.join("room", "B")
	c.join("room", "C")
	m.Gateways[1].Stop()
	waitEvents(t, a, deliverWait, "two departures", func([]siotest.Event) bool { return len(seq(a, evDisconn)) >= 2 })
	checkRosters(t, st, rosterWant{"room": {a.ID()}}, deliverWait)

	// The reaper claims the gateway (a marker on its lease key) before it
	// reaps; the marker join below then comes after whatever it queued.
	kv, err := jetstreamOf(t, m).KeyValue(t.Context(), shared.BucketGateways)
	if err != nil {
		t.Fatal(err)
	}
	if !poll(recoverWait, func() bool {
		e, err := kv.Get(t.Context(), stopped)
		var lease shared.GatewayLease
		return err == nil && json.Unmarshal(e.Value(), &lease) == nil && lease.Reaped
	}) {
		t.Fatal("the room service never claimed the stopped gateway for reaping")
	}
	d := dial(t, m, 0, "d") // marker
	d.join("room", "D")
	checkModel(t, l, deliverWait, a, d)
	departed(t, l, "room", b.ID(), reasonDisc, stopped)
	departed(t, l, "room", c.ID(), reasonDisc, stopped)
	checkRosters(t, st, rosterWant{"room": {a.ID(), d.ID()}}, deliverWait)
}

func sortedIDs(cs ...*client) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.ID())
	}
	slices.Sort(out)
	return out
}

// TestLeaseLapseKeepsLiveGateway: a lease can lapse while the gateway is
// alive (JetStream electing a leader). That is no departure: the room
// service asks the gateway before reaping, the gateway takes its lease
// back under the same id, and its sockets stay members and keep working.
func TestLeaseLapseKeepsLiveGateway(t *testing.T) {
	m := meshtest.Start(t, meshtest.Options{})
	l := watchPresence(t, m)
	st := m.Store()
	a := dial(t, m, 0, "a")
	b := dial(t, m, 1, "b")
	a.join("r", "A")
	b.join("r", "B")
	gw := m.Gateways[1].GW.ID()

	if err := st.ReleaseLease(t.Context(), gw); err != nil { // the lapse
		t.Fatal(err)
	}
	// Once the gateway holds its lease again nobody can claim it for
	// reaping any more (the claim is a create on the same key).
	if !poll(recoverWait, func() bool {
		live, err := st.LiveGateways(t.Context())
		return err == nil && live[gw]
	}) {
		t.Fatalf("the gateway did not take its lease back")
	}
	if got := m.Gateways[1].GW.ID(); got != gw {
		t.Fatalf("the gateway changed its id from %s to %s: its sockets were dropped", gw, got)
	}
	c := dial(t, m, 1, "c") // marker
	c.join("r", "C")
	checkModel(t, l, deliverWait, a, b, c)
	if leaves := l.find("leave", "", ""); len(leaves) != 0 {
		t.Fatalf("a live gateway's sockets departed:\n%s", renderPresence(leaves))
	}
	b.emit(evMessage, map[string]any{"target": a.ID(), "data": "still here"})
	waitCount(t, a, evMessage, 1, deliverWait)
	if b.Closed() || c.Closed() {
		t.Fatal("the gateway's clients were disconnected")
	}
	checkRosters(t, st, rosterWant{"r": {a.ID(), b.ID(), c.ID()}}, deliverWait)
}
