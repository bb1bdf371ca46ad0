package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/urfave/cli/v2"

	"github.com/rtcmesh/rtcmesh/gateway"
	"github.com/rtcmesh/rtcmesh/internal/httpserve"
	"github.com/rtcmesh/rtcmesh/internal/metrics"
	"github.com/rtcmesh/rtcmesh/internal/natsclient"
	"github.com/rtcmesh/rtcmesh/internal/natsserver"
	"github.com/rtcmesh/rtcmesh/internal/rungroup"
	"github.com/rtcmesh/rtcmesh/presence"
	"github.com/rtcmesh/rtcmesh/roomsvc"
	"github.com/rtcmesh/rtcmesh/shared"
)

// The consumer-side interfaces are satisfied by presence.Store.
var (
	_ roomsvc.Store    = (*presence.Store)(nil)
	_ gateway.Registry = (*presence.Store)(nil)
)

func devCommand() *cli.Command {
	return &cli.Command{
		Name:  "dev",
		Usage: "run everything in one process: embedded NATS with JetStream, a gateway and the room service",
		Description: "Serves rtc.io clients (and the demo page) on --addr. The embedded NATS server is exposed on\n" +
			"--nats-addr so `rtcmesh presence watch` and `rtcmesh rooms` can connect to it. Without --store,\n" +
			"JetStream data lives in a temporary directory removed at exit.",
		Flags: flags([]cli.Flag{
			addrFlag(":3001"),
			&cli.StringFlag{Name: "nats-addr", Value: "127.0.0.1:4222", EnvVars: []string{"RTCMESH_NATS_ADDR"}, Usage: "listen address of the embedded NATS server"},
			&cli.StringFlag{Name: "store", EnvVars: []string{"RTCMESH_STORE"}, Usage: "JetStream store directory (default: a temporary directory)"},
		}, gatewayFlags(), authFlags(), roomsvcFlags(), provisionFlags()),
		Action: devAction,
	}
}

func devAction(c *cli.Context) error {
	ctx := c.Context
	log := slog.Default()
	gcfg, err := gatewayConfig(c)
	if err != nil {
		return err
	}
	dir := c.String("store")
	if dir == "" {
		if dir, err = os.MkdirTemp("", "rtcmesh-dev-"); err != nil {
			return fmt.Errorf("store: %w", err)
		}
		defer os.RemoveAll(dir)
	}
	ns, err := natsserver.Start(ctx, natsserver.Config{Name: "rtcmesh-dev", Addr: c.String("nats-addr"), StoreDir: dir, Logger: log})
	if err != nil {
		return err
	}
	defer func() { ns.Shutdown(); ns.WaitForShutdown() }()
	log.Info("listening", shared.KeyComponent, "nats", shared.KeyAddr, natsserver.ClientAddr(ns), "store", dir)

	// Separate in-process connections, as separate processes would have.
	gnc, err := natsclient.Connect(natsclient.Options{Server: ns, Name: "rtcmesh-dev-gateway", Logger: log})
	if err != nil {
		return err
	}
	defer closeConn(gnc)
	rnc, err := natsclient.Connect(natsclient.Options{Server: ns, Name: "rtcmesh-dev-roomsvc", Logger: log})
	if err != nil {
		return err
	}
	defer closeConn(rnc)
	store, err := openStore(ctx, gnc, provisionConfig(c), log)
	if err != nil {
		return err
	}
	rstore, err := presence.Bind(ctx, mustJetStream(rnc), log)
	if err != nil {
		return err
	}
	rcfg := roomsvcConfig(c)
	rcfg.Conn, rcfg.Store, rcfg.Logger = rnc, rstore, log
	rooms, err := roomsvc.New(rcfg)
	if err != nil {
		return err
	}
	gcfg.Conn, gcfg.Registry, gcfg.Logger = gnc, store, log
	gw, err := gateway.New(gcfg)
	if err != nil {
		return err
	}

	// The room service outlives the gateway so that the departures the
	// gateway queues while shutting down are processed.
	roomsCtx, stopRooms := context.WithCancel(context.Background())
	defer stopRooms()
	roomsDone := make(chan error, 1)
	go func() { roomsDone <- rooms.Run(roomsCtx) }()
	gwErr := gw.Run(ctx)
	waitCommandsDrained(rnc, 3*time.Second)
	stopRooms()
	return errors.Join(gwErr, <-roomsDone)
}

