package mesh_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/rtcmesh/rtcmesh/gateway"
	"github.com/rtcmesh/rtcmesh/internal/meshtest"
	"github.com/rtcmesh/rtcmesh/internal/siotest"
	"github.com/rtcmesh/rtcmesh/shared"
)

// answer emits event with arg and waits for exactly one more event among
// names, which it returns rendered.
func answer(t *testing.T, c *client, event string, arg any, names ...string) string {
	t.Helper()
	n := len(named(c, names...))
	c.emit(event, arg)
	waitEvents(t, c, deliverWait, fmt.Sprintf("the answer to %s", event), func([]siotest.Event) bool { return len(named(c, names...)) > n })
	return seq(c, names...)[n]
}

// TestPasswords: the first occupant sets the room's password (trimmed);
// check-room answers room-check-ok {roomId, passwordRequired} or
// join-error password-required / wrong-password; a wrong join is refused
// and leaves no trace for the members; an occupied room without a password
// ignores a supplied one; the password is cleared when the room empties,
// and the next first occupant sets a new one.
func TestPasswords(t *testing.T) {
	m := meshtest.Start(t, meshtest.Options{})
	l := watchPresence(t, m)
	answers := []string{evJoinOK, evJoinError, evCheckOK}
	o := dial(t, m, 0, "owner")
	x := dial(t, m, 1, "checker")
	o.emit(evJoinRoom, map[string]any{"roomId": "vault", "name": "O", "password": "  pw "})
	waitSeq(t, o, answers, []string{joinOK("vault")}, deliverWait)

	for _, tc := range []struct {
		event string
		arg   map[string]any
		want  string
	}{
		{evCheckRoom, map[string]any{"roomId": "vault"}, joinErr(shared.JoinPasswordRequired, "vault")},
		{evCheckRoom, map[string]any{"roomId": "vault", "password": ""}, joinErr(shared.JoinPasswordRequired, "vault")},
		{evCheckRoom, map[string]any{"roomId": "vault", "password": "no"}, joinErr(shared.JoinWrongPassword, "vault")},
		{evCheckRoom, map[string]any{"roomId": "vault", "password": "PW"}, joinErr(shared.JoinWrongPassword, "vault")},
		{evCheckRoom, map[string]any{"roomId": "vault", "password": "pw"}, checkOK("vault", true)},
		{evCheckRoom, map[string]any{"roomId": "vault", "password": " pw\t"}, checkOK("vault", true)},
		{evCheckRoom, map[string]any{"roomId": "empty"}, checkOK("empty", false)},
		{evCheckRoom, map[string]any{"roomId": "empty", "password": "any"}, checkOK("empty", false)},
		{evJoinRoom, map[string]any{"roomId": "vault", "name": "X"}, joinErr(shared.JoinPasswordRequired, "vault")},
		{evJoinRoom, map[string]any{"roomId": "vault", "name": "X", "password": "nope"}, joinErr(shared.JoinWrongPassword, "vault")},
	} {
		if got := answer(t, x, tc.event, tc.arg, answers...); got != tc.want {
			t.Errorf("%s %v: got %s, want %s", tc.event, tc.arg, got, tc.want)
		}
	}
	// The refused checker can still join with the right password; its
	// refusals left no trace for the owner.
	if got := answer(t, x, evJoinRoom, map[string]any{"roomId": "vault", "name": "X", "password": "pw"}, answers...); got != joinOK("vault") {
		t.Fatalf("join with the right password: %s", got)
	}
	waitSeq(t, x, membership, []string{userConn(o.ID(), "O"), joinOK("vault")}, deliverWait)
	waitSeq(t, o, nil, []string{joinOK("vault"), userConn(x.ID(), "X"), initOffer(x.ID())}, deliverWait)

	// A room without a password ignores one supplied later.
	p := dial(t, m, 0, "p")
	p.join("open", "P")
	q := dial(t, m, 1, "q")
	if got := answer(t, q, evJoinRoom, map[string]any{"roomId": "open", "name": "Q", "password": "whatever"}, answers...); got != joinOK("open") {
		t.Fatalf("join of a room without password, with one: %s", got)
	}
	if got := answer(t, q, evCheckRoom, map[string]any{"roomId": "open", "password": "x"}, answers...); got != checkOK("open", false) {
		t.Fatalf("check of a room without password: %s", got)
	}

	// The room empties (one leaves, one disconnects): the password goes.
	o.emit(evLeaveRoom, map[string]any{"roomId": "vault"})
	l.wait(t, "leave", "vault", o.ID(), 1, deliverWait)
	x.Close()
	l.wait(t, "leave", "vault", x.ID(), 1, deliverWait)
	y := dial(t, m, 1, "y")
	if got := answer(t, y, evCheckRoom, map[string]any{"roomId": "vault"}, answers...); got != checkOK("vault", false) {
		t.Fatalf("check of the emptied room: %s", got)
	}
	// The new first occupant sets a new password; the old one is refused.
	if got := answer(t, y, evJoinRoom, map[string]any{"roomId": "vault", "name": "Y", "password": "two"}, answers...); got != joinOK("vault") {
		t.Fatalf("first join of the emptied room: %s", got)
	}
	z := dial(t, m, 0, "z")
	if got := answer(t, z, evJoinRoom, map[string]any{"roomId": "vault", "name": "Z", "password": "pw"}, answers...); got != joinErr(shared.JoinWrongPassword, "vault") {
		t.Fatalf("join with the old password: %s", got)
	}
	if got := answer(t, z, evJoinRoom, map[string]any{"roomId": "vault", "name": "Z", "password": "two"}, answers...); got != joinOK("vault") {
		t.Fatalf("join with the new password: %s", got)
	}
	// The rosters list the password-protected room as such.
	ds, err := m.Store().ShowRoom(t.Context(), "vault")
	if err != nil || !ds.PasswordProtected || len(ds.Members) != 2 {
		t.Fatalf("ShowRoom(vault) = %+v, %v; want protected with 2 members", ds, err)
	}
	for _, mb := range ds.Members {
		if strings.Contains(fmt.Sprint(mb), "two") {
			t.Fatalf("ShowRoom leaks the password: %+v", mb)
		}
	}
}

