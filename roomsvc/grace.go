package roomsvc

import (
	"container/heap"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rtcmesh/rtcmesh/shared"
)

// graceQueue bounds the departures waiting to be timed by one replica. A
// notice that does not fit is dropped and counted; the anti-entropy sweep
// expires what no timer did.
const graceQueue = 4096

// graceRetry is the delay before an expire that could not be queued (the
// stream had no leader) is tried again.
const graceRetry = time.Second

// graceTimers times departures and queues VerbExpire when their grace
// window ends. Every replica times every departure it hears of (its own
// and, over shared.SubjDepartures, the others'): whichever fires first
// queues the expire, the message id makes the copies one command, and an
// expire for a member that resumed is a no-op. So a replica that dies
// during a grace window loses no expiry.
type graceTimers struct {
	svc     *Service
	in      chan departure
	dropped atomic.Int64 // notices dropped because in was full
	fired   atomic.Int64 // expires queued
}

// departure is a grace window to time.
type departure struct {
	Room     string    `json:"room"`
	SID      string    `json:"sid"`
	Seq      uint64    `json:"seq"`
	Deadline time.Time `json:"deadline"`
}

// id names the departure in message ids: <sid>.<room key>.<seq>.
func (d departure) id() string {
	key, _ := shared.EscapeRoom(d.Room)
	return d.SID + "." + string(key) + "." + strconv.FormatUint(d.Seq, 10)
}

// decodeDeparture parses a notice from shared.SubjDepartures.
func decodeDeparture(data []byte) (departure, error) {
	var d departure
	if len(data) > 4096 {
		return d, errors.New("roomsvc: departure notice too large")
	}
	if err := json.Unmarshal(data, &d); err != nil {
		return d, fmt.Errorf("roomsvc: decode departure notice: %w", err)
	}
	if _, err := shared.EscapeRoom(d.Room); err != nil {
		return d, err
	}
	if !shared.ValidSocketID(d.SID) || d.Seq == 0 || d.Deadline.IsZero() {
		return d, errors.New("roomsvc: incomplete departure notice")
	}
	return d, nil
}

func newGraceTimers(svc *Service) *graceTimers {
	return &graceTimers{svc: svc, in: make(chan departure, graceQueue)}
}

// add times a departure on this replica; it never blocks.
func (g *graceTimers) add(d departure) {
	select {
	case g.in <- d:
	default:
		g.dropped.Add(1) // the sweep expires it
	}
}

// announce times departures here and tells the other replicas.
func (g *graceTimers) announce(roomID string, notices []departNotice) {
	for _, n := range notices {
		d := departure{Room: roomID, SID: n.sid, Seq: n.dep.Seq, Deadline: n.dep.Deadline}
		g.add(d)
		if data, err := json.Marshal(d); err == nil {
			// Best effort: if it is lost, the sweep of any replica, or this
			// replica's own timer, still expires the departure.
			_ = g.svc.cfg.Conn.Publish(shared.SubjDepartures, data)
		}
	}
}

// resumeTiming times the departing members among ms (read from KV).
func (g *graceTimers) resumeTiming(ms []shared.Member) {
	for _, m := range ms {
		if m.Departing != nil {
			g.add(departure{Room: m.Room, SID: m.SID, Seq: m.Departing.Seq, Deadline: m.Departing.Deadline})
		}
	}
}

// run times departures until ctx is done.
func (g *graceTimers) run(ctx context.Context) error {
	sub, err := g.svc.cfg.Conn.Subscribe(shared.SubjDepartures, func(m *nats.Msg) {
		if d, err := decodeDeparture(m.Data); err == nil {
			g.add(d)
		}
	})
	if err != nil {
		return fmt.Errorf("roomsvc: subscribe %s: %w", shared.SubjDepartures, err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	var h departureHeap
	known := map[string]bool{} // ids in h
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		if len(h) > 0 {
			timer.Reset(time.Until(h[0].Deadline))
		}
		select {
		case <-ctx.Done():
			return nil
		case d := <-g.in:
			timer.Stop()
			if !known[d.id()] {
				known[d.id()] = true
				heap.Push(&h, d)
			}
		case <-timer.C:
			for len(h) > 0 && !h[0].Deadline.After(time.Now()) {
				d := heap.Pop(&h).(departure)
				if err := g.svc.queueExpire(ctx, d); err != nil {
					if ctx.Err() != nil {
						return nil
					}
					g.svc.log.Warn("roomsvc: cannot queue expire, retrying", shared.KeySID, d.SID, shared.KeyRoom, d.Room, shared.KeyErr, err)
					d.Deadline = time.Now().Add(graceRetry)
					heap.Push(&h, d)
					break
				}
				delete(known, d.id())
				g.fired.Add(1)
			}
		}
	}
}

// queueExpire queues the VerbExpire that ends departure d.
func (s *Service) queueExpire(ctx context.Context, d departure) error {
	key, err := shared.EscapeRoom(d.Room)
	if err != nil {
		return nil
	}
	data, err := json.Marshal(shared.Command{Room: d.Room, SID: d.SID, Departure: d.Seq})
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	msg := &nats.Msg{Subject: shared.RoomCmd(key, shared.VerbExpire), Data: data}
	if _, err := s.js.PublishMsg(cctx, msg, jetstream.WithMsgID("expire."+d.id())); err != nil {
		return fmt.Errorf("queue expire of %s in %s: %w", d.SID, key, err)
	}
	return nil
}

// departureHeap orders departures by deadline.
type departureHeap []departure

func (h departureHeap) Len() int           { return len(h) }
func (h departureHeap) Less(i, j int) bool { return h[i].Deadline.Before(h[j].Deadline) }
func (h departureHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *departureHeap) Push(x any)        { *h = append(*h, x.(departure)) }
func (h *departureHeap) Pop() any {
	old := *h
	d := old[len(old)-1]
	*h = old[:len(old)-1]
	return d
}

// lateSlack is how far past its deadline a departure must be before the
// sweep expires it itself: the replicas' timers go first.
const lateSlack = 2 * time.Second

// expireLate queues the expire of a departure well past its deadline.
func (s *Service) expireLate(ctx context.Context, m shared.Member) {
	if time.Since(m.Departing.Deadline) < lateSlack {
		return
	}
	d := departure{Room: m.Room, SID: m.SID, Seq: m.Departing.Seq, Deadline: m.Departing.Deadline}
	if err := s.queueExpire(ctx, d); err != nil {
		s.log.Warn("roomsvc: cannot queue a late expire; the next sweep retries", shared.KeySID, m.SID, shared.KeyErr, err)
	}
}
