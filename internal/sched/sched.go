// Package sched is a shared timer scheduler: one goroutine and one min-heap
// serve every per-connection deadline (heartbeats, upgrade and connect
// timeouts), so an idle connection holds a heap slot instead of a runtime
// timer and a goroutine.
//
// Callbacks run one at a time on the scheduler goroutine. They must not
// block: enqueue work or flip state under a short lock, nothing more.
package sched

import (
	"container/heap"
	"context"
	"sync"
	"time"
)

// Scheduler runs callbacks at their due time. The zero value is not usable;
// call New. Timers may be created before Run starts; they fire once it runs.
type Scheduler struct {
	mu   sync.Mutex
	h    timerHeap
	wake chan struct{} // capacity 1: "the earliest deadline may have moved"
}

// Timer is a single pending callback. A Timer may be stopped and reset any
// number of times from any goroutine.
type Timer struct {
	s    *Scheduler
	fn   func()
	when time.Time
	idx  int // position in the heap, -1 when not scheduled
}

// New returns an idle scheduler.
func New() *Scheduler {
	return &Scheduler{wake: make(chan struct{}, 1)}
}

// AfterFunc schedules fn to run on the scheduler goroutine after d.
func (s *Scheduler) AfterFunc(d time.Duration, fn func()) *Timer {
	t := &Timer{s: s, fn: fn, idx: -1}
	t.Reset(d)
	return t
}

// Reset (re)schedules the timer to fire after d, whether or not it was
// pending. It reports whether the timer was pending.
func (t *Timer) Reset(d time.Duration) bool {
	s := t.s
	when := time.Now().Add(d)
	s.mu.Lock()
	pending := t.idx >= 0
	t.when = when
	if pending {
		heap.Fix(&s.h, t.idx)
	} else {
		heap.Push(&s.h, t)
	}
	first := s.h[0] == t
	s.mu.Unlock()
	if first {
		s.poke()
	}
	return pending
}

// Stop cancels the timer. It reports whether the timer was pending; false
// means it already fired (or is firing) or was never started.
func (t *Timer) Stop() bool {
	s := t.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if t.idx < 0 {
		return false
	}
	heap.Remove(&s.h, t.idx)
	return true
}

// Len reports the number of pending timers.
func (s *Scheduler) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.h)
}

func (s *Scheduler) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run fires due timers until ctx is done. Pending timers are left in place
// (their owners stop them when they shut down). Run returns nil.
func (s *Scheduler) Run(ctx context.Context) error {
	clock := time.NewTimer(time.Hour)
	defer clock.Stop()
	for {
		fn, wait := s.next(time.Now())
		if fn != nil {
			fn()
			continue
		}
		clock.Reset(wait)
		select {
		case <-ctx.Done():
			return nil
		case <-s.wake:
		case <-clock.C:
		}
	}
}

// next pops the earliest due timer, or reports how long to wait for one.
func (s *Scheduler) next(now time.Time) (func(), time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.h) == 0 {
		return nil, time.Hour
	}
	t := s.h[0]
	if d := t.when.Sub(now); d > 0 {
		return nil, d
	}
	heap.Pop(&s.h)
	return t.fn, 0
}

// timerHeap orders timers by due time.
type timerHeap []*Timer

func (h timerHeap) Len() int           { return len(h) }
func (h timerHeap) Less(i, j int) bool { return h[i].when.Before(h[j].when) }
func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].idx = i
	h[j].idx = j
}
func (h *timerHeap) Push(x any) {
	t := x.(*Timer)
	t.idx = len(*h)
	*h = append(*h, t)
}
func (h *timerHeap) Pop() any {
	old := *h
	n := len(old)
	t := old[n-1]
	old[n-1] = nil
	t.idx = -1
	*h = old[:n-1]
	return t
}
