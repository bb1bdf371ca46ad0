package roomsvc

import (
	"encoding/json"
	"sort"
	"strings"
	"time"

	"github.com/rtcmesh/rtcmesh/shared"
)

// room is the in-memory state of one room, owned by the partition that
// processes its commands.
type room struct {
	key      shared.RoomKey
	id       string
	members  []*shared.Member // in join order
	media    map[string]shared.MediaState
	password *shared.PasswordHash
}

func newRoom(key shared.RoomKey, members []shared.Member, media []shared.MediaState) *room {
	r := &room{key: key, id: key.ID(), media: make(map[string]shared.MediaState, len(media))}
	for i := range members {
		m := members[i]
		r.members = append(r.members, &m)
		if m.Password != nil {
			r.password = m.Password
		}
	}
	sort.Slice(r.members, func(i, j int) bool { return r.members[i].Seq < r.members[j].Seq })
	for _, ms := range media {
		r.media[ms.SID] = ms
	}
	return r
}

func (r *room) find(sid string) *shared.Member {
	for _, m := range r.members {
		if m.SID == sid {
			return m
		}
	}
	return nil
}

func (r *room) without(sid string) []*shared.Member {
	out := make([]*shared.Member, 0, len(r.members))
	for _, m := range r.members {
		if m.SID != sid {
			out = append(out, m)
		}
	}
	return out
}

// output is one event for one socket; payload is the JSON array
// ["event", arg] written to the client as is.
type output struct {
	sid     string
	event   string
	peer    string // the socket a membership event is about
	payload []byte
}

// effects is what applying a command produces: messages, presence events
// and the KV writes that make the new state durable. They are carried out
// in that order (see partition.commit).
type effects struct {
	outputs      []output
	presence     []shared.PresenceEvent
	putMember    *shared.Member
	deleteMember string
	putMedia     *shared.MediaState
	departing    []departNotice // grace windows to time (departure.go)
}

func (e *effects) send(sid, event, peer string, arg any) {
	e.outputs = append(e.outputs, output{sid: sid, event: event, peer: peer, payload: encodeEvent(event, arg)})
}

// sendRaw sends an event whose argument is the client's raw JSON.
func (e *effects) sendRaw(sid, event string, raw json.RawMessage) {
	name, _ := json.Marshal(event)
	p := make([]byte, 0, len(name)+len(raw)+3)
	p = append(p, '[')
	p = append(p, name...)
	p = append(p, ',')
	p = append(p, raw...)
	p = append(p, ']')
	e.outputs = append(e.outputs, output{sid: sid, event: event, payload: p})
}

func encodeEvent(event string, arg any) []byte {
	b, err := json.Marshal([]any{event, arg})
	if err != nil {
		panic(err) // only fixed, marshalable types reach here
	}
	return b
}

// Payloads of the events the room service writes.
type (
	userPayload struct {
		ID   string  `json:"id"`
		Name *string `json:"name,omitempty"`
	}
	idPayload struct {
		ID string `json:"id"`
	}
	roomPayload struct {
		RoomID string `json:"roomId"`
	}
	joinErrorPayload struct {
		Reason string `json:"reason"`
		RoomID string `json:"roomId"`
	}
	checkPayload struct {
		RoomID           string `json:"roomId"`
		PasswordRequired bool   `json:"passwordRequired"`
	}
	mediaPayload struct {
		ID     string `json:"id"`
		RoomID string `json:"roomId"`
		Mic    bool   `json:"mic"`
		Cam    bool   `json:"cam"`
	}
	initOfferPayload struct {
		Source string `json:"source"`
	}
	errorPayload struct {
		Code   string `json:"code"`
		Event  string `json:"event"`
		RoomID string `json:"roomId"`
	}
)

// limits are the room rules applied by the service.
type limits struct {
	roomCap int
	grace   time.Duration // how long a recoverable departure waits for a resume; 0: none
}

// apply runs one command against the room and returns its effects. seq is
// the command's stream sequence: a join whose member record already
// carries seq is the same command delivered again after a takeover, and
// produces exactly the outputs it produced the first time (gateways and
// JetStream drop the repeats).
func (r *room) apply(verb string, cmd *shared.Command, seq uint64, now time.Time, lim limits) effects {
	var e effects
	switch verb {
	case shared.VerbJoin:
		r.join(&e, cmd, seq, now, lim)
	case shared.VerbCheck:
		r.check(&e, cmd)
	case shared.VerbLeave:
		r.leave(&e, cmd, seq, now, shared.ReasonLeave)
	case shared.VerbDisconnect:
		r.disconnect(&e, cmd, seq, now, lim)
	case shared.VerbExpire:
		r.expire(&e, cmd, seq, now)
	case shared.VerbResume:
		r.resume(&e, cmd, seq, now, lim)
	case shared.VerbMedia:
		r.mediaState(&e, cmd, seq, now)
	case shared.VerbBroadcast:
		r.broadcast(&e, cmd)
	}
	return e
}

// passwordRefusal returns the join-error reason for supplied, or "".
func (r *room) passwordRefusal(occupied bool, supplied string) string {
	if !occupied || r.password == nil || r.password.Matches(supplied) {
		return ""
	}
	if supplied == "" {
		return shared.JoinPasswordRequired
	}
	return shared.JoinWrongPassword
}

