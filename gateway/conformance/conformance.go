// Package conformance is the server fixture the official Engine.IO v4 and
// Socket.IO v5 protocol test suites run against: an echo Engine.IO server
// on /engine.io/ and a Socket.IO server on /socket.io/, with the suites'
// timing (pingInterval 300 ms, pingTimeout 200 ms, connectTimeout 1 s).
package conformance

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/rtcmesh/rtcmesh/gateway/eio"
	"github.com/rtcmesh/rtcmesh/gateway/sio"
	"github.com/rtcmesh/rtcmesh/internal/httpserve"
	"github.com/rtcmesh/rtcmesh/internal/sched"
)

// The suites' settings.
const (
	PingInterval   = 300 * time.Millisecond
	PingTimeout    = 200 * time.Millisecond
	ConnectTimeout = time.Second
	MaxPayload     = 1000000
)

// Config configures the fixture.
type Config struct {
	// Addr is the listen address for Run (default ":3000").
	Addr   string
	Logger *slog.Logger
}

// Fixture serves both protocol endpoints.
type Fixture struct {
	cfg   Config
	sched *sched.Scheduler
	eng   *eio.Server
	sio   *sio.Server
	mux   *http.ServeMux
}

// New builds the fixture.
func New(cfg Config) (*Fixture, error) {
	if cfg.Addr == "" {
		cfg.Addr = ":3000"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	f := &Fixture{cfg: cfg, sched: sched.New(), mux: http.NewServeMux()}
	ecfg := eio.Config{
		PingInterval: PingInterval,
		PingTimeout:  PingTimeout,
		MaxPayload:   MaxPayload,
		Scheduler:    f.sched,
		Logger:       cfg.Logger,
	}
	e := ecfg
	e.Handler = echoHandler{}
	eng, err := eio.New(e)
	if err != nil {
		return nil, fmt.Errorf("conformance: %w", err)
	}
	f.eng = eng
	srv, err := sio.New(sio.Config{Engine: ecfg, ConnectTimeout: ConnectTimeout, Logger: cfg.Logger})
	if err != nil {
		return nil, fmt.Errorf("conformance: %w", err)
	}
	f.sio = srv
	emitAuth := func(s *sio.Socket) { _ = s.Emit("auth", s.Handshake().Auth) }
	root := srv.Of("/")
	root.OnConnect(emitAuth)
	root.On("message", func(s *sio.Socket, e *sio.Event) {
		_ = s.EmitArgs("message-back", e.Args, e.Attachments)
	})
	root.On("message-with-ack", func(_ *sio.Socket, e *sio.Event) {
		_ = e.AckArgs(e.Args, e.Attachments)
	})
	srv.Of("/custom").OnConnect(emitAuth)

	f.mux.Handle("/engine.io/", eng)
	f.mux.Handle("/socket.io/", srv)
	return f, nil
}

// Handler returns the HTTP handler serving both endpoints.
func (f *Fixture) Handler() http.Handler { return f.mux }

// Run listens on the configured address and serves until ctx is done.
func (f *Fixture) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", f.cfg.Addr)
	if err != nil {
		return fmt.Errorf("conformance: listen: %w", err)
	}
	return f.Serve(ctx, ln)
}

// Serve serves on ln until ctx is done.
func (f *Fixture) Serve(ctx context.Context, ln net.Listener) error {
	f.cfg.Logger.Info("listening", "component", "conformance", "addr", ln.Addr().String())
	var wg sync.WaitGroup
	run := func(fn func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fn(ctx); err != nil {
				f.cfg.Logger.Error("conformance: component stopped", "err", err)
			}
		}()
	}
	run(f.sched.Run)
	run(f.eng.Run)
	run(f.sio.Run)
	err := httpserve.Serve(ctx, ln, f.mux, time.Second)
	wg.Wait()
	return err
}

// echoHandler answers every Engine.IO message with itself.
type echoHandler struct{}

func (echoHandler) OnOpen(s *eio.Session) eio.SessionHandler { return echoSession{s} }

type echoSession struct{ s *eio.Session }

func (e echoSession) OnMessage(p eio.Packet) { _ = e.s.Send(p) }
func (echoSession) OnClose(string)           {}
