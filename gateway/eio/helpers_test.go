package eio_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/rtcmesh/rtcmesh/gateway/eio"
	"github.com/rtcmesh/rtcmesh/internal/eiotest"
	"github.com/rtcmesh/rtcmesh/internal/sched"
	"github.com/rtcmesh/rtcmesh/internal/testutil"
)

// The official suites' timing.
const (
	pingInterval = 300 * time.Millisecond
	pingTimeout  = 200 * time.Millisecond
)

// recorder is an echo handler that remembers sessions and close reasons.
type recorder struct {
	mu       sync.Mutex
	sessions map[string]*eio.Session
	closed   map[string]string
	noEcho   bool
	last     string
}

func (r *recorder) OnOpen(s *eio.Session) eio.SessionHandler {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sessions[s.ID()] = s
	r.last = s.ID()
	return &recSession{r: r, s: s}
}

// lastSID returns the id of the newest session.
func (r *recorder) lastSID(t *testing.T) string {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.last == "" {
		t.Fatal("no session opened")
	}
	return r.last
}

func (r *recorder) session(sid string) *eio.Session {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sessions[sid]
}

// closeReason returns the reason sid closed with, or "" while it is open.
func (r *recorder) closeReason(sid string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.closed[sid]
}

type recSession struct {
	r *recorder
	s *eio.Session
}

func (rs *recSession) OnMessage(p eio.Packet) {
	if !rs.r.noEcho {
		_ = rs.s.Send(p)
	}
}

func (rs *recSession) OnClose(reason string) {
	rs.r.mu.Lock()
	defer rs.r.mu.Unlock()
	if _, dup := rs.r.closed[rs.s.ID()]; dup {
		panic("OnClose called twice for " + rs.s.ID())
	}
	rs.r.closed[rs.s.ID()] = reason
}

type env struct {
	c   *eiotest.Client
	rec *recorder
	srv *eio.Server
	url string
}

// start runs an echo server with the suites' timing. With stoppedClock the
// shared scheduler never runs, so only request-time checks can act on
// deadlines.
func start(t *testing.T, cfg eio.Config, stoppedClock bool) *env {
	t.Helper()
	rec := &recorder{sessions: map[string]*eio.Session{}, closed: map[string]string{}}
	if cfg.PingInterval == 0 {
		cfg.PingInterval = pingInterval
	}
	if cfg.PingTimeout == 0 {
		cfg.PingTimeout = pingTimeout
	}
	cfg.Handler = rec
	sc := sched.New()
	cfg.Scheduler = sc
	srv, err := eio.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/engine.io/", srv)
	hs := httptest.NewServer(mux)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	if !stoppedClock {
		wg.Add(1)
		go func() { defer wg.Done(); _ = sc.Run(ctx) }()
	}
	wg.Add(1)
	go func() { defer wg.Done(); _ = srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		hs.Close()
	})
	return &env{c: eiotest.New(t, hs.URL+"/engine.io/"), rec: rec, srv: srv, url: hs.URL}
}

// eventually polls cond until it holds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	testutil.Eventually(t, timeout, what, cond)
}

// upgrade performs the probe on an open polling session and returns the
// upgraded WebSocket.
func upgrade(t *testing.T, e *env, sid string) *eiotest.WS {
	t.Helper()
	ws := probe(t, e, sid)
	ws.Send("5")
	return ws
}

// probe opens the upgrade WebSocket for sid and completes the probe
// ("2probe" answered with "3probe"), stopping before "5".
func probe(t *testing.T, e *env, sid string) *eiotest.WS {
	t.Helper()
	ws := e.c.MustDial("EIO=4&transport=websocket&sid=" + sid)
	ws.Send("2probe")
	if f := ws.Read(2 * time.Second); f.Data != "3probe" {
		t.Fatalf("probe answer = %q, want 3probe", f.Data)
	}
	return ws
}
