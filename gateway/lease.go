package gateway

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/rtcmesh/rtcmesh/internal/retry"
	"github.com/rtcmesh/rtcmesh/shared"
)

// acquireLease creates the gateway's lease, retrying while NATS or
// JetStream comes up.
func (g *Gateway) acquireLease(ctx context.Context, addr string) (shared.GatewayLease, uint64, error) {
	var lease shared.GatewayLease
	var rev uint64
	err := retry.Do(ctx, retry.Policy{
		Initial: 100 * time.Millisecond, Max: 2 * time.Second, Attempt: 3 * time.Second,
		OnRetry: func(_ int, err error, _ time.Duration) {
			g.log.Warn("gateway: cannot acquire lease yet", shared.KeyErr, err)
		},
	}, func(ctx context.Context) (err error) {
		lease = shared.GatewayLease{ID: g.ID(), Addr: addr, Started: time.Now().UTC()}
		rev, err = g.cfg.Registry.AcquireLease(ctx, lease, g.cfg.LeaseTTL)
		return err
	})
	if err != nil {
		return lease, 0, fmt.Errorf("gateway: acquire lease: %w", err)
	}
	g.leaseOK.Store(true)
	return lease, rev, nil
}

// reacquireWindow is how long after its last good refresh a gateway may
// simply re-create a lease that lapsed. The room service's reaped marker
// lives a minute, so within half of that a lapsed lease that was reaped is
// still recognisable as such.
const reacquireWindow = 30 * time.Second

// keepLease refreshes the lease five times per TTL and answers the room
// service's liveness probes.
//
// A lease can lapse while JetStream elects a leader. The room service asks
// a gateway without a lease whether it is alive before reaping it, and
// claims it with a compare-and-set on the lease key; the gateway tries to
// re-create its lease with the same id. Whoever writes the key first wins:
// if the gateway wins it carries on; if the room service won (the gateway
// did not answer, so its sockets are being reaped), every socket is
// dropped, so that clients reconnect and join again, and the gateway
// continues under a new id with a new lease.
func (g *Gateway) keepLease(ctx context.Context, lease shared.GatewayLease, rev uint64) error {
	alive, err := g.answerProbes(lease.ID)
	if err != nil {
		return err
	}
	defer func() { _ = alive.Unsubscribe() }()
	tick := time.NewTicker(g.cfg.LeaseTTL / 5)
	defer tick.Stop()
	lastOK := time.Now()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		cctx, cancel := context.WithTimeout(ctx, g.cfg.LeaseTTL/2)
		next, err := g.cfg.Registry.RefreshLease(cctx, lease, rev, g.cfg.LeaseTTL)
		cancel()
		switch {
		case err == nil:
			rev, lastOK = next, time.Now()
			g.leaseOK.Store(true)
			continue
		case ctx.Err() != nil:
			return nil
		case !errors.Is(err, shared.ErrLeaseLost):
			g.log.Warn("gateway: lease refresh failed", shared.KeyErr, err)
			if time.Since(lastOK) > g.cfg.LeaseTTL {
				g.leaseOK.Store(false)
			}
			continue
		}
		if time.Since(lastOK) < reacquireWindow {
			cctx, cancel := context.WithTimeout(ctx, g.cfg.LeaseTTL/2)
			next, err := g.cfg.Registry.AcquireLease(cctx, lease, g.cfg.LeaseTTL)
			cancel()
			if err == nil {
				rev, lastOK = next, time.Now()
				g.leaseOK.Store(true)
				g.log.Warn("gateway: lease lapsed and was re-acquired; sockets kept", shared.KeyGateway, lease.ID)
				continue
			}
			if !errors.Is(err, shared.ErrLeaseTaken) {
				g.log.Warn("gateway: cannot re-acquire lapsed lease yet", shared.KeyErr, err)
				continue
			}
		}
		g.leaseOK.Store(false)
		g.m.leaseLost.Inc()
		g.log.Error("gateway: lease lost and sockets reaped; dropping every socket", shared.KeyGateway, lease.ID)
		id := newGatewayID(g.cfg.Name)
		g.id.Store(&id)
		g.dropAll()
		_ = alive.Unsubscribe()
		var aerr error
		if lease, rev, aerr = g.acquireLease(ctx, lease.Addr); aerr != nil {
			return nil // ctx done
		}
		if alive, err = g.answerProbes(lease.ID); err != nil {
			return err
		}
		lastOK = time.Now()
		g.log.Info("gateway: new lease", shared.KeyGateway, lease.ID)
	}
}

// answerProbes answers the room service's liveness probes for id.
func (g *Gateway) answerProbes(id string) (*nats.Subscription, error) {
	sub, err := g.nc.Subscribe(shared.GatewayAlive(id), func(m *nats.Msg) { _ = m.Respond(nil) })
	if err != nil {
		return nil, fmt.Errorf("gateway: subscribe %s: %w", shared.GatewayAlive(id), err)
	}
	return sub, nil
}

// dropAll closes every client's connection. Their sockets were (or are
// being) reaped; they reconnect and join again.
func (g *Gateway) dropAll() {
	for _, c := range g.clients.all() {
		c.sock.CloseConn()
	}
}
