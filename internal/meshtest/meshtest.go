// Package meshtest runs a whole mesh in one test process: an embedded
// JetStream server, any number of gateways and room-service replicas, each
// with its own NATS connection as separate processes would have. Components
// can be stopped cleanly or "crashed" (their NATS connection cut first, so
// they can neither say goodbye nor release their lease).
package meshtest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/rtcmesh/rtcmesh/gateway"
	"github.com/rtcmesh/rtcmesh/internal/natstest"
	"github.com/rtcmesh/rtcmesh/internal/retry"
	"github.com/rtcmesh/rtcmesh/presence"
	"github.com/rtcmesh/rtcmesh/roomsvc"
)

// Options sizes and tunes the mesh. Zero values are test-friendly defaults.
type Options struct {
	Gateways     int           // default 2
	RoomServices int           // default 2
	RoomCap      int           // default 50
	LeaseTTL     time.Duration // default 2s (short, so crash tests are quick)
	PinnedTTL    time.Duration // default 1s
	Sweep        time.Duration // default 30s
	Grace        time.Duration // room-service departure grace (default: roomsvc's, 5s; negative: none)
	// Gateway, when set, adjusts each gateway's config before it starts.
	Gateway func(*gateway.Config)
	// Verbose logs to stderr instead of discarding.
	Verbose bool
	// Cluster runs a three-node NATS cluster with every stream and bucket
	// replicated three times, instead of a single server.
	Cluster bool
}

// Mesh is a running mesh.
type Mesh struct {
	T    testing.TB
	NATS *natstest.Server // the first node in a cluster
	// Nodes are the cluster's servers (just NATS without Cluster).
	Nodes    []*natstest.Server
	urls     string
	replicas int
	Gateways []*Gateway
	Rooms    []*RoomService
	opts     Options
	log      *slog.Logger
}

// Gateway is one running gateway.
type Gateway struct {
	URL string
	GW  *gateway.Gateway
	NC  *nats.Conn
	component
}

// RoomService is one running room-service replica.
type RoomService struct {
	Svc *roomsvc.Service
	NC  *nats.Conn
	component
}

type component struct {
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	nc     *nats.Conn
}

// Stop shuts the component down cleanly and waits.
func (c *component) Stop() {
	c.once.Do(func() {
		c.cancel()
		<-c.done
		c.nc.Close()
	})
}

// Crash cuts the component's NATS connection, then stops it: it can
// publish nothing more, as if the process had been killed.
func (c *component) Crash() {
	c.once.Do(func() {
		c.nc.Close()
		c.cancel()
		<-c.done
	})
}

// Start runs a mesh; everything stops at test cleanup.
func Start(t testing.TB, opts Options) *Mesh {
	t.Helper()
	if opts.Gateways == 0 {
		opts.Gateways = 2
	}
	if opts.RoomServices == 0 {
		opts.RoomServices = 2
	}
	if opts.LeaseTTL == 0 {
		opts.LeaseTTL = 2 * time.Second
	}
	if opts.PinnedTTL == 0 {
		opts.PinnedTTL = time.Second
	}
	var w io.Writer = io.Discard
	if opts.Verbose {
		w = os.Stderr
	}
	m := &Mesh{T: t, opts: opts, log: slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug})), replicas: 1}
	if opts.Cluster {
		m.Nodes = natstest.Cluster(t, 3)
		m.replicas = 3
	} else {
		m.Nodes = []*natstest.Server{natstest.Run(t)}
	}
	m.NATS = m.Nodes[0]
	var urls []string
	for _, n := range m.Nodes {
		urls = append(urls, n.URL)
	}
	m.urls = strings.Join(urls, ",")
	for range opts.RoomServices {
		m.AddRoomService()
	}
	for range opts.Gateways {
		m.AddGateway()
	}
	return m
}

func (m *Mesh) connect(name string) (*nats.Conn, *presence.Store) {
	m.T.Helper()
	nc, err := nats.Connect(m.urls, nats.Name(name), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		m.T.Fatalf("meshtest: connect: %v", err)
	}
	var st *presence.Store
	// JetStream may still be electing its leaders: retry.
	err = retry.Do(m.T.Context(), retry.Policy{Initial: 200 * time.Millisecond, Attempt: 10 * time.Second, Budget: 30 * time.Second},
		func(ctx context.Context) (err error) {
			st, err = presence.Open(ctx, nc, presence.Config{Replicas: m.replicas}, m.log)
			return err
		})
	if err != nil {
		m.T.Fatalf("meshtest: presence: %v", err)
	}
	return nc, st
}

// AddRoomService starts another room-service replica.
func (m *Mesh) AddRoomService() *RoomService {
	m.T.Helper()
	nc, st := m.connect("roomsvc")
	svc, err := roomsvc.New(roomsvc.Config{
		Conn: nc, Store: st, RoomCap: m.opts.RoomCap, PinnedTTL: m.opts.PinnedTTL,
		AckWait: 2 * time.Second, CommandTimeout: 1500 * time.Millisecond,
		SweepInterval: m.opts.Sweep, Grace: m.opts.Grace, Logger: m.log,
	})
	if err != nil {
		m.T.Fatalf("meshtest: roomsvc: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &RoomService{Svc: svc, NC: nc, component: component{cancel: cancel, done: make(chan error, 1), nc: nc}}
	go func() { r.done <- svc.Run(ctx) }()
	m.Rooms = append(m.Rooms, r)
	m.T.Cleanup(r.Stop)
	return r
}

// AddGateway starts another gateway on a random loopback port.
func (m *Mesh) AddGateway() *Gateway {
	m.T.Helper()
	nc, st := m.connect("gateway")
	cfg := gateway.Config{Conn: nc, Registry: st, LeaseTTL: m.opts.LeaseTTL, Logger: m.log}
	if m.opts.Gateway != nil {
		m.opts.Gateway(&cfg)
	}
	gw, err := gateway.New(cfg)
	if err != nil {
		m.T.Fatalf("meshtest: gateway: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		m.T.Fatalf("meshtest: listen: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	g := &Gateway{URL: "http://" + ln.Addr().String(), GW: gw, NC: nc, component: component{cancel: cancel, done: make(chan error, 1), nc: nc}}
	go func() { g.done <- gw.Serve(ctx, ln) }()
	// Serve acquires the lease before it serves HTTP; wait until ready
	// and answering on the client port.
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		err := gw.Ready()
		if err == nil {
			var res *http.Response
			if res, err = http.Get(g.URL + "/healthz"); err == nil {
				res.Body.Close()
				if res.StatusCode == http.StatusOK {
					break
				}
				err = fmt.Errorf("/healthz: %s", res.Status)
			}
		}
		if time.Now().After(deadline) {
			m.T.Fatalf("meshtest: gateway not ready: %v", err)
		}
		<-tick.C
	}
	m.Gateways = append(m.Gateways, g)
	m.T.Cleanup(g.Stop)
	return g
}

// Connect opens a plain connection to the mesh's NATS, closed at cleanup.
func (m *Mesh) Connect() *nats.Conn {
	m.T.Helper()
	nc, err := nats.Connect(m.urls, nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		m.T.Fatalf("meshtest: connect: %v", err)
	}
	m.T.Cleanup(nc.Close)
	return nc
}

// Store opens a presence store on its own connection, for inspecting KV.
func (m *Mesh) Store() *presence.Store {
	m.T.Helper()
	nc, st := m.connect("inspector")
	m.T.Cleanup(nc.Close)
	return st
}
