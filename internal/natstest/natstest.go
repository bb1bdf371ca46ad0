// Package natstest starts embedded NATS servers for tests: JetStream on,
// random ports, a per-test store directory, shut down by t.Cleanup.
package natstest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/rtcmesh/rtcmesh/internal/natsserver"
)

// Server is a running test server.
type Server struct {
	*server.Server
	URL string
}

// Run starts a single JetStream server on a random loopback port.
func Run(t testing.TB) *Server {
	t.Helper()
	ns, err := natsserver.Start(context.Background(), natsserver.Config{
		Name:     "test",
		Addr:     "127.0.0.1:-1",
		StoreDir: t.TempDir(),
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatalf("natstest: %v", err)
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	return &Server{Server: ns, URL: ns.ClientURL()}
}

// Connect opens a client connection to s, closed at cleanup.
func (s *Server) Connect(t testing.TB) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(s.URL, nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		t.Fatalf("natstest: connect: %v", err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// Cluster starts n clustered JetStream servers on loopback and waits for a
// JetStream meta leader. A JetStream cluster needs every node's route
// address up front; see RoutePort.
func Cluster(t testing.TB, n int) []*Server {
	t.Helper()
	routes := make([]string, n)
	ports := make([]int, n)
	for i := range ports {
		ports[i] = RoutePort(t)
		routes[i] = fmt.Sprintf("nats-route://127.0.0.1:%d", ports[i])
	}
	servers := make([]*Server, n)
	for i := range servers {
		ns, err := natsserver.Start(context.Background(), natsserver.Config{
			Name:        fmt.Sprintf("n%d", i+1),
			Addr:        "127.0.0.1:-1",
			StoreDir:    t.TempDir(),
			ClusterAddr: fmt.Sprintf("127.0.0.1:%d", ports[i]),
			Routes:      routes,
			ClusterName: "test",
			Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		})
		if err != nil {
			t.Fatalf("natstest: node %d: %v", i+1, err)
		}
		t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
		servers[i] = &Server{Server: ns, URL: ns.ClientURL()}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, s := range servers {
		if err := natsserver.WaitJetStream(ctx, s.Server); err != nil {
			t.Fatalf("natstest: cluster: %v", err)
		}
	}
	return servers
}

// RoutePort returns a free loopback port for a cluster route listener. It
// is drawn at random below Linux's ephemeral range (32768-60999), so no
// port-0 listener of another test can take it between this check and the
// server binding it.
func RoutePort(t testing.TB) int {
	t.Helper()
	for attempt := 0; attempt < 100; attempt++ {
		port := 20000 + rand.IntN(10000)
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			l.Close()
			return port
		}
	}
	t.Fatal("natstest: no free route port")
	return 0
}
