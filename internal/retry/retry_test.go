package retry

import (
	"context"
	"errors"
	"testing"
	"time"
)

var errBusy = errors.New("busy")

func TestDo(t *testing.T) {
	errFatal := errors.New("fatal")
	tests := []struct {
		name      string
		policy    Policy
		failures  int   // op fails this many times, then succeeds
		failWith  error // the error of a failure
		wantCalls int
		wantErr   error // nil: success
	}{
		{"first try", Policy{}, 0, errBusy, 1, nil},
		{"after failures", Policy{Initial: time.Millisecond}, 3, errBusy, 4, nil},
		{"permanent stops at once", Policy{Initial: time.Millisecond, Permanent: func(err error) bool { return errors.Is(err, errFatal) }},
			5, errFatal, 1, errFatal},
		{"budget spent", Policy{Initial: 20 * time.Millisecond, Max: 20 * time.Millisecond, Budget: 50 * time.Millisecond},
			100, errBusy, 3, errBusy},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			err := Do(context.Background(), tt.policy, func(context.Context) error {
				calls++
				if calls <= tt.failures {
					return tt.failWith
				}
				return nil
			})
			if tt.wantErr == nil && err != nil {
				t.Fatalf("err = %v, want success", err)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			// The budget case may fit one attempt more or less on a slow machine.
			if tt.policy.Budget == 0 && calls != tt.wantCalls {
				t.Fatalf("calls = %d, want %d", calls, tt.wantCalls)
			}
			if tt.policy.Budget > 0 && (calls < 2 || calls > tt.wantCalls+1) {
				t.Fatalf("calls = %d, want about %d within the budget", calls, tt.wantCalls)
			}
		})
	}
}

func TestDoStopsWhenContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	started := make(chan struct{})
	go func() {
		done <- Do(ctx, Policy{Initial: time.Hour, Max: time.Hour}, func(context.Context) error {
			select {
			case <-started:
			default:
				close(started)
			}
			return errBusy
		})
	}()
	<-started
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, errBusy) || !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want busy and canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Do waited out an hour-long delay after its ctx ended")
	}
}

func TestDoBoundsEachAttempt(t *testing.T) {
	calls := 0
	err := Do(context.Background(), Policy{Attempt: 10 * time.Millisecond, Initial: time.Millisecond}, func(ctx context.Context) error {
		calls++
		if calls == 1 {
			<-ctx.Done() // a stuck request: only the attempt timeout ends it
			return ctx.Err()
		}
		return nil
	})
	if err != nil || calls != 2 {
		t.Fatalf("err = %v, calls = %d; want success on the second attempt", err, calls)
	}
}

func TestOnRetrySeesEveryRetry(t *testing.T) {
	var seen []int
	_ = Do(context.Background(), Policy{Initial: time.Millisecond, OnRetry: func(n int, err error, d time.Duration) {
		if !errors.Is(err, errBusy) || d <= 0 {
			t.Errorf("OnRetry(%d, %v, %v)", n, err, d)
		}
		seen = append(seen, n)
	}}, func(context.Context) error {
		if len(seen) < 3 {
			return errBusy
		}
		return nil
	})
	if len(seen) != 3 || seen[0] != 1 || seen[2] != 3 {
		t.Fatalf("retries seen %v, want [1 2 3]", seen)
	}
}

func TestBackoffDoublesToItsCapWithJitter(t *testing.T) {
	b := NewBackoff(100*time.Millisecond, 400*time.Millisecond)
	want := []time.Duration{100, 200, 400, 400}
	for i, w := range want {
		w *= time.Millisecond
		d := b.Next()
		if d > w || d < w-w/5 {
			t.Fatalf("delay %d = %v, want within (%v - 20%%, %v]", i, d, w, w)
		}
	}
	b.Reset()
	if d := b.Next(); d > 100*time.Millisecond {
		t.Fatalf("after Reset, delay %v, want at most 100ms", d)
	}
}
