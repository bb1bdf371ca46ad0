// Package natsserver runs an embedded nats-server with JetStream: the
// `rtcmesh nats` command, the all-in-one `rtcmesh dev` mode and tests.
package natsserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Config configures an embedded server.
type Config struct {
	// Name is the server name (required for clustering; default: Base's,
	// else "rtcmesh").
	Name string
	// Addr is the client listen address host:port; port -1 (or 0) picks a
	// free one. Default: Base's host and port, else 127.0.0.1:4222.
	Addr string
	// StoreDir holds JetStream data. Required unless Base has one.
	StoreDir string
	// ClusterAddr, Routes and ClusterName form a cluster when ClusterAddr
	// is set. Routes lists nats-route://host:port URLs of every member.
	ClusterAddr string
	Routes      []string
	ClusterName string
	// MaxMemory and MaxStore cap JetStream (defaults 256 MiB and 8 GiB).
	MaxMemory, MaxStore int64
	// SyncAlways fsyncs every JetStream write (slower, survives power loss).
	SyncAlways bool
	// Logger receives the server's log (default slog.Default()).
	Logger *slog.Logger
	// Debug enables the server's debug log.
	Debug bool
	// Base, when set, holds options loaded from a nats-server config file
	// (see LoadConfig); the fields above that are set override it.
	Base *server.Options
}

// Start starts the server and waits until it accepts clients. In a
// cluster JetStream becomes usable later, once a quorum of routes is up
// (see WaitJetStream); clients retry until then.
func Start(ctx context.Context, cfg Config) (*server.Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	opts, err := options(cfg)
	if err != nil {
		return nil, err
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("natsserver: %w", err)
	}
	ns.SetLoggerV2(&logger{l: cfg.Logger.With("component", "nats")}, opts.Debug, false, false)
	ns.Start()
	if !ns.ReadyForConnections(30 * time.Second) {
		ns.Shutdown()
		return nil, errors.New("natsserver: not ready for connections after 30s")
	}
	return ns, nil
}

// options lays cfg over cfg.Base (a loaded config file) or empty options:
// a non-zero field of cfg wins, then the file's value, then the default.
// JetStream is always on.
func options(cfg Config) (*server.Options, error) {
	opts := &server.Options{}
	if cfg.Base != nil {
		opts = cfg.Base.Clone()
	}
	opts.ServerName = orString(cfg.Name, orString(opts.ServerName, "rtcmesh"))
	if cfg.Addr != "" || (opts.Host == "" && opts.Port == 0) {
		host, port, err := splitHostPort(cfg.Addr, "127.0.0.1", 4222)
		if err != nil {
			return nil, fmt.Errorf("natsserver: addr %q: %w", cfg.Addr, err)
		}
		opts.Host, opts.Port = host, port
	}
	opts.StoreDir = orString(cfg.StoreDir, opts.StoreDir)
	if opts.StoreDir == "" {
		return nil, errors.New("natsserver: a JetStream store directory is required (StoreDir, or store_dir in the config file)")
	}
	opts.JetStream = true
	opts.JetStreamMaxMemory = orDefault(cfg.MaxMemory, orDefault(opts.JetStreamMaxMemory, 256<<20))
	opts.JetStreamMaxStore = orDefault(cfg.MaxStore, orDefault(opts.JetStreamMaxStore, 8<<30))
	opts.SyncAlways = opts.SyncAlways || cfg.SyncAlways
	opts.Debug = opts.Debug || cfg.Debug
	opts.NoSigs = true // rtcmesh handles signals and shuts down in order
	opts.DisableJetStreamBanner = true
	if opts.MaxPayload == 0 {
		opts.MaxPayload = 1 << 20
	}
	if cfg.ClusterAddr != "" {
		chost, cport, err := splitHostPort(cfg.ClusterAddr, "0.0.0.0", 6222)
		if err != nil {
			return nil, fmt.Errorf("natsserver: cluster addr %q: %w", cfg.ClusterAddr, err)
		}
		opts.Cluster.Name = orString(cfg.ClusterName, orString(opts.Cluster.Name, "rtcmesh"))
		opts.Cluster.Host, opts.Cluster.Port = chost, cport
		if len(cfg.Routes) > 0 {
			opts.Routes = nil
		}
		for _, r := range cfg.Routes {
			r = strings.TrimSpace(r)
			if r == "" {
				continue
			}
			u, err := url.Parse(r)
			if err != nil {
				return nil, fmt.Errorf("natsserver: route %q: %w", r, err)
			}
			opts.Routes = append(opts.Routes, u)
		}
	}
	return opts, nil
}

// LoadConfig parses a nats-server configuration file (accounts, users,
// permissions, TLS, limits, ...) with nats-server's own loader, for
// Config.Base.
func LoadConfig(path string) (*server.Options, error) {
	opts, err := server.ProcessConfigFile(path)
	if err != nil {
		return nil, fmt.Errorf("natsserver: config file: %w", err)
	}
	return opts, nil
}

// WaitJetStream waits until the server's JetStream is usable: at once on a
// single server, after a meta leader is elected in a cluster.
func WaitJetStream(ctx context.Context, ns *server.Server) error {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for !ns.JetStreamEnabled() || !ns.JetStreamIsCurrent() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("natsserver: jetstream not ready: %w", ctx.Err())
		case <-t.C:
		}
	}
	return nil
}

// ClusterAddr returns host:port of the cluster listener, or "".
func ClusterAddr(ns *server.Server) string {
	if a := ns.ClusterAddr(); a != nil {
		return a.String()
	}
	return ""
}

// ClientAddr returns host:port of the client listener.
func ClientAddr(ns *server.Server) string {
	if a, ok := ns.Addr().(*net.TCPAddr); ok {
		return a.String()
	}
	return ""
}

func splitHostPort(addr, defHost string, defPort int) (string, int, error) {
	if addr == "" {
		return defHost, defPort, nil
	}
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	if host == "" {
		host = "0.0.0.0"
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return "", 0, err
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	return host, port, nil
}

func orDefault(v, d int64) int64 {
	if v > 0 {
		return v
	}
	return d
}

func orString(v, d string) string {
	if v != "" {
		return v
	}
	return d
}

// logger bridges nats-server's printf logger to slog.
type logger struct{ l *slog.Logger }

func (g *logger) Noticef(format string, v ...any) { g.l.Info(fmt.Sprintf(format, v...)) }
func (g *logger) Warnf(format string, v ...any)   { g.l.Warn(fmt.Sprintf(format, v...)) }
func (g *logger) Fatalf(format string, v ...any)  { g.l.Error(fmt.Sprintf(format, v...)) }
func (g *logger) Errorf(format string, v ...any)  { g.l.Error(fmt.Sprintf(format, v...)) }
func (g *logger) Debugf(format string, v ...any)  { g.l.Debug(fmt.Sprintf(format, v...)) }
func (g *logger) Tracef(format string, v ...any)  { g.l.Debug(fmt.Sprintf(format, v...)) }
