package mesh_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"sync"
	"testing"

	"github.com/rtcmesh/rtcmesh/internal/meshtest"
	"github.com/rtcmesh/rtcmesh/shared"
)

// TestJoinSequence checks the rtc.io join order (§4, §5.1, §5.2) across
// two gateways: the newcomer gets user-connected for each existing member,
// each followed by its media-state when one is known, then join-ok; each
// existing member then gets user-connected and #rtcio:init-offer {source:
// newcomer}. media-state is relayed with the sender's id stamped.
func TestJoinSequence(t *testing.T) {
	m := meshtest.Start(t, meshtest.Options{})
	l := watchPresence(t, m)
	const room = "stand-up"
	names := []string{evConnected, evMedia, evInitOffer, evJoinOK}

	a := dial(t, m, 0, "alice")
	a.join(room, "Alice")
	waitSeq(t, a, names, []string{joinOK(room)}, deliverWait)

	// Alice's media state must be stored before Bob joins: the two
	// commands come from different gateways, so only this wait orders them.
	a.emit(evMedia, map[string]any{"roomId": room, "mic": true, "cam": false})
	media := l.wait(t, "media-state", room, a.ID(), 1, deliverWait)
	if e := media[0]; e.Mic == nil || !*e.Mic || e.Cam == nil || *e.Cam {
		t.Fatalf("presence media-state event %s, want mic=true cam=false", e.Raw)
	}

	b := dial(t, m, 1, "bob") // no name: user-connected has no name
	b.join(room, "")
	waitSeq(t, b, names, []string{
		userConn(a.ID(), "Alice"),
		mediaState(a.ID(), room, true, false),
		joinOK(room),
	}, deliverWait)
	waitSeq(t, a, names, []string{
		joinOK(room),
		userConn(b.ID(), ""),
		initOffer(b.ID()),
	}, deliverWait)

	// Bob's media-state: relayed to Alice with id stamped, key first.
	b.emitRaw(fmt.Sprintf(`["media-state",{"roomId":%s,"mic":false,"cam":true}]`, quote(room)))
	waitCount(t, a, evMedia, 1, deliverWait)
	got := named(a, evMedia)[0]
	if ms := members(t, got.Args[0]); len(ms) != 4 || ms[0] != (member{"id", quote(b.ID())}) ||
		ms[1] != (member{"roomId", quote(room)}) || ms[2] != (member{"mic", "false"}) || ms[3] != (member{"cam", "true"}) {
		t.Fatalf("relayed media-state %s, want {\"id\":%q,\"roomId\":%q,\"mic\":false,\"cam\":true}", got.Args[0], b.ID(), room)
	}
	l.wait(t, "media-state", room, b.ID(), 1, deliverWait)

	c := dial(t, m, 0, "carol")
	c.join(room, "Carol")
	waitSeq(t, c, names, []string{
		userConn(a.ID(), "Alice"),
		mediaState(a.ID(), room, true, false),
		userConn(b.ID(), ""),
		mediaState(b.ID(), room, false, true),
		joinOK(room),
	}, deliverWait)
	waitSeq(t, a, names, []string{
		joinOK(room),
		userConn(b.ID(), ""),
		initOffer(b.ID()),
		mediaState(b.ID(), room, false, true),
		userConn(c.ID(), "Carol"),
		initOffer(c.ID()),
	}, deliverWait)
	waitSeq(t, b, names, []string{
		userConn(a.ID(), "Alice"),
		mediaState(a.ID(), room, true, false),
		joinOK(room),
		userConn(c.ID(), "Carol"),
		initOffer(c.ID()),
	}, deliverWait)
	checkModel(t, l, deliverWait, a, b, c)

	// The presence events carry the documented fields and no others.
	wantKeys(t, l.find("join", room, a.ID())[0], "type", "room", "id", "name", "gateway", "seq", "time")
	wantKeys(t, l.find("join", room, b.ID())[0], "type", "room", "id", "gateway", "seq", "time")
	wantKeys(t, media[0], "type", "room", "id", "name", "mic", "cam", "gateway", "seq", "time")
	joins := l.find("join", room, "")
	if len(joins) != 3 {
		t.Fatalf("%d presence joins, want 3:\n%s", len(joins), renderPresence(joins))
	}
	for i, want := range []struct {
		sid, name string
		gw        int
	}{{a.ID(), "Alice", 0}, {b.ID(), "", 1}, {c.ID(), "Carol", 0}} {
		e := joins[i]
		if e.ID != want.sid || e.Gateway != m.Gateways[want.gw].GW.ID() || e.Seq == 0 || e.Time.IsZero() ||
			(want.name == "") != (e.Name == nil) || e.Name != nil && *e.Name != want.name {
			t.Errorf("presence join %d = %s, want id %s name %q gateway %s", i, e.Raw, want.sid, want.name, m.Gateways[want.gw].GW.ID())
		}
		if i > 0 && e.Seq <= joins[i-1].Seq {
			t.Errorf("presence join seqs not increasing: %d then %d", joins[i-1].Seq, e.Seq)
		}
	}
}

