// Package ops serves a process's operations endpoints on a listener of
// their own, apart from the port clients use: /metrics (Prometheus),
// /healthz (the process is serving), /readyz (it can do its work) and,
// only when asked for, the net/http/pprof handlers under /debug/pprof/.
//
// Keeping them off the client port means a public load balancer never
// exposes metrics or profiles, and they can be bound to a private
// interface.
package ops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/rtcmesh/rtcmesh/internal/httpserve"
	"github.com/rtcmesh/rtcmesh/shared"
)

// Config configures an operations server.
type Config struct {
	// Addr is the listen address (host:port). Required.
	Addr string
	// Name names the component in the "listening" log line (default "ops").
	Name string
	// Metrics serves /metrics. Required.
	Metrics http.Handler
	// Ready reports whether the process can do its work; /readyz answers
	// 503 with its error, 200 when it returns nil. Nil means always ready.
	Ready func() error
	// Pprof mounts net/http/pprof under /debug/pprof/.
	Pprof bool
	// Logger receives lifecycle logs (default slog.Default()).
	Logger *slog.Logger
}

// Server is an operations server.
type Server struct {
	cfg Config
	log *slog.Logger
	mux *http.ServeMux
}

// New validates cfg and builds the server. Run serves it.
func New(cfg Config) (*Server, error) {
	if cfg.Addr == "" {
		return nil, errors.New("ops: config: Addr is required")
	}
	if cfg.Metrics == nil {
		return nil, errors.New("ops: config: Metrics is required")
	}
	if cfg.Name == "" {
		cfg.Name = "ops"
	}
	if cfg.Ready == nil {
		cfg.Ready = func() error { return nil }
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{cfg: cfg, log: cfg.Logger.With(shared.KeyComponent, cfg.Name), mux: http.NewServeMux()}
	s.routes()
	return s, nil
}

// Handler returns the server's HTTP handler.
func (s *Server) Handler() http.Handler { return s.mux }

func (s *Server) routes() {
	s.mux.Handle("GET /metrics", s.cfg.Metrics)
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	s.mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if err := s.cfg.Ready(); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	if s.cfg.Pprof {
		s.mux.HandleFunc("/debug/pprof/", pprof.Index)
		s.mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		s.mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		s.mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		s.mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	s.mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "not found"})
	})
}

// Run listens on Addr and serves until ctx is done.
func (s *Server) Run(ctx context.Context) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("ops: listen %s: %w", s.cfg.Addr, err)
	}
	return s.Serve(ctx, ln)
}

// Serve is Run on an existing listener, which it closes.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	s.log.Info("listening", shared.KeyAddr, ln.Addr().String(), "pprof", s.cfg.Pprof)
	// A profile or trace may run for its "seconds" parameter; shutdown
	// does not wait for it beyond the grace period.
	if err := httpserve.Serve(ctx, ln, s.mux, time.Second); err != nil {
		return fmt.Errorf("ops: %w", err)
	}
	return nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n'))
}
