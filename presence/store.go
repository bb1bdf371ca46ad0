package presence

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rtcmesh/rtcmesh/shared"
)

// ErrLeaseLost means a gateway's lease expired or was rewritten.
var ErrLeaseLost = shared.ErrLeaseLost

// markerTTL is how long the marker of a removed key lives. Socket ids are
// never reused, so without a TTL every socket that ever joined a room
// would leave a marker in the buckets for good.
const markerTTL = time.Minute

// Store reads and writes rtcmesh's JetStream state.
type Store struct {
	js       jetstream.JetStream
	rooms    jetstream.KeyValue
	media    jetstream.KeyValue
	sockets  jetstream.KeyValue
	gateways jetstream.KeyValue
	log      *slog.Logger
}

// Open provisions the assets (see Provision) and binds to them.
func Open(ctx context.Context, nc *nats.Conn, cfg Config, log *slog.Logger) (*Store, error) {
	if log == nil {
		log = slog.Default()
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("presence: jetstream: %w", err)
	}
	if err := Provision(ctx, js, cfg); err != nil {
		return nil, err
	}
	return Bind(ctx, js, log)
}

// Bind binds to assets that already exist (read-only tools).
func Bind(ctx context.Context, js jetstream.JetStream, log *slog.Logger) (*Store, error) {
	if log == nil {
		log = slog.Default()
	}
	s := &Store{js: js, log: log}
	for _, b := range []struct {
		name string
		kv   *jetstream.KeyValue
	}{
		{shared.BucketRooms, &s.rooms},
		{shared.BucketMedia, &s.media},
		{shared.BucketSockets, &s.sockets},
		{shared.BucketGateways, &s.gateways},
	} {
		kv, err := js.KeyValue(ctx, b.name)
		if err != nil {
			return nil, fmt.Errorf("presence: bucket %s: %w", b.name, err)
		}
		*b.kv = kv
	}
	return s, nil
}

// JetStream returns the JetStream context the store uses.
func (s *Store) JetStream() jetstream.JetStream { return s.js }

// LoadRoom reads a room's members and media states.
func (s *Store) LoadRoom(ctx context.Context, room shared.RoomKey) ([]shared.Member, []shared.MediaState, error) {
	members, err := readAll[shared.Member](ctx, s.rooms, shared.RoomKeyFilter(room))
	if err != nil {
		return nil, nil, fmt.Errorf("load room %s members: %w", room, err)
	}
	media, err := readAll[shared.MediaState](ctx, s.media, shared.RoomKeyFilter(room))
	if err != nil {
		return nil, nil, fmt.Errorf("load room %s media: %w", room, err)
	}
	return values(members), values(media), nil
}

// PutMember writes a member record.
func (s *Store) PutMember(ctx context.Context, room shared.RoomKey, m shared.Member) error {
	return putJSON(ctx, s.rooms, shared.MemberKey(room, m.SID), m)
}

// DeleteMember removes a member record and its media state.
func (s *Store) DeleteMember(ctx context.Context, room shared.RoomKey, sid string) error {
	key := shared.MemberKey(room, sid)
	if err := s.rooms.Purge(ctx, key, jetstream.PurgeTTL(markerTTL)); err != nil {
		return fmt.Errorf("delete member %s: %w", key, err)
	}
	if err := s.media.Purge(ctx, key, jetstream.PurgeTTL(markerTTL)); err != nil {
		return fmt.Errorf("delete media %s: %w", key, err)
	}
	return nil
}

// PutMedia writes a media state.
func (s *Store) PutMedia(ctx context.Context, room shared.RoomKey, m shared.MediaState) error {
	return putJSON(ctx, s.media, shared.MemberKey(room, m.SID), m)
}

