// Package mesh_test checks the invariants of DESIGN §5 end to end: a whole
// mesh (internal/meshtest: embedded JetStream, two gateways, two
// room-service replicas, each on its own NATS connection) runs in the test
// process and Go Socket.IO clients drive it over WebSocket.
//
//	join_test.go       §5.1, §5.2: join order, one init-offer per pair, re-join, media backfill
//	departure_test.go  §5.3: leave-room, disconnect, gateway lost or stopped, lease lapse
//	crash_test.go      §5.4: rosters after a gateway or room-service crash; nothing lost or doubled
//	input_test.go      §5.5: malformed input, protocol violations
//	relay_test.go      #rtcio:message stamping, targets and order; broadcasts; ask-ice
//	rooms_test.go      passwords, pipelined requests, room cap, rooms per socket, room ids
//
// The helpers record everything a test needs to be exact: each client's
// events (never consumed, so a test sees the full history, and every
// client is checked against §5.2 at cleanup), the PRESENCE stream, and
// every message published on sock.* (a NATS spy that proves a message was
// never sent at all, not just not yet delivered). checkModel derives from
// the presence stream, which records the order the room service applied
// joins and leaves, the exact membership events each socket must have.
//
// Waiting is always polling with a deadline. To prove that nothing more
// arrives, a test sends a later "fence" through the same path (a marker
// join in the same room, a later message from the same gateway
// connection) and checks once the fence is through.
package mesh_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rtcmesh/rtcmesh/gateway"
	"github.com/rtcmesh/rtcmesh/internal/meshtest"
	"github.com/rtcmesh/rtcmesh/internal/siotest"
	"github.com/rtcmesh/rtcmesh/presence"
	"github.com/rtcmesh/rtcmesh/shared"
)

// Bounds. Delivery normally takes milliseconds; these only decide how
// long a broken mesh takes to fail a test.
const (
	deliverWait = 10 * time.Second // any message or roster change
	crashBound  = 10 * time.Second // DESIGN §5.3/§5.4: a crash is repaired within 10 s
	recoverWait = 12 * time.Second // crash recovery checks, with slack for -race
)

// Event names.
const (
	evJoinRoom   = shared.EventJoinRoom
	evCheckRoom  = shared.EventCheckRoom
	evLeaveRoom  = shared.EventLeaveRoom
	evJoinOK     = shared.EventJoinOK
	evJoinError  = shared.EventJoinError
	evCheckOK    = shared.EventRoomCheckOK
	evConnected  = shared.EventUserConnected
	evDisconn    = shared.EventUserDisconnected
	evMedia      = shared.EventMediaState
	evChat       = shared.EventChatMessage
	evStopShare  = shared.EventStopScreenShare
	evError      = shared.EventError
	evMessage    = shared.EventRTCMessage
	evInitOffer  = shared.EventInitOffer
	evPeerLeft   = shared.EventPeerLeft
	evAskICE     = shared.EventAskICE
	reasonLeave  = shared.ReasonLeave
	reasonDisc   = shared.ReasonDisconnect
	reasonGwLost = shared.ReasonGatewayLost
)

// membership are the events the room service sends about rosters.
var membership = []string{evConnected, evInitOffer, evJoinOK, evPeerLeft, evDisconn}

// ---------------------------------------------------------------------------
// Clients

// events is anything that records Socket.IO events.
type events interface {
	Events() []siotest.Event
	ID() string
}

// client is a siotest client with test-failing helpers. Its events are
// never taken, so Events is the full history.
type client struct {
	*siotest.Client
	t     *testing.T
	label string
}

// dial connects a client to gateway gw. At the end of the test it checks
// the invariants every client must satisfy whatever the test did (§5.2:
// nothing about itself; every event has exactly one argument).
func dial(t *testing.T, m *meshtest.Mesh, gw int, label string) *client {
	t.Helper()
	sc, err := siotest.Dial(m.Gateways[gw].URL, nil)
	if err != nil {
		t.Fatalf("dial %s on gateway %d: %v", label, gw, err)
	}
	c := &client{Client: sc, t: t, label: label}
	t.Cleanup(func() {
		checkClientInvariants(t, c)
		sc.Close()
	})
	return c
}