// TestConcurrentJoinsOneInitOfferPerPair is §5.1 under load: 20 sockets,
// half on each gateway, emit join-room for one room at the same moment.
// Every unordered pair must get exactly one init-offer, sent to the
// earlier member with source = the later one; the offers must agree with
// one total order of joins, the one the presence stream recorded, and each
// newcomer's backfill must list exactly the members before it.
func TestConcurrentJoinsOneInitOfferPerPair(t *testing.T) {
	m := meshtest.Start(t, meshtest.Options{})
	l := watchPresence(t, m)
	const room, n = "crowd", 20
	clients := make([]*client, n)
	byID := map[string]*client{}
	for i := range clients {
		clients[i] = dial(t, m, i%2, fmt.Sprintf("s%02d", i))
		byID[clients[i].ID()] = clients[i]
	}
	start := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if err := c.Emit(evJoinRoom, map[string]any{"roomId": room, "name": fmt.Sprintf("peer %d", i)}); err != nil {
				errs <- err
			}
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("emit join-room: %v", err)
	}

	// Everyone is confirmed, and all n(n-1)/2 offers arrive.
	for _, c := range clients {
		waitCount(t, c, evJoinOK, 1, deliverWait)
	}
	total := func() int {
		k := 0
		for _, c := range clients {
			k += len(named(c, evInitOffer))
		}
		return k
	}
	poll(deliverWait, func() bool { return total() >= n*(n-1)/2 })
	l.wait(t, "join", room, "", n, deliverWait)

	// offers[a][b]: init-offers a received with source b.
	offers := map[string]map[string]int{}
	for _, c := range clients {
		offers[c.ID()] = map[string]int{}
		if k := len(named(c, evJoinOK)); k != 1 {
			t.Errorf("%s got %d join-ok, want exactly 1", c.label, k)
		}
		for _, e := range named(c, evInitOffer) {
			var p struct{ Source string }
			if err := e.Arg(0, &p); err != nil || p.Source == "" {
				t.Fatalf("%s: malformed init-offer %s", c.label, show(e))
			}
			if _, ok := byID[p.Source]; !ok {
				t.Errorf("%s: init-offer from unknown socket %s", c.label, p.Source)
			}
			offers[c.ID()][p.Source]++
		}
	}
	for i, a := range clients {
		for _, b := range clients[i+1:] {
			ab, ba := offers[a.ID()][b.ID()], offers[b.ID()][a.ID()]
			if !(ab == 1 && ba == 0 || ab == 0 && ba == 1) {
				t.Errorf("pair %s/%s: %d init-offers to %s and %d to %s, want exactly one in total",
					a.label, b.label, ab, a.label, ba, b.label)
			}
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	// One total order: the k-th member to join receives an offer from each
	// of the n-1-k later ones, so the offer counts are n-1, ..., 0.
	order := slices.Clone(clients)
	sort.Slice(order, func(i, j int) bool { return len(offers[order[i].ID()]) > len(offers[order[j].ID()]) })
	for k, c := range order {
		if got := len(offers[c.ID()]); got != n-1-k {
			t.Fatalf("the offers admit no total order of joins: the member at position %d received %d offers, want %d", k, got, n-1-k)
		}
		for _, later := range order[k+1:] {
			if offers[c.ID()][later.ID()] != 1 {
				t.Fatalf("the offers are not transitive: %s is earlier than %s but got no offer from it", c.label, later.label)
			}
		}
	}
	// It is the order the room service recorded.
	var recorded []string
	for _, e := range l.find("join", room, "") {
		recorded = append(recorded, e.ID)
	}
	var derived []string
	for _, c := range order {
		derived = append(derived, c.ID())
	}
	if !slices.Equal(recorded, derived) {
		t.Fatalf("join order from the offers differs from the presence stream:\n%s", diff(derived, recorded))
	}
	// Each newcomer's backfill lists exactly the members before it, before
	// its join-ok; then it hears of each later joiner.
	for k, c := range order {
		var want []string
		for _, e := range order[:k] {
			want = append(want, userConn(e.ID(), fmt.Sprintf("peer %d", slices.Index(clients, e))))
		}
		want = append(want, joinOK(room))
		for _, e := range order[k+1:] {
			want = append(want, userConn(e.ID(), fmt.Sprintf("peer %d", slices.Index(clients, e))), initOffer(e.ID()))
		}
		waitSeq(t, c, membership, want, deliverWait)
	}
	ev := make([]events, len(clients))
	for i, c := range clients {
		ev[i] = c
	}
	checkModel(t, l, deliverWait, ev...)
	checkRosters(t, m.Store(), rosterWant{room: derived}, deliverWait)
}

// TestRejoinIsIdempotent: join-room from a member is answered with join-ok
// only: no backfill, and no second user-connected or init-offer for the
// others (docs/rtcio-protocol.md §0.6).
func TestRejoinIsIdempotent(t *testing.T) {
	m := meshtest.Start(t, meshtest.Options{})
	l := watchPresence(t, m)
	const room = "again"
	a := dial(t, m, 0, "a")
	b := dial(t, m, 1, "b")
	a.join(room, "A")
	b.join(room, "B")
	waitSeq(t, a, membership, []string{joinOK(room), userConn(b.ID(), "B"), initOffer(b.ID())}, deliverWait)

	b.join(room, "B")       // same gateway, same name
	a.join(room, "Other")   // a different name changes nothing either
	c := dial(t, m, 1, "c") // marker: everything before it is processed
	c.join(room, "C")

	waitSeq(t, b, membership, []string{
		userConn(a.ID(), "A"), joinOK(room), joinOK(room), userConn(c.ID(), "C"), initOffer(c.ID()),
	}, deliverWait)
	waitSeq(t, a, membership, []string{
		joinOK(room), userConn(b.ID(), "B"), initOffer(b.ID()), joinOK(room), userConn(c.ID(), "C"), initOffer(c.ID()),
	}, deliverWait)
	waitSeq(t, c, membership, []string{userConn(a.ID(), "A"), userConn(b.ID(), "B"), joinOK(room)}, deliverWait)
	if joins := l.find("join", room, ""); len(joins) != 3 {
		t.Fatalf("%d presence joins, want 3 (re-joins publish none):\n%s", len(joins), renderPresence(joins))
	}
	checkRosters(t, m.Store(), rosterWant{room: {a.ID(), b.ID(), c.ID()}}, deliverWait)
}

// TestNothingAboutSelf: §5.2 where it is easiest to break: a room named
// after the socket's own id, media-state into it, a re-join, and a room
// shared later. (Every test also checks §5.2 for every client at cleanup.)
func TestNothingAboutSelf(t *testing.T) {
	m := meshtest.Start(t, meshtest.Options{})
	a := dial(t, m, 0, "a")
	room := a.ID()
	a.join(room, "A")
	a.emit(evMedia, map[string]any{"roomId": room, "mic": true, "cam": true})
	a.join(room, "A")
	b := dial(t, m, 1, "b")
	b.join(room, "B")
	waitSeq(t, b, []string{evConnected, evMedia, evJoinOK}, []string{
		userConn(a.ID(), "A"), mediaState(a.ID(), room, true, true), joinOK(room),
	}, deliverWait)
	waitSeq(t, a, nil, []string{joinOK(room), joinOK(room), userConn(b.ID(), "B"), initOffer(b.ID())}, deliverWait)
	for _, e := range a.Events() {
		if e.Name == evMedia {
			t.Fatalf("a received its own media-state: %s", show(e))
		}
	}
}

// offersBySource counts c's init-offers per source.
func offersBySource(t *testing.T, c events) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, e := range named(c, evInitOffer) {
		var p struct{ Source string }
		if err := json.Unmarshal(e.Args[0], &p); err != nil {
			t.Fatalf("%s: malformed init-offer %s", c.ID(), show(e))
		}
		out[p.Source]++
	}
	return out
}

