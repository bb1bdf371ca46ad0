package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/urfave/cli/v2"

	"github.com/rtcmesh/rtcmesh/gateway"
	"github.com/rtcmesh/rtcmesh/internal/metrics"
	"github.com/rtcmesh/rtcmesh/internal/natsclient"
	"github.com/rtcmesh/rtcmesh/internal/natsserver"
	"github.com/rtcmesh/rtcmesh/internal/ops"
	"github.com/rtcmesh/rtcmesh/internal/retry"
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
		}, gatewayFlags(), authFlags(), roomsvcFlags(), provisionFlags(), opsFlags(false)),
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
	reg := &metrics.Registry{}
	reg.RegisterRuntime()
	rooms.RegisterMetrics(reg)
	opsSrv, err := opsServer(c, "dev-ops", metrics.HandlerFor(gw.Metrics(), reg),
		func() error { return errors.Join(gw.Ready(), connReady(rnc)) })
	if err != nil {
		return err
	}

	// The room service outlives the gateway so that the departures the
	// gateway queues while shutting down are processed.
	roomsCtx, stopRooms := context.WithCancel(context.Background())
	defer stopRooms()
	roomsDone := make(chan error, 1)
	go func() { roomsDone <- rooms.Run(roomsCtx) }()
	gwErr := runWithOps(ctx, opsSrv, gw.Run)
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
			&cli.StringFlag{Name: "config", EnvVars: []string{"RTCMESH_NATS_CONFIG"}, TakesFile: true,
				Usage: "nats-server configuration file (accounts, users, permissions, TLS, ...); flags given explicitly override it"},
		},
		Action: func(c *cli.Context) error {
			if c.String("cluster-addr") == "" && c.String("routes") != "" {
				return errors.New("--routes needs --cluster-addr")
			}
			cfg, err := natsConfig(c)
			if err != nil {
				return err
			}
			ns, err := natsserver.Start(c.Context, cfg)
			if err != nil {
				return err
			}
			name := ns.Name()
			slog.Info("listening", shared.KeyComponent, "nats", shared.KeyAddr, natsserver.ClientAddr(ns), "name", name)
			if natsserver.ClusterAddr(ns) != "" {
				slog.Info("listening", shared.KeyComponent, "nats-cluster", shared.KeyAddr, natsserver.ClusterAddr(ns), "name", name)
			}
			<-c.Context.Done()
			ns.Shutdown()
			ns.WaitForShutdown()
			return nil
		},
	}
}

// natsConfig builds the server configuration of `rtcmesh nats`. With
// --config the file comes first; a flag given explicitly (or through its
// environment variable) overrides it, and a flag's default applies only
// where the file says nothing.
func natsConfig(c *cli.Context) (natsserver.Config, error) {
	cfg := natsserver.Config{
		Name: c.String("name"), Addr: c.String("addr"), StoreDir: c.String("store"),
		ClusterAddr: c.String("cluster-addr"), Routes: splitList(c.String("routes")),
		ClusterName: c.String("cluster-name"), SyncAlways: c.Bool("sync-always"), Logger: slog.Default(),
	}
	if path := c.String("config"); path != "" {
		base, err := natsserver.LoadConfig(path)
		if err != nil {
			return cfg, err
		}
		cfg.Base = base
		if !c.IsSet("addr") && (base.Host != "" || base.Port != 0) {
			cfg.Addr = ""
		}
		if !c.IsSet("store") && base.StoreDir != "" {
			cfg.StoreDir = ""
		}
		if !c.IsSet("name") && base.ServerName != "" {
			cfg.Name = ""
		}
		if !c.IsSet("cluster-name") {
			cfg.ClusterName = ""
		}
	}
	if cfg.Name == "" && (cfg.Base == nil || cfg.Base.ServerName == "") {
		cfg.Name, _ = os.Hostname()
	}
	return cfg, nil
}

func gatewayCommand() *cli.Command {
	return &cli.Command{
		Name:  "gateway",
		Usage: "run a gateway: Socket.IO for rtc.io clients on --addr, bridged to NATS",
		Flags: flags([]cli.Flag{natsURLFlag(true), addrFlag(":3001")}, natsAuthFlags(), gatewayFlags(), authFlags(), provisionFlags(), opsFlags(false)),
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
			gw.Metrics().RegisterRuntime()
			opsSrv, err := opsServer(c, "gateway-ops", gw.MetricsHandler(), gw.Ready)
			if err != nil {
				return err
			}
			return runWithOps(c.Context, opsSrv, gw.Run)
		},
	}
}

func roomsvcCommand() *cli.Command {
	return &cli.Command{
		Name:  "roomsvc",
		Usage: "run a room-service replica (run several; each room is processed by one at a time)",
		Flags: flags([]cli.Flag{natsURLFlag(true)}, natsAuthFlags(), roomsvcFlags(), provisionFlags(), opsFlags(true)),
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
			reg := &metrics.Registry{}
			reg.RegisterRuntime()
			rooms.RegisterMetrics(reg)
			opsSrv, err := opsServer(c, "roomsvc-ops", reg.Handler(), func() error { return connReady(nc) })
			if err != nil {
				return err
			}
			return runWithOps(c.Context, opsSrv, rooms.Run)
		},
	}
}

// errNATSDisconnected is the readiness error of a process without NATS.
var errNATSDisconnected = errors.New("nats disconnected")

func connReady(nc *nats.Conn) error {
	if !nc.IsConnected() {
		return errNATSDisconnected
	}
	return nil
}

// runWithOps runs run, and the operations server beside it when there is
// one; they stop together.
func runWithOps(ctx context.Context, o *ops.Server, run func(context.Context) error) error {
	if o == nil {
		return run(ctx)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g, gctx := rungroup.WithContext(ctx)
	g.Go(func() error { return o.Run(gctx) })
	g.Go(func() error { defer cancel(); return run(gctx) })
	return g.Wait()
}

// connectStore connects to --nats and opens the provisioned store.
func connectStore(c *cli.Context, name string) (*nats.Conn, *presence.Store, error) {
	o, err := natsOptions(c, name)
	if err != nil {
		return nil, nil, err
	}
	nc, err := natsclient.Connect(o)
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
	var st *presence.Store
	err := retry.Do(ctx, retry.Policy{
		Initial: 250 * time.Millisecond, Max: 2 * time.Second, Attempt: 10 * time.Second, Budget: 60 * time.Second,
		Permanent: func(err error) bool { return errors.Is(err, presence.ErrConfig) },
		OnRetry: func(_ int, err error, _ time.Duration) {
			log.Warn("jetstream not ready yet, retrying", shared.KeyErr, err)
		},
	}, func(ctx context.Context) (err error) {
		st, err = presence.Open(ctx, nc, cfg, log)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("provision jetstream: %w", err)
	}
	return st, nil
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