// PublishPresence publishes events to the PRESENCE stream and waits until
// every one is stored.
func (s *Store) PublishPresence(ctx context.Context, msgs []shared.PresenceMsg) error {
	futures := make([]jetstream.PubAckFuture, 0, len(msgs))
	for _, m := range msgs {
		key, err := shared.EscapeRoom(m.Event.Room)
		if err != nil {
			return fmt.Errorf("publish presence: %w", err)
		}
		data, err := json.Marshal(m.Event)
		if err != nil {
			return fmt.Errorf("publish presence: %w", err)
		}
		msg := &nats.Msg{Subject: shared.Presence(key, m.Event.Type), Data: data, Header: nats.Header{}}
		msg.Header.Set(jetstream.MsgIDHeader, m.ID)
		f, err := s.js.PublishMsgAsync(msg)
		if err != nil {
			return fmt.Errorf("publish presence %s: %w", msg.Subject, err)
		}
		futures = append(futures, f)
	}
	for _, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return fmt.Errorf("publish presence %s: %w", f.Msg().Subject, err)
		case <-ctx.Done():
			return fmt.Errorf("publish presence: %w", ctx.Err())
		}
	}
	return nil
}

// AllMembers reads every member of every room.
func (s *Store) AllMembers(ctx context.Context) ([]shared.Member, error) {
	m, err := readAll[shared.Member](ctx, s.rooms, ">")
	if err != nil {
		return nil, fmt.Errorf("read members: %w", err)
	}
	return values(m), nil
}

// AllMedia reads every media state.
func (s *Store) AllMedia(ctx context.Context) ([]shared.MediaState, error) {
	m, err := readAll[shared.MediaState](ctx, s.media, ">")
	if err != nil {
		return nil, fmt.Errorf("read media: %w", err)
	}
	return values(m), nil
}

// AllSockets reads every socket record.
func (s *Store) AllSockets(ctx context.Context) ([]shared.SocketRecord, error) {
	m, err := readAll[shared.SocketRecord](ctx, s.sockets, ">")
	if err != nil {
		return nil, fmt.Errorf("read sockets: %w", err)
	}
	return values(m), nil
}

// PutSocket writes the record of a socket held by this gateway.
func (s *Store) PutSocket(ctx context.Context, rec shared.SocketRecord) error {
	return putJSON(ctx, s.sockets, rec.SID, rec)
}

// DeleteSocket removes a socket record. With rev > 0 it removes it only if
// it was not rewritten since.
func (s *Store) DeleteSocket(ctx context.Context, sid string, rev uint64) error {
	opts := []jetstream.KVDeleteOpt{jetstream.PurgeTTL(markerTTL)}
	if rev > 0 {
		opts = append(opts, jetstream.LastRevision(rev))
	}
	if err := s.sockets.Purge(ctx, sid, opts...); err != nil {
		return fmt.Errorf("delete socket %s: %w", sid, err)
	}
	return nil
}

// AcquireLease creates a gateway lease that expires after ttl unless
// refreshed, returning its revision.
func (s *Store) AcquireLease(ctx context.Context, lease shared.GatewayLease, ttl time.Duration) (uint64, error) {
	data, err := json.Marshal(lease)
	if err != nil {
		return 0, err
	}
	rev, err := s.gateways.Create(ctx, lease.ID, data, jetstream.KeyTTL(ttl))
	if errors.Is(err, jetstream.ErrKeyExists) {
		return 0, fmt.Errorf("acquire lease %s: %w", lease.ID, shared.ErrLeaseTaken)
	}
	if err != nil {
		return 0, fmt.Errorf("acquire lease %s: %w", lease.ID, err)
	}
	return rev, nil
}

// RefreshLease extends a lease for another ttl. A plain KV update would
// drop the TTL (it belongs to the message), so the new value is published
// with its own TTL and a compare-and-set on the previous revision. It
// returns ErrLeaseLost when the lease is gone or was rewritten.
func (s *Store) RefreshLease(ctx context.Context, lease shared.GatewayLease, rev uint64, ttl time.Duration) (uint64, error) {
	data, err := json.Marshal(lease)
	if err != nil {
		return 0, err
	}
	ack, err := s.js.PublishMsg(ctx, &nats.Msg{Subject: shared.KVSubject(shared.BucketGateways, lease.ID), Data: data},
		jetstream.WithMsgTTL(ttl), jetstream.WithExpectLastSequencePerSubject(rev))
	if err != nil {
		var apiErr *jetstream.APIError
		if errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
			apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant) {
			return 0, fmt.Errorf("refresh lease %s: %w", lease.ID, ErrLeaseLost)
		}
		return 0, fmt.Errorf("refresh lease %s: %w", lease.ID, err)
	}
	return ack.Sequence, nil
}