func natsCommand() *cli.Command {
	return &cli.Command{
		Name:  "nats",
		Usage: "run a standalone NATS server with JetStream (clusterable), for machines without one",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "addr", Value: "127.0.0.1:4222", EnvVars: []string{"RTCMESH_NATS_ADDR"}, Usage: "client listen address"},
			&cli.StringFlag{Name: "store", Value: "./rtcmesh-data", EnvVars: []string{"RTCMESH_STORE"}, Usage: "JetStream store directory"},
			&cli.StringFlag{Name: "name", EnvVars: []string{"RTCMESH_NATS_NAME"}, Usage: "server name (must differ per cluster node; default: the hostname)"},
			&cli.StringFlag{Name: "cluster-addr", EnvVars: []string{"RTCMESH_CLUSTER_ADDR"}, Usage: "cluster listen address host:port; enables clustering"},
			&cli.StringFlag{Name: "routes", EnvVars: []string{"RTCMESH_ROUTES"}, Usage: "comma-separated nats-route://host:port URLs of every cluster node"},
			&cli.StringFlag{Name: "cluster-name", Value: "rtcmesh", EnvVars: []string{"RTCMESH_CLUSTER_NAME"}, Usage: "cluster name"},
			&cli.BoolFlag{Name: "sync-always", EnvVars: []string{"RTCMESH_SYNC_ALWAYS"}, Usage: "fsync every JetStream write (survives power loss; slower)"},
		},
		Action: func(c *cli.Context) error {
			name := c.String("name")
			if name == "" {
				name, _ = os.Hostname()
			}
			if c.String("cluster-addr") == "" && c.String("routes") != "" {
				return errors.New("--routes needs --cluster-addr")
			}
			ns, err := natsserver.Start(c.Context, natsserver.Config{
				Name: name, Addr: c.String("addr"), StoreDir: c.String("store"),
				ClusterAddr: c.String("cluster-addr"), Routes: splitList(c.String("routes")),
				ClusterName: c.String("cluster-name"), SyncAlways: c.Bool("sync-always"), Logger: slog.Default(),
			})
			if err != nil {
				return err
			}
			slog.Info("listening", shared.KeyComponent, "nats", shared.KeyAddr, natsserver.ClientAddr(ns), "name", name)
			if c.String("cluster-addr") != "" {
				slog.Info("listening", shared.KeyComponent, "nats-cluster", shared.KeyAddr, natsserver.ClusterAddr(ns), "name", name)
			}
			<-c.Context.Done()
			ns.Shutdown()
			ns.WaitForShutdown()
			return nil
		},
	}
}

func gatewayCommand() *cli.Command {
	return &cli.Command{
		Name:  "gateway",
		Usage: "run a gateway: Socket.IO for rtc.io clients on --addr, bridged to NATS",
		Flags: flags([]cli.Flag{natsURLFlag(true), addrFlag(":3001")}, gatewayFlags(), authFlags(), provisionFlags()),
		Action: func(c *cli.Context) error {
			gcfg, err := gatewayConfig(c)
			if err != nil {
				return err
			}
			nc, store, err := connectStore(c, "rtcmesh-gateway")
			if err != nil {
				return err
			}
			defer closeConn(nc)
			gcfg.Conn, gcfg.Registry, gcfg.Logger = nc, store, slog.Default()
			gw, err := gateway.New(gcfg)
			if err != nil {
				return err
			}
			return gw.Run(c.Context)
		},
	}
}

