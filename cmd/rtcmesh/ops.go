package main

import (
	"log/slog"
	"net/http"

	"github.com/urfave/cli/v2"

	"github.com/rtcmesh/rtcmesh/internal/ops"
)

// opsFlags serve /metrics, /healthz, /readyz (and pprof) on a port of
// their own. The room service also takes the deprecated --metrics-addr.
func opsFlags(deprecatedMetricsAddr bool) []cli.Flag {
	fl := []cli.Flag{
		&cli.StringFlag{Name: "ops-addr", EnvVars: []string{"RTCMESH_OPS_ADDR"},
			Usage: "serve /metrics, /healthz and /readyz on this address, apart from the client port (off when empty)"},
		&cli.BoolFlag{Name: "pprof", EnvVars: []string{"RTCMESH_PPROF"},
			Usage: "also serve net/http/pprof under /debug/pprof/ on --ops-addr"},
	}
	if deprecatedMetricsAddr {
		fl = append(fl, &cli.StringFlag{Name: "metrics-addr", EnvVars: []string{"RTCMESH_METRICS_ADDR"}, Hidden: true,
			Usage: "deprecated: use --ops-addr"})
	}
	return fl
}

// opsServer builds the operations server from opsFlags, or returns nil
// when --ops-addr is empty.
func opsServer(c *cli.Context, name string, metrics http.Handler, ready func() error) (*ops.Server, error) {
	addr := c.String("ops-addr")
	if addr == "" && c.String("metrics-addr") != "" {
		slog.Warn("--metrics-addr is deprecated; use --ops-addr")
		addr = c.String("metrics-addr")
	}
	if addr == "" {
		if c.Bool("pprof") {
			slog.Warn("--pprof has no effect without --ops-addr")
		}
		return nil, nil
	}
	return ops.New(ops.Config{Addr: listenAddr(addr), Name: name, Metrics: metrics, Ready: ready,
		Pprof: c.Bool("pprof"), Logger: slog.Default()})
}
