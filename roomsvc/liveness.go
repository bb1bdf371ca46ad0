package roomsvc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	imetrics "github.com/rtcmesh/rtcmesh/internal/metrics"
	"github.com/rtcmesh/rtcmesh/shared"
)

// Crash detection. A gateway sends a core-NATS heartbeat every 250 ms
// (shared.GatewayBeat). A replica that hears nothing from a gateway for
// Config.SuspectAfter asks it (shared.GatewayAlive); NATS answers "no
// responders" at once when the gateway's connection is gone. A gateway
// that does not answer is suspect: a disconnect with ReasonGatewayLost is
// queued for each of its members, which sends #rtcio:peer-left and starts
// their grace window. If the gateway is heard again and was not reaped,
// the same replica queues a resume for each, which ends the window without
// a word to the room. The lease and its reaped marker (reaper.go) stay the
// authority on whether a gateway may keep its sockets.
//
// Heartbeats are core NATS, so they keep flowing while JetStream elects a
// leader: an election alone never makes a gateway suspect. Every replica
// watches every gateway; the message ids of the disconnects make copies
// from several replicas one command, and Command.Beat makes a copy that
// arrives after a resume a no-op.

const (
	// livenessTick is how often silence is checked.
	livenessTick = 100 * time.Millisecond
	// livenessProbes and livenessProbeTimeout bound the probe of a silent
	// gateway (about 0.3 s when NATS knows it is gone).
	livenessProbes       = 2
	livenessProbeTimeout = 250 * time.Millisecond
	// forgetAfter drops the state of a gateway silent that long.
	forgetAfter = 2 * time.Minute
	// maxGateways bounds the gateways one replica tracks.
	maxGateways = 4096
)

// liveness tracks gateway heartbeats.
type liveness struct {
	svc *Service

	mu  sync.Mutex
	gws map[string]*gwState

	suspected, resumed, rejected atomic.Int64
}

// gwState is what a replica knows of one gateway.
type gwState struct {
	last    time.Time // last heartbeat (or reset of this replica's clock)
	seq     uint64    // newest heartbeat sequence
	suspect *suspicion
	back    uint64 // first heartbeat after the suspicion; 0: still silent
}

// suspicion is a gateway declared suspect: the heartbeat it was last heard
// with, and the members whose departures it began.
type suspicion struct {
	beat    uint64
	members []shared.Member
}

func newLiveness(svc *Service) *liveness { return &liveness{svc: svc, gws: map[string]*gwState{}} }

