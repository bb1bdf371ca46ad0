// Package gateway is rtcmesh's front door: an HTTP server speaking
// Engine.IO v4 and Socket.IO v5 (packages eio and sio) to unmodified
// rtc.io and socket.io-client browsers, translating their events into
// room commands on NATS and delivering per-socket NATS messages back.
//
// Each socket subscribes to sock.<sid>. The subscriptions deliver into a
// fixed set of dispatcher shards (a channel and a goroutine each, chosen
// by socket id so one socket's messages stay in order), not into a
// goroutine per subscription.
package gateway

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rtcmesh/rtcmesh/gateway/auth"
	"github.com/rtcmesh/rtcmesh/gateway/eio"
	"github.com/rtcmesh/rtcmesh/gateway/sio"
	"github.com/rtcmesh/rtcmesh/internal/httpserve"
	"github.com/rtcmesh/rtcmesh/internal/metrics"
	"github.com/rtcmesh/rtcmesh/internal/rungroup"
	"github.com/rtcmesh/rtcmesh/shared"
)

// Config configures a Gateway. Fields map to the CLI flags.
type Config struct {
	// Conn is the NATS connection. Required.
	Conn *nats.Conn
	// Registry holds socket records and the gateway lease. Required.
	Registry Registry
	// Addr is the HTTP listen address (default ":3001").
	Addr string
	// Name prefixes the generated gateway id (default "gw").
	Name string
	// Engine tunes Engine.IO: ping interval and timeout, max payload,
	// allowed origins. Handler and Scheduler are set by the gateway.
	Engine eio.Config
	// ConnectTimeout closes connections that join no namespace (45s).
	ConnectTimeout time.Duration
	// LeaseTTL is how long the gateway's sockets outlive it if it dies
	// without a trace (default 5s); the lease is refreshed 5 times per TTL.
	LeaseTTL time.Duration
	// BroadcastEvents are relayed to the rest of a room (default
	// chat-message and stopScreenShare).
	BroadcastEvents []string
	// MaxEventBytes bounds the argument of a room event (default 64 KiB).
	MaxEventBytes int
	// MaxRoomsPerSocket bounds the rooms one socket may join (default 16).
	MaxRoomsPerSocket int
	// RoomEventRate limits room events (join, check, leave, media-state,
	// broadcasts) per socket per second, with bursts of twice that.
	// Default 50; negative disables.
	RoomEventRate float64
	// RelayRate limits #rtcio:message per socket per second, with bursts
	// of twice that; zero (the default) or negative disables.
	RelayRate float64
	// CommandRetry bounds how long a room command (or socket record) is
	// retried while JetStream is unavailable, e.g. electing a leader after
	// a node died (default 8s). The socket's later events wait meanwhile.
	CommandRetry time.Duration
	// TURNSecret, TURNURLs and TURNTTL answer ask-ice (coturn REST scheme).
	TURNSecret string
	TURNURLs   []string
	TURNTTL    time.Duration
	// Auth, when set, requires a valid JWT in every CONNECT (auth.token).
	Auth *auth.Verifier
	// DisableDemo stops serving the demo page at "/".
	DisableDemo bool
	// Logger receives diagnostics (default slog.Default()).
	Logger *slog.Logger
}

// Gateway serves Socket.IO clients and bridges them to the mesh.
type Gateway struct {
	cfg Config
	log *slog.Logger
	nc  *nats.Conn
	js  jetstream.JetStream
	sio *sio.Server
	mux *http.ServeMux
	reg *metrics.Registry
	m   gatewayMetrics
	id  atomic.Pointer[string] // changes when the lease is lost
	// leaseOK is true while the gateway holds its lease.
	leaseOK atomic.Bool

	clients clientTable
	shards  []*shard
}

type gatewayMetrics struct {
	events        *metrics.CounterVec
	relay         *metrics.CounterVec
	commands      *metrics.CounterVec
	retries       *metrics.Counter
	delivered     *metrics.Counter
	duplicates    *metrics.Counter
	undeliverable *metrics.Counter
	dispatch      dispatchMetrics
	rateLimited   *metrics.Counter
	leaseLost     *metrics.Counter
}