// TestPipelinedRefusalKeepsJoin: a client may send its next request
// without waiting for the answer to the previous one (nothing in the
// protocol says otherwise), and while no room service is processing (a
// takeover takes a second or two) its requests queue up. A refusal that
// answers an earlier request, a check-room without password or a
// join-room with a wrong one, must not undo the join-room queued after it:
// once the socket has join-ok it is a member for every purpose, so its
// media-state and #rtcio:message reach the room and nobody tells it
// "not-a-member".
func TestPipelinedRefusalKeepsJoin(t *testing.T) {
	m := meshtest.Start(t, meshtest.Options{})
	stream, err := jetstreamOf(t, m).Stream(t.Context(), shared.StreamRoomCommands)
	if err != nil {
		t.Fatal(err)
	}
	variants := []struct {
		name   string
		before map[string]any // the request sent just before join-room
		reason string         // its refusal
	}{
		{"check-room then join-room", map[string]any{"event": evCheckRoom}, shared.JoinPasswordRequired},
		{"wrong then right password", map[string]any{"event": evJoinRoom, "name": "X", "password": "typo"}, shared.JoinWrongPassword},
	}
	owners := make([]*client, len(variants))
	for i := range variants {
		owners[i] = dial(t, m, 0, "owner")
		owners[i].emit(evJoinRoom, map[string]any{"roomId": fmt.Sprintf("locked%d", i), "name": "O", "password": "pw"})
		waitCount(t, owners[i], evJoinOK, 1, deliverWait)
	}

	// No room service for a moment: every request is queued before any is
	// answered.
	for _, r := range m.Rooms {
		r.Stop()
	}
	info, err := stream.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	xs := make([]*client, len(variants))
	for i, v := range variants {
		room := fmt.Sprintf("locked%d", i)
		xs[i] = dial(t, m, 1, "x")
		arg := map[string]any{"roomId": room}
		for k, val := range v.before {
			if k != "event" {
				arg[k] = val
			}
		}
		xs[i].emit(v.before["event"].(string), arg)
		xs[i].emit(evJoinRoom, map[string]any{"roomId": room, "name": "X", "password": "pw"})
	}
	if !poll(deliverWait, func() bool {
		now, err := stream.Info(t.Context())
		return err == nil && now.State.LastSeq == info.State.LastSeq+uint64(2*len(variants))
	}) {
		t.Fatal("the requests were not queued")
	}
	m.AddRoomService()

	for i, v := range variants {
		room, o, x := fmt.Sprintf("locked%d", i), owners[i], xs[i]
		waitSeq(t, x, []string{evJoinError, evCheckOK, evJoinOK, evConnected},
			[]string{joinErr(v.reason, room), userConn(o.ID(), "O"), joinOK(room)}, deliverWait)
		waitSeq(t, o, membership, []string{joinOK(room), userConn(x.ID(), "X"), initOffer(x.ID())}, deliverWait)
		x.emit(evMedia, map[string]any{"roomId": room, "mic": true, "cam": false})
		x.emit(evMessage, map[string]any{"target": o.ID(), "data": "answer"})
		x.emit(evLeaveRoom, map[string]any{"roomId": room})
	}
	got := func(o *client) bool {
		return len(named(o, evMedia)) == 1 && len(named(o, evMessage)) == 1 && len(named(o, evDisconn)) == 1
	}
	poll(deliverWait, func() bool { return got(owners[0]) && got(owners[1]) })
	for i, v := range variants {
		o, x := owners[i], xs[i]
		if !got(o) || len(named(x, evError)) != 0 {
			t.Errorf("%s: the member's media-state, #rtcio:message and leave-room must reach the room, "+
				"and it must get no error; the owner received:\n%sthe member received:\n%s", v.name, render(o.Events()), render(x.Events()))
		}
	}
}

