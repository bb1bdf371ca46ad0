package roomsvc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rtcmesh/rtcmesh/shared"
)

// watchLeases reaps a gateway's sockets as soon as its lease ends. Every
// replica does it; the disconnect commands carry message ids, so the
// stream keeps one copy, and a disconnect for a socket that already left
// is a no-op anyway.
func (s *Service) watchLeases(ctx context.Context) error {
	for ctx.Err() == nil {
		err := s.cfg.Store.WatchLeases(ctx, func(gw string, live bool) {
			if live {
				s.live.seen(gw) // silence is suspect even before its first heartbeat
			}
			if live || !s.confirmGone(ctx, gw) {
				return
			}
			s.log.Info("roomsvc: gateway lease ended, reaping its sockets", shared.KeyGateway, gw)
			if err := s.reap(ctx, map[string]bool{gw: true}, nil); err != nil && ctx.Err() == nil {
				s.log.Warn("roomsvc: reap failed; the next sweep retries", shared.KeyGateway, gw, shared.KeyErr, err)
			}
		})
		if err != nil && ctx.Err() == nil {
			s.log.Warn("roomsvc: lease watch failed, restarting", shared.KeyErr, err)
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}
	return nil
}

// sweepLoop runs the anti-entropy pass: at startup, then periodically with
// jitter so that replicas do not sweep in lockstep.
func (s *Service) sweepLoop(ctx context.Context) error {
	delay := 2 * time.Second
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(delay):
		}
		if err := s.sweep(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("roomsvc: sweep failed", shared.KeyErr, err)
		}
		d := s.cfg.SweepInterval
		delay = d/2 + time.Duration(rand.Int64N(int64(d)))
	}
}

// sweep makes the rosters converge on the live sockets: members and socket
// records of gateways without a lease, and members whose socket record is
// gone (their disconnect was lost), are disconnected.
func (s *Service) sweep(ctx context.Context) error {
	cctx, cancel := context.WithTimeout(ctx, s.cfg.SweepInterval)
	defer cancel()
	// Members first, then sockets, then leases: anything newer than the
	// member list has its socket record and lease already written.
	members, err := s.cfg.Store.AllMembers(cctx)
	if err != nil {
		return err
	}
	sockets, err := s.cfg.Store.AllSockets(cctx)
	if err != nil {
		return err
	}
	live, err := s.cfg.Store.LiveGateways(cctx)
	if err != nil {
		return err
	}
	known := make(map[string]bool, len(sockets))
	for _, rec := range sockets {
		known[rec.SID] = true
	}
	dead := make(map[string]bool)
	var stale []shared.Member
	for _, m := range members {
		switch {
		case m.Departing != nil:
			// Its grace window has a timer; a late one (lost with a
			// replica, or dropped) is expired here.
			s.expireLate(cctx, m)
		case !live[m.Gateway]:
			dead[m.Gateway] = true
		case !known[m.SID]:
			stale = append(stale, m)
		}
	}
	for _, rec := range sockets {
		if !live[rec.Gateway] {
			dead[rec.Gateway] = true
		}
	}
	for gw := range dead {
		if !s.confirmGone(cctx, gw) {
			delete(dead, gw)
		}
	}
	if len(dead) > 0 {
		if err := s.reapWith(cctx, dead, members, sockets); err != nil {
			return err
		}
	}
	for _, m := range stale {
		if err := s.disconnect(cctx, m.Room, m.SID, m.Gateway, shared.ReasonStale); err != nil {
			return err
		}
	}
	return nil
}

// probeAttempts and probeTimeout bound the liveness check of a gateway
// whose lease lapsed: about 0.9 s in all. A gateway whose lease lapsed
// while it was connected answers at once; one that is reconnecting to
// another NATS node has had a lease's worth of time to do so.
const (
	probeAttempts = 3
	probeTimeout  = 300 * time.Millisecond
)

// confirmGone decides whether a gateway without a lease is really gone. A
// lease can lapse while JetStream elects a new leader, with the gateway
// alive and serving; so the gateway is asked over core NATS first, and
// only a gateway that does not answer is claimed for reaping, with a
// compare-and-set on its lease key that a gateway re-acquiring its lease
// would win.
func (s *Service) confirmGone(ctx context.Context, gw string) bool {
	for attempt := 0; attempt < probeAttempts; attempt++ {
		_, err := s.cfg.Conn.Request(shared.GatewayAlive(gw), nil, probeTimeout)
		if err == nil {
			s.log.Info("roomsvc: gateway lease lapsed but the gateway answers; not reaping", shared.KeyGateway, gw)
			return false
		}
		if errors.Is(err, nats.ErrNoResponders) {
			// Nobody subscribed: gone, or reconnecting. Give it a moment.
			select {
			case <-ctx.Done():
				return false
			case <-time.After(probeTimeout):
			}
		}
	}
	cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	ok, err := s.cfg.Store.MarkReaped(cctx, gw)
	if err != nil {
		s.log.Warn("roomsvc: cannot claim gateway for reaping; the next sweep retries", shared.KeyGateway, gw, shared.KeyErr, err)
		return false
	}
	if !ok {
		s.log.Info("roomsvc: gateway re-acquired its lease; not reaping", shared.KeyGateway, gw)
	}
	return ok
}

// reap disconnects every socket that dead gateways held. members and
// sockets may be nil to have them read.
func (s *Service) reap(ctx context.Context, dead map[string]bool, members []shared.Member) error {
	cctx, cancel := context.WithTimeout(ctx, s.cfg.SweepInterval)
	defer cancel()
	var err error
	if members == nil {
		if members, err = s.cfg.Store.AllMembers(cctx); err != nil {
			return err
		}
	}
	sockets, err := s.cfg.Store.AllSockets(cctx)
	if err != nil {
		return err
	}
	return s.reapWith(cctx, dead, members, sockets)
}

func (s *Service) reapWith(ctx context.Context, dead map[string]bool, members []shared.Member, sockets []shared.SocketRecord) error {
	for _, m := range members {
		if dead[m.Gateway] {
			if err := s.disconnect(ctx, m.Room, m.SID, m.Gateway, shared.ReasonGatewayLost); err != nil {
				return err
			}
		}
	}
	for _, rec := range sockets {
		if !dead[rec.Gateway] {
			continue
		}
		for _, room := range rec.Rooms {
			if err := s.disconnect(ctx, room, rec.SID, rec.Gateway, shared.ReasonGatewayLost); err != nil {
				return err
			}
		}
		if err := s.cfg.Store.DeleteSocket(ctx, rec.SID, 0); err != nil {
			return err
		}
	}
	return nil
}

// disconnect queues a disconnect command for a socket in a room. The
// message id makes repeats (several replicas, several passes) one command.
func (s *Service) disconnect(ctx context.Context, roomID, sid, gw, reason string) error {
	key, err := shared.EscapeRoom(roomID)
	if err != nil {
		return nil // not a room anyone can be in
	}
	data, err := json.Marshal(shared.Command{Room: roomID, SID: sid, Gateway: gw, Reason: reason})
	if err != nil {
		return err
	}
	msg := &nats.Msg{Subject: shared.RoomCmd(key, shared.VerbDisconnect), Data: data}
	if _, err := s.js.PublishMsg(ctx, msg, jetstream.WithMsgID("reap."+sid+"."+string(key))); err != nil {
		return fmt.Errorf("queue disconnect of %s from %s: %w", sid, key, err)
	}
	s.metrics.reaped.Add(1)
	return nil
}
