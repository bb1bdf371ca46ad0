package mesh_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/rtcmesh/rtcmesh/internal/meshtest"
	"github.com/rtcmesh/rtcmesh/internal/siotest"
	"github.com/rtcmesh/rtcmesh/shared"
)

// inputCase is a client input and exactly what it must cause.
type inputCase struct {
	name string
	// frames are sent as they are: a string is a text frame, a []byte a
	// binary frame (an attachment).
	frames []any
	// want is what the sender receives, wantB what the bystander in the
	// sender's room receives; nothing else may reach anyone.
	want, wantB []string
	// probe is the room of the check-room that fences the case (default
	// "lobby"): its answer comes after every effect of the case.
	probe string
}

// since renders c's events from index i on.
func since(c events, i int) []string {
	evs := c.Events()
	var out []string
	for _, e := range evs[min(i, len(evs)):] {
		out = append(out, show(e))
	}
	return out
}

// TestMalformedInput is §5.5 as a table: every malformed payload of every
// client event gets its clear refusal (join-error invalid-room with the
// roomId as sent, invalid-name, or error {code: invalid-payload,
// not-a-member, too-large, event, roomId?}) or is dropped, crashes
// nothing, reaches no other socket (a NATS spy on sock.* proves nothing
// was even published) and leaves the sender and its room working.
func TestMalformedInput(t *testing.T) {
	m := meshtest.Start(t, meshtest.Options{})
	l := watchPresence(t, m)
	sp := startSpy(t, m)
	a := dialRaw(t, m, 0) // the sender
	a.text(`42["join-room",{"roomId":"lobby","name":"A"}]`)
	waitCount(t, a, evJoinOK, 1, deliverWait)
	b := dial(t, m, 1, "b") // bystander in the sender's room
	b.join("lobby", "B")
	d := dial(t, m, 0, "d") // bystander in another room
	d.join("elsewhere", "D")
	waitSeq(t, a, nil, []string{joinOK("lobby"), userConn(b.ID(), "B"), initOffer(b.ID())}, deliverWait)
	// The spy has its own connection: let it see the setup before marking.
	sp.waitFor(t, 0, "d's join-ok", to(d.ID()))
	sp.waitFor(t, 0, "a's init-offer", to(a.ID()), evInitOffer)
	mark := sp.mark()
	nd := len(d.Events())

	long := strings.Repeat("r", shared.MaxRoomIDBytes+1)
	huge := strings.Repeat("x", 200_000)
	nested := strings.Repeat("[", 1000) + strings.Repeat("]", 1000)
	ph := func(n int) string { return fmt.Sprintf(`{"_placeholder":true,"num":%d}`, n) }
	f := func(s string, args ...any) string { return fmt.Sprintf(s, args...) }
	joinInvalid := []string{joinErr(shared.JoinInvalidRoom, nil)}
	invalid := func(event string) []string { return []string{errorEv(shared.ErrInvalidPayload, event, "")} }
	notMember := func(event string) []string { return []string{errorEv(shared.ErrNotMember, event, "nope")} }
	tooLarge := func(event string) []string { return []string{errorEv(shared.ErrTooLarge, event, "lobby")} }
	bin := []byte{0, 1, 2, 0xff}

	cases := []inputCase{
		// join-room
		{name: "join/no-arg", frames: []any{`42["join-room"]`}, want: joinInvalid},
		{name: "join/null", frames: []any{`42["join-room",null]`}, want: joinInvalid},
		{name: "join/number", frames: []any{`42["join-room",42]`}, want: joinInvalid},
		{name: "join/string", frames: []any{`42["join-room","lobby"]`}, want: joinInvalid},
		{name: "join/array", frames: []any{`42["join-room",["lobby"]]`}, want: joinInvalid},
		{name: "join/empty-object", frames: []any{`42["join-room",{}]`}, want: joinInvalid},
		{name: "join/roomId-null", frames: []any{`42["join-room",{"roomId":null}]`}, want: joinInvalid},
		{name: "join/roomId-number", frames: []any{`42["join-room",{"roomId":42}]`}, want: []string{joinErr(shared.JoinInvalidRoom, 42)}},
		{name: "join/roomId-empty", frames: []any{`42["join-room",{"roomId":""}]`}, want: []string{joinErr(shared.JoinInvalidRoom, "")}},
		{name: "join/roomId-array", frames: []any{`42["join-room",{"roomId":["lobby"]}]`}, want: []string{joinErr(shared.JoinInvalidRoom, []string{"lobby"})}},
		{name: "join/roomId-object", frames: []any{`42["join-room",{"roomId":{"id":"lobby"}}]`}, want: []string{joinErr(shared.JoinInvalidRoom, map[string]string{"id": "lobby"})}},
		{name: "join/roomId-bool", frames: []any{`42["join-room",{"roomId":true}]`}, want: []string{joinErr(shared.JoinInvalidRoom, true)}},
		{name: "join/roomId-257-bytes", frames: []any{f(`42["join-room",{"roomId":%q}]`, long)}, want: []string{joinErr(shared.JoinInvalidRoom, long)}},
		{name: "join/roomId-huge", frames: []any{f(`42["join-room",{"roomId":%q}]`, huge)}, want: []string{joinErr(shared.JoinInvalidRoom, huge)}},
		{name: "join/roomId-nested", frames: []any{f(`42["join-room",{"roomId":%s}]`, nested)}, want: []string{ev(evJoinError, rawArg(`{"reason":"invalid-room","roomId":`+nested+`}`))}},
		{name: "join/roomId-duplicate-key", frames: []any{`42["join-room",{"roomId":"lobby","roomId":42}]`}, want: []string{joinErr(shared.JoinInvalidRoom, 42)}},
		{name: "join/name-number", frames: []any{`42["join-room",{"roomId":"lobby2","name":42}]`}, want: []string{joinErr(shared.JoinInvalidName, "lobby2")}},
		{name: "join/name-object", frames: []any{`42["join-room",{"roomId":"lobby2","name":{"first":"x"}}]`}, want: []string{joinErr(shared.JoinInvalidName, "lobby2")}},
		{name: "join/name-array", frames: []any{`42["join-room",{"roomId":"lobby2","name":["x"]}]`}, want: []string{joinErr(shared.JoinInvalidName, "lobby2")}},
		{name: "join/name-bool", frames: []any{`42["join-room",{"roomId":"lobby2","name":true}]`}, want: []string{joinErr(shared.JoinInvalidName, "lobby2")}},
		{name: "join/name-257-bytes", frames: []any{f(`42["join-room",{"roomId":"lobby2","name":%q}]`, strings.Repeat("n", shared.MaxNameBytes+1))}, want: []string{joinErr(shared.JoinInvalidName, "lobby2")}},
		{name: "join/name-huge", frames: []any{f(`42["join-room",{"roomId":"lobby2","name":%q}]`, huge)}, want: []string{joinErr(shared.JoinInvalidName, "lobby2")}},
		{name: "join/name-null-is-no-name", frames: []any{`42["join-room",{"roomId":"solo","name":null}]`}, want: []string{joinOK("solo")}, probe: "solo"},
		// A room named like another socket is just a room: d hears nothing.
		{name: "join/roomId-other-socket-id", frames: []any{f(`42["join-room",{"roomId":%q,"name":"A"}]`, d.ID())}, want: []string{joinOK(d.ID())}, probe: d.ID()},
		{name: "join/binary-arg", frames: []any{`451-["join-room",` + ph(0) + `]`, bin}, want: joinInvalid},
		{name: "join/binary-name", frames: []any{`451-["join-room",{"roomId":"lobby2","name":` + ph(0) + `}]`, bin}, want: joinInvalid},

		// check-room
		{name: "check/no-arg", frames: []any{`42["check-room"]`}, want: joinInvalid},
		{name: "check/null", frames: []any{`42["check-room",null]`}, want: joinInvalid},
		{name: "check/number", frames: []any{`42["check-room",42]`}, want: joinInvalid},
		{name: "check/string", frames: []any{`42["check-room","lobby"]`}, want: joinInvalid},
		{name: "check/array", frames: []any{`42["check-room",[]]`}, want: joinInvalid},
		{name: "check/roomId-number", frames: []any{`42["check-room",{"roomId":7}]`}, want: []string{joinErr(shared.JoinInvalidRoom, 7)}},
		{name: "check/roomId-257-bytes", frames: []any{f(`42["check-room",{"roomId":%q}]`, long)}, want: []string{joinErr(shared.JoinInvalidRoom, long)}},
		{name: "check/password-number", frames: []any{`42["check-room",{"roomId":"lobby","password":42}]`}, want: []string{checkOK("lobby", false)}},
		{name: "check/password-huge", frames: []any{f(`42["check-room",{"roomId":"lobby","password":%q}]`, huge)}, want: []string{checkOK("lobby", false)}},
		{name: "check/binary", frames: []any{`451-["check-room",` + ph(0) + `]`, bin}, want: joinInvalid},

		// leave-room
		{name: "leave/no-arg", frames: []any{`42["leave-room"]`}, want: invalid(evLeaveRoom)},
		{name: "leave/null", frames: []any{`42["leave-room",null]`}, want: invalid(evLeaveRoom)},
		{name: "leave/number", frames: []any{`42["leave-room",42]`}, want: invalid(evLeaveRoom)},
		{name: "leave/string", frames: []any{`42["leave-room","lobby"]`}, want: invalid(evLeaveRoom)},
		{name: "leave/array", frames: []any{`42["leave-room",["lobby"]]`}, want: invalid(evLeaveRoom)},
		{name: "leave/empty-object", frames: []any{`42["leave-room",{}]`}, want: invalid(evLeaveRoom)},
		{name: "leave/roomId-number", frames: []any{`42["leave-room",{"roomId":42}]`}, want: invalid(evLeaveRoom)},
		{name: "leave/roomId-257-bytes", frames: []any{f(`42["leave-room",{"roomId":%q}]`, long)}, want: invalid(evLeaveRoom)},
		{name: "leave/binary", frames: []any{`451-["leave-room",{"roomId":"lobby","x":` + ph(0) + `}]`, bin}, want: invalid(evLeaveRoom)},
		{name: "leave/not-joined", frames: []any{`42["leave-room",{"roomId":"never-joined"}]`}},

		// media-state
		{name: "media/no-arg", frames: []any{`42["media-state"]`}, want: invalid(evMedia)},
		{name: "media/null", frames: []any{`42["media-state",null]`}, want: invalid(evMedia)},
		{name: "media/number", frames: []any{`42["media-state",42]`}, want: invalid(evMedia)},
		{name: "media/string", frames: []any{`42["media-state","lobby"]`}, want: invalid(evMedia)},
		{name: "media/array", frames: []any{`42["media-state",[true,true]]`}, want: invalid(evMedia)},
		{name: "media/no-roomId", frames: []any{`42["media-state",{"mic":true,"cam":true}]`}, want: invalid(evMedia)},
		{name: "media/roomId-number", frames: []any{`42["media-state",{"roomId":5,"mic":true,"cam":true}]`}, want: invalid(evMedia)},
		{name: "media/not-a-member", frames: []any{`42["media-state",{"roomId":"nope","mic":true,"cam":true}]`}, want: notMember(evMedia)},
		{name: "media/huge", frames: []any{f(`42["media-state",{"roomId":"lobby","mic":true,"cam":true,"pad":%q}]`, huge)}, want: tooLarge(evMedia)},
		{name: "media/huge-not-a-member", frames: []any{f(`42["media-state",{"roomId":"nope","pad":%q}]`, huge)}, want: []string{errorEv(shared.ErrTooLarge, evMedia, "nope")}},
		{name: "media/binary", frames: []any{`451-["media-state",{"roomId":"lobby","mic":true,"cam":true,"x":` + ph(0) + `}]`, bin}, want: invalid(evMedia)},
		// Not booleans: relayed (id stamped) but not kept.
		{name: "media/not-booleans", frames: []any{`42["media-state",{"roomId":"lobby","mic":"yes","cam":1}]`},
			wantB: []string{mediaState(a.ID(), "lobby", "yes", 1)}},
		// A spoofed id, twice: both are replaced by the sender's.
		{name: "media/spoofed-id", frames: []any{`42["media-state",{"id":"spoof","roomId":"lobby","mic":true,"cam":false,"id":"spoof2"}]`},
			wantB: []string{mediaState(a.ID(), "lobby", true, false)}},

		// chat-message and stopScreenShare
		{name: "chat/no-arg", frames: []any{`42["chat-message"]`}, want: invalid(evChat)},
		{name: "chat/null", frames: []any{`42["chat-message",null]`}, want: invalid(evChat)},
		{name: "chat/number", frames: []any{`42["chat-message",42]`}, want: invalid(evChat)},
		{name: "chat/string", frames: []any{`42["chat-message","hi"]`}, want: invalid(evChat)},
		{name: "chat/array", frames: []any{`42["chat-message",["lobby","hi"]]`}, want: invalid(evChat)},
		{name: "chat/no-roomId", frames: []any{`42["chat-message",{"text":"hi"}]`}, want: invalid(evChat)},
		{name: "chat/roomId-null", frames: []any{`42["chat-message",{"roomId":null,"text":"hi"}]`}, want: invalid(evChat)},
		{name: "chat/roomId-number", frames: []any{`42["chat-message",{"roomId":1,"text":"hi"}]`}, want: invalid(evChat)},
		{name: "chat/not-a-member", frames: []any{`42["chat-message",{"roomId":"nope","text":"hi"}]`}, want: notMember(evChat)},
		{name: "chat/huge", frames: []any{f(`42["chat-message",{"roomId":"lobby","text":%q}]`, huge)}, want: tooLarge(evChat)},
		{name: "chat/binary", frames: []any{`451-["chat-message",{"roomId":"lobby","file":` + ph(0) + `}]`, bin}, want: invalid(evChat)},
		{name: "chat/extra-args-dropped", frames: []any{`42["chat-message",{"roomId":"lobby","text":"ok"},"extra",3]`},
			wantB: []string{ev(evChat, map[string]any{"roomId": "lobby", "text": "ok"})}},
		// The room named like d's id has only the sender: nobody hears it.
		{name: "chat/room-named-like-socket", frames: []any{f(`42["chat-message",{"roomId":%q,"text":"psst"}]`, d.ID())}},
		{name: "stopScreenShare/null", frames: []any{`42["stopScreenShare",null]`}, want: invalid(evStopShare)},
		{name: "stopScreenShare/not-a-member", frames: []any{`42["stopScreenShare",{"roomId":"nope"}]`}, want: notMember(evStopShare)},

		// #rtcio:message: every one of these is dropped silently.
		{name: "message/no-arg", frames: []any{`42["#rtcio:message"]`}},
		{name: "message/null", frames: []any{`42["#rtcio:message",null]`}},
		{name: "message/number", frames: []any{`42["#rtcio:message",42]`}},
		{name: "message/string", frames: []any{f(`42["#rtcio:message",%q]`, b.ID())}},
		{name: "message/array", frames: []any{f(`42["#rtcio:message",[%q]]`, b.ID())}},
		{name: "message/no-target", frames: []any{`42["#rtcio:message",{"data":{}}]`}},
		{name: "message/target-null", frames: []any{`42["#rtcio:message",{"target":null,"data":{}}]`}},
		{name: "message/target-number", frames: []any{`42["#rtcio:message",{"target":42,"data":{}}]`}},
		{name: "message/target-array", frames: []any{f(`42["#rtcio:message",{"target":[%q],"data":{}}]`, b.ID())}},
		{name: "message/target-empty", frames: []any{`42["#rtcio:message",{"target":"","data":{}}]`}},
		{name: "message/target-not-a-token", frames: []any{`42["#rtcio:message",{"target":"sock.* >","data":{}}]`}},
		{name: "message/target-too-long", frames: []any{f(`42["#rtcio:message",{"target":%q,"data":{}}]`, strings.Repeat("a", shared.MaxSocketIDBytes+1))}},
		{name: "message/target-self", frames: []any{f(`42["#rtcio:message",{"target":%q,"data":{}}]`, a.ID())}},
		{name: "message/target-no-shared-room", frames: []any{f(`42["#rtcio:message",{"target":%q,"data":{}}]`, d.ID())}},
		{name: "message/target-a-room", frames: []any{`42["#rtcio:message",{"target":"lobby","data":{}}]`}},
		{name: "message/huge-to-stranger", frames: []any{f(`42["#rtcio:message",{"target":%q,"data":%q}]`, d.ID(), huge)}},
		{name: "message/binary", frames: []any{f(`451-["#rtcio:message",{"target":%q,"data":%s}]`, b.ID(), ph(0)), bin}},

		// ask-ice without an ack, and unknown or server-only events.
		{name: "ask-ice/no-ack", frames: []any{`42["ask-ice"]`}},
		{name: "ask-ice/no-ack-null", frames: []any{`42["ask-ice",null]`}},
		{name: "unknown/event", frames: []any{`42["no-such-event",{"roomId":"lobby"}]`}},
		{name: "unknown/numeric-name", frames: []any{`42[42,{"roomId":"lobby"}]`}},
		{name: "unknown/user-connected", frames: []any{`42["user-connected",{"id":"x","name":"y"}]`}},
		{name: "unknown/init-offer", frames: []any{f(`42["#rtcio:init-offer",{"source":%q}]`, b.ID())}},
		{name: "unknown/peer-left", frames: []any{f(`42["#rtcio:peer-left",{"id":%q}]`, b.ID())}},
		{name: "unknown/join-ok", frames: []any{`42["join-ok",{"roomId":"lobby"}]`}},
		{name: "unknown/binary", frames: []any{`452-["whatever",` + ph(0) + `,` + ph(1) + `]`, bin, bin}},
	}

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			probe := tc.probe
			if probe == "" {
				probe = "lobby"
			}
			na, nb := len(a.Events()), len(b.Events())
			for _, fr := range tc.frames {
				switch fr := fr.(type) {
				case string:
					a.text(fr)
				case []byte:
					a.binary(fr)
				}
			}
			a.text(f(`42["check-room",{"roomId":%q}]`, probe))
			want := append(slices.Clone(tc.want), checkOK(probe, false))
			waitEvents(t, a, deliverWait, "the probe's room-check-ok", func([]siotest.Event) bool {
				return count(since(a, na), checkOK(probe, false)) >= count(want, checkOK(probe, false))
			})
			if got := since(a, na); !slices.Equal(got, want) {
				t.Fatalf("sender received:\n%s", diff(got, want))
			}
			if err := b.Emit(evCheckRoom, map[string]any{"roomId": "lobby"}); err != nil {
				t.Fatal(err) // b belongs to the parent test: not b.emit
			}
			wantB := append(slices.Clone(tc.wantB), checkOK("lobby", false))
			waitEvents(t, b, deliverWait, "the probe's room-check-ok", func([]siotest.Event) bool {
				return count(since(b, nb), checkOK("lobby", false)) >= count(wantB, checkOK("lobby", false))
			})
			if got := since(b, nb); !slices.Equal(got, wantB) {
				t.Fatalf("bystander in the room received:\n%s", diff(got, wantB))
			}
			if a.Closed() {
				t.Fatal("the sender was disconnected")
			}
		})
	}

	// The relayed media-states carry the sender's id in every "id" member.
	for _, e := range named(b, evMedia) {
		for _, mb := range members(t, e.Args[0]) {
			if mb.key == "id" && mb.raw != quote(a.ID()) {
				t.Errorf("relayed media-state %s: id member %s, want %q", e.Args[0], mb.raw, a.ID())
			}
		}
	}
	// Nothing reached the other room, nothing was relayed to anyone: a
	// legitimate message from a, published after everything above on the
	// same gateway connection, fences the spy.
	a.text(f(`42["#rtcio:message",{"target":%q,"data":"fence"}]`, b.ID()))
	sp.waitFor(t, mark, "a's fence", relayFrom(a.ID()))
	waitCount(t, b, evMessage, 1, deliverWait)
	if got := since(d, nd); len(got) != 0 {
		t.Errorf("bystander in another room received %v", got)
	}
	if msgs := sp.since(mark, func(msg *nats.Msg) bool { return to(d.ID())(msg) || relayFrom(a.ID())(msg) }); len(msgs) != 1 || !relayTo(b.ID())(msgs[0]) {
		t.Errorf("published to the other room's socket or relayed from the sender (only the fence to b is expected):\n%s", renderMsgs(msgs))
	}
	// Only the boolean media-state was kept; the mesh still works: a
	// newcomer's backfill is exact.
	if ms := l.find("media-state", "", a.ID()); len(ms) != 1 {
		t.Errorf("%d presence media-state events from the sender, want 1 (the boolean one):\n%s", len(ms), renderPresence(ms))
	}
	e := dial(t, m, 1, "e")
	e.join("lobby", "E")
	waitSeq(t, e, nil, []string{
		userConn(a.ID(), "A"), mediaState(a.ID(), "lobby", true, false), userConn(b.ID(), "B"), joinOK("lobby"),
	}, deliverWait)
}