// TestRoomFull: with a cap of 3, the fourth join is refused with
// join-error room-full and the members hear nothing of it; a member's
// re-join still gets join-ok; a place freed is taken.
func TestRoomFull(t *testing.T) {
	m := meshtest.Start(t, meshtest.Options{RoomCap: 3})
	l := watchPresence(t, m)
	var in []*client
	for i := range 3 {
		c := dial(t, m, i%2, fmt.Sprintf("m%d", i))
		c.join("full", c.label)
		in = append(in, c)
	}
	d := dial(t, m, 1, "d")
	d.emit(evJoinRoom, map[string]any{"roomId": "full", "name": "D"})
	waitSeq(t, d, nil, []string{joinErr(shared.JoinRoomFull, "full")}, deliverWait)
	in[0].join("full", "m0") // a member's re-join is not refused
	e := dial(t, m, 0, "e")
	e.emit(evJoinRoom, map[string]any{"roomId": "full", "name": "E"})
	waitSeq(t, e, nil, []string{joinErr(shared.JoinRoomFull, "full")}, deliverWait)

	in[2].emit(evLeaveRoom, map[string]any{"roomId": "full"})
	l.wait(t, "leave", "full", in[2].ID(), 1, deliverWait)
	d.join("full", "D")
	waitSeq(t, d, nil, []string{
		joinErr(shared.JoinRoomFull, "full"), userConn(in[0].ID(), "m0"), userConn(in[1].ID(), "m1"), joinOK("full"),
	}, deliverWait)
	checkModel(t, l, deliverWait, in[1], d, e)
	waitSeq(t, in[0], membership, []string{ // the model plus the re-join's join-ok
		joinOK("full"), userConn(in[1].ID(), "m1"), initOffer(in[1].ID()), userConn(in[2].ID(), "m2"), initOffer(in[2].ID()),
		joinOK("full"), userDisc(in[2].ID()), userConn(d.ID(), "D"), initOffer(d.ID()),
	}, deliverWait)
	if got := len(l.find("join", "full", "")); got != 4 {
		t.Fatalf("%d presence joins, want 4 (refusals publish none)", got)
	}
	checkRosters(t, m.Store(), rosterWant{"full": {in[0].ID(), in[1].ID(), d.ID()}}, deliverWait)
}

