// Package rungroup runs a set of goroutines that live and die together:
// the first error cancels the shared context, and Wait returns it after
// every goroutine has returned. It is the owner of every long-lived
// goroutine in a component's Run.
package rungroup

import (
	"context"
	"sync"
)

// Group is a collection of goroutines working on one task.
type Group struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
	err    error
}

// WithContext returns a group and a context cancelled when any goroutine
// fails or when Wait returns.
func WithContext(ctx context.Context) (*Group, context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	return &Group{cancel: cancel}, ctx
}

// Go runs fn in a new goroutine.
func (g *Group) Go(fn func() error) {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		if err := fn(); err != nil {
			g.once.Do(func() {
				g.err = err
				g.cancel()
			})
		}
	}()
}

// Wait waits for every goroutine and returns the first error.
func (g *Group) Wait() error {
	g.wg.Wait()
	g.cancel()
	return g.err
}
