package roomsvc

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rtcmesh/rtcmesh/shared"
)

var now = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

func strp(s string) *string { return &s }
func boolp(b bool) *bool    { return &b }

// fmtOutputs renders outputs as "sid<-payload" lines for comparison.
func fmtOutputs(e effects) []string {
	var out []string
	for _, o := range e.outputs {
		out = append(out, o.sid+"<-"+string(o.payload))
	}
	return out
}

func expectOutputs(t *testing.T, e effects, want ...string) {
	t.Helper()
	got := fmtOutputs(e)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("outputs:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

func newTestRoom(id string) *room {
	key, err := shared.EscapeRoom(id)
	if err != nil {
		panic(err)
	}
	return newRoom(key, nil, nil)
}

type step struct {
	verb string
	cmd  shared.Command
	seq  uint64
}

func run(r *room, lim limits, steps ...step) effects {
	var e effects
	for _, s := range steps {
		cmd := s.cmd
		if cmd.Room == "" {
			cmd.Room = r.id
		}
		e = r.apply(s.verb, &cmd, s.seq, now, lim)
	}
	return e
}

var lim = limits{roomCap: 50}

func join(sid string, seq uint64, name string) step {
	var n *string
	if name != "" {
		n = strp(name)
	}
	return step{shared.VerbJoin, shared.Command{SID: sid, Name: n, Gateway: "gw1"}, seq}
}

func TestJoinSequence(t *testing.T) {
	r := newTestRoom("x.y z")
	e := run(r, lim, join("A", 1, "Ann"))
	expectOutputs(t, e, `A<-["join-ok",{"roomId":"x.y z"}]`)
	if e.putMember == nil || e.putMember.Seq != 1 || len(e.presence) != 1 || e.presence[0].Type != shared.PresenceJoin {
		t.Fatalf("effects %+v", e)
	}
	run(r, lim, step{shared.VerbMedia, shared.Command{SID: "A", Mic: boolp(true), Cam: boolp(false), Data: json.RawMessage(`{"roomId":"x.y z","mic":true,"cam":false,"id":"A"}`)}, 2})
	run(r, lim, join("B", 3, ""))
	e = run(r, lim, join("C", 4, "Cy"))
	// Backfill (with media state) before join-ok; then each existing member
	// gets user-connected then exactly one init-offer with one argument.
	expectOutputs(t, e,
		`C<-["user-connected",{"id":"A","name":"Ann"}]`,
		`C<-["media-state",{"id":"A","roomId":"x.y z","mic":true,"cam":false}]`,
		`C<-["user-connected",{"id":"B"}]`,
		`C<-["join-ok",{"roomId":"x.y z"}]`,
		`A<-["user-connected",{"id":"C","name":"Cy"}]`,
		`A<-["#rtcio:init-offer",{"source":"C"}]`,
		`B<-["user-connected",{"id":"C","name":"Cy"}]`,
		`B<-["#rtcio:init-offer",{"source":"C"}]`,
	)
	for _, o := range e.outputs {
		if o.event == shared.EventInitOffer && o.sid == "C" || o.event == shared.EventUserConnected && o.peer == o.sid {
			t.Fatalf("output about the recipient itself: %+v", o)
		}
	}
}

// A socket that is already a member gets join-ok and nothing else; the
// same command redelivered (same sequence) reproduces its outputs exactly.
func TestRejoinAndReplay(t *testing.T) {
	r := newTestRoom("r")
	run(r, lim, join("A", 1, "a"))
	first := run(r, lim, join("B", 2, "b"))
	again := run(r, lim, join("B", 9, "b"))
	expectOutputs(t, again, `B<-["join-ok",{"roomId":"r"}]`)
	if again.putMember != nil || len(again.presence) != 0 {
		t.Fatalf("re-join changed state: %+v", again)
	}
	replay := run(r, lim, join("B", 2, "b"))
	if strings.Join(fmtOutputs(replay), "\n") != strings.Join(fmtOutputs(first), "\n") {
		t.Fatalf("replay differs:\n%v\n%v", fmtOutputs(replay), fmtOutputs(first))
	}
	if len(r.members) != 2 {
		t.Fatalf("members after replay: %d", len(r.members))
	}
}

// A replica that reloads a room from KV after a takeover must reproduce
// the same outputs for a redelivered join.
func TestReplayAfterReload(t *testing.T) {
	r := newTestRoom("r")
	run(r, lim, join("A", 1, "a"))
	first := run(r, lim, join("B", 2, "b"))
	var members []shared.Member
	for _, m := range r.members {
		members = append(members, *m)
	}
	reloaded := newRoom(r.key, members, nil)
	replay := run(reloaded, lim, join("B", 2, "b"))
	if strings.Join(fmtOutputs(replay), "\n") != strings.Join(fmtOutputs(first), "\n") {
		t.Fatalf("replay after reload differs:\n%v\n%v", fmtOutputs(replay), fmtOutputs(first))
	}
}

func TestPasswords(t *testing.T) {
	cases := []struct {
		name, pw, want string
	}{
		{"no password", "", `B<-["user-connected",{"id":"A"}]`},
		{"right password", "s3cret", `B<-["user-connected",{"id":"A"}]`},
		{"trimmed", "  s3cret ", `B<-["user-connected",{"id":"A"}]`},
		{"wrong password", "nope", `B<-["join-error",{"reason":"wrong-password","roomId":"r"}]`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newTestRoom("r")
			pw := "s3cret"
			if tc.name == "no password" {
				pw = ""
			}
			run(r, lim, step{shared.VerbJoin, shared.Command{SID: "A", Password: pw}, 1})
			e := run(r, lim, step{shared.VerbJoin, shared.Command{SID: "B", Password: tc.pw}, 2})
			if got := fmtOutputs(e)[0]; got != tc.want {
				t.Fatalf("first output %s, want %s", got, tc.want)
			}
		})
	}
	r := newTestRoom("r")
	run(r, lim, step{shared.VerbJoin, shared.Command{SID: "A", Password: "pw"}, 1})
	expectOutputs(t, run(r, lim, step{shared.VerbJoin, shared.Command{SID: "B"}, 2}),
		`B<-["join-error",{"reason":"password-required","roomId":"r"}]`)
	expectOutputs(t, run(r, lim, step{shared.VerbCheck, shared.Command{SID: "B"}, 3}),
		`B<-["join-error",{"reason":"password-required","roomId":"r"}]`)
	expectOutputs(t, run(r, lim, step{shared.VerbCheck, shared.Command{SID: "B", Password: "pw"}, 4}),
		`B<-["room-check-ok",{"roomId":"r","passwordRequired":true}]`)
	// Occupied room without a password: a supplied one is ignored.
	// Emptied room: the password is cleared.
	run(r, lim, step{shared.VerbLeave, shared.Command{SID: "A"}, 5})
	expectOutputs(t, run(r, lim, step{shared.VerbCheck, shared.Command{SID: "B"}, 6}),
		`B<-["room-check-ok",{"roomId":"r","passwordRequired":false}]`)
	run(r, lim, step{shared.VerbJoin, shared.Command{SID: "C"}, 7})
	run(r, lim, step{shared.VerbJoin, shared.Command{SID: "D", Password: "whatever"}, 8})
	if r.password != nil {
		t.Fatal("a password supplied to an occupied room without one was kept")
	}
}

func TestRoomFull(t *testing.T) {
	r := newTestRoom("r")
	small := limits{roomCap: 2}
	run(r, small, join("A", 1, ""), join("B", 2, ""))
	expectOutputs(t, run(r, small, join("C", 3, "")), `C<-["join-error",{"reason":"room-full","roomId":"r"}]`)
	// A member re-joining a full room is still confirmed.
	expectOutputs(t, run(r, small, join("A", 4, "")), `A<-["join-ok",{"roomId":"r"}]`)
}

func TestDepartures(t *testing.T) {
	r := newTestRoom("r")
	run(r, lim, join("A", 1, "a"), join("B", 2, "b"), join("C", 3, "c"))
	e := run(r, lim, step{shared.VerbLeave, shared.Command{SID: "B"}, 4})
	expectOutputs(t, e, `A<-["user-disconnected",{"id":"B"}]`, `C<-["user-disconnected",{"id":"B"}]`)
	if e.deleteMember != "B" || len(e.presence) != 1 || e.presence[0].Reason != shared.ReasonLeave {
		t.Fatalf("leave effects %+v", e)
	}
	e = run(r, lim, step{shared.VerbDisconnect, shared.Command{SID: "A", Reason: shared.ReasonGatewayLost}, 5})
	expectOutputs(t, e, `C<-["#rtcio:peer-left",{"id":"A"}]`, `C<-["user-disconnected",{"id":"A"}]`)
	if e.presence[0].Reason != shared.ReasonGatewayLost {
		t.Fatalf("reason %q", e.presence[0].Reason)
	}
	// Departing twice is a no-op: exactly one leave per departure.
	e = run(r, lim, step{shared.VerbDisconnect, shared.Command{SID: "A"}, 6})
	if len(e.outputs) != 0 || len(e.presence) != 0 || e.deleteMember != "" {
		t.Fatalf("second departure had effects: %+v", e)
	}
}

func TestMediaAndBroadcast(t *testing.T) {
	r := newTestRoom("r")
	run(r, lim, join("A", 1, ""), join("B", 2, ""))
	raw := json.RawMessage(`{"roomId":"r","mic":"yes","cam":false,"id":"A"}`)
	e := run(r, lim, step{shared.VerbMedia, shared.Command{SID: "A", Data: raw}, 3})
	expectOutputs(t, e, `B<-["media-state",`+string(raw)+`]`)
	if e.putMedia != nil || len(e.presence) != 0 {
		t.Fatal("media state without two booleans was stored")
	}
	e = run(r, lim, step{shared.VerbMedia, shared.Command{SID: "A", Mic: boolp(false), Cam: boolp(true), Data: raw}, 4})
	if e.putMedia == nil || e.putMedia.Cam != true || e.presence[0].Type != shared.PresenceMedia {
		t.Fatalf("media effects %+v", e)
	}
	expectOutputs(t, run(r, lim, step{shared.VerbMedia, shared.Command{SID: "Z", Data: raw}, 5}),
		`Z<-["error",{"code":"not-a-member","event":"media-state","roomId":"r"}]`)
	chat := json.RawMessage(`{"roomId":"r","text":"hi <b>"}`)
	expectOutputs(t, run(r, lim, step{shared.VerbBroadcast, shared.Command{SID: "B", Event: "chat-message", Data: chat}, 6}),
		`A<-["chat-message",`+string(chat)+`]`)
	expectOutputs(t, run(r, lim, step{shared.VerbBroadcast, shared.Command{SID: "Z", Event: "chat-message", Data: chat}, 7}),
		`Z<-["error",{"code":"not-a-member","event":"chat-message","roomId":"r"}]`)
}

// Twenty joiners in sequence: every pair gets exactly one init-offer, to
// the earlier member.
func TestInitOfferPairs(t *testing.T) {
	r := newTestRoom("r")
	offers := map[string]int{}
	for i := 0; i < 20; i++ {
		sid := fmt.Sprintf("s%02d", i)
		e := run(r, lim, join(sid, uint64(i+1), ""))
		for _, o := range e.outputs {
			if o.event == shared.EventInitOffer {
				if o.sid >= sid {
					t.Fatalf("init-offer to %s about %s", o.sid, sid)
				}
				offers[o.sid+">"+sid]++
			}
		}
	}
	if len(offers) != 20*19/2 {
		t.Fatalf("%d pairs offered, want %d", len(offers), 20*19/2)
	}
	for pair, n := range offers {
		if n != 1 {
			t.Fatalf("pair %s got %d offers", pair, n)
		}
	}
}
