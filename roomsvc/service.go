// Package roomsvc is the room service: it consumes room commands in
// per-room order, keeps rosters, emits the rtc.io join sequence, departures
// and relays to per-socket subjects, publishes presence events, and reaps
// the sockets of gateways that died.
//
// Ordering. Commands go to the ROOMCMD stream, which partitions them by
// room (shared.RoomPartitions). Each partition has one durable consumer
// with a pinned priority group and MaxAckPending 1: exactly one replica
// processes a partition at a time, one command at a time, and another
// replica takes the pin within PinnedTTL when the owner stops pulling. A
// queue group would spread one room over replicas and break the
// snapshot-then-join rule that gives each pair exactly one init-offer.
package roomsvc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	imetrics "github.com/rtcmesh/rtcmesh/internal/metrics"
	"github.com/rtcmesh/rtcmesh/internal/rungroup"
	"github.com/rtcmesh/rtcmesh/shared"
)

// Config configures a Service.
type Config struct {
	// Conn is the NATS connection. Required.
	Conn *nats.Conn
	// Store holds rosters, media state, sockets and leases. Required.
	Store Store
	// RoomCap is the most members a room may have (default 50).
	RoomCap int
	// AckWait is how long a command may stay unacknowledged before it is
	// redelivered (default 5s); CommandTimeout bounds processing one
	// command and must be shorter (default 4s).
	AckWait        time.Duration
	CommandTimeout time.Duration
	// PinnedTTL is how long a partition stays pinned to a replica that
	// stopped pulling: the takeover delay after a crash (default 3s).
	PinnedTTL time.Duration
	// SweepInterval is the period of the anti-entropy pass (default 30s).
	SweepInterval time.Duration
	// Grace is how long a member whose transport dropped, or whose gateway
	// fell silent, stays departing before user-disconnected and the
	// presence leave; a resume within it cancels them (default 5s;
	// negative: none, departures are immediate).
	Grace time.Duration
	// SuspectAfter is the heartbeat silence after which a gateway is
	// probed and, if it does not answer, its sockets begin departing
	// (default 1s; gateways beat every 250 ms).
	SuspectAfter time.Duration
	// Logger receives diagnostics (default slog.Default()).
	Logger *slog.Logger
}

// Service is the room service.
type Service struct {
	cfg     Config
	log     *slog.Logger
	js      jetstream.JetStream
	limits  limits
	metrics counters

	grace *graceTimers // departure.go, grace.go
	live  *liveness    // liveness.go

	snapMu sync.Mutex
	snap   *snapshot // the latest whole-bucket read, shared by partitions
}

// snapshot is one read of every member and media state.
type snapshot struct {
	started time.Time
	done    chan struct{}
	members []shared.Member
	media   []shared.MediaState
	err     error
}

