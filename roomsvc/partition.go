package roomsvc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
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
	pin   string
	rooms map[shared.RoomKey]*room
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
		// rooms since this one last saw them. Start from KV.
		if p.pin != "" || len(p.rooms) > 0 {
			svc.metrics.takeovers.Add(1)
			svc.log.Info("roomsvc: partition pinned here", shared.KeyPartition, p.id, shared.KeySeq, seq)
		}
		p.pin = pin
		p.rooms = make(map[shared.RoomKey]*room)
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
		svc.log.Warn("roomsvc: cannot load room, will retry", shared.KeyRoom, key, shared.KeyErr, err)
		_ = msg.NakWithDelay(time.Second)
		return
	}
	e := r.apply(verb, cmd, seq, time.Now().UTC(), svc.limits)
	if err := p.commit(cctx, r, seq, &e); err != nil {
		delete(p.rooms, key)
		svc.metrics.failed.Add(1)
		svc.log.Warn("roomsvc: command failed, will retry", shared.KeyRoom, key, "verb", verb, shared.KeySeq, seq, shared.KeyErr, err)
		_ = msg.NakWithDelay(time.Second)
		return
	}
	if len(r.members) == 0 {
		delete(p.rooms, key) // an empty room has no state worth caching
	}
	svc.metrics.processed.Add(1)
	if err := msg.Ack(); err != nil {
		svc.log.Debug("roomsvc: ack failed; the command will be redelivered", shared.KeyErr, err)
	}
}

// room returns the cached state of a room, loading it from KV.
func (p *partition) room(ctx context.Context, key shared.RoomKey) (*room, error) {
	if r, ok := p.rooms[key]; ok {
		return r, nil
	}
	members, media, err := p.svc.cfg.Store.LoadRoom(ctx, key)
	if err != nil {
		return nil, err
	}
	r := newRoom(key, members, media)
	p.rooms[key] = r
	return r, nil
}

// commit carries out a command's effects in the order that makes
// reprocessing safe: client messages first, then presence events (waited
// for), then the KV writes. If the replica dies part-way, the next owner
// finds KV as it was (or with the member record carrying this command's
// sequence) and produces the same messages again, which gateways and the
// PRESENCE stream deduplicate by origin.
func (p *partition) commit(ctx context.Context, r *room, seq uint64, e *effects) error {
	svc := p.svc
	prefix := strconv.Itoa(p.id) + "." + strconv.FormatUint(seq, 10) + "."
	for i, o := range e.outputs {
		msg := &nats.Msg{Subject: shared.Sock(o.sid), Data: o.payload, Header: nats.Header{}}
		msg.Header[shared.HeaderEvent] = []string{o.event}
		msg.Header[shared.HeaderRoom] = []string{string(r.key)}
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
	parts := strings.Split(msg.Subject(), ".")
	if len(parts) != 4 || parts[0] != "roomp" {
		return "", "", nil, fmt.Errorf("unexpected subject %q", msg.Subject())
	}
	key, id, err := shared.ParseRoomKey(parts[2])
	if err != nil {
		return "", "", nil, err
	}
	verb := parts[3]
	switch verb {
	case shared.VerbJoin, shared.VerbCheck, shared.VerbLeave, shared.VerbDisconnect, shared.VerbMedia, shared.VerbBroadcast:
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
