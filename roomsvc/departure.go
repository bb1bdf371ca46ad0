package roomsvc

import (
	"time"

	"github.com/rtcmesh/rtcmesh/shared"
)

// Departures with a grace window (pure state; time is passed in).
//
// A disconnect with a recoverable reason (ReasonTransport: the socket's
// transport dropped; ReasonGatewayLost: its gateway fell silent or lost
// its lease) does not remove the member at once. The rest of the room gets
// #rtcio:peer-left (rtc.io only uses it as a hint against its WebRTC
// state) and the member is marked departing until a deadline. A resume
// (VerbResume, a join-room from the socket itself) before the deadline
// cancels it without a word to the room; VerbExpire after it removes the
// member with user-disconnected and the presence leave.
//
// A departing member is still a member: socket.io would keep the socket in
// its rooms until it is gone for good, and the socket may come back and
// get everything it was sent meanwhile. So a newcomer's backfill lists it,
// and it gets user-connected and the #rtcio:init-offer for the newcomer:
// if it resumes, the pair connects with exactly one offer (invariant 1).
// If it expires, members that joined after its peer-left (and so never had
// one) get #rtcio:peer-left then, so that everyone hears exactly one
// peer-left and one user-disconnected per departure (invariant 3).

// expireSkew is how early an expire may arrive (clocks of replicas differ)
// and still end a departure.
const expireSkew = time.Second

// departNotice asks the partition layer to time a departure.
type departNotice struct {
	sid string
	dep shared.Departure
}

// recoverable reports whether a departure for reason waits for a resume.
func recoverable(reason string) bool {
	return reason == shared.ReasonTransport || reason == shared.ReasonGatewayLost
}

// disconnect handles VerbDisconnect.
func (r *room) disconnect(e *effects, cmd *shared.Command, seq uint64, now time.Time, lim limits) {
	reason := cmd.Reason
	if reason == "" || reason == shared.ReasonLeave {
		reason = shared.ReasonDisconnect
	}
	m := r.find(cmd.SID)
	if m == nil {
		return
	}
	if recoverable(reason) {
		if cmd.Gateway != "" && m.Gateway != "" && cmd.Gateway != m.Gateway {
			return // the socket resumed on another gateway: this is about its old transport
		}
		if cmd.Beat != 0 && cmd.Beat <= m.Beat {
			return // the gateway was seen back (a resume) after this suspicion
		}
		if lim.grace > 0 {
			r.depart(e, m, reason, seq, now, lim.grace)
			return
		}
	}
	r.leave(e, cmd, seq, now, reason)
}

// depart starts the grace window of m, or does nothing if it is running.
func (r *room) depart(e *effects, m *shared.Member, reason string, seq uint64, now time.Time, grace time.Duration) {
	if m.Departing != nil {
		if m.Departing.Seq == seq {
			// The same disconnect again after a takeover: its peer-left went
			// out before the member record was written; time it again.
			e.departing = append(e.departing, departNotice{m.SID, *m.Departing})
		}
		return
	}
	m.Departing = &shared.Departure{Reason: reason, Seq: seq, Since: now, Deadline: now.Add(grace)}
	for _, o := range r.members {
		if o.SID != m.SID {
			e.send(o.SID, shared.EventPeerLeft, m.SID, idPayload{m.SID})
		}
	}
	e.putMember = m
	e.departing = append(e.departing, departNotice{m.SID, *m.Departing})
}

// expire handles VerbExpire: the departure named by cmd.Departure ends,
// unless the member resumed (or left) meanwhile.
func (r *room) expire(e *effects, cmd *shared.Command, seq uint64, now time.Time) {
	m := r.find(cmd.SID)
	if m == nil || m.Departing == nil || m.Departing.Seq != cmd.Departure {
		return
	}
	if now.Add(expireSkew).Before(m.Departing.Deadline) {
		e.departing = append(e.departing, departNotice{m.SID, *m.Departing}) // too early: time it again
		return
	}
	r.leave(e, cmd, seq, now, m.Departing.Reason)
}

// resume handles VerbResume: within the grace window it cancels the
// departure silently and moves the member to the gateway that now holds
// the socket; for a socket that is not (or no longer) a member it is a
// join, with the normal fan-out.
func (r *room) resume(e *effects, cmd *shared.Command, seq uint64, now time.Time, lim limits) {
	m := r.find(cmd.SID)
	if m == nil || m.Seq == seq { // m.Seq == seq: this resume's own join, replayed
		r.join(e, cmd, seq, now, lim)
		return
	}
	r.revive(e, m, cmd)
}

// revive cancels m's departure and records where the socket is now.
func (r *room) revive(e *effects, m *shared.Member, cmd *shared.Command) {
	changed := m.Departing != nil
	m.Departing = nil
	if cmd.Gateway != "" && cmd.Gateway != m.Gateway {
		m.Gateway, changed = cmd.Gateway, true
	}
	if cmd.Beat > m.Beat {
		m.Beat, changed = cmd.Beat, true
	}
	if changed {
		e.putMember = m
	}
}

// heardPeerLeft reports whether o already got #rtcio:peer-left for m: o
// was a member when m's departure began.
func heardPeerLeft(m, o *shared.Member) bool {
	return m.Departing != nil && o.Seq < m.Departing.Seq
}
