package eio

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/rtcmesh/rtcmesh/internal/sched"
)

// Handler receives new sessions. OnOpen runs before the session's open
// packet is written and returns the handler for that session's packets.
type Handler interface {
	OnOpen(s *Session) SessionHandler
}

// SessionHandler receives one session's packets. Calls are serialised:
// OnMessage is never called concurrently with itself or after OnClose, and
// OnClose is called exactly once, after the last OnMessage has returned.
//
// OnMessage runs on the reader goroutine (WebSocket) or inside the POST
// request (polling), so it must be quick: the POST is answered only after
// every packet in it was handled, which is what keeps request/response
// ordering exact for polling clients.
type SessionHandler interface {
	OnMessage(p Packet)
	OnClose(reason string)
}

// Config configures a Server. Zero values take the Socket.IO defaults.
type Config struct {
	// Handler receives sessions. Required.
	Handler Handler
	// PingInterval is the heartbeat period (default 25s).
	PingInterval time.Duration
	// PingTimeout is how long a pong may take (default 20s).
	PingTimeout time.Duration
	// UpgradeTimeout bounds the polling-to-WebSocket upgrade (default 10s).
	UpgradeTimeout time.Duration
	// MaxPayload is the largest POST body or WebSocket frame (default 1e6).
	MaxPayload int64
	// WriteTimeout bounds one WebSocket write or poll response (default 10s).
	WriteTimeout time.Duration
	// MaxQueuedBytes is a session's outbound byte budget: what is queued
	// and not yet handed to the transport, each packet costing its length
	// plus PacketOverhead. A session that would exceed it is closed with
	// ReasonSlowClient: a signaling client that cannot keep up is better
	// reconnected than silently starved. Default 2 MiB or twice MaxPayload,
	// whichever is larger: a 50-member room's call setup (49 offers of
	// about 5 KB plus their ICE bursts, about 0.6 MiB) fits with room to
	// spare, and so does one message of the largest size.
	MaxQueuedBytes int
	// MaxConnections caps the server's live sessions; a handshake beyond
	// it gets HTTP 503. Zero means unlimited.
	MaxConnections int
	// MaxConnectionsPerIP caps live sessions per client address (IPv6 per
	// /64); a handshake beyond it gets HTTP 429. Zero means unlimited.
	MaxConnectionsPerIP int
	// TrustedProxies are the peers whose X-Forwarded-For is believed
	// (see ParseTrustedProxies). Empty: the TCP peer is the client.
	TrustedProxies []netip.Prefix
	// Counters receive counts by reason (optional).
	Counters Counters
	// AllowedOrigins restricts the Origin header of polling requests (CORS)
	// and WebSocket upgrades alike. Empty or containing "*" allows any origin.
	// Requests without an Origin header are always allowed.
	AllowedOrigins []string
	// AllowRequest, when set, may refuse a handshake (HTTP 403, code 4).
	AllowRequest func(r *http.Request) error
	// DisablePolling and DisableWebSocket turn a transport off.
	DisablePolling   bool
	DisableWebSocket bool
	// Scheduler runs heartbeats. When nil the server creates its own and
	// runs it in Run.
	Scheduler *sched.Scheduler
	// Logger receives diagnostics (default slog.Default()).
	Logger *slog.Logger
}

// Server is an Engine.IO v4 server. It is an http.Handler for the
// Engine.IO path.
type Server struct {
	cfg      Config
	log      *slog.Logger
	sched    *sched.Scheduler
	ownSched bool
	upgrader websocket.Upgrader

	anyOrigin bool
	origins   map[string]bool

	mu       sync.RWMutex
	sessions map[string]*Session
	stopping bool

	tasks taskGroup // OnClose callbacks, WebSocket writers and closers
	admit *admission
}

// taskGroup counts running goroutines. Unlike sync.WaitGroup it allows new
// tasks to start while Wait is in progress (sessions may still be closing
// from their own goroutines during shutdown).
type taskGroup struct {
	mu   sync.Mutex
	n    int
	zero *sync.Cond
}

func (g *taskGroup) add() {
	g.mu.Lock()
	g.n++
	g.mu.Unlock()
}

func (g *taskGroup) done() {
	g.mu.Lock()
	g.n--
	if g.n == 0 && g.zero != nil {
		g.zero.Broadcast()
	}
	g.mu.Unlock()
}

func (g *taskGroup) wait() {
	g.mu.Lock()
	if g.zero == nil {
		g.zero = sync.NewCond(&g.mu)
	}
	for g.n > 0 {
		g.zero.Wait()
	}
	g.mu.Unlock()
}

