// Package sioclient_test drives the real npm socket.io-client (pinned in
// test/node) against the Go Engine.IO/Socket.IO server: the rtcmesh
// conformance binary and in-process sio.Servers configured per test.
package sioclient_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rtcmesh/rtcmesh/gateway/sio"
)

// transportModes are the client configurations every scenario runs with:
// the stock defaults (polling, then upgrade to websocket), websocket only
// and polling only.
var transportModes = []string{"default", "websocket", "polling"}

// syncBuffer is a goroutine-safe log sink, dumped when a test fails.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testLogger returns a logger whose output is shown only if t fails.
func testLogger(t *testing.T, name string) *slog.Logger {
	t.Helper()
	var buf syncBuffer
	t.Cleanup(func() {
		if out := buf.String(); t.Failed() && out != "" {
			t.Logf("--- server log (%s) ---\n%s", name, out)
		}
	})
	return slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// serve runs srv on a fresh httptest server under /socket.io/ until the
// test ends, and returns the base URL the client connects to.
func serve(t *testing.T, srv *sio.Server) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", srv)
	hs := httptest.NewServer(mux)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("sio.Server.Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("sio.Server.Run did not return within 10s of cancel")
		}
		hs.Close()
	})
	return hs.URL
}

// resultRE matches the "RESULT key=value" lines the scripts print.
var resultRE = regexp.MustCompile(`(?m)^RESULT ([\w.-]+)=(.*)$`)

// results parses a script's RESULT lines.
func results(t *testing.T, out string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, sub := range resultRE.FindAllStringSubmatch(out, -1) {
		m[sub[1]] = strings.TrimSpace(sub[2])
	}
	return m
}

// withPrefix returns the results whose key starts with prefix, with the
// prefix removed.
func withPrefix(res map[string]string, prefix string) map[string]string {
	m := map[string]string{}
	for k, v := range res {
		if rest, ok := strings.CutPrefix(k, prefix); ok {
			m[rest] = v
		}
	}
	return m
}

// mustResult returns a RESULT value, failing the test when it is missing.
func mustResult(t *testing.T, res map[string]string, key, out string) string {
	t.Helper()
	v, ok := res[key]
	if !ok || v == "" {
		t.Fatalf("script printed no RESULT %s; output:\n%s", key, out)
	}
	return v
}

// recorder keeps what the server's handlers saw, for checks from Go.
type recorder struct {
	mu          sync.Mutex
	connects    map[string]string // socket id -> namespace
	transports  map[string]string // socket id -> transport at connect
	disconnects map[string]string // socket id -> reason
	nsOf        map[string]string // socket id -> namespace, for disconnects
	dupDisc     []string          // socket ids whose disconnect ran twice
	notes       map[string][]any  // free-form per key (e.g. "upload:<sid>")
	counts      map[string]int    // free-form counters
}

func newRecorder() *recorder {
	return &recorder{
		connects:    map[string]string{},
		transports:  map[string]string{},
		disconnects: map[string]string{},
		notes:       map[string][]any{},
		counts:      map[string]int{},
		nsOf:        map[string]string{},
	}
}

func (r *recorder) onConnect(s *sio.Socket) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.connects[s.ID()] = s.Namespace()
	r.transports[s.ID()] = s.Transport()
}

func (r *recorder) onDisconnect(s *sio.Socket, reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.disconnects[s.ID()]; dup {
		r.dupDisc = append(r.dupDisc, s.ID())
	}
	r.disconnects[s.ID()] = reason
	r.nsOf[s.ID()] = s.Namespace()
}

func (r *recorder) note(key string, v any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.notes[key] = append(r.notes[key], v)
}

func (r *recorder) getNotes(key string) []any {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]any(nil), r.notes[key]...)
}

func (r *recorder) inc(key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.counts[key]++
}

func (r *recorder) count(key string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.counts[key]
}

// reason returns the disconnect reason recorded for a socket id.
func (r *recorder) reason(sid string) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	v, ok := r.disconnects[sid]
	return v, ok
}

// namespaceOf returns the namespace a socket id connected to.
func (r *recorder) namespaceOf(sid string) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	v, ok := r.connects[sid]
	return v, ok
}

func (r *recorder) transportOf(sid string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.transports[sid]
}

// connectsIn counts the sockets that joined nsp.
func (r *recorder) connectsIn(nsp string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, ns := range r.connects {
		if ns == nsp {
			n++
		}
	}
	return n
}

// disconnectsIn counts the sockets of nsp that left, and histograms their
// reasons.
func (r *recorder) disconnectsIn(nsp string) (int, map[string]int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	reasons := map[string]int{}
	for id, reason := range r.disconnects {
		if r.nsOf[id] == nsp {
			n++
			reasons[reason]++
		}
	}
	return n, reasons
}

func (r *recorder) duplicates() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	d := append([]string(nil), r.dupDisc...)
	sort.Strings(d)
	return d
}