// checkClientInvariants reports events about the socket itself and events
// with other than exactly one argument.
func checkClientInvariants(t *testing.T, c events) {
	t.Helper()
	for _, e := range c.Events() {
		if len(e.Args) != 1 {
			t.Errorf("%s received %q with %d arguments, want exactly 1: %s", c.ID(), e.Name, len(e.Args), show(e))
			continue
		}
		var field string
		switch e.Name {
		case evConnected, evMedia:
			field = "id"
		case evInitOffer, evMessage:
			field = "source"
		default:
			continue
		}
		var obj map[string]any
		if json.Unmarshal(e.Args[0], &obj) == nil && obj[field] == c.ID() {
			t.Errorf("§5.2 violated: %s received %s about itself: %s", c.ID(), e.Name, show(e))
		}
	}
}

// emit sends an event, failing the test if it cannot be written.
func (c *client) emit(event string, args ...any) {
	c.t.Helper()
	if err := c.Emit(event, args...); err != nil {
		c.t.Fatalf("%s: emit %s: %v", c.label, event, err)
	}
}

// emitRaw sends "42"+payload.
func (c *client) emitRaw(payload string) {
	c.t.Helper()
	if err := c.EmitRaw(payload); err != nil {
		c.t.Fatalf("%s: emit %s: %v", c.label, abbrev(payload), err)
	}
}

// join emits join-room and waits for one more join-ok.
func (c *client) join(room, name string) {
	c.t.Helper()
	n := len(named(c, evJoinOK))
	args := map[string]any{"roomId": room}
	if name != "" {
		args["name"] = name
	}
	c.emit(evJoinRoom, args)
	waitCount(c.t, c, evJoinOK, n+1, deliverWait)
}

// kill crashes a mesh component as SIGKILL would and returns the moment of
// death: its NATS connection is cut at once, and the rest of Crash runs in
// the background (a gateway whose connection is closed spends its
// CommandRetry budget on each socket's departure before it returns), so
// the test measures the mesh's recovery from the cut, not the dead
// component's shutdown.
func kill(t *testing.T, nc *nats.Conn, crash func()) time.Time {
	t.Helper()
	nc.Close()
	at := time.Now()
	done := make(chan struct{})
	go func() { defer close(done); crash() }()
	t.Cleanup(func() { <-done })
	return at
}

// shortRetry keeps the shutdown of a crashed gateway short: with its
// connection closed, every JetStream write it still tries fails until
// CommandRetry runs out. On a healthy single server no write is retried,
// so the setting changes nothing else.
func shortRetry(c *gateway.Config) { c.CommandRetry = 500 * time.Millisecond }

// ---------------------------------------------------------------------------
// Event inspection

// named returns the recorded events whose name is one of names (all
// events when names is empty), in order.
func named(c events, names ...string) []siotest.Event {
	var out []siotest.Event
	for _, e := range c.Events() {
		if len(names) == 0 || slices.Contains(names, e.Name) {
			out = append(out, e)
		}
	}
	return out
}

// seq is named, rendered with show.
func seq(c events, names ...string) []string {
	evs := named(c, names...)
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = show(e)
	}
	return out
}

// show renders an event as its name and canonical JSON arguments.
func show(e siotest.Event) string {
	var b strings.Builder
	b.WriteString(e.Name)
	for _, a := range e.Args {
		b.WriteByte(' ')
		b.WriteString(canon(a))
	}
	return b.String()
}

// canon re-encodes JSON with sorted keys, so that payloads compare by
// value.
func canon(raw []byte) string {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return "!invalid:" + string(raw)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// ev renders an expected event like show.
func ev(name string, arg any) string {
	b, err := json.Marshal(arg)
	if err != nil {
		panic(err)
	}
	return name + " " + canon(b)
}

func joinOK(room string) string   { return ev(evJoinOK, map[string]any{"roomId": room}) }
func initOffer(src string) string { return ev(evInitOffer, map[string]any{"source": src}) }
func peerLeft(id string) string   { return ev(evPeerLeft, map[string]any{"id": id}) }
func userDisc(id string) string   { return ev(evDisconn, map[string]any{"id": id}) }
func joinErr(reason string, room any) string {
	return ev(evJoinError, map[string]any{"reason": reason, "roomId": room})
}
func checkOK(room string, required bool) string {
	return ev(evCheckOK, map[string]any{"roomId": room, "passwordRequired": required})
}
func mediaState(id, room string, mic, cam any) string {
	return ev(evMedia, map[string]any{"id": id, "roomId": room, "mic": mic, "cam": cam})
}

// userConn is user-connected {id, name}; an empty name is absent.
func userConn(id, name string) string {
	arg := map[string]any{"id": id}
	if name != "" {
		arg["name"] = name
	}
	return ev(evConnected, arg)
}

// errorEv is the `error` event {code, event, roomId?}.
func errorEv(code, event, room string) string {
	arg := map[string]any{"code": code, "event": event}
	if room != "" {
		arg["roomId"] = room
	}
	return ev(evError, arg)
}

// poll calls cond every few milliseconds until it holds or timeout
// passes, and reports whether it held. Tests wait with it, never by
// sleeping.
func poll(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		<-tick.C
	}
}

