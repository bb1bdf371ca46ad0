package roomsvc

import (
	"testing"
	"time"

	"github.com/rtcmesh/rtcmesh/shared"
)

var graceLim = limits{roomCap: 50, grace: 5 * time.Second}

// timed is a step at an offset from now.
type timed struct {
	step
	after time.Duration
}

func at(after time.Duration, s step) timed { return timed{s, after} }

func disc(sid string, seq uint64, reason, gw string) step {
	return step{shared.VerbDisconnect, shared.Command{SID: sid, Reason: reason, Gateway: gw}, seq}
}

func expire(sid string, seq, dep uint64) step {
	return step{shared.VerbExpire, shared.Command{SID: sid, Departure: dep}, seq}
}

func resume(sid string, seq uint64, gw string) step {
	return step{shared.VerbResume, shared.Command{SID: sid, Gateway: gw, Name: strp("n" + sid)}, seq}
}

// TestGraceDepartures runs rooms through departures with time passing and
// checks the last step's outputs, presence and the member's state.
func TestGraceDepartures(t *testing.T) {
	pl := func(to, id string) string { return to + `<-["#rtcio:peer-left",{"id":"` + id + `"}]` }
	ud := func(to, id string) string { return to + `<-["user-disconnected",{"id":"` + id + `"}]` }
	base := []timed{at(0, join("A", 1, "Ann")), at(0, join("B", 2, "Bo"))}
	cases := []struct {
		name      string
		lim       limits
		steps     []timed
		want      []string
		presence  string // type/reason of the last step's presence event, "" for none
		departing *bool  // B's departing state after the last step; nil: B gone
		timed     int    // departures the last step asks the partition to time
	}{
		{"transport drop: peer-left at once, no presence", graceLim,
			[]timed{at(time.Second, disc("B", 3, shared.ReasonTransport, "gw1"))},
			[]string{pl("A", "B")}, "", boolp(true), 1},
		{"gateway lost: the same", graceLim,
			[]timed{at(time.Second, disc("B", 3, shared.ReasonGatewayLost, ""))},
			[]string{pl("A", "B")}, "", boolp(true), 1},
		{"client disconnect is immediate", graceLim,
			[]timed{at(time.Second, disc("B", 3, shared.ReasonDisconnect, "gw1"))},
			[]string{pl("A", "B"), ud("A", "B")}, "leave/disconnect", nil, 0},
		{"no grace configured: immediate", lim,
			[]timed{at(time.Second, disc("B", 3, shared.ReasonTransport, "gw1"))},
			[]string{pl("A", "B"), ud("A", "B")}, "leave/transport", nil, 0},
		{"second drop while departing: nothing", graceLim,
			[]timed{at(0, disc("B", 3, shared.ReasonTransport, "gw1")), at(time.Second, disc("B", 4, shared.ReasonGatewayLost, ""))},
			nil, "", boolp(true), 0},
		{"redelivered drop: timed again, no second peer-left", graceLim,
			[]timed{at(0, disc("B", 3, shared.ReasonTransport, "gw1")), at(time.Second, disc("B", 3, shared.ReasonTransport, "gw1"))},
			nil, "", boolp(true), 1},
		{"expire after the deadline: user-disconnected and leave", graceLim,
			[]timed{at(0, disc("B", 3, shared.ReasonTransport, "gw1")), at(5*time.Second, expire("B", 4, 3))},
			[]string{ud("A", "B")}, "leave/transport", nil, 0},
		{"expire too early: timed again", graceLim,
			[]timed{at(0, disc("B", 3, shared.ReasonTransport, "gw1")), at(2*time.Second, expire("B", 4, 3))},
			nil, "", boolp(true), 1},
		{"expire within the skew: ends it", graceLim,
			[]timed{at(0, disc("B", 3, shared.ReasonTransport, "gw1")), at(4500*time.Millisecond, expire("B", 4, 3))},
			[]string{ud("A", "B")}, "leave/transport", nil, 0},
		{"expire of another departure: nothing", graceLim,
			[]timed{at(0, disc("B", 3, shared.ReasonTransport, "gw1")), at(9*time.Second, expire("B", 4, 99))},
			nil, "", boolp(true), 0},
		{"resume within grace: silent", graceLim,
			[]timed{at(0, disc("B", 3, shared.ReasonTransport, "gw1")), at(2*time.Second, resume("B", 4, "gw2"))},
			nil, "", boolp(false), 0},
		{"expire after a resume: nothing", graceLim,
			[]timed{at(0, disc("B", 3, shared.ReasonTransport, "gw1")), at(time.Second, resume("B", 4, "gw2")), at(6*time.Second, expire("B", 5, 3))},
			nil, "", boolp(false), 0},
		{"join-room from the departing socket revives it", graceLim,
			[]timed{at(0, disc("B", 3, shared.ReasonTransport, "gw1")), at(time.Second, join("B", 4, "Bo"))},
			[]string{`B<-["join-ok",{"roomId":"r"}]`}, "", boolp(false), 0},
		{"resume after expiry is a join", graceLim,
			[]timed{at(0, disc("B", 3, shared.ReasonTransport, "gw1")), at(6*time.Second, expire("B", 4, 3)), at(7*time.Second, resume("B", 5, "gw2"))},
			[]string{`B<-["user-connected",{"id":"A","name":"Ann"}]`, `B<-["join-ok",{"roomId":"r"}]`,
				`A<-["user-connected",{"id":"B","name":"nB"}]`, `A<-["#rtcio:init-offer",{"source":"B"}]`}, "join/", boolp(false), 0},
		{"stale drop of an old gateway after a move: ignored", graceLim,
			[]timed{at(0, resume("B", 3, "gw2")), at(time.Second, disc("B", 4, shared.ReasonTransport, "gw1"))},
			nil, "", boolp(false), 0},
		{"client disconnect while departing: only user-disconnected", graceLim,
			[]timed{at(0, disc("B", 3, shared.ReasonTransport, "gw1")), at(time.Second, disc("B", 4, shared.ReasonDisconnect, "gw1"))},
			[]string{ud("A", "B")}, "leave/disconnect", nil, 0},
		{"leave-room while departing", graceLim,
			[]timed{at(0, disc("B", 3, shared.ReasonTransport, "gw1")), at(time.Second, step{shared.VerbLeave, shared.Command{SID: "B"}, 4})},
			[]string{ud("A", "B")}, "leave/leave", nil, 0},
		{"newcomer while departing sees it, and gets peer-left at expiry", graceLim,
			[]timed{at(0, disc("B", 3, shared.ReasonTransport, "gw1")), at(time.Second, join("C", 4, "Cy")), at(6*time.Second, expire("B", 5, 3))},
			[]string{ud("A", "B"), pl("C", "B"), ud("C", "B")}, "leave/transport", nil, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newTestRoom("r")
			var e effects
			for _, s := range append(append([]timed{}, base...), tc.steps...) {
				cmd := s.cmd
				cmd.Room = r.id
				e = r.apply(s.verb, &cmd, s.seq, now.Add(s.after), tc.lim)
			}
			expectOutputs(t, e, tc.want...)
			got := ""
			if len(e.presence) > 0 {
				got = e.presence[0].Type + "/" + e.presence[0].Reason
			}
			if got != tc.presence {
				t.Fatalf("presence %q, want %q", got, tc.presence)
			}
			b := r.find("B")
			switch {
			case tc.departing == nil && b != nil:
				t.Fatalf("B still a member: %+v", b)
			case tc.departing != nil && b == nil:
				t.Fatal("B is gone")
			case tc.departing != nil && (b.Departing != nil) != *tc.departing:
				t.Fatalf("B departing %+v, want %v", b.Departing, *tc.departing)
			}
			if len(e.departing) != tc.timed {
				t.Fatalf("%d departures to time, want %d", len(e.departing), tc.timed)
			}
		})
	}
}