// wantKeys checks the members of a presence event's JSON.
func wantKeys(t *testing.T, e presenceEntry, keys ...string) {
	t.Helper()
	var got []string
	for _, mb := range members(t, e.Raw) {
		got = append(got, mb.key)
	}
	slices.Sort(got)
	slices.Sort(keys)
	if !slices.Equal(got, keys) {
		t.Errorf("presence event %s has members %v, want %v", e.Raw, got, keys)
	}
}

// TestMediaStateLifecycle: a member's media state lives as long as its
// membership. It is kept in KV (shown by ShowRoom) and backfilled to
// newcomers; it is deleted when the member leaves or disconnects, so a
// re-joined member starts without one; an emptied room keeps nothing.
func TestMediaStateLifecycle(t *testing.T) {
	m := meshtest.Start(t, meshtest.Options{})
	l := watchPresence(t, m)
	st := m.Store()
	const room = "media"
	key, _ := shared.EscapeRoom(room)
	mediaOf := func() map[string][2]bool {
		_, ms, err := st.LoadRoom(t.Context(), key)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string][2]bool{}
		for _, s := range ms {
			out[s.SID] = [2]bool{s.Mic, s.Cam}
		}
		return out
	}
	waitMedia := func(want map[string][2]bool) {
		t.Helper()
		var got map[string][2]bool
		if !poll(deliverWait, func() bool { got = mediaOf(); return maps.Equal(got, want) }) {
			t.Fatalf("media states in KV %v, want %v", got, want)
		}
	}
	a := dial(t, m, 0, "a")
	b := dial(t, m, 1, "b")
	a.join(room, "A")
	b.join(room, "B")
	a.emit(evMedia, map[string]any{"roomId": room, "mic": true, "cam": true})
	b.emit(evMedia, map[string]any{"roomId": room, "mic": false, "cam": true})
	waitMedia(map[string][2]bool{a.ID(): {true, true}, b.ID(): {false, true}})
	d, err := st.ShowRoom(t.Context(), room)
	if err != nil || len(d.Members) != 2 {
		t.Fatalf("ShowRoom: %+v %v", d, err)
	}
	for _, mb := range d.Members {
		want := map[string][2]bool{a.ID(): {true, true}, b.ID(): {false, true}}[mb.SID]
		if mb.Mic == nil || mb.Cam == nil || *mb.Mic != want[0] || *mb.Cam != want[1] {
			t.Errorf("ShowRoom member %s: mic %v cam %v, want %v", mb.SID, mb.Mic, mb.Cam, want)
		}
	}

	a.emit(evLeaveRoom, map[string]any{"roomId": room})
	waitMedia(map[string][2]bool{b.ID(): {false, true}})
	a.join(room, "A")
	c := dial(t, m, 0, "c")
	c.join(room, "C")
	waitSeq(t, c, []string{evConnected, evMedia, evJoinOK}, []string{
		userConn(b.ID(), "B"), mediaState(b.ID(), room, false, true), userConn(a.ID(), "A"), joinOK(room),
	}, deliverWait)

	b.Close()
	waitMedia(map[string][2]bool{})
	a.emit(evLeaveRoom, map[string]any{"roomId": room})
	c.emit(evLeaveRoom, map[string]any{"roomId": room})
	l.wait(t, "leave", room, c.ID(), 1, deliverWait)
	l.wait(t, "leave", room, a.ID(), 2, deliverWait)
	waitMedia(map[string][2]bool{})
	checkRosters(t, st, rosterWant{}, deliverWait)
}
