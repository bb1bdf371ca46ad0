package roomsvc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rtcmesh/rtcmesh/shared"
)

// pinHeader carries the id the server gives the client pinned to a
// partition's consumer. It changes whenever ownership moves.
const pinHeader = "Nats-Pin-Id"

// partition processes the commands of one room partition, in stream order,
// while this replica holds the consumer's pin.
type partition struct {
	svc *Service
	id  int

	// Touched only by the partition's goroutine.
	pin      string
	pinnedAt time.Time
	// loaded means rooms holds every non-empty room of the partition, so
	// a room that is not in it is empty and needs no KV read.
	loaded bool
	rooms  map[shared.RoomKey]*room
	// stale rooms must be read from KV again (a command on them failed
	// part-way).
	stale map[shared.RoomKey]bool
}

// run consumes the partition until ctx is done. Every replica runs every
// partition; the server delivers to one pinned replica at a time and
// moves the pin when that replica stops pulling.
func (p *partition) run(ctx context.Context, cons jetstream.Consumer) error {
	log := p.svc.log.With(shared.KeyPartition, p.id)
	backoff := newBackoff(100*time.Millisecond, 5*time.Second)
	for ctx.Err() == nil {
		it, err := cons.Messages(
			jetstream.PullPriorityGroup(shared.RoomServiceGroup),
			// Pull requests renew the pin; keep them well under PinnedTTL.
			jetstream.PullExpiry(time.Second),
			jetstream.PullMaxMessages(16),
		)
		if err != nil {
			log.Warn("roomsvc: cannot consume partition, retrying", shared.KeyErr, err)
			if !backoff.wait(ctx) {
				return nil
			}
			continue
		}
		stop := context.AfterFunc(ctx, it.Stop)
		for {
			msg, err := it.Next()
			if err != nil {
				if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
					break
				}
				log.Debug("roomsvc: pull error", shared.KeyErr, err)
				continue
			}
			backoff.reset()
			p.handle(ctx, msg)
		}
		stop()
		it.Stop()
	}
	return nil
}

// handle processes one command and acknowledges it only once its effects
// are durable. On failure the room's cached state is dropped and the
// command is redelivered (to this replica or, after a takeover, another).
func (p *partition) handle(ctx context.Context, msg jetstream.Msg) {
	svc := p.svc
	md, err := msg.Metadata()
	if err != nil {
		svc.log.Warn("roomsvc: message without metadata, dropping", shared.KeyErr, err)
		_ = msg.Term()
		return
	}
	seq := md.Sequence.Stream
	if pin := msg.Headers().Get(pinHeader); pin != p.pin {
		// A new ownership term: another replica may have changed these
		// rooms since this one last saw them. Start again from KV, with a
		// snapshot taken after this moment (it then holds every write the
		// previous owner made for an acknowledged command).
		if p.pin != "" {
			svc.metrics.takeovers.Add(1)
		}
		svc.log.Info("roomsvc: partition pinned here", shared.KeyPartition, p.id, shared.KeySeq, seq)
		p.pin, p.pinnedAt = pin, time.Now()
		p.loaded = false
	}
	key, verb, cmd, err := parseCommand(msg)
	if err != nil {
		svc.metrics.rejected.Add(1)
		svc.log.Warn("roomsvc: invalid command, dropping", shared.KeySubject, msg.Subject(), shared.KeyErr, err)
		_ = msg.Term()
		return
	}
	cctx, cancel := context.WithTimeout(ctx, svc.cfg.CommandTimeout)
	defer cancel()
	r, err := p.room(cctx, key)
	if err != nil {
		svc.log.Warn("roomsvc: cannot load room state, will retry", shared.KeyRoom, key, shared.KeyErr, err)
		_ = msg.NakWithDelay(time.Second)
		return
	}
	e := r.apply(verb, cmd, seq, time.Now().UTC(), svc.limits)
	if err := p.commit(cctx, r, verb, seq, &e); err != nil {
		p.stale[key] = true
		svc.metrics.failed.Add(1)
		svc.log.Warn("roomsvc: command failed, will retry", shared.KeyRoom, key, "verb", verb, shared.KeySeq, seq, shared.KeyErr, err)
		_ = msg.NakWithDelay(time.Second)
		return
	}
	if len(e.departing) > 0 {
		svc.grace.announce(r.id, e.departing)
	}
	if len(r.members) == 0 {
		delete(p.rooms, key) // an empty room has no state worth keeping
	}
	svc.metrics.processed.Add(1)
	if err := msg.Ack(); err != nil {
		svc.log.Debug("roomsvc: ack failed; the command will be redelivered", shared.KeyErr, err)
	}
}

// room returns the state of a room. After a takeover the whole partition
// is loaded from one snapshot of the buckets; afterwards a room missing
// from memory is empty, and only rooms marked stale are read again.
func (p *partition) room(ctx context.Context, key shared.RoomKey) (*room, error) {
	if !p.loaded {
		if err := p.load(ctx); err != nil {
			return nil, err
		}
	}
	if p.stale[key] {
		members, media, err := p.svc.cfg.Store.LoadRoom(ctx, key)
		if err != nil {
			return nil, err
		}
		delete(p.stale, key)
		delete(p.rooms, key)
		if len(members) > 0 {
			p.rooms[key] = newRoom(key, members, media)
		}
	}
	if r, ok := p.rooms[key]; ok {
		return r, nil
	}
	r := newRoom(key, nil, nil)
	p.rooms[key] = r
	return r, nil
}

