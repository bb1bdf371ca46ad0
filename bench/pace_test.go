package bench

import (
	"context"
	"testing"
	"time"
)

func TestPacer(t *testing.T) {
	cases := []struct {
		rate    float64
		elapsed time.Duration
		due     int64
	}{
		{rate: 1000, elapsed: -1, due: 0},
		{rate: 1000, elapsed: 0, due: 1}, // event 0 is due at once
		{rate: 1000, elapsed: 999 * time.Microsecond, due: 1},
		{rate: 1000, elapsed: time.Millisecond, due: 2},
		{rate: 1000, elapsed: time.Second, due: 1001},
		{rate: 3, elapsed: time.Second, due: 4},
		{rate: 3, elapsed: 333333332, due: 1},
		{rate: 3, elapsed: 333333333, due: 2},
		{rate: 0.5, elapsed: 3 * time.Second, due: 2},
	}
	for _, tc := range cases {
		p := pacer{rate: tc.rate}
		if got := p.due(tc.elapsed); got != tc.due {
			t.Errorf("rate %v: due(%v) = %d, want %d", tc.rate, tc.elapsed, got, tc.due)
		}
	}
	// due and at agree everywhere: at(due(e)-1) <= e < at(due(e)).
	for _, rate := range []float64{1, 7, 1000, 33333, 1e6} {
		p := pacer{rate: rate}
		for e := time.Duration(0); e < 50*time.Millisecond; e += 777 * time.Microsecond {
			n := p.due(e)
			if p.at(n-1) > e || p.at(n) <= e {
				t.Fatalf("rate %v elapsed %v: due %d, at(n-1) %v at(n) %v", rate, e, n, p.at(n-1), p.at(n))
			}
		}
	}
	if got := (pacer{rate: 100}).count(time.Second, 2*time.Second); got != 100 {
		t.Errorf("count over a second at 100/s = %d", got)
	}
}

func TestPaceLoop(t *testing.T) {
	p := pacer{rate: 2000}
	start := time.Now()
	var got []int64
	var offs []time.Duration
	n := paceLoop(context.Background(), start, p, 10*time.Millisecond, 60*time.Millisecond, func(i int64, at time.Duration) {
		got = append(got, i)
		offs = append(offs, at)
		if time.Since(start) < at {
			t.Errorf("event %d sent before its time %v", i, at)
		}
	})
	if n != 100 || len(got) != 100 || got[0] != 20 || got[99] != 119 {
		t.Fatalf("sent %d events %v..., want 100 from 20", n, got[:min(3, len(got))])
	}
	for i, at := range offs {
		if at != p.at(got[i]) {
			t.Fatalf("event %d stamped %v, scheduled %v", got[i], at, p.at(got[i]))
		}
	}
	// A sender that fell behind (here: started 10 ms late) catches up in a
	// burst, each event keeping its scheduled time (no coordinated
	// omission).
	var late []time.Duration
	burst := 0
	begun := time.Now()
	paceLoop(context.Background(), begun.Add(-10*time.Millisecond), pacer{rate: 1000}, 0, 20*time.Millisecond, func(i int64, at time.Duration) {
		if time.Since(begun) < time.Millisecond {
			burst++
		}
		late = append(late, at)
	})
	if len(late) != 20 || late[5] != 5*time.Millisecond || burst < 10 {
		t.Fatalf("after a stall: %d events, event 5 at %v, %d in the first burst", len(late), late[min(5, len(late)-1)], burst)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if n := paceLoop(ctx, time.Now(), pacer{rate: 10}, 0, time.Hour, func(int64, time.Duration) {}); n != 1 {
		t.Errorf("canceled loop sent %d, want only the event due at once", n)
	}
}

// TestPacerInterleave checks that n phased pacers add up to one schedule.
func TestPacerInterleave(t *testing.T) {
	const rate, n = 1000.0, 3
	whole := pacer{rate: rate}
	var union []time.Duration
	for j := range n {
		p := pacer{rate: rate / n, phase: time.Duration(float64(j) * float64(time.Second) / rate)}
		for i := range p.due(time.Second - 1) {
			union = append(union, p.at(i))
		}
	}
	if int64(len(union)) != whole.due(time.Second-1) {
		t.Fatalf("%d events together, want %d", len(union), whole.due(time.Second-1))
	}
	if got := (pacer{rate: 10, phase: 50 * time.Millisecond}).due(49 * time.Millisecond); got != 0 {
		t.Errorf("due before the phase = %d", got)
	}
}