// count returns how many times s occurs in list.
func count(list []string, s string) int {
	n := 0
	for _, e := range list {
		if e == s {
			n++
		}
	}
	return n
}

// rawArg is a JSON value given as text, for expectations ev cannot build.
type rawArg string

// MarshalJSON implements json.Marshaler.
func (r rawArg) MarshalJSON() ([]byte, error) { return []byte(r), nil }

// TestProtocolViolations: frames that break Socket.IO itself close only
// the offender's connection, which then leaves its room like any
// disconnect; everyone else keeps working.
func TestProtocolViolations(t *testing.T) {
	m := meshtest.Start(t, meshtest.Options{})
	l := watchPresence(t, m)
	b := dial(t, m, 1, "b")
	b.join("lobby", "B")
	cases := []struct {
		name   string
		frames []any
	}{
		{"empty-event-array", []any{`42[]`}},
		{"reserved-event-name", []any{`42["connect"]`}},
		{"object-instead-of-array", []any{`42{"roomId":"lobby"}`}},
		{"not-json", []any{`42["join-room",{`}},
		{"event-name-object", []any{`42[{"x":1}]`}},
		{"namespace-not-joined", []any{`42/admin,["join-room",{"roomId":"lobby"}]`}},
		{"unannounced-attachment", []any{[]byte{1, 2, 3}}},
		{"text-while-attachment-due", []any{`451-["chat-message",{"_placeholder":true,"num":0}]`, `42["ask-ice"]`}},
		{"too-many-attachments", []any{`4511-["x"]`}},
		{"unknown-packet-type", []any{`49["x"]`}},
	}
	var offenders []string
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			x := dialRaw(t, m, len(offenders)%2)
			x.text(`42["join-room",{"roomId":"lobby","name":"X"}]`)
			waitCount(t, x, evJoinOK, 1, deliverWait)
			offenders = append(offenders, x.ID())
			for _, fr := range tc.frames {
				switch fr := fr.(type) {
				case string:
					x.text(fr)
				case []byte:
					x.binary(fr)
				}
			}
			if !poll(deliverWait, x.Closed) {
				t.Fatal("the offender is still connected")
			}
			waitEvents(t, b, deliverWait, "the offender's departure", func([]siotest.Event) bool {
				return slices.Contains(seq(b, evDisconn), userDisc(x.ID()))
			})
		})
	}
	c := dial(t, m, 0, "c") // marker
	c.join("lobby", "C")
	waitSeq(t, c, membership, []string{userConn(b.ID(), "B"), joinOK("lobby")}, deliverWait)
	checkModel(t, l, deliverWait, b, c)
	for _, sid := range offenders {
		departed(t, l, "lobby", sid, reasonDisc, l.find("join", "lobby", sid)[0].Gateway)
	}
}