// waitEvents polls c's events until cond holds, failing with what and the
// events seen when timeout passes first.
func waitEvents(t *testing.T, c events, timeout time.Duration, what string, cond func([]siotest.Event) bool) {
	t.Helper()
	if !poll(timeout, func() bool { return cond(c.Events()) }) {
		t.Fatalf("%s: timed out after %v waiting for %s; events:\n%s", c.ID(), timeout, what, render(c.Events()))
	}
}

// waitCount waits until c has at least n events named name.
func waitCount(t *testing.T, c events, name string, n int, timeout time.Duration) {
	t.Helper()
	waitEvents(t, c, timeout, fmt.Sprintf("%d × %s", n, name), func(evs []siotest.Event) bool {
		k := 0
		for _, e := range evs {
			if e.Name == name {
				k++
			}
		}
		return k >= n
	})
}

// waitSeq waits until c has at least len(want) events named one of names,
// then requires them to be exactly want. Events still on their way are not
// seen: where "nothing more" matters, wait for a later fence first.
func waitSeq(t *testing.T, c events, names []string, want []string, timeout time.Duration) {
	t.Helper()
	poll(timeout, func() bool { return len(seq(c, names...)) >= len(want) })
	if got := seq(c, names...); !slices.Equal(got, want) {
		t.Fatalf("%s: events %v:\n%s", c.ID(), names, diff(got, want))
	}
}

// render lists events one per line.
func render(evs []siotest.Event) string {
	var b strings.Builder
	for _, e := range evs {
		b.WriteString("    ")
		b.WriteString(abbrev(show(e)))
		b.WriteByte('\n')
	}
	if b.Len() == 0 {
		return "    (none)\n"
	}
	return b.String()
}

// diff shows got and want side by side.
func diff(got, want []string) string {
	var b strings.Builder
	n := max(len(got), len(want))
	for i := range n {
		g, w := "-", "-"
		if i < len(got) {
			g = abbrev(got[i])
		}
		if i < len(want) {
			w = abbrev(want[i])
		}
		mark := "  "
		if g != w {
			mark = "≠ "
		}
		fmt.Fprintf(&b, "  %s%2d got  %s\n       want %s\n", mark, i, g, w)
	}
	return b.String()
}

// abbrev shortens huge payloads in failure messages.
func abbrev(s string) string {
	if len(s) > 300 {
		return s[:300] + fmt.Sprintf("…(%d bytes)", len(s))
	}
	return s
}

// ---------------------------------------------------------------------------
// Presence

// presenceEntry is one event of the PRESENCE stream.
type presenceEntry struct {
	shared.PresenceEvent
	Raw json.RawMessage
}

// presenceLog follows the PRESENCE stream from its start.
type presenceLog struct {
	mu  sync.Mutex
	evs []presenceEntry
	err error
}

// watchPresence records every presence event of the mesh, through the
// same code as `rtcmesh presence watch --from-start`.
func watchPresence(t *testing.T, m *meshtest.Mesh) *presenceLog {
	t.Helper()
	st := m.Store()
	l := &presenceLog{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		err := presence.WatchPresence(ctx, st.JetStream(), presence.WatchOptions{FromStart: true}, func(b []byte) error {
			var e presenceEntry
			if err := json.Unmarshal(b, &e.PresenceEvent); err != nil {
				return fmt.Errorf("decode presence event %s: %w", b, err)
			}
			e.Raw = append(json.RawMessage(nil), b...)
			l.mu.Lock()
			l.evs = append(l.evs, e)
			l.mu.Unlock()
			return nil
		})
		l.mu.Lock()
		l.err = err
		l.mu.Unlock()
	}()
	t.Cleanup(func() { cancel(); <-done })
	return l
}