// New validates cfg and builds a gateway. Run serves it.
func New(cfg Config) (*Gateway, error) {
	if cfg.Conn == nil {
		return nil, errors.New("gateway: config: Conn is required")
	}
	if cfg.Registry == nil {
		return nil, errors.New("gateway: config: Registry is required")
	}
	if cfg.Addr == "" {
		cfg.Addr = ":3001"
	}
	if cfg.Name == "" {
		cfg.Name = "gw"
	}
	if !shared.ValidGatewayID(cfg.Name) || len(cfg.Name) > 32 {
		return nil, fmt.Errorf("gateway: config: name %q must be 1-32 characters of [A-Za-z0-9_-]", cfg.Name)
	}
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = 5 * time.Second
	}
	if cfg.LeaseTTL < 2*time.Second {
		return nil, errors.New("gateway: config: LeaseTTL must be at least 2s")
	}
	if cfg.BroadcastEvents == nil {
		cfg.BroadcastEvents = shared.DefaultRoomBroadcastEvents
	}
	if cfg.MaxEventBytes <= 0 {
		cfg.MaxEventBytes = 64 << 10
	}
	if cfg.MaxRoomsPerSocket <= 0 {
		cfg.MaxRoomsPerSocket = 16
	}
	if cfg.RoomEventRate == 0 {
		cfg.RoomEventRate = 50
	}
	if cfg.CommandRetry <= 0 {
		cfg.CommandRetry = 8 * time.Second
	}
	if cfg.TURNTTL <= 0 {
		cfg.TURNTTL = 10 * time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	g := &Gateway{
		cfg: cfg,
		log: cfg.Logger.With(shared.KeyComponent, "gateway"),
		nc:  cfg.Conn,
		mux: http.NewServeMux(),
		reg: &metrics.Registry{},
	}
	var err error
	g.js, err = jetstream.New(cfg.Conn)
	if err != nil {
		return nil, fmt.Errorf("gateway: jetstream: %w", err)
	}
	for _, ev := range cfg.BroadcastEvents {
		if reservedEvent(ev) {
			return nil, fmt.Errorf("gateway: config: %q cannot be a broadcast event", ev)
		}
	}
	id := newGatewayID(cfg.Name)
	g.id.Store(&id)
	g.clients.init()
	g.shards = make([]*shard, dispatchShards)
	for i := range g.shards {
		g.shards[i] = &shard{g: g, ch: make(chan *nats.Msg, shardQueue)}
	}
	g.initMetrics()

	ecfg := cfg.Engine
	if ecfg.Logger == nil {
		ecfg.Logger = cfg.Logger
	}
	ecfg.Counters = g.engineCounters()
	g.watchSlowConsumers()
	srv, err := sio.New(sio.Config{Engine: ecfg, ConnectTimeout: cfg.ConnectTimeout, Logger: cfg.Logger})
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	g.sio = srv
	g.registerHandlers(srv.Of("/"))
	g.routes()
	return g, nil
}

// reservedEvent reports events a broadcast may not shadow.
func reservedEvent(ev string) bool {
	switch ev {
	case shared.EventJoinRoom, shared.EventCheckRoom, shared.EventLeaveRoom, shared.EventMediaState,
		shared.EventAskICE, shared.EventRTCMessage, shared.EventInitOffer, shared.EventPeerLeft, "":
		return true
	}
	return strings.HasPrefix(ev, "#rtcio:")
}

// ID returns the gateway's current id.
func (g *Gateway) ID() string { return *g.id.Load() }

// Handler returns the gateway's HTTP handler.
func (g *Gateway) Handler() http.Handler { return g.mux }

// routes mounts the client port: Socket.IO, /healthz and the demo page.
// Metrics and readiness belong on the operations port (MetricsHandler,
// Ready), which a public load balancer does not expose.
func (g *Gateway) routes() {
	g.mux.Handle("/socket.io/", g.sio)
	g.mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"status": "ok"})
	})
	if !g.cfg.DisableDemo {
		g.mux.Handle("/", demoHandler())
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n'))
}

// Run acquires the lease, serves until ctx is done, then shuts down in
// order: stop taking connections, disconnect every socket (each leaves its
// rooms through the room service), flush the queued commands, release the
// lease.
func (g *Gateway) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", g.cfg.Addr)
	if err != nil {
		return fmt.Errorf("gateway: listen %s: %w", g.cfg.Addr, err)
	}
	return g.Serve(ctx, ln)
}

