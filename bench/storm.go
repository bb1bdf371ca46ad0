package bench

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// The join phase, common to every scenario: each socket emits join-room
// {roomId, name} for its room. In the storm scenario this is the
// measurement: every socket of every worker emits at one shared instant.

// countdown closes done when n reaches zero.
type countdown struct {
	n    atomic.Int64
	done chan struct{}
}

func (c *countdown) reset(n int64) {
	c.done = make(chan struct{})
	if n <= 0 {
		close(c.done)
	}
	c.n.Store(n)
}

func (c *countdown) dec() {
	if c.n.Add(-1) == 0 {
		close(c.done)
	}
}

// joinState is the join phase's shared state.
type joinState struct {
	pending   countdown // joins not yet answered (join-ok or join-error)
	offers    countdown // init-offers still expected
	ucs       countdown // user-connected still expected
	lat       Hist      // own join-room emit → own join-ok
	offerLat  Hist      // newcomer's emit → the earlier member's init-offer about it
	ok        atomic.Int64
	lastOK    atomic.Int64 // worker clock of the last join-ok
	offersGot atomic.Int64
	ucsGot    atomic.Int64
}

// joinResult is the join phase of one worker.
type joinResult struct {
	Joined             int64   `json:"joined"`
	Failed             int64   `json:"failed"`
	AtNS               int64   `json:"at_ns"` // the start instant (Unix ns)
	FirstEmitNS        int64   `json:"first_emit_ns"`
	LastOKNS           int64   `json:"last_ok_ns"` // the last join-ok (Unix ns); 0 if none
	Latency            *Hist   `json:"latency"`
	InitOffer          *Hist   `json:"init_offer"`
	InitOffersExpected int64   `json:"init_offers_expected"`
	InitOffersReceived int64   `json:"init_offers_received"`
	UserConnExpected   int64   `json:"user_connected_expected"`
	UserConnReceived   int64   `json:"user_connected_received"`
	WaitedMS           float64 `json:"waited_ms"`
	TimedOut           bool    `json:"timed_out"`
}

// joinPhase runs the join phase: wait for at, emit every join, wait for every
// expected event (with the timeout), linger for the grace period to catch
// late duplicates, then check the invariants room by room.
func (w *worker) joinPhase(ctx context.Context, at time.Time) *joinResult {
	var joins, offers, ucs int64
	for r := range w.rooms {
		rm := &w.rooms[r]
		rm.live = make([]bool, rm.size)
		rm.log = make([][]logRec, rm.size)
		var n int64
		for p := range rm.live {
			s := &w.socks[int(rm.first)+p]
			rm.live[p] = s.sid != "" && !s.dead.Load()
			if rm.live[p] {
				n++
			}
		}
		joins, offers, ucs = joins+n, offers+n*(n-1)/2, ucs+n*(n-1)
	}
	j := &w.join
	j.pending.reset(joins)
	j.offers.reset(offers)
	j.ucs.reset(ucs)
	res := &joinResult{Latency: &j.lat, InitOffer: &j.offerLat, InitOffersExpected: offers, UserConnExpected: ucs, AtNS: at.UnixNano()}

	select {
	case <-ctx.Done():
		return res
	case <-time.After(time.Until(at)):
	}
	first := w.now()
	res.FirstEmitNS = w.wall(first)
	n := shards(len(w.socks))
	var failed atomic.Int64
	var wg sync.WaitGroup
	for sh := range n {
		wg.Go(func() {
			buf := w.cl.getBuf()
			defer w.cl.putBuf(buf)
			for i := sh; i < len(w.socks); i += n {
				s := &w.socks[i]
				if !w.rooms[s.room].live[s.pos] {
					continue
				}
				buf.Reset()
				buf.WriteString(`42["join-room",{"roomId":`)
				buf.Write(w.rooms[s.room].idJSON)
				buf.WriteString(`,"name":`)
				buf.Write(appendJSONString(buf.AvailableBuffer(), w.set.NamePrefix+strconv.FormatInt(s.gidx, 10)))
				buf.WriteString(`}]`)
				s.emitAt.Store(w.now())
				if err := s.write(w.cl, buf.Bytes()); err != nil {
					w.errs.inc("write:" + errKind(err))
					failed.Add(1)
					j.pending.dec()
				}
			}
		})
	}
	wg.Wait()

	t0 := time.Now()
	timer := time.NewTimer(w.timeout)
	defer timer.Stop()
	for _, c := range []*countdown{&j.pending, &j.offers, &j.ucs} {
		select {
		case <-c.done:
		case <-timer.C:
			res.TimedOut = true
		case <-ctx.Done():
		}
		if res.TimedOut || ctx.Err() != nil {
			break
		}
	}
	res.WaitedMS = ms(time.Since(t0))
	select { // late duplicates show up within the grace period
	case <-time.After(w.grace):
	case <-ctx.Done():
	}
	w.checkJoins()
	res.Joined = j.ok.Load()
	res.Failed = joins - res.Joined
	if last := j.lastOK.Load(); last > 0 {
		res.LastOKNS = w.wall(last)
	}
	res.InitOffersReceived, res.UserConnReceived = j.offersGot.Load(), j.ucsGot.Load()
	return res
}