// TestDepartingMemberIsStillAMember: a newcomer's backfill lists a
// departing member, which gets the newcomer's user-connected and the one
// init-offer (it may resume); it counts toward the room cap.
func TestDepartingMemberIsStillAMember(t *testing.T) {
	r := newTestRoom("r")
	l := limits{roomCap: 2, grace: 5 * time.Second}
	for _, s := range []step{join("A", 1, "Ann"), join("B", 2, "Bo"), disc("B", 3, shared.ReasonTransport, "gw1")} {
		cmd := s.cmd
		cmd.Room = r.id
		r.apply(s.verb, &cmd, s.seq, now, l)
	}
	cmd := shared.Command{Room: "r", SID: "C", Name: strp("Cy")}
	e := r.apply(shared.VerbJoin, &cmd, 4, now, l)
	expectOutputs(t, e, `C<-["join-error",{"reason":"room-full","roomId":"r"}]`)
	l.roomCap = 3
	e = r.apply(shared.VerbJoin, &cmd, 5, now, l)
	expectOutputs(t, e,
		`C<-["user-connected",{"id":"A","name":"Ann"}]`,
		`C<-["user-connected",{"id":"B","name":"Bo"}]`,
		`C<-["join-ok",{"roomId":"r"}]`,
		`A<-["user-connected",{"id":"C","name":"Cy"}]`,
		`A<-["#rtcio:init-offer",{"source":"C"}]`,
		`B<-["user-connected",{"id":"C","name":"Cy"}]`,
		`B<-["#rtcio:init-offer",{"source":"C"}]`)
}

// TestSuspicionBeats: a disconnect queued for a silent gateway is ignored
// once a resume with a newer heartbeat came first, so a late duplicate
// from another replica cannot start a second departure.
func TestSuspicionBeats(t *testing.T) {
	r := newTestRoom("r")
	steps := []step{
		join("A", 1, "Ann"), join("B", 2, "Bo"),
		{shared.VerbDisconnect, shared.Command{SID: "B", Reason: shared.ReasonGatewayLost, Gateway: "gw1", Beat: 10}, 3},
		{shared.VerbResume, shared.Command{SID: "B", Gateway: "gw1", Beat: 14}, 4},
		{shared.VerbDisconnect, shared.Command{SID: "B", Reason: shared.ReasonGatewayLost, Gateway: "gw1", Beat: 11}, 5},
	}
	var e effects
	for _, s := range steps {
		cmd := s.cmd
		cmd.Room = r.id
		e = r.apply(s.verb, &cmd, s.seq, now, graceLim)
	}
	expectOutputs(t, e)
	if b := r.find("B"); b == nil || b.Departing != nil || b.Beat != 14 {
		t.Fatalf("B = %+v", b)
	}
	cmd := shared.Command{Room: "r", SID: "B", Reason: shared.ReasonGatewayLost, Gateway: "gw1", Beat: 20}
	e = r.apply(shared.VerbDisconnect, &cmd, 6, now, graceLim)
	expectOutputs(t, e, `A<-["#rtcio:peer-left",{"id":"B"}]`)
}
