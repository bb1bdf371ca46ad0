package main

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/rtcmesh/rtcmesh/bench"
	"github.com/rtcmesh/rtcmesh/internal/rlimit"
)

// benchCommand is `rtcmesh bench <hold|storm|relay|fanout>`: the load
// generator. It speaks Socket.IO itself, so it drives rtcmesh and the Node
// reference server alike.
func benchCommand() *cli.Command {
	return &cli.Command{
		Name:  "bench",
		Usage: "load generator speaking Engine.IO v4 / Socket.IO v5 to any socket.io server",
		Description: "Scenarios: hold (idle sockets, RSS of --pid processes), storm (simultaneous joins and the\n" +
			"rtc.io invariants), relay (#rtcio:message round trips, --saturate), fanout (media-state and\n" +
			"chat-message to rooms). --json prints one JSON document (schema in the bench package doc).",
		Subcommands: []*cli.Command{
			benchScenario(bench.ScenarioHold, "connect, join rooms, stay idle; sample the VmRSS of --pid processes", 1000, holdFlags()),
			benchScenario(bench.ScenarioStorm, "connect, then join every socket at one instant; check the rtc.io invariants", 1000, nil),
			benchScenario(bench.ScenarioRelay, "#rtcio:message round trips between pairs, open loop at --rate", 200, relayFlags()),
			benchScenario(bench.ScenarioFanout, "media-state and chat-message from every member to its room at --rate", 400, paceFlags(200)),
		},
	}
}

func benchEnv(name string) []string { return []string{"RTCMESH_BENCH_" + name} }

func benchCommonFlags(sockets int, roomSize bool) []cli.Flag {
	fl := []cli.Flag{
		&cli.StringFlag{Name: "url", Value: "http://127.0.0.1:3001", EnvVars: benchEnv("URL"),
			Usage: "server base URL(s), comma-separated; sockets are spread round-robin over them"},
		&cli.IntFlag{Name: "sockets", Value: sockets, EnvVars: benchEnv("SOCKETS"), Usage: "sockets to open"},
		&cli.StringFlag{Name: "transport", Value: string(bench.TransportWebSocket), EnvVars: benchEnv("TRANSPORT"),
			Usage: "websocket, polling, or upgrade (polling then WebSocket, like socket.io-client)"},
		&cli.StringFlag{Name: "source", EnvVars: benchEnv("SOURCE"),
			Usage: "source addresses for outgoing connections: a list, a range 127.0.0.1-127.0.0.20 or a CIDR in 127.0.0.0/8"},
		&cli.IntFlag{Name: "procs", EnvVars: benchEnv("PROCS"),
			Usage: "worker processes (0: enough for the file descriptor limit)"},
		&cli.IntFlag{Name: "dial-concurrency", Value: 256, EnvVars: benchEnv("DIAL_CONCURRENCY"), Usage: "connection attempts in flight"},
		&cli.IntFlag{Name: "connect-retries", Value: 2, EnvVars: benchEnv("CONNECT_RETRIES"), Usage: "extra connection attempts per socket (-1: none)"},
		&cli.DurationFlag{Name: "timeout", Value: 30 * time.Second, EnvVars: benchEnv("TIMEOUT"),
			Usage: "longest wait for one connection, or for the expected events of a phase"},
		&cli.BoolFlag{Name: "json", EnvVars: benchEnv("JSON"), Usage: "print one JSON document on stdout instead of a table"},
		&cli.DurationFlag{Name: "progress", Value: 2 * time.Second, EnvVars: benchEnv("PROGRESS"),
			Usage: "interval of the progress line on stderr (0: none)"},
		&cli.StringFlag{Name: "room-prefix", EnvVars: benchEnv("ROOM_PREFIX"), Usage: "room id prefix (default: random per run)"},
		&cli.StringFlag{Name: "name-prefix", Value: "bench-", EnvVars: benchEnv("NAME_PREFIX"), Usage: "display name prefix"},
		// Internal: the parent re-executes itself with --worker. No
		// environment variable, so a stray one cannot turn a parent into
		// a worker.
		&cli.BoolFlag{Name: "worker", Hidden: true},
	}
	if roomSize {
		fl = append(fl, &cli.IntFlag{Name: "room-size", Value: 4, EnvVars: benchEnv("ROOM_SIZE"), Usage: "members per room"})
	}
	return fl
}

func paceFlags(rate float64) []cli.Flag {
	return []cli.Flag{
		&cli.Float64Flag{Name: "rate", Value: rate, EnvVars: benchEnv("RATE"), Usage: "messages per second offered, in total"},
		&cli.DurationFlag{Name: "duration", Value: 10 * time.Second, EnvVars: benchEnv("DURATION"), Usage: "measured time"},
		&cli.DurationFlag{Name: "warmup", Value: time.Second, EnvVars: benchEnv("WARMUP"), Usage: "unmeasured time before (0: none)"},
		&cli.DurationFlag{Name: "drain", Value: 2 * time.Second, EnvVars: benchEnv("DRAIN"), Usage: "wait for messages in flight after sending"},
	}
}

