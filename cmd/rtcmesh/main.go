// Command rtcmesh is the one rtcmesh binary: the all-in-one development
// mode, gateways, the room service, a standalone NATS server, presence and
// room tools, and the protocol-suite fixture. It is the only place where
// packages are wired together.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/rtcmesh/rtcmesh/internal/rlimit"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	bgctx, cancel := context.WithCancel(ctx)
	bg := &background{ctx: bgctx}
	app := newApp()
	setup := app.Before
	app.Before = func(c *cli.Context) error {
		if err := setup(c); err != nil {
			return err
		}
		tuneMemory(c, bg)
		return nil
	}
	err := app.RunContext(ctx, os.Args)
	cancel()
	bg.wg.Wait()
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "rtcmesh:", err)
		os.Exit(1)
	}
}

// newApp builds the command tree. main adds the memory tuning of the
// server commands, whose trimmer it owns.
func newApp() *cli.App {
	return &cli.App{
		Name:  "rtcmesh",
		Usage: "NATS-backed signaling and presence mesh for rtc.io",
		Description: "rtcmesh speaks the Socket.IO protocol to unmodified rtc.io clients and keeps rooms,\n" +
			"rosters and presence in NATS JetStream, so rooms span any number of gateways.",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "log-level", Value: "info", EnvVars: []string{"RTCMESH_LOG_LEVEL"}, Usage: "debug, info, warn or error"},
			&cli.StringFlag{Name: "log-format", Value: "text", EnvVars: []string{"RTCMESH_LOG_FORMAT"}, Usage: "text or json"},
		}, memoryFlags()...),
		Before: func(c *cli.Context) error {
			if err := setupLogging(c); err != nil {
				return err
			}
			raiseFileLimit()
			return nil
		},
		Commands: []*cli.Command{
			devCommand(),
			natsCommand(),
			gatewayCommand(),
			roomsvcCommand(),
			presenceCommand(),
			roomsCommand(),
			conformanceCommand(),
			benchCommand(),
			tokenCommand(),
		},
	}
}

// setupLogging installs the process-wide logger; it is the only call to
// slog.SetDefault in rtcmesh.
func setupLogging(c *cli.Context) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.String("log-level"))); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	switch strings.ToLower(c.String("log-format")) {
	case "text":
		h = slog.NewTextHandler(os.Stderr, opts)
	case "json":
		h = slog.NewJSONHandler(os.Stderr, opts)
	default:
		return fmt.Errorf("--log-format: want text or json, got %q", c.String("log-format"))
	}
	slog.SetDefault(slog.New(h))
	return nil
}

// raiseFileLimit lifts the file descriptor soft limit to the hard limit:
// every socket is a descriptor, for a gateway and for the load generator.
func raiseFileLimit() {
	soft, hard, err := rlimit.RaiseNoFile()
	if err != nil {
		slog.Warn("cannot raise the file descriptor limit", "soft", soft, "hard", hard, "err", err)
		return
	}
	slog.Info("file descriptor limit", "soft", soft, "hard", hard)
}