func roomsvcCommand() *cli.Command {
	return &cli.Command{
		Name:  "roomsvc",
		Usage: "run a room-service replica (run several; each room is processed by one at a time)",
		Flags: flags([]cli.Flag{natsURLFlag(true), metricsAddrFlag()}, roomsvcFlags(), provisionFlags()),
		Action: func(c *cli.Context) error {
			nc, store, err := connectStore(c, "rtcmesh-roomsvc")
			if err != nil {
				return err
			}
			defer closeConn(nc)
			rcfg := roomsvcConfig(c)
			rcfg.Conn, rcfg.Store, rcfg.Logger = nc, store, slog.Default()
			rooms, err := roomsvc.New(rcfg)
			if err != nil {
				return err
			}
			g, ctx := rungroup.WithContext(c.Context)
			if addr := c.String("metrics-addr"); addr != "" {
				ln, err := net.Listen("tcp", listenAddr(addr))
				if err != nil {
					return fmt.Errorf("metrics listen: %w", err)
				}
				reg := &metrics.Registry{}
				rooms.RegisterMetrics(reg)
				slog.Info("listening", shared.KeyComponent, "roomsvc-metrics", shared.KeyAddr, ln.Addr().String())
				g.Go(func() error { return httpserve.Serve(ctx, ln, opsHandler(reg, nc), time.Second) })
			}
			g.Go(func() error { return rooms.Run(ctx) })
			return g.Wait()
		},
	}
}

// opsHandler serves /metrics, /healthz and /readyz (ready while NATS is
// connected) for a process without a gateway.
func opsHandler(reg *metrics.Registry, nc *nats.Conn) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", reg.Handler())
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}` + "\n"))
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if !nc.IsConnected() {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"status":"nats disconnected"}` + "\n"))
			return
		}
		_, _ = w.Write([]byte(`{"status":"ready"}` + "\n"))
	})
	return mux
}

// connectStore connects to --nats and opens the provisioned store.
func connectStore(c *cli.Context, name string) (*nats.Conn, *presence.Store, error) {
	nc, err := natsclient.Connect(natsclient.Options{URL: c.String("nats"), Name: name, Logger: slog.Default()})
	if err != nil {
		return nil, nil, err
	}
	store, err := openStore(c.Context, nc, provisionConfig(c), slog.Default())
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, store, nil
}

// openStore provisions the JetStream assets and binds to them, retrying
// while a cluster is still electing its JetStream leader.
func openStore(ctx context.Context, nc *nats.Conn, cfg presence.Config, log *slog.Logger) (*presence.Store, error) {
	deadline := time.Now().Add(60 * time.Second)
	for {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		st, err := presence.Open(cctx, nc, cfg, log)
		cancel()
		if err == nil {
			return st, nil
		}
		if ctx.Err() != nil || time.Now().After(deadline) || errors.Is(err, presence.ErrConfig) {
			return nil, fmt.Errorf("provision jetstream: %w", err)
		}
		log.Warn("jetstream not ready yet, retrying", shared.KeyErr, err)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

func mustJetStream(nc *nats.Conn) jetstream.JetStream {
	js, err := jetstream.New(nc)
	if err != nil {
		panic(err) // only fails on invalid options
	}
	return js
}

// waitCommandsDrained waits until the ROOMCMD stream is empty (a work
// queue: processed commands are removed) or timeout passes.
func waitCommandsDrained(nc *nats.Conn, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	js := mustJetStream(nc)
	for {
		s, err := js.Stream(ctx, shared.StreamRoomCommands)
		if err == nil {
			if info, err := s.Info(ctx); err == nil && info.State.Msgs == 0 {
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func closeConn(nc *nats.Conn) {
	_ = nc.FlushTimeout(2 * time.Second)
	nc.Close()
}
