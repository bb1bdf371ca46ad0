package gateway

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rtcmesh/rtcmesh/shared"
)

// acquireLease creates the gateway's lease, retrying while NATS or
// JetStream comes up.
func (g *Gateway) acquireLease(ctx context.Context, addr string) (shared.GatewayLease, uint64, error) {
	delay := 100 * time.Millisecond
	for {
		lease := shared.GatewayLease{ID: g.ID(), Addr: addr, Started: time.Now().UTC()}
		cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		rev, err := g.cfg.Registry.AcquireLease(cctx, lease, g.cfg.LeaseTTL)
		cancel()
		if err == nil {
			g.leaseOK.Store(true)
			return lease, rev, nil
		}
		g.log.Warn("gateway: cannot acquire lease yet", shared.KeyErr, err)
		select {
		case <-ctx.Done():
			return lease, 0, fmt.Errorf("gateway: acquire lease: %w", ctx.Err())
		case <-time.After(delay):
		}
		delay = min(delay*2, 2*time.Second)
	}
}

// keepLease refreshes the lease five times per TTL. When the lease is
// lost (it expired during a partition, so the room service is reaping this
// gateway's sockets), every socket is dropped, and the gateway continues
// under a new id with a new lease: its clients reconnect and join again.
func (g *Gateway) keepLease(ctx context.Context, lease shared.GatewayLease, rev uint64) error {
	tick := time.NewTicker(g.cfg.LeaseTTL / 5)
	defer tick.Stop()
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
			rev = next
			g.leaseOK.Store(true)
			continue
		case ctx.Err() != nil:
			return nil
		case !errors.Is(err, shared.ErrLeaseLost):
			g.log.Warn("gateway: lease refresh failed", shared.KeyErr, err)
			continue
		}
		g.leaseOK.Store(false)
		g.m.leaseLost.Inc()
		g.log.Error("gateway: lease lost; dropping every socket", shared.KeyGateway, lease.ID)
		id := newGatewayID(g.cfg.Name)
		g.id.Store(&id)
		g.dropAll()
		var aerr error
		if lease, rev, aerr = g.acquireLease(ctx, lease.Addr); aerr != nil {
			return nil // ctx done
		}
		g.log.Info("gateway: new lease", shared.KeyGateway, lease.ID)
	}
}

// dropAll closes every client's connection. Their sockets were (or are
// being) reaped; they reconnect and join again.
func (g *Gateway) dropAll() {
	for _, c := range g.clients.all() {
		c.sock.CloseConn()
	}
}