// New validates cfg and returns a server. Call Run to start heartbeats.
func New(cfg Config) (*Server, error) {
	if cfg.Handler == nil {
		return nil, errors.New("eio: config: Handler is required")
	}
	if cfg.DisablePolling && cfg.DisableWebSocket {
		return nil, errors.New("eio: config: both transports disabled")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.PingInterval, 25*time.Second)
	def(&cfg.PingTimeout, 20*time.Second)
	def(&cfg.UpgradeTimeout, 10*time.Second)
	def(&cfg.WriteTimeout, 10*time.Second)
	if cfg.MaxPayload <= 0 {
		cfg.MaxPayload = 1e6
	}
	if cfg.MaxQueuedBytes <= 0 {
		cfg.MaxQueuedBytes = max(2<<20, 2*int(cfg.MaxPayload))
	}
	if cfg.MaxConnections < 0 || cfg.MaxConnectionsPerIP < 0 {
		return nil, errors.New("eio: config: connection caps must not be negative")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{
		cfg:      cfg,
		log:      cfg.Logger,
		sched:    cfg.Scheduler,
		sessions: make(map[string]*Session),
		origins:  make(map[string]bool),
		admit:    newAdmission(cfg.MaxConnections, cfg.MaxConnectionsPerIP, cfg.TrustedProxies),
	}
	if s.sched == nil {
		s.sched = sched.New()
		s.ownSched = true
	}
	s.anyOrigin = len(cfg.AllowedOrigins) == 0
	for _, o := range cfg.AllowedOrigins {
		if o == "*" {
			s.anyOrigin = true
		}
		s.origins[o] = true
	}
	s.upgrader = websocket.Upgrader{
		HandshakeTimeout: cfg.WriteTimeout,
		// The Origin was already checked against the same policy as polling
		// CORS before the upgrade (gorilla's default would refuse every
		// cross-origin upgrade, which the reference does not).
		CheckOrigin:     func(*http.Request) bool { return true },
		WriteBufferPool: writeBufferPool,
		// A small read buffer per connection: idle connections hold it for
		// their lifetime, and frames larger than it are read straight into
		// the message.
		ReadBufferSize: 1024,
	}
	return s, nil
}

// writeBufferPool lends WebSocket write buffers only while a frame is being
// written, so idle connections hold none.
var writeBufferPool = &sync.Pool{}

// Run runs the heartbeat scheduler (when the server owns it) until ctx is
// done, then closes every session and waits for their callbacks.
func (s *Server) Run(ctx context.Context) error {
	if s.ownSched {
		if err := s.sched.Run(ctx); err != nil {
			return fmt.Errorf("eio: scheduler: %w", err)
		}
	} else {
		<-ctx.Done()
	}
	s.mu.Lock()
	s.stopping = true
	all := make([]*Session, 0, len(s.sessions))
	for _, sess := range s.sessions {
		all = append(all, sess)
	}
	s.mu.Unlock()
	for _, sess := range all {
		sess.terminate(ReasonServerShutdown, false)
	}
	s.tasks.wait()
	return nil
}

// Len reports the number of live sessions.
func (s *Server) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.sessions)
}

// PendingPolls reports how many long-polling GETs are waiting for data.
func (s *Server) PendingPolls() int {
	s.mu.RLock()
	all := make([]*Session, 0, len(s.sessions))
	for _, sess := range s.sessions {
		all = append(all, sess)
	}
	s.mu.RUnlock()
	n := 0
	for _, sess := range all {
		sess.mu.Lock()
		if sess.poll != nil {
			n++
		}
		sess.mu.Unlock()
	}
	return n
}

// ServeHTTP implements the Engine.IO endpoint. The checks follow the
// reference order: CORS, transport, Origin, sid, method, then EIO.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.cors(w, r) {
		return
	}
	q := r.URL.Query()
	transport := q.Get("transport")
	if !s.transportEnabled(transport) {
		errUnknownTransport.write(w)
		return
	}
	if !validHeaderValue(r.Header.Get("Origin")) {
		errBadRequest.write(w)
		return
	}
	isWS := websocket.IsWebSocketUpgrade(r)
	if sid := q.Get("sid"); sid != "" {
		sess := s.lookup(sid)
		if sess == nil {
			errUnknownSID.write(w)
			return
		}
		switch {
		case isWS && transport == "websocket":
			s.serveProbe(w, r, sess)
		case isWS || transport != "polling":
			errBadRequest.write(w) // transport mismatch without an upgrade
		case r.Method == http.MethodGet:
			sess.servePoll(w, r)
		case r.Method == http.MethodPost:
			sess.servePost(w, r)
		default:
			errBadRequest.write(w)
		}
		return
	}
	if r.Method != http.MethodGet {
		errBadHandshake.write(w)
		return
	}
	if transport == "websocket" && !isWS || transport == "polling" && isWS {
		errBadRequest.write(w)
		return
	}
	if q.Get("EIO") != "4" {
		errUnsupported.write(w)
		return
	}
	if s.cfg.AllowRequest != nil {
		if err := s.cfg.AllowRequest(r); err != nil {
			errForbidden.write(w)
			return
		}
	}
	ip := s.admit.clientAddr(r.RemoteAddr, r.Header.Values("X-Forwarded-For"))
	if reason, refusal := s.admit.admit(ip); refusal != nil {
		s.cfg.Counters.refused(reason)
		w.Header().Set("Retry-After", "5")
		refusal.write(w)
		return
	}
	remote := r.RemoteAddr
	if ip.IsValid() && ip != parseHostAddr(remote) {
		remote = ip.String() // the client behind a trusted proxy
	}
	info := &RequestInfo{
		Query:      q,
		Header:     r.Header,
		RemoteAddr: remote,
		Host:       r.Host,
		Secure:     r.TLS != nil,
		Time:       time.Now(),
		addr:       ip,
	}
	if isWS {
		s.serveWebSocket(w, r, info)
		return
	}
	s.servePollingHandshake(w, r, info)
}