// all returns the events so far, in stream order.
func (l *presenceLog) all() ([]presenceEntry, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.evs), l.err
}

// find returns the events of type typ about socket id in room (empty
// strings match anything).
func (l *presenceLog) find(typ, room, id string) []presenceEntry {
	evs, _ := l.all()
	var out []presenceEntry
	for _, e := range evs {
		if (typ == "" || e.Type == typ) && (room == "" || e.Room == room) && (id == "" || e.ID == id) {
			out = append(out, e)
		}
	}
	return out
}

// wait polls until at least n events match typ, room and id.
func (l *presenceLog) wait(t *testing.T, typ, room, id string, n int, timeout time.Duration) []presenceEntry {
	t.Helper()
	if !poll(timeout, func() bool { return len(l.find(typ, room, id)) >= n }) {
		all, err := l.all()
		t.Fatalf("timed out after %v waiting for %d presence %q events in %q about %q (watch error: %v); stream:\n%s",
			timeout, n, typ, room, id, err, renderPresence(all))
	}
	return l.find(typ, room, id)
}

func renderPresence(evs []presenceEntry) string {
	var b strings.Builder
	for _, e := range evs {
		fmt.Fprintf(&b, "    %s\n", e.Raw)
	}
	return b.String()
}

// ---------------------------------------------------------------------------
// The model: what each socket must receive, computed from the presence
// stream. The stream records the order the room service applied joins and
// leaves (seq), so it fixes who was "earlier" in every pair. Each checked
// socket must have been in one room only (user-connected and friends carry
// no room id, so events of two rooms could not be told apart).

// expected returns, for every socket in the stream, the exact sequence of
// membership events the rtc.io contract requires, and each room's members
// at the end, in join order.
func expected(evs []presenceEntry) (want map[string][]string, rooms map[string][]string, roomOf map[string]string, err error) {
	byRoom := map[string][]presenceEntry{}
	var order []string
	for _, e := range evs {
		if e.Type != shared.PresenceJoin && e.Type != shared.PresenceLeave {
			continue
		}
		if _, ok := byRoom[e.Room]; !ok {
			order = append(order, e.Room)
		}
		byRoom[e.Room] = append(byRoom[e.Room], e)
	}
	want = map[string][]string{}
	rooms = map[string][]string{}
	roomOf = map[string]string{}
	multi := map[string]bool{}
	for _, room := range order {
		list := byRoom[room]
		sort.SliceStable(list, func(i, j int) bool { return list[i].Seq < list[j].Seq })
		var members []string
		names := map[string]string{}
		for _, e := range list {
			if r, ok := roomOf[e.ID]; ok && r != room {
				multi[e.ID] = true
			}
			roomOf[e.ID] = room
			switch e.Type {
			case shared.PresenceJoin:
				if slices.Contains(members, e.ID) {
					return nil, nil, nil, fmt.Errorf("presence: %s joined %q twice without leaving (seq %d)", e.ID, room, e.Seq)
				}
				name := ""
				if e.Name != nil {
					name = *e.Name
				}
				names[e.ID] = name
				for _, o := range members {
					want[e.ID] = append(want[e.ID], userConn(o, names[o]))
				}
				want[e.ID] = append(want[e.ID], joinOK(room))
				for _, o := range members {
					want[o] = append(want[o], userConn(e.ID, name), initOffer(e.ID))
				}
				members = append(members, e.ID)
			case shared.PresenceLeave:
				i := slices.Index(members, e.ID)
				if i < 0 {
					return nil, nil, nil, fmt.Errorf("presence: %s left %q without being a member (seq %d, reason %q)", e.ID, room, e.Seq, e.Reason)
				}
				members = slices.Delete(members, i, i+1)
				for _, o := range members {
					// A recoverable departure's peer-left went out when it
					// began, which the stream does not record: checkModel
					// checks it apart (hinted).
					if e.Reason != reasonLeave && !hinted(e.Reason) {
						want[o] = append(want[o], peerLeft(e.ID))
					}
					want[o] = append(want[o], userDisc(e.ID))
				}
			}
		}
		if len(members) > 0 {
			rooms[room] = members
		}
	}
	for sid := range multi {
		roomOf[sid] = "" // in several rooms: not checkable
	}
	return want, rooms, roomOf, nil
}