// TestRoomsPerSocketLimit: a socket may be in at most MaxRoomsPerSocket
// rooms (16 by default); one more is refused with join-error forbidden,
// and a room left frees a place.
func TestRoomsPerSocketLimit(t *testing.T) {
	m := meshtest.Start(t, meshtest.Options{Gateway: func(c *gateway.Config) { c.MaxRoomsPerSocket = 3 }})
	c := dial(t, m, 0, "c")
	for i := range 3 {
		c.join(fmt.Sprintf("room%d", i), "C")
	}
	c.join("room1", "C") // a re-join is not a new room
	c.emit(evJoinRoom, map[string]any{"roomId": "room3", "name": "C"})
	waitEvents(t, c, deliverWait, "a refusal", func([]siotest.Event) bool { return len(named(c, evJoinError)) == 1 })
	c.emit(evLeaveRoom, map[string]any{"roomId": "room0"})
	c.join("room3", "C")
	waitSeq(t, c, []string{evJoinOK, evJoinError}, []string{
		joinOK("room0"), joinOK("room1"), joinOK("room2"), joinOK("room1"), joinErr(shared.JoinForbidden, "room3"), joinOK("room3"),
	}, deliverWait)
}

// TestRoomIDs: room ids are arbitrary strings (§2): dots, spaces,
// non-ASCII, control characters, '=' and exactly 256 bytes all work, are
// echoed exactly, and distinct ids are distinct rooms even when their
// escapes could collide naively ("a.b" and "a=2Eb").
func TestRoomIDs(t *testing.T) {
	m := meshtest.Start(t, meshtest.Options{})
	l := watchPresence(t, m)
	st := m.Store()
	ids := []string{
		"x.y z", "Café", "a.b", "a=2Eb", "tab\tnul\x00", "*>", "=",
		strings.Repeat("é", shared.MaxRoomIDBytes/2), // 256 bytes
		strings.Repeat("r", shared.MaxRoomIDBytes),
	}
	var clients []events
	want := rosterWant{}
	for i, id := range ids {
		first := dial(t, m, i%2, fmt.Sprintf("first %d", i))
		first.join(id, "F")
		second := dial(t, m, (i+1)%2, fmt.Sprintf("second %d", i))
		second.join(id, "S")
		waitSeq(t, second, membership, []string{userConn(first.ID(), "F"), joinOK(id)}, deliverWait)
		waitSeq(t, first, membership, []string{joinOK(id), userConn(second.ID(), "S"), initOffer(second.ID())}, deliverWait)
		second.emit(evChat, map[string]any{"roomId": id, "text": "hi"})
		waitSeq(t, first, []string{evChat}, []string{ev(evChat, map[string]any{"roomId": id, "text": "hi"})}, deliverWait)
		if joins := l.wait(t, "join", id, "", 2, deliverWait); joins[0].ID != first.ID() || joins[1].ID != second.ID() {
			t.Fatalf("presence joins for %q: %s %s", id, joins[0].Raw, joins[1].Raw)
		}
		clients = append(clients, first, second)
		want[id] = []string{first.ID(), second.ID()}
	}
	checkModel(t, l, deliverWait, clients...)
	checkRosters(t, st, want, deliverWait)
}