func (s *Server) transportEnabled(t string) bool {
	switch t {
	case "polling":
		return !s.cfg.DisablePolling
	case "websocket":
		return !s.cfg.DisableWebSocket
	}
	return false
}

// cors applies the origin policy. It reports false when it has answered the
// request itself (a preflight or a refused origin).
func (s *Server) cors(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		if r.Method == http.MethodOptions {
			w.WriteHeader(http.StatusNoContent)
			return false
		}
		return true
	}
	h := w.Header()
	switch {
	case s.anyOrigin:
		h.Set("Access-Control-Allow-Origin", "*")
	case s.origins[origin]:
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Allow-Credentials", "true")
		h.Add("Vary", "Origin")
	default:
		errForbidden.write(w)
		return false
	}
	if r.Method == http.MethodOptions {
		h.Set("Access-Control-Allow-Methods", "GET,HEAD,PUT,PATCH,POST,DELETE")
		if req := r.Header.Get("Access-Control-Request-Headers"); req != "" {
			h.Set("Access-Control-Allow-Headers", req)
			h.Add("Vary", "Access-Control-Request-Headers")
		}
		h.Set("Content-Length", "0")
		w.WriteHeader(http.StatusNoContent)
		return false
	}
	return true
}

// validHeaderValue mirrors the reference's invalid-header-character check.
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c != '\t' && (c < 0x20 || c == 0x7f) {
			return false
		}
	}
	return true
}

// RequestInfo describes the request that opened a session. Until the
// application calls Session.TrimRequest, Header and Query are the
// request's own; afterwards only a bounded extract (see TrimRequest).
type RequestInfo struct {
	Query url.Values
	// Header is the request's header (after TrimRequest: User-Agent and
	// Origin only, each at most 256 bytes).
	Header http.Header
	// RemoteAddr is the TCP peer, or the client address taken from
	// X-Forwarded-For when the peer is a trusted proxy.
	RemoteAddr string
	Host       string
	Secure     bool
	Time       time.Time

	addr    netip.Addr // the admission key, released when the session ends
	trimmed bool
}

func (s *Server) lookup(sid string) *Session {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.sessions[sid]
}

// open creates a session whose queue starts with the open packet, starts
// its heartbeat, hands it to the handler and publishes it in the session
// table. It returns nil while the server is shutting down.
func (s *Server) open(t transportKind, info *RequestInfo, ws *websocket.Conn) *Session {
	sess := &Session{srv: s, id: newID(), transport: t, ws: ws}
	sess.info.Store(info)
	sess.queue = append(sess.queue, s.handshake(sess.id, t == tPolling))
	sess.startHeartbeat()
	sess.h = s.cfg.Handler.OnOpen(sess)
	s.mu.Lock()
	if s.stopping {
		s.mu.Unlock()
		sess.terminate(ReasonServerShutdown, false)
		return nil
	}
	s.sessions[sess.id] = sess
	s.mu.Unlock()
	return sess
}

func (s *Server) remove(sess *Session) {
	s.mu.Lock()
	if s.sessions[sess.id] == sess {
		delete(s.sessions, sess.id)
	}
	s.mu.Unlock()
}

// handshake is the open packet for a new session.
func (s *Server) handshake(sid string, upgrades bool) Packet {
	up := "[]"
	if upgrades && !s.cfg.DisableWebSocket {
		up = `["websocket"]`
	}
	data := `{"sid":"` + sid + `","upgrades":` + up +
		`,"pingInterval":` + strconv.FormatInt(s.cfg.PingInterval.Milliseconds(), 10) +
		`,"pingTimeout":` + strconv.FormatInt(s.cfg.PingTimeout.Milliseconds(), 10) +
		`,"maxPayload":` + strconv.FormatInt(s.cfg.MaxPayload, 10) + `}`
	return Packet{Type: Open, Data: []byte(data)}
}

// spawn runs fn on a goroutine owned by the server (Run waits for it).
func (s *Server) spawn(fn func()) {
	s.tasks.add()
	go func() {
		defer s.tasks.done()
		fn()
	}()
}

// newID returns 15 random bytes as URL-safe base64 (20 characters), the
// reference's id format.
func newID() string {
	var b [15]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return base64.URLEncoding.EncodeToString(b[:])
}