// snapshotAfter returns a snapshot whose reads started after t. Partitions
// pinned together (a replica starting, or taking over from a dead one)
// share one read instead of scanning the buckets once each.
func (s *Service) snapshotAfter(ctx context.Context, t time.Time) (*snapshot, error) {
	s.snapMu.Lock()
	sn := s.snap
	if sn == nil || sn.started.Before(t) {
		sn = &snapshot{started: time.Now(), done: make(chan struct{})}
		s.snap = sn
		s.snapMu.Unlock()
		sn.members, sn.err = s.cfg.Store.AllMembers(ctx)
		if sn.err == nil {
			sn.media, sn.err = s.cfg.Store.AllMedia(ctx)
		}
		close(sn.done)
		if sn.err != nil {
			s.snapMu.Lock()
			if s.snap == sn {
				s.snap = nil
			}
			s.snapMu.Unlock()
		}
		return sn, sn.err
	}
	s.snapMu.Unlock()
	select {
	case <-sn.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if sn.err != nil {
		return nil, sn.err
	}
	return sn, nil
}

// counters count what the service did; Metrics exposes them.
type counters struct {
	processed, failed, rejected, takeovers, reaped atomic.Int64
}

// New validates cfg and returns a service.
func New(cfg Config) (*Service, error) {
	if cfg.Conn == nil {
		return nil, errors.New("roomsvc: config: Conn is required")
	}
	if cfg.Store == nil {
		return nil, errors.New("roomsvc: config: Store is required")
	}
	if cfg.RoomCap <= 0 {
		cfg.RoomCap = 50
	}
	if cfg.AckWait <= 0 {
		cfg.AckWait = 5 * time.Second
	}
	if cfg.CommandTimeout <= 0 {
		cfg.CommandTimeout = 4 * time.Second
	}
	if cfg.CommandTimeout >= cfg.AckWait {
		return nil, errors.New("roomsvc: config: CommandTimeout must be shorter than AckWait")
	}
	if cfg.PinnedTTL <= 0 {
		cfg.PinnedTTL = 3 * time.Second
	}
	if cfg.SweepInterval <= 0 {
		cfg.SweepInterval = 30 * time.Second
	}
	switch {
	case cfg.Grace == 0:
		cfg.Grace = 5 * time.Second
	case cfg.Grace < 0:
		cfg.Grace = 0
	}
	if cfg.SuspectAfter <= 0 {
		cfg.SuspectAfter = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	js, err := jetstream.New(cfg.Conn)
	if err != nil {
		return nil, fmt.Errorf("roomsvc: jetstream: %w", err)
	}
	s := &Service{
		cfg:    cfg,
		log:    cfg.Logger.With(shared.KeyComponent, "roomsvc"),
		js:     js,
		limits: limits{roomCap: cfg.RoomCap, grace: cfg.Grace},
	}
	s.grace, s.live = newGraceTimers(s), newLiveness(s)
	return s, nil
}

// RegisterMetrics exports the service's counters on reg.
func (s *Service) RegisterMetrics(reg *imetrics.Registry) {
	for _, c := range []struct {
		name, help string
		v          *atomic.Int64
	}{
		{"rtcmesh_roomsvc_commands_processed_total", "Room commands processed and acknowledged.", &s.metrics.processed},
		{"rtcmesh_roomsvc_commands_failed_total", "Room commands whose effects failed part-way (redelivered).", &s.metrics.failed},
		{"rtcmesh_roomsvc_commands_rejected_total", "Malformed room commands dropped.", &s.metrics.rejected},
		{"rtcmesh_roomsvc_takeovers_total", "Partitions this replica took over from another.", &s.metrics.takeovers},
		{"rtcmesh_roomsvc_reaped_total", "Disconnects queued for sockets of lost gateways or stale members.", &s.metrics.reaped},
	} {
		v := c.v
		reg.CounterFunc(c.name, c.help, func() float64 { return float64(v.Load()) })
	}
	s.registerDepartureMetrics(reg)
}

// Metrics is a snapshot of the service's counters.
type Metrics struct {
	Processed, Failed, Rejected, Takeovers, Reaped int64
}

// Metrics returns the counters.
func (s *Service) Metrics() Metrics {
	return Metrics{
		Processed: s.metrics.processed.Load(),
		Failed:    s.metrics.failed.Load(),
		Rejected:  s.metrics.rejected.Load(),
		Takeovers: s.metrics.takeovers.Load(),
		Reaped:    s.metrics.reaped.Load(),
	}
}

// Run consumes every partition, watches gateway leases and runs the
// anti-entropy pass until ctx is done. The ROOMCMD stream must exist
// (presence.Provision creates it).
func (s *Service) Run(ctx context.Context) error {
	consumers := make([]jetstream.Consumer, shared.RoomPartitions)
	for p := range consumers {
		c, err := s.ensureConsumer(ctx, p)
		if err != nil {
			return err
		}
		consumers[p] = c
	}
	s.log.Info("room service running", "partitions", shared.RoomPartitions, "room_cap", s.cfg.RoomCap)
	g, gctx := rungroup.WithContext(ctx)
	for p, c := range consumers {
		part := &partition{svc: s, id: p}
		g.Go(func() error { return part.run(gctx, c) })
	}
	g.Go(func() error { return s.watchLeases(gctx) })
	g.Go(func() error { return s.sweepLoop(gctx) })
	g.Go(func() error { return s.grace.run(gctx) })
	g.Go(func() error { return s.live.run(gctx) })
	err := g.Wait()
	if ctx.Err() != nil {
		return nil
	}
	return err
}

func (s *Service) ensureConsumer(ctx context.Context, p int) (jetstream.Consumer, error) {
	cfg := jetstream.ConsumerConfig{
		Durable:        shared.RoomPartitionConsumer(p),
		Description:    "rtcmesh room commands of one partition",
		FilterSubject:  shared.RoomPartitionFilter(p),
		DeliverPolicy:  jetstream.DeliverAllPolicy,
		AckPolicy:      jetstream.AckExplicitPolicy,
		AckWait:        s.cfg.AckWait,
		MaxDeliver:     -1,
		MaxAckPending:  1, // strictly one command at a time per partition
		PriorityPolicy: jetstream.PriorityPolicyPinned,
		PriorityGroups: []string{shared.RoomServiceGroup},
		PinnedTTL:      s.cfg.PinnedTTL,
	}
	var lastErr error
	for attempt := 0; attempt < 20; attempt++ {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		c, err := s.js.CreateOrUpdateConsumer(cctx, shared.StreamRoomCommands, cfg)
		cancel()
		if err == nil {
			return c, nil
		}
		lastErr = err
		if ctx.Err() != nil {
			break
		}
		// Several replicas starting together race to create the same
		// consumers; the loser retries and finds them.
		select {
		case <-ctx.Done():
		case <-time.After(250 * time.Millisecond):
		}
	}
	return nil, fmt.Errorf("roomsvc: consumer %s: %w", cfg.Durable, lastErr)
}