// checkModel waits until every client's membership events equal what the
// presence stream requires, and fails with the differences otherwise. Call
// it once the last command of the scenario has been confirmed (its join-ok
// received), so that equality is final.
func checkModel(t *testing.T, l *presenceLog, timeout time.Duration, clients ...events) {
	t.Helper()
	var (
		bad  []string
		evs  []presenceEntry
		werr error
	)
	ok := poll(timeout, func() bool {
		evs, werr = l.all()
		want, _, roomOf, err := expected(evs)
		if err != nil {
			t.Fatalf("%v; stream:\n%s", err, renderPresence(evs))
		}
		bad = bad[:0]
		for _, c := range clients {
			if r, ok := roomOf[c.ID()]; ok && r == "" {
				t.Fatalf("model: %s was in several rooms; it cannot be checked", c.ID())
			}
			got := seq(c, membership...)
			if msg := checkHints(got, evs); msg != "" {
				bad = append(bad, c.ID()+": "+msg)
			}
			got = slices.DeleteFunc(got, func(ev string) bool { return hintedPeerLeft(ev, evs) })
			if !slices.Equal(got, want[c.ID()]) {
				bad = append(bad, fmt.Sprintf("%s:\n%s", c.ID(), diff(got, want[c.ID()])))
			}
		}
		return len(bad) == 0
	})
	if !ok {
		t.Fatalf("membership events differ from the presence stream's order (watch error %v):\n%s\nstream:\n%s",
			werr, strings.Join(bad, "\n"), renderPresence(evs))
	}
}

// ---------------------------------------------------------------------------
// KV rosters

// rosterWant is each room's members in join order.
type rosterWant map[string][]string

// checkRosters waits until the KV rosters equal want, through every view
// operators have: AllMembers, ListRooms and ShowRoom.
func checkRosters(t *testing.T, st *presence.Store, want rosterWant, timeout time.Duration) {
	t.Helper()
	var err error
	if !poll(timeout, func() bool { err = rostersEqual(st, want); return err == nil }) {
		t.Fatalf("KV rosters differ from the live sockets after %v: %v", timeout, err)
	}
}

func rostersEqual(st *presence.Store, want rosterWant) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	members, err := st.AllMembers(ctx)
	if err != nil {
		return err
	}
	got := map[string][]string{}
	for _, m := range members {
		got[m.Room] = append(got[m.Room], m.SID)
	}
	for room := range got {
		sort.Strings(got[room])
	}
	for room, sids := range want {
		w := slices.Sorted(slices.Values(sids))
		if !slices.Equal(got[room], w) {
			return fmt.Errorf("AllMembers: room %q has %v, want %v", room, got[room], w)
		}
	}
	for room, sids := range got {
		if _, ok := want[room]; !ok {
			return fmt.Errorf("AllMembers: ghost room %q with %v", room, sids)
		}
	}
	list, err := st.ListRooms(ctx)
	if err != nil {
		return err
	}
	if len(list) != len(want) {
		return fmt.Errorf("ListRooms: %d rooms %+v, want %d", len(list), list, len(want))
	}
	for _, r := range list {
		if r.Members != len(want[r.Room]) {
			return fmt.Errorf("ListRooms: room %q has %d members, want %d", r.Room, r.Members, len(want[r.Room]))
		}
	}
	for room, sids := range want {
		d, err := st.ShowRoom(ctx, room)
		if err != nil {
			return err
		}
		var shown []string
		for _, m := range d.Members {
			shown = append(shown, m.SID)
		}
		if !slices.Equal(shown, sids) {
			return fmt.Errorf("ShowRoom(%q): %v, want %v (join order)", room, shown, sids)
		}
	}
	return nil
}

// socketRecords returns the socket ids with a record in the sockets bucket.
func socketRecords(t *testing.T, st *presence.Store) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	recs, err := st.AllSockets(ctx)
	if err != nil {
		t.Fatalf("AllSockets: %v", err)
	}
	var out []string
	for _, r := range recs {
		out = append(out, r.SID)
	}
	sort.Strings(out)
	return out
}