func (l *liveness) onBeat(m *nats.Msg) {
	id, seq, err := shared.ParseBeat(m.Subject, m.Data)
	if err != nil {
		l.rejected.Add(1)
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.gws[id]
	if st == nil {
		if len(l.gws) >= maxGateways {
			l.rejected.Add(1)
			return
		}
		st = &gwState{}
		l.gws[id] = st
	}
	st.last = time.Now()
	st.seq = max(st.seq, seq)
	if st.suspect != nil && st.back == 0 && seq > st.suspect.beat {
		st.back = seq
	}
}

// run watches heartbeats until ctx is done.
func (l *liveness) run(ctx context.Context) error {
	nc := l.svc.cfg.Conn
	sub, err := nc.Subscribe(shared.SubjGatewayBeatAll, l.onBeat)
	if err != nil {
		return fmt.Errorf("roomsvc: subscribe %s: %w", shared.SubjGatewayBeatAll, err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	tick := time.NewTicker(livenessTick)
	defer tick.Stop()
	reconnects := nc.Stats().Reconnects
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		// While this replica itself is cut off, every gateway looks silent:
		// start the clocks again once it is back.
		if r := nc.Stats().Reconnects; r != reconnects || !nc.IsConnected() {
			reconnects = r
			l.resetClocks()
			continue
		}
		silent, back := l.due(time.Now())
		for gw, beat := range silent {
			if l.answers(ctx, gw) {
				l.touch(gw)
				continue
			}
			l.suspect(ctx, gw, beat)
		}
		for _, gw := range back {
			l.resume(ctx, gw)
		}
	}
}

// due returns the gateways silent for SuspectAfter that are not suspect
// yet (with their last heartbeat), and the suspect ones heard again. It
// forgets gateways silent for forgetAfter.
func (l *liveness) due(now time.Time) (silent map[string]uint64, back []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for gw, st := range l.gws {
		switch {
		case now.Sub(st.last) > forgetAfter:
			delete(l.gws, gw)
		case st.suspect == nil && now.Sub(st.last) > l.svc.cfg.SuspectAfter:
			if silent == nil {
				silent = map[string]uint64{}
			}
			silent[gw] = st.seq
		case st.suspect != nil && st.back != 0:
			back = append(back, gw)
		}
	}
	return silent, back
}

// seen starts tracking a gateway known from its lease, as if it had just
// beaten.
func (l *liveness) seen(gw string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.gws[gw]; !ok && len(l.gws) < maxGateways {
		l.gws[gw] = &gwState{last: time.Now()}
	}
}

func (l *liveness) resetClocks() {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	for _, st := range l.gws {
		st.last = now
	}
}

func (l *liveness) touch(gw string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if st := l.gws[gw]; st != nil {
		st.last = time.Now()
	}
}

// answers probes a silent gateway over core NATS.
func (l *liveness) answers(ctx context.Context, gw string) bool {
	for attempt := 0; attempt < livenessProbes; attempt++ {
		_, err := l.svc.cfg.Conn.Request(shared.GatewayAlive(gw), nil, livenessProbeTimeout)
		if err == nil {
			return true
		}
		if errors.Is(err, nats.ErrNoResponders) && attempt+1 < livenessProbes {
			// Gone, or reconnecting to another node: give it a moment.
			select {
			case <-ctx.Done():
				return true
			case <-time.After(livenessProbeTimeout / 2):
			}
		}
	}
	return ctx.Err() != nil
}

// suspect begins the departures of a silent gateway's members.
func (l *liveness) suspect(ctx context.Context, gw string, beat uint64) {
	cctx, cancel := context.WithTimeout(ctx, l.svc.cfg.SweepInterval)
	defer cancel()
	members, err := l.svc.cfg.Store.AllMembers(cctx)
	if err != nil {
		l.svc.log.Warn("roomsvc: cannot read members of a silent gateway; retrying", shared.KeyGateway, gw, shared.KeyErr, err)
		return
	}
	var mine []shared.Member
	for _, m := range members {
		if m.Gateway == gw {
			mine = append(mine, m)
		}
	}
	l.mu.Lock()
	if st := l.gws[gw]; st != nil {
		st.suspect, st.back = &suspicion{beat: beat, members: mine}, 0
	}
	l.mu.Unlock()
	l.suspected.Add(1)
	l.svc.log.Warn("roomsvc: gateway silent and not answering; its sockets are departing",
		shared.KeyGateway, gw, "members", len(mine))
	for _, m := range mine {
		cmd := shared.Command{Room: m.Room, SID: m.SID, Gateway: gw, Reason: shared.ReasonGatewayLost, Beat: beat}
		if err := l.svc.queue(cctx, shared.VerbDisconnect, cmd, "suspect."+gw+"."+strconv.FormatUint(beat, 10)); err != nil {
			// The lease reaper covers what is not queued here.
			l.svc.log.Warn("roomsvc: cannot queue a departure", shared.KeySID, m.SID, shared.KeyErr, err)
		}
	}
}

// resume ends the departures of a suspect gateway that is heard again,
// unless it was reaped meanwhile (then it drops its sockets itself).
func (l *liveness) resume(ctx context.Context, gw string) {
	l.mu.Lock()
	st := l.gws[gw]
	if st == nil || st.suspect == nil {
		l.mu.Unlock()
		return
	}
	sus, back := st.suspect, st.back
	l.mu.Unlock()
	cctx, cancel := context.WithTimeout(ctx, l.svc.cfg.SweepInterval)
	defer cancel()
	reaped, err := l.svc.cfg.Store.Reaped(cctx, gw)
	if err != nil {
		l.svc.log.Warn("roomsvc: cannot read the lease of a returning gateway; retrying", shared.KeyGateway, gw, shared.KeyErr, err)
		return
	}
	l.mu.Lock()
	st.suspect, st.back = nil, 0
	l.mu.Unlock()
	if reaped {
		l.svc.log.Info("roomsvc: silent gateway is back but was reaped; not resuming", shared.KeyGateway, gw)
		return
	}
	l.resumed.Add(1)
	l.svc.log.Info("roomsvc: silent gateway is back; resuming its sockets", shared.KeyGateway, gw, "members", len(sus.members))
	for _, m := range sus.members {
		cmd := shared.Command{Room: m.Room, SID: m.SID, Gateway: gw, UserID: m.UserID, Name: m.Name, Beat: back}
		if err := l.svc.queue(cctx, shared.VerbResume, cmd, "resume."+gw+"."+strconv.FormatUint(back, 10)); err != nil {
			l.svc.log.Warn("roomsvc: cannot queue a resume", shared.KeySID, m.SID, shared.KeyErr, err)
		}
	}
}

// queue publishes a command of the room service's own to the ROOMCMD
// stream with the message id <prefix>.<sid>.<room key>.
func (s *Service) queue(ctx context.Context, verb string, cmd shared.Command, prefix string) error {
	key, err := shared.EscapeRoom(cmd.Room)
	if err != nil {
		return nil // not a room anyone can be in
	}
	data, err := json.Marshal(cmd)
	if err != nil {
		return err
	}
	msg := &nats.Msg{Subject: shared.RoomCmd(key, verb), Data: data}
	if _, err := s.js.PublishMsg(ctx, msg, jetstream.WithMsgID(prefix+"."+cmd.SID+"."+string(key))); err != nil {
		return fmt.Errorf("queue %s of %s in %s: %w", verb, cmd.SID, key, err)
	}
	return nil
}

// registerDepartureMetrics exports the counters of liveness and timers.
func (s *Service) registerDepartureMetrics(reg *imetrics.Registry) {
	for _, c := range []struct {
		name, help string
		v          *atomic.Int64
	}{
		{"rtcmesh_roomsvc_gateways_suspected_total", "Gateways that fell silent and did not answer: their sockets began departing.", &s.live.suspected},
		{"rtcmesh_roomsvc_gateways_resumed_total", "Suspect gateways heard again before being reaped: their sockets' departures were cancelled.", &s.live.resumed},
		{"rtcmesh_roomsvc_heartbeats_rejected_total", "Heartbeats dropped: malformed, or beyond the tracked-gateway cap.", &s.live.rejected},
		{"rtcmesh_roomsvc_grace_dropped_total", "Departure timers dropped because the queue was full (reason queue_full; the sweep expires them).", &s.grace.dropped},
		{"rtcmesh_roomsvc_grace_expired_total", "Grace windows that ended with an expire command queued.", &s.grace.fired},
	} {
		v := c.v
		reg.CounterFunc(c.name, c.help, func() float64 { return float64(v.Load()) })
	}
}
