package gateway

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/rtcmesh/rtcmesh/internal/metrics"
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

// Metrics returns the gateway's registry, for a process that serves it
// together with others (rtcmesh dev) or adds the runtime collectors.
func (g *Gateway) Metrics() *metrics.Registry { return g.reg }