func relayFlags() []cli.Flag {
	return append(paceFlags(1000),
		&cli.BoolFlag{Name: "saturate", EnvVars: benchEnv("SATURATE"),
			Usage: "step the rate up ×1.5 until achieved < 90 %, p99 > --max-p99 or loss > 0.1 %"},
		&cli.DurationFlag{Name: "step-duration", Value: 5 * time.Second, EnvVars: benchEnv("STEP_DURATION"), Usage: "length of a --saturate step"},
		&cli.DurationFlag{Name: "max-p99", Value: 250 * time.Millisecond, EnvVars: benchEnv("MAX_P99"), Usage: "a --saturate step fails above this p99"},
		&cli.IntFlag{Name: "max-steps", Value: 25, EnvVars: benchEnv("MAX_STEPS"), Usage: "most --saturate steps"},
		&cli.IntFlag{Name: "payload", Value: 200, EnvVars: benchEnv("PAYLOAD"), Usage: "bytes of the ICE candidate inside each message"},
	)
}

func holdFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "pid", EnvVars: benchEnv("PID"), Usage: "processes to sample: name=PID[,name=PID...] or a bare PID"},
		&cli.DurationFlag{Name: "settle-timeout", Value: 120 * time.Second, EnvVars: benchEnv("SETTLE_TIMEOUT"),
			Usage: "longest wait for the RSS to settle (last 20 s within 1 %)"},
		&cli.DurationFlag{Name: "settle-window", Value: 20 * time.Second, EnvVars: benchEnv("SETTLE_WINDOW"), Usage: "RSS is settled when this window varies by < 1 %"},
		&cli.DurationFlag{Name: "hold", EnvVars: benchEnv("HOLD"), Usage: "stay connected this long after measuring"},
	}
}

func benchScenario(sc bench.Scenario, usage string, sockets int, extra []cli.Flag) *cli.Command {
	return &cli.Command{
		Name:   string(sc),
		Usage:  usage,
		Flags:  append(benchCommonFlags(sockets, sc != bench.ScenarioRelay), extra...),
		Action: func(c *cli.Context) error { return benchAction(c, sc) },
	}
}

func benchAction(c *cli.Context, sc bench.Scenario) error {
	if c.Bool("worker") {
		return bench.RunWorker(c.Context, os.Stdin, os.Stdout, slog.Default())
	}
	cfg, err := benchConfig(c, sc)
	if err != nil {
		return err
	}
	b, err := bench.New(cfg)
	if err != nil {
		return err
	}
	if b.Procs() > 1 {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("bench: find own executable for workers: %w", err)
		}
		cfg.Spawn = bench.Exec(exe, "--log-level", c.String("log-level"), "--log-format", c.String("log-format"),
			"bench", string(sc), "--worker")
		if b, err = bench.New(cfg); err != nil {
			return err
		}
	}
	slog.Info("bench: starting", "scenario", sc, "sockets", cfg.Sockets, "procs", b.Procs(), "transport", cfg.Transport)
	rep, err := b.Run(c.Context)
	if err != nil {
		return err
	}
	if c.Bool("json") {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return rep.WriteTable(os.Stdout)
}

func benchConfig(c *cli.Context, sc bench.Scenario) (bench.Config, error) {
	sources, err := bench.ParseSources(c.String("source"))
	if err != nil {
		return bench.Config{}, fmt.Errorf("--source: %w", err)
	}
	soft, _, _ := rlimit.RaiseNoFile() // already raised at start; this reads it
	cfg := bench.Config{
		Scenario:        sc,
		URLs:            splitList(c.String("url")),
		Sockets:         c.Int("sockets"),
		RoomSize:        c.Int("room-size"),
		Transport:       bench.Transport(c.String("transport")),
		Sources:         sources,
		Procs:           c.Int("procs"),
		FDLimit:         soft,
		DialConcurrency: c.Int("dial-concurrency"),
		ConnectRetries:  c.Int("connect-retries"),
		Timeout:         c.Duration("timeout"),
		RoomPrefix:      c.String("room-prefix"),
		NamePrefix:      c.String("name-prefix"),
		Progress:        c.Duration("progress"),
		ProgressOut:     os.Stderr,
		Logger:          slog.Default(),
	}
	if cfg.ConnectRetries == 0 {
		cfg.ConnectRetries = -1 // the flag's 0 means none; the Config's zero means the default
	}
	switch sc {
	case bench.ScenarioHold:
		if cfg.PIDs, err = bench.ParsePIDs(c.String("pid")); err != nil {
			return cfg, fmt.Errorf("--pid: %w", err)
		}
		cfg.SettleTimeout, cfg.SettleWindow, cfg.Hold = c.Duration("settle-timeout"), c.Duration("settle-window"), c.Duration("hold")
	case bench.ScenarioRelay, bench.ScenarioFanout:
		cfg.Rate, cfg.Duration, cfg.Warmup, cfg.Drain = c.Float64("rate"), c.Duration("duration"), c.Duration("warmup"), c.Duration("drain")
		if cfg.Warmup == 0 {
			cfg.Warmup = -1 // none; the Config's zero means the default
		}
		if cfg.Rate <= 0 {
			return cfg, fmt.Errorf("--rate must be positive")
		}
	}
	if sc == bench.ScenarioRelay {
		cfg.Saturate, cfg.StepDuration, cfg.MaxP99 = c.Bool("saturate"), c.Duration("step-duration"), c.Duration("max-p99")
		cfg.MaxSteps, cfg.PayloadBytes = c.Int("max-steps"), c.Int("payload")
	}
	return cfg, nil
}