// jetstreamOf returns a JetStream handle on a connection of the test's own.
func jetstreamOf(t *testing.T, m *meshtest.Mesh) jetstream.JetStream {
	t.Helper()
	js, err := jetstream.New(m.Connect())
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// ---------------------------------------------------------------------------
// The sock.* spy

// spy records every message published to any socket subject.
type spy struct {
	mu   sync.Mutex
	msgs []*nats.Msg
}

func startSpy(t *testing.T, m *meshtest.Mesh) *spy {
	t.Helper()
	nc := m.Connect()
	s := &spy{}
	if _, err := nc.Subscribe(shared.SubjSockAll, func(msg *nats.Msg) {
		s.mu.Lock()
		s.msgs = append(s.msgs, msg)
		s.mu.Unlock()
	}); err != nil {
		t.Fatalf("spy: %v", err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatalf("spy: %v", err)
	}
	return s
}

// mark returns a position to look from.
func (s *spy) mark() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.msgs)
}

// since returns the messages after mark that match.
func (s *spy) since(mark int, match func(*nats.Msg) bool) []*nats.Msg {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*nats.Msg
	for _, m := range s.msgs[mark:] {
		if match(m) {
			out = append(out, m)
		}
	}
	return out
}

// waitFor waits until a message after mark matches (and, when event is
// given, is that room-service event). The spy has its own connection, so
// it may see a message after its addressee: wait for it before marking.
func (s *spy) waitFor(t *testing.T, mark int, what string, match func(*nats.Msg) bool, event ...string) {
	t.Helper()
	m := match
	if len(event) > 0 {
		m = func(msg *nats.Msg) bool { return match(msg) && msg.Header.Get(shared.HeaderEvent) == event[0] }
	}
	if !poll(deliverWait, func() bool { return len(s.since(mark, m)) > 0 }) {
		t.Fatalf("spy: nothing published matching %s", what)
	}
}

func to(sid string) func(*nats.Msg) bool {
	return func(m *nats.Msg) bool { return m.Subject == shared.Sock(sid) }
}

func relayFrom(sid string) func(*nats.Msg) bool {
	return func(m *nats.Msg) bool { return m.Header.Get(shared.HeaderFrom) == sid }
}

func relayTo(sid string) func(*nats.Msg) bool {
	return func(m *nats.Msg) bool { return m.Subject == shared.Sock(sid) && m.Header.Get(shared.HeaderFrom) != "" }
}

func renderMsgs(msgs []*nats.Msg) string {
	var b strings.Builder
	for _, m := range msgs {
		fmt.Fprintf(&b, "    %s from=%q %s\n", m.Subject, m.Header.Get(shared.HeaderFrom), abbrev(string(m.Data)))
	}
	return b.String()
}

// ---------------------------------------------------------------------------
// JSON objects, member by member

// member is one member of a JSON object, its value byte-exact.
type member struct {
	key string
	raw string
}

// members splits a JSON object into its members in order, values exactly
// as written.
func members(t *testing.T, raw []byte) []member {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not a JSON object: %s", abbrev(string(raw)))
	}
	var out []member
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("bad object %s: %v", abbrev(string(raw)), err)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("bad object %s: %v", abbrev(string(raw)), err)
		}
		out = append(out, member{key: tok.(string), raw: string(v)})
	}
	return out
}

// quote is s as a JSON string.
func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// hinted reports whether a leave with reason had its #rtcio:peer-left sent
// when the departure began, a grace window earlier.
func hinted(reason string) bool {
	return reason == shared.ReasonGatewayLost || reason == shared.ReasonTransport
}

// hintedPeerLeft reports whether ev is the peer-left of a socket whose
// departure (in evs) was hinted.
func hintedPeerLeft(ev string, evs []presenceEntry) bool {
	for _, e := range evs {
		if e.Type == shared.PresenceLeave && hinted(e.Reason) && ev == peerLeft(e.ID) {
			return true
		}
	}
	return false
}

// checkHints checks a client's hinted departures: exactly one peer-left
// each, before its user-disconnected.
func checkHints(got []string, evs []presenceEntry) string {
	for _, e := range evs {
		if e.Type != shared.PresenceLeave || !hinted(e.Reason) {
			continue
		}
		ud := slices.Index(got, userDisc(e.ID))
		if ud < 0 {
			continue // not a room mate of this client; the model checks the rest
		}
		n, first := 0, -1
		for i, ev := range got {
			if ev == peerLeft(e.ID) {
				n++
				if first < 0 {
					first = i
				}
			}
		}
		if n != 1 || first > ud {
			return fmt.Sprintf("%d peer-left for %s (first at %d, user-disconnected at %d), want one before", n, e.ID, first, ud)
		}
	}
	return ""
}