// ReleaseLease deletes a lease (a clean gateway shutdown).
func (s *Store) ReleaseLease(ctx context.Context, id string) error {
	if err := s.gateways.Purge(ctx, id, jetstream.PurgeTTL(markerTTL)); err != nil {
		return fmt.Errorf("release lease %s: %w", id, err)
	}
	return nil
}

// LiveGateways returns the ids of gateways holding a lease.
func (s *Store) LiveGateways(ctx context.Context) (map[string]bool, error) {
	m, err := readAll[shared.GatewayLease](ctx, s.gateways, ">")
	if err != nil {
		return nil, fmt.Errorf("read leases: %w", err)
	}
	live := make(map[string]bool, len(m))
	for key, e := range m {
		if !e.v.Reaped {
			live[key] = true
		}
	}
	return live, nil
}

// MarkReaped claims a gateway for reaping by creating its lease key with
// the reaped flag (expiring after a minute). It reports false when a live
// lease holds the key: the gateway came back first and must not be
// reaped. It reports true when the key is (already) a reaped marker.
func (s *Store) MarkReaped(ctx context.Context, id string) (bool, error) {
	data, err := json.Marshal(shared.GatewayLease{ID: id, Started: time.Now().UTC(), Reaped: true})
	if err != nil {
		return false, err
	}
	_, err = s.gateways.Create(ctx, id, data, jetstream.KeyTTL(markerTTL))
	if err == nil {
		return true, nil
	}
	if !errors.Is(err, jetstream.ErrKeyExists) {
		return false, fmt.Errorf("mark gateway %s reaped: %w", id, err)
	}
	e, err := s.gateways.Get(ctx, id)
	if err != nil {
		return false, fmt.Errorf("mark gateway %s reaped: %w", id, err)
	}
	var l shared.GatewayLease
	if err := json.Unmarshal(e.Value(), &l); err != nil {
		return false, fmt.Errorf("mark gateway %s reaped: %w", id, err)
	}
	return l.Reaped, nil
}

// WatchLeases calls fn for every lease change until ctx is done: live is
// false when a lease expired or was released (reaped markers count as
// gone). The current leases are reported first. fn runs on the caller's
// goroutine.
func (s *Store) WatchLeases(ctx context.Context, fn func(gateway string, live bool)) error {
	w, err := s.gateways.WatchAll(ctx)
	if err != nil {
		return fmt.Errorf("watch leases: %w", err)
	}
	defer func() { _ = w.Stop() }()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				return errors.New("watch leases: watcher closed")
			}
			if e == nil {
				continue // end of the initial values
			}
			live := e.Operation() == jetstream.KeyValuePut
			if live {
				var l shared.GatewayLease
				if json.Unmarshal(e.Value(), &l) == nil && l.Reaped {
					continue // our own marker, not news
				}
			}
			fn(e.Key(), live)
		}
	}
}

type entry[T any] struct {
	v   T
	rev uint64
}

// readAll reads the current values of the keys matching filter. Values
// that do not decode are skipped: only another program writing the bucket
// could have put them there.
func readAll[T any](ctx context.Context, kv jetstream.KeyValue, filter string) (map[string]entry[T], error) {
	w, err := kv.Watch(ctx, filter, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, err
	}
	defer func() { _ = w.Stop() }()
	out := make(map[string]entry[T])
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case e, ok := <-w.Updates():
			if !ok {
				return nil, errors.New("watcher closed")
			}
			if e == nil {
				return out, nil
			}
			var v T
			if err := json.Unmarshal(e.Value(), &v); err != nil {
				continue
			}
			out[e.Key()] = entry[T]{v: v, rev: e.Revision()}
		}
	}
}

func values[T any](m map[string]entry[T]) []T {
	out := make([]T, 0, len(m))
	for _, e := range m {
		out = append(out, e.v)
	}
	return out
}

func putJSON(ctx context.Context, kv jetstream.KeyValue, key string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	if _, err := kv.Put(ctx, key, data); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	return nil
}