func (r *room) join(e *effects, cmd *shared.Command, seq uint64, now time.Time, lim limits) {
	sid := cmd.SID
	existing := r.find(sid)
	replay := existing != nil && existing.Seq == seq
	if existing != nil && !replay {
		// Already a member: confirm, and nothing else. A second fan-out
		// would give the pair a second init-offer. A departing member that
		// asks is back: its departure ends silently.
		r.revive(e, existing, cmd)
		e.send(sid, shared.EventJoinOK, "", roomPayload{r.id})
		return
	}
	others := r.without(sid)
	supplied := strings.TrimSpace(cmd.Password)
	if reason := r.passwordRefusal(len(others) > 0, supplied); reason != "" {
		e.send(sid, shared.EventJoinError, "", joinErrorPayload{reason, r.id})
		return
	}
	if len(others) >= lim.roomCap {
		e.send(sid, shared.EventJoinError, "", joinErrorPayload{shared.JoinRoomFull, r.id})
		return
	}
	if len(others) == 0 {
		// The first occupant sets the password for the room's lifetime.
		switch {
		case replay && existing.Password != nil:
			r.password = existing.Password
		case supplied != "":
			r.password = shared.HashPassword(supplied)
		default:
			r.password = nil
		}
	}
	// Backfill the newcomer, then confirm: the roster always precedes
	// join-ok, and join-ok precedes any offer.
	for _, m := range others {
		e.send(sid, shared.EventUserConnected, m.SID, userPayload{m.SID, m.Name})
		if ms, ok := r.media[m.SID]; ok {
			e.send(sid, shared.EventMediaState, m.SID, mediaPayload{m.SID, r.id, ms.Mic, ms.Cam})
		}
	}
	e.send(sid, shared.EventJoinOK, "", roomPayload{r.id})
	// Every existing member learns of the newcomer and offers to it: one
	// init-offer per pair, to the earlier member, with exactly one argument.
	for _, m := range others {
		e.send(m.SID, shared.EventUserConnected, sid, userPayload{sid, cmd.Name})
		e.send(m.SID, shared.EventInitOffer, sid, initOfferPayload{sid})
	}
	joined := now
	if replay {
		joined = existing.JoinedAt
	}
	m := &shared.Member{
		SID: sid, Room: r.id, Name: cmd.Name, UserID: cmd.UserID, Gateway: cmd.Gateway,
		JoinedAt: joined, Seq: seq, Password: r.password,
	}
	r.members = append(others, m)
	e.putMember = m
	e.presence = append(e.presence, shared.PresenceEvent{
		Type: shared.PresenceJoin, Room: r.id, ID: sid, Name: cmd.Name, UserID: cmd.UserID,
		Gateway: cmd.Gateway, Seq: seq, Time: now,
	})
}

func (r *room) check(e *effects, cmd *shared.Command) {
	occupied := len(r.members) > 0
	if reason := r.passwordRefusal(occupied, strings.TrimSpace(cmd.Password)); reason != "" {
		e.send(cmd.SID, shared.EventJoinError, "", joinErrorPayload{reason, r.id})
		return
	}
	e.send(cmd.SID, shared.EventRoomCheckOK, "", checkPayload{r.id, occupied && r.password != nil})
}

// leave removes a member: leave-room tells the others user-disconnected;
// a disconnect first tells them #rtcio:peer-left, unless they heard it
// when the member's departure began.
func (r *room) leave(e *effects, cmd *shared.Command, seq uint64, now time.Time, reason string) {
	m := r.find(cmd.SID)
	if m == nil {
		return
	}
	r.members = r.without(cmd.SID)
	delete(r.media, cmd.SID)
	for _, o := range r.members {
		if reason != shared.ReasonLeave && !heardPeerLeft(m, o) {
			e.send(o.SID, shared.EventPeerLeft, m.SID, idPayload{m.SID})
		}
		e.send(o.SID, shared.EventUserDisconnected, m.SID, idPayload{m.SID})
	}
	if len(r.members) == 0 {
		r.password = nil
	}
	e.deleteMember = m.SID
	e.presence = append(e.presence, shared.PresenceEvent{
		Type: shared.PresenceLeave, Room: r.id, ID: m.SID, Name: m.Name, UserID: m.UserID,
		Reason: reason, Gateway: m.Gateway, Seq: seq, Time: now,
	})
}

func (r *room) mediaState(e *effects, cmd *shared.Command, seq uint64, now time.Time) {
	m := r.find(cmd.SID)
	if m == nil {
		e.send(cmd.SID, shared.EventError, "", errorPayload{shared.ErrNotMember, shared.EventMediaState, r.id})
		return
	}
	if cmd.Mic != nil && cmd.Cam != nil {
		ms := shared.MediaState{SID: m.SID, Room: r.id, Mic: *cmd.Mic, Cam: *cmd.Cam, Updated: now}
		r.media[m.SID] = ms
		e.putMedia = &ms
		e.presence = append(e.presence, shared.PresenceEvent{
			Type: shared.PresenceMedia, Room: r.id, ID: m.SID, Name: m.Name, UserID: m.UserID,
			Mic: cmd.Mic, Cam: cmd.Cam, Gateway: m.Gateway, Seq: seq, Time: now,
		})
	}
	for _, o := range r.members {
		if o.SID != m.SID {
			e.sendRaw(o.SID, shared.EventMediaState, cmd.Data)
		}
	}
}

func (r *room) broadcast(e *effects, cmd *shared.Command) {
	m := r.find(cmd.SID)
	if m == nil {
		e.send(cmd.SID, shared.EventError, "", errorPayload{shared.ErrNotMember, cmd.Event, r.id})
		return
	}
	for _, o := range r.members {
		if o.SID != m.SID {
			e.sendRaw(o.SID, cmd.Event, cmd.Data)
		}
	}
}
