package sio

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/rtcmesh/rtcmesh/gateway/eio"
	"github.com/rtcmesh/rtcmesh/internal/sched"
)

// Config configures a Server.
type Config struct {
	// Engine configures the Engine.IO layer; its Handler and Scheduler are
	// set by the Server.
	Engine eio.Config
	// ConnectTimeout closes connections that join no namespace in time
	// (default 45s).
	ConnectTimeout time.Duration
	// AckTimeout bounds server-to-client acks (default 30s).
	AckTimeout time.Duration
	// MaxPendingAcks bounds server-to-client acks awaiting a reply per
	// socket (default 256); EmitWithAck fails beyond it.
	MaxPendingAcks int
	// AttachmentTimeout bounds how long a binary packet may wait for its
	// attachments (default 10s); MaxAttachmentBytes bounds their total
	// size (default Engine.MaxPayload). A breach closes the connection
	// with ReasonAttachmentTimeout or ReasonAttachmentTooLarge.
	AttachmentTimeout  time.Duration
	MaxAttachmentBytes int
	// Logger receives diagnostics (default slog.Default()).
	Logger *slog.Logger
}

// Server is a Socket.IO v5 server on top of an Engine.IO v4 server. It is
// an http.Handler for the Socket.IO path.
type Server struct {
	cfg   Config
	log   *slog.Logger
	sched *sched.Scheduler
	eng   *eio.Server

	mu         sync.RWMutex
	namespaces map[string]*Namespace
}

// New returns a server with no namespaces; add them with Of.
func New(cfg Config) (*Server, error) {
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = 45 * time.Second
	}
	if cfg.AckTimeout <= 0 {
		cfg.AckTimeout = 30 * time.Second
	}
	if cfg.MaxPendingAcks <= 0 {
		cfg.MaxPendingAcks = 256
	}
	if cfg.AttachmentTimeout <= 0 {
		cfg.AttachmentTimeout = 10 * time.Second
	}
	if cfg.MaxAttachmentBytes <= 0 {
		cfg.MaxAttachmentBytes = int(cfg.Engine.MaxPayload)
		if cfg.MaxAttachmentBytes <= 0 {
			cfg.MaxAttachmentBytes = 1e6 // eio's default MaxPayload
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{cfg: cfg, log: cfg.Logger, namespaces: make(map[string]*Namespace)}
	s.sched = cfg.Engine.Scheduler
	if s.sched == nil {
		s.sched = sched.New()
	}
	ecfg := cfg.Engine
	ecfg.Handler = s
	ecfg.Scheduler = s.sched
	if ecfg.Logger == nil {
		ecfg.Logger = cfg.Logger
	}
	eng, err := eio.New(ecfg)
	if err != nil {
		return nil, fmt.Errorf("sio: %w", err)
	}
	s.eng = eng
	return s, nil
}

// Run runs the timers and the Engine.IO layer until ctx is done, then
// closes every connection.
func (s *Server) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	if s.cfg.Engine.Scheduler == nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = s.sched.Run(ctx)
		}()
	}
	err := s.eng.Run(ctx)
	wg.Wait()
	return err
}

// ServeHTTP serves the Engine.IO endpoint.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.eng.ServeHTTP(w, r) }

// Engine returns the underlying Engine.IO server.
func (s *Server) Engine() *eio.Server { return s.eng }

// Of returns the namespace called name ("/" or "/name"), creating it.
// Namespaces must be set up before clients connect.
func (s *Server) Of(name string) *Namespace {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ns, ok := s.namespaces[name]; ok {
		return ns
	}
	ns := &Namespace{srv: s, name: name, handlers: make(map[string]EventHandler)}
	s.namespaces[name] = ns
	return ns
}

func (s *Server) namespace(name string) *Namespace {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.namespaces[name]
}

// OnOpen implements eio.Handler.
func (s *Server) OnOpen(es *eio.Session) eio.SessionHandler {
	c := &conn{srv: s, eio: es, sockets: make(map[string]*Socket, 1)}
	c.connectTimer = s.sched.AfterFunc(s.cfg.ConnectTimeout, c.onConnectTimeout)
	return c
}

// EventHandler handles one event from a client.
type EventHandler func(s *Socket, e *Event)

// Middleware inspects a connection attempt before the socket exists. A
// non-nil error refuses it with CONNECT_ERROR; return a *ConnectError to
// choose the message and data the client sees.
type Middleware func(h *Handshake) error

// ConnectError is a refusal sent to the client as CONNECT_ERROR.
type ConnectError struct {
	Message string
	Data    any
}

func (e *ConnectError) Error() string { return e.Message }

// Namespace is a Socket.IO namespace: its middlewares and handlers.
type Namespace struct {
	srv  *Server
	name string

	mu           sync.RWMutex
	middlewares  []Middleware
	onConnect    func(*Socket)
	onDisconnect func(*Socket, string)
	handlers     map[string]EventHandler
	onAny        EventHandler
}

// Name returns the namespace name.
func (ns *Namespace) Name() string { return ns.name }

// Use appends a connect middleware.
func (ns *Namespace) Use(m Middleware) {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	ns.middlewares = append(ns.middlewares, m)
}

// OnConnect sets the handler run after a socket joins, once its CONNECT
// reply is queued (so anything it emits follows the reply).
func (ns *Namespace) OnConnect(fn func(*Socket)) {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	ns.onConnect = fn
}

// OnDisconnect sets the handler run once when a socket leaves, with the
// reason ("client namespace disconnect", "transport close", ...).
func (ns *Namespace) OnDisconnect(fn func(*Socket, string)) {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	ns.onDisconnect = fn
}

// On sets the handler for an event name.
func (ns *Namespace) On(event string, h EventHandler) {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	ns.handlers[event] = h
}

// OnAny sets the handler for events that have no handler of their own.
func (ns *Namespace) OnAny(h EventHandler) {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	ns.onAny = h
}

func (ns *Namespace) handler(event string) EventHandler {
	ns.mu.RLock()
	defer ns.mu.RUnlock()
	if h, ok := ns.handlers[event]; ok {
		return h
	}
	return ns.onAny
}

// Handshake describes a connection attempt to a namespace.
type Handshake struct {
	// Namespace is the namespace being joined.
	Namespace string
	// Auth is the client's auth payload ({} when none was sent). It is
	// valid only in middlewares and the connection handler, and nil
	// afterwards: nothing a client sent is kept past its use. A
	// middleware that needs part of it later copies it into Data.
	Auth json.RawMessage
	// Query, Header, RemoteAddr, Secure and Time describe the HTTP request
	// that opened the Engine.IO session. Once the connection handler has
	// run, Header and Query hold only eio.Session.TrimRequest's bounded
	// extract.
	Query      url.Values
	Header     http.Header
	RemoteAddr string
	Secure     bool
	Time       time.Time
	// Data is free for middlewares; it becomes the socket's Data.
	Data any
}

// errorPayload builds the CONNECT_ERROR body for err.
func errorPayload(err error) []byte {
	var ce *ConnectError
	if !errors.As(err, &ce) {
		ce = &ConnectError{Message: err.Error()}
	}
	body := struct {
		Message string `json:"message"`
		Data    any    `json:"data,omitempty"`
	}{ce.Message, ce.Data}
	b, merr := marshalJSON(body)
	if merr != nil {
		b, _ = marshalJSON(struct {
			Message string `json:"message"`
		}{ce.Message})
	}
	return b
}
