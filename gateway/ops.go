package gateway

import (
	"errors"
	"fmt"
	"net/http"
)

// Readiness errors of Ready.
var (
	ErrNATSDisconnected = errors.New("gateway: nats disconnected")
	ErrNoLease          = errors.New("gateway: no gateway lease")
)

// Ready returns nil while the gateway is connected to NATS and holds its
// lease, ErrNATSDisconnected or ErrNoLease otherwise.
func (g *Gateway) Ready() error {
	switch {
	case !g.nc.IsConnected():
		return ErrNATSDisconnected
	case !g.leaseOK.Load():
		return fmt.Errorf("%w (%s)", ErrNoLease, g.ID())
	}
	return nil
}

// MetricsHandler serves the gateway's Prometheus metrics.
func (g *Gateway) MetricsHandler() http.Handler { return g.reg.Handler() }
