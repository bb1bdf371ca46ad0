package bench

import (
	"context"
	"math"
	"time"
)

// pacer is an open-loop schedule: event i is due at offset i/rate from the
// start, whatever happened to the events before it. Senders stamp each
// message with its scheduled time, not the time it was actually written,
// so a sender that stalls (a blocked write, a descheduled goroutine) shows
// up as latency instead of silently lowering the offered load (no
// coordinated omission).
//
// Several senders share one schedule by interleaving: sender j of n runs
// pacer{rate: r/n, phase: j/r}, so together they follow pacer{rate: r}.
type pacer struct {
	rate  float64       // events per second, > 0
	phase time.Duration // offset of event 0
}

// at is the scheduled offset of event i.
func (p pacer) at(i int64) time.Duration {
	return p.phase + time.Duration(math.Round(float64(i)*float64(time.Second)/p.rate))
}

// due is the number of events due by offset elapsed: those with at(i) <=
// elapsed.
func (p pacer) due(elapsed time.Duration) int64 {
	if elapsed < p.phase || p.rate <= 0 {
		return 0
	}
	n := int64(math.Floor(float64(elapsed-p.phase)*p.rate/float64(time.Second))) + 1
	// Rounding in at() can put event n-1 just past elapsed, or event n
	// just before it; settle on the definition.
	for n > 0 && p.at(n-1) > elapsed {
		n--
	}
	for p.at(n) <= elapsed {
		n++
	}
	return n
}

// count is the number of events scheduled in [from, to).
func (p pacer) count(from, to time.Duration) int64 {
	return p.due(to-1) - p.due(from-1)
}

// minWait bounds how often a paced loop wakes: at high rates it sends the
// events that fell due in a batch rather than waking per event. It is
// also the loop's resolution: an event may leave up to this much after
// its scheduled time, and that delay counts as latency.
const minWait = 100 * time.Microsecond

// paceLoop calls send(i, offset) for every event scheduled in [from, to)
// (offsets from start), in order, on schedule; it returns when the window
// is over or ctx is done. It returns how many events it sent.
func paceLoop(ctx context.Context, start time.Time, p pacer, from, to time.Duration, send func(i int64, at time.Duration)) int64 {
	next := p.due(from - 1)
	last := p.due(to - 1) // events [next, last) belong to the window
	first := next
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for next < last {
		elapsed := time.Since(start)
		for due := min(p.due(elapsed), last); next < due; next++ {
			send(next, p.at(next))
		}
		if next >= last {
			break
		}
		timer.Reset(max(p.at(next)-time.Since(start), minWait))
		select {
		case <-ctx.Done():
			return next - first
		case <-timer.C:
		}
	}
	return next - first
}