// Serve is Run on an existing listener.
func (g *Gateway) Serve(ctx context.Context, ln net.Listener) error {
	lease, rev, err := g.acquireLease(ctx, ln.Addr().String())
	if err != nil {
		_ = ln.Close()
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	g.log.Info("listening", shared.KeyAddr, ln.Addr().String(), shared.KeyGateway, g.ID())

	grp, gctx := rungroup.WithContext(ctx)
	grp.Go(func() error { return g.sio.Run(gctx) })
	grp.Go(func() error { return httpserve.Serve(gctx, ln, g.mux, 2*time.Second) })
	var shardsDone sync.WaitGroup
	shardCtx, stopShards := context.WithCancel(context.Background())
	for _, s := range g.shards {
		shardsDone.Add(1)
		go func() { defer shardsDone.Done(); s.run(shardCtx) }()
	}
	// The heartbeat outlives the group, like the shards: it stops once the
	// sockets' own departures are stored, so no room service takes a
	// clean stop for a crash.
	shardsDone.Add(1)
	go func() { defer shardsDone.Done(); g.heartbeat(shardCtx) }()
	grp.Go(func() error { return g.keepLease(gctx, lease, rev) })
	err = grp.Wait()

	// The sockets are closed (sio.Run returned after their disconnect
	// handlers stored their departures); now the lease can go.
	stopShards()
	shardsDone.Wait()
	rctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if rerr := g.cfg.Registry.ReleaseLease(rctx, g.ID()); rerr != nil {
		g.log.Warn("gateway: release lease", shared.KeyErr, rerr)
	}
	g.leaseOK.Store(false)
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// newGatewayID returns <name>-<10 random base32 characters>. Every
// process start gets a new id, so a restarted gateway never inherits the
// lease (and the sockets) of its previous life.
func newGatewayID(name string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return name + "-" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
}

// clientTable maps socket ids to clients, sharded to keep lock hold times
// short under many concurrent connects.
type clientTable struct {
	shards [32]struct {
		mu sync.RWMutex
		m  map[string]*client
	}
}

func (t *clientTable) init() {
	for i := range t.shards {
		t.shards[i].m = make(map[string]*client)
	}
}

func (t *clientTable) shard(sid string) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(sid))
	return int(h.Sum32() % uint32(len(t.shards)))
}

func (t *clientTable) get(sid string) *client {
	s := &t.shards[t.shard(sid)]
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.m[sid]
}

func (t *clientTable) put(c *client) {
	s := &t.shards[t.shard(c.sid)]
	s.mu.Lock()
	s.m[c.sid] = c
	s.mu.Unlock()
}

func (t *clientTable) remove(sid string) {
	s := &t.shards[t.shard(sid)]
	s.mu.Lock()
	delete(s.m, sid)
	s.mu.Unlock()
}

func (t *clientTable) len() int {
	n := 0
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}

func (t *clientTable) all() []*client {
	var out []*client
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.RLock()
		for _, c := range s.m {
			out = append(out, c)
		}
		s.mu.RUnlock()
	}
	return out
}

func (g *Gateway) initMetrics() {
	r := g.reg
	g.m.events = r.CounterVec("rtcmesh_gateway_events_total", "Client events received, by event.", "event")
	g.m.relay = r.CounterVec("rtcmesh_gateway_relay_total", "#rtcio:message relays, by result.", "result")
	g.m.commands = r.CounterVec("rtcmesh_gateway_commands_total", "Room commands, by result (stored, failed).", "result")
	g.m.retries = r.Counter("rtcmesh_gateway_jetstream_retries_total", "JetStream writes retried while the stream or bucket was unavailable.")
	g.m.delivered = r.Counter("rtcmesh_gateway_delivered_total", "NATS messages written to sockets.")
	g.m.duplicates = r.Counter("rtcmesh_gateway_duplicates_total", "Room-service outputs dropped as repeats after a takeover.")
	g.m.undeliverable = r.Counter("rtcmesh_gateway_undeliverable_total", "NATS messages for sockets that are gone or too slow.")
	g.m.rateLimited = r.Counter("rtcmesh_gateway_rate_limited_total", "Client events dropped by the per-socket rate limits.")
	g.initDispatchMetrics()
	g.m.leaseLost = r.Counter("rtcmesh_gateway_lease_lost_total", "Times the gateway lost its lease and dropped its sockets.")
	r.GaugeFunc("rtcmesh_gateway_sockets", "Connected rtc.io sockets.", func() float64 { return float64(g.clients.len()) })
	r.GaugeFunc("rtcmesh_gateway_sessions", "Engine.IO sessions.", func() float64 { return float64(g.sio.Engine().Len()) })
	r.GaugeFunc("rtcmesh_gateway_lease_held", "1 while the gateway holds its lease.", func() float64 {
		if g.leaseOK.Load() {
			return 1
		}
		return 0
	})
}