// checkJoins checks every room's records and drops them; join events that
// arrive later are counted as late.
func (w *worker) checkJoins() {
	for r := range w.rooms {
		rm := &w.rooms[r]
		rm.mu.Lock()
		// A refused join (join-error, counted as an error) expects nothing
		// more; an unanswered one is left to the checker (missing-join-ok).
		refused := make([]bool, rm.size)
		var joined int32
		for p := range refused {
			s := &w.socks[int(rm.first)+p]
			if s.joined.Load() {
				joined++
			} else {
				refused[p] = s.refused.Load()
			}
		}
		checkRoom(rm.live, refused, rm.log, w.viol)
		rm.log, rm.joined = nil, joined
		rm.mu.Unlock()
	}
}

// onJoinEvent records join-ok, user-connected and init-offer.
func (w *worker) onJoinEvent(s *sock, tab *idTable, kind uint8, ev event, at int64) {
	j := &w.join
	rec := logRec{kind: kind, bad: kind == recInitOffer && ev.nargs != 1}
	var peer *sock
	if kind != recJoinOK {
		key := "id"
		if kind == recInitOffer {
			key = "source"
		}
		id, _ := strField(ev.arg0, key)
		p, ok := tab.bySID[string(id)]
		switch {
		case !ok:
			rec.peer = peerForeign
		case p == s.idx:
			rec.peer = peerSelf
		case w.socks[p].room != s.room:
			rec.peer = peerForeign
		default:
			rec.peer, peer = int16(w.socks[p].pos), &w.socks[p]
		}
	}
	rm := &w.rooms[s.room]
	rm.mu.Lock()
	late := rm.log == nil
	if !late {
		rm.log[s.pos] = append(rm.log[s.pos], rec)
	}
	rm.mu.Unlock()
	if late {
		w.viol.inc("late-" + recNames[kind])
		return
	}
	switch kind {
	case recJoinOK:
		if s.joined.Swap(true) {
			return // a duplicate; the checker counts it
		}
		j.lat.Record(time.Duration(at - s.emitAt.Load()))
		j.ok.Add(1)
		for {
			m := j.lastOK.Load()
			if at <= m || j.lastOK.CompareAndSwap(m, at) {
				break
			}
		}
		j.pending.dec()
	case recUserConnected:
		if peer != nil {
			j.ucsGot.Add(1)
			j.ucs.dec()
		}
	case recInitOffer:
		if peer != nil {
			j.offersGot.Add(1)
			j.offerLat.Record(time.Duration(at - peer.emitAt.Load()))
			j.offers.dec()
		}
	}
}

var recNames = [...]string{recJoinOK: "join-ok", recUserConnected: "user-connected", recInitOffer: "init-offer"}