// load rebuilds the partition's rooms from a snapshot taken after the
// partition was pinned here.
func (p *partition) load(ctx context.Context) error {
	snap, err := p.svc.snapshotAfter(ctx, p.pinnedAt)
	if err != nil {
		return err
	}
	members := map[shared.RoomKey][]shared.Member{}
	for _, m := range snap.members {
		key, err := shared.EscapeRoom(m.Room)
		if err != nil || shared.RoomPartition(key) != p.id {
			continue
		}
		members[key] = append(members[key], m)
	}
	media := map[shared.RoomKey][]shared.MediaState{}
	for _, ms := range snap.media {
		if key, err := shared.EscapeRoom(ms.Room); err == nil && len(members[key]) > 0 {
			media[key] = append(media[key], ms)
		}
	}
	p.rooms = make(map[shared.RoomKey]*room, len(members))
	for key, ms := range members {
		p.rooms[key] = newRoom(key, ms, media[key])
		p.svc.grace.resumeTiming(ms) // departures begun by the previous owner
	}
	p.stale = make(map[shared.RoomKey]bool)
	p.loaded = true
	p.svc.log.Debug("roomsvc: partition loaded", shared.KeyPartition, p.id, "rooms", len(p.rooms))
	return nil
}

// commit carries out a command's effects in the order that makes
// reprocessing safe: client messages first, then presence events (waited
// for), then the KV writes. If the replica dies part-way, the next owner
// finds KV as it was (or with the member record carrying this command's
// sequence) and produces the same messages again, which gateways and the
// PRESENCE stream deduplicate by origin.
func (p *partition) commit(ctx context.Context, r *room, verb string, seq uint64, e *effects) error {
	svc := p.svc
	prefix := strconv.Itoa(p.id) + "." + strconv.FormatUint(seq, 10) + "."
	for i, o := range e.outputs {
		msg := &nats.Msg{Subject: shared.Sock(o.sid), Data: o.payload, Header: nats.Header{}}
		msg.Header[shared.HeaderEvent] = []string{o.event}
		msg.Header[shared.HeaderRoom] = []string{string(r.key)}
		msg.Header[shared.HeaderVerb] = []string{verb}
		msg.Header[shared.HeaderOrigin] = []string{prefix + strconv.Itoa(i)}
		if o.peer != "" {
			msg.Header[shared.HeaderPeer] = []string{o.peer}
		}
		if err := svc.cfg.Conn.PublishMsg(msg); err != nil {
			return fmt.Errorf("publish %s: %w", msg.Subject, err)
		}
	}
	if len(e.presence) > 0 {
		msgs := make([]shared.PresenceMsg, len(e.presence))
		for i, ev := range e.presence {
			msgs[i] = shared.PresenceMsg{Event: ev, ID: "p." + strconv.FormatUint(seq, 10) + "." + strconv.Itoa(i)}
		}
		if err := svc.cfg.Store.PublishPresence(ctx, msgs); err != nil {
			return err
		}
	}
	if e.putMember != nil {
		if err := svc.cfg.Store.PutMember(ctx, r.key, *e.putMember); err != nil {
			return err
		}
	}
	if e.deleteMember != "" {
		if err := svc.cfg.Store.DeleteMember(ctx, r.key, e.deleteMember); err != nil {
			return err
		}
	}
	if e.putMedia != nil {
		if err := svc.cfg.Store.PutMedia(ctx, r.key, *e.putMedia); err != nil {
			return err
		}
	}
	return nil
}

// parseCommand decodes roomp.<partition>.<room>.<verb> and its body.
func parseCommand(msg jetstream.Msg) (shared.RoomKey, string, *shared.Command, error) {
	token, verb, err := shared.ParseRoomPartitioned(msg.Subject())
	if err != nil {
		return "", "", nil, err
	}
	key, id, err := shared.ParseRoomKey(token)
	if err != nil {
		return "", "", nil, err
	}
	switch verb {
	case shared.VerbJoin, shared.VerbCheck, shared.VerbLeave, shared.VerbDisconnect, shared.VerbMedia, shared.VerbBroadcast,
		shared.VerbResume, shared.VerbExpire:
	default:
		return "", "", nil, fmt.Errorf("unknown verb %q", verb)
	}
	var cmd shared.Command
	if err := json.Unmarshal(msg.Data(), &cmd); err != nil {
		return "", "", nil, fmt.Errorf("decode command: %w", err)
	}
	if cmd.Room != id {
		return "", "", nil, fmt.Errorf("command for room %q on subject of %q", cmd.Room, id)
	}
	if !shared.ValidSocketID(cmd.SID) {
		return "", "", nil, fmt.Errorf("invalid socket id %q", cmd.SID)
	}
	if verb == shared.VerbBroadcast && (cmd.Event == "" || len(cmd.Data) == 0) {
		return "", "", nil, errors.New("broadcast without event or data")
	}
	if verb == shared.VerbMedia && len(cmd.Data) == 0 {
		return "", "", nil, errors.New("media-state without data")
	}
	return key, verb, &cmd, nil
}

// backoff is a capped exponential delay.
type backoff struct {
	min, max, cur time.Duration
}

func newBackoff(min, max time.Duration) *backoff { return &backoff{min: min, max: max, cur: min} }

func (b *backoff) reset() { b.cur = b.min }

// wait sleeps for the current delay and doubles it; false if ctx ended.
func (b *backoff) wait(ctx context.Context) bool {
	t := time.NewTimer(b.cur)
	defer t.Stop()
	b.cur = min(b.cur*2, b.max)
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
