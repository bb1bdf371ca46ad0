// Package retry is the one retry and backoff helper of rtcmesh: every loop
// that waits for NATS or JetStream (a leader election, a server that is
// still starting) goes through Do or Backoff, with the caller's ctx, so a
// shutdown never waits out a delay.
package retry

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"
)

// Policy says how an operation is retried. The zero value retries with
// delays from 50ms to 2s until ctx ends.
type Policy struct {
	// Initial and Max bound the delay between attempts, which doubles after
	// every failure (defaults 50ms and 2s). Each delay is jittered by up to
	// a fifth, so that processes started together do not retry together.
	Initial, Max time.Duration
	// Attempt bounds one attempt: op gets a ctx with this timeout (0: the
	// caller's ctx as is).
	Attempt time.Duration
	// Budget bounds the whole retrying (0: until ctx ends). A delay that
	// would end past the budget is not waited; the last error is returned.
	Budget time.Duration
	// Permanent reports errors that retrying cannot fix; Do returns them at
	// once.
	Permanent func(error) bool
	// OnRetry is called before each delay, to log or count the retry.
	OnRetry func(attempt int, err error, delay time.Duration)
}

// Do runs op until it succeeds, fails permanently, the budget is spent or
// ctx ends. The error returned wraps op's last error.
func Do(ctx context.Context, p Policy, op func(context.Context) error) error {
	var deadline time.Time
	if p.Budget > 0 {
		deadline = time.Now().Add(p.Budget)
	}
	b := NewBackoff(p.Initial, p.Max)
	for attempt := 1; ; attempt++ {
		err := runAttempt(ctx, p.Attempt, op)
		if err == nil {
			return nil
		}
		if p.Permanent != nil && p.Permanent(err) {
			return err
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%w (gave up: %w)", err, ctx.Err())
		}
		delay := b.Next()
		if !deadline.IsZero() && time.Now().Add(delay).After(deadline) {
			return fmt.Errorf("%w (gave up after %d attempts)", err, attempt)
		}
		if p.OnRetry != nil {
			p.OnRetry(attempt, err, delay)
		}
		if !sleep(ctx, delay) {
			return fmt.Errorf("%w (gave up: %w)", err, ctx.Err())
		}
	}
}

func runAttempt(ctx context.Context, timeout time.Duration, op func(context.Context) error) error {
	if timeout <= 0 {
		return op(ctx)
	}
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return op(actx)
}

// Backoff is a capped, jittered exponential delay for loops that are not
// one operation, such as a consumer that must be re-created whenever its
// subscription ends. It is not safe for concurrent use.
type Backoff struct {
	min, max, cur time.Duration
}

// NewBackoff returns a Backoff from initial to max (defaults 50ms and 2s).
func NewBackoff(initial, max time.Duration) *Backoff {
	if initial <= 0 {
		initial = 50 * time.Millisecond
	}
	if max <= 0 {
		max = 2 * time.Second
	}
	max = maxDuration(max, initial)
	return &Backoff{min: initial, max: max, cur: initial}
}

func maxDuration(a, b time.Duration) time.Duration {
	if a > b {
		return a
	}
	return b
}

// Reset starts the delays again from the initial one, after a success.
func (b *Backoff) Reset() { b.cur = b.min }

// Next returns the next delay, jittered, and doubles the one after it.
func (b *Backoff) Next() time.Duration {
	d := b.cur
	b.cur = min(2*b.cur, b.max)
	return jitter(d)
}

// Wait sleeps for the next delay; false if ctx ended first.
func (b *Backoff) Wait(ctx context.Context) bool { return sleep(ctx, b.Next()) }

// jitter takes up to a fifth off d.
func jitter(d time.Duration) time.Duration {
	if d < 5 {
		return d
	}
	return d - rand.N(d/5)
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
