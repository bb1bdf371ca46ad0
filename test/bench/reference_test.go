package bench

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rtcmesh/rtcmesh/internal/siotest"
)

// referenceDir returns the absolute path of bench/reference, the Node
// reference server that `make bench` compares rtcmesh against.
func referenceDir(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("reference: cannot locate source file")
	}
	return filepath.Join(filepath.Dir(file), "..", "..", "bench", "reference")
}

// lockedBuffer collects a process's stderr while it runs.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("reference: free port: %v", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

// startReference starts `node server.mjs` on a free port of 127.0.0.1 and
// returns its base URL once it printed its "listening" line. It retries
// with another port when the chosen one was taken meanwhile. The process
// gets SIGTERM at cleanup and must exit 0.
func startReference(t testing.TB) string {
	t.Helper()
	dir := referenceDir(t)
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatalf("reference: node is not installed (Node 20 is required): %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "socket.io", "package.json")); err != nil {
		t.Fatalf("reference: socket.io is not installed in %s; run `make test` (which installs it) or `npm ci` there: %v", dir, err)
	}
	for attempt := 1; ; attempt++ {
		url, inUse := tryStartReference(t, dir, freePort(t))
		if !inUse {
			return url
		}
		if attempt == 5 {
			t.Fatalf("reference: every port tried was in use")
		}
	}
}

func tryStartReference(t testing.TB, dir string, port int) (url string, inUse bool) {
	t.Helper()
	cmd := exec.Command("node", "server.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), fmt.Sprintf("PORT=%d", port), "HOST=127.0.0.1")
	stderr := &lockedBuffer{}
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("reference: %v", err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("reference: start node: %v", err)
	}
	lines := make(chan string, 16)
	done := make(chan struct{})
	var waitErr error
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		waitErr = cmd.Wait()
		close(done)
	}()

	deadline := time.After(10 * time.Second)
	select {
	case line, ok := <-lines:
		if !ok {
			<-done
			if strings.Contains(stderr.String(), "EADDRINUSE") {
				return "", true
			}
			t.Fatalf("reference: node exited before listening: %v\nstderr:\n%s", waitErr, stderr.String())
		}
		if want := fmt.Sprintf("listening %d", port); line != want {
			_ = cmd.Process.Kill()
			<-done
			t.Fatalf("reference: first stdout line %q, want %q", line, want)
		}
	case <-deadline:
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("reference: no listening line within 10s\nstderr:\n%s", stderr.String())
	}
	// The orchestrator expects exactly one line on stdout.
	var extra []string
	drained := make(chan struct{})
	go func() {
		for line := range lines {
			extra = append(extra, line)
		}
		close(drained)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
			<-drained
			if waitErr != nil {
				t.Errorf("reference: exit after SIGTERM: %v\nstderr:\n%s", waitErr, stderr.String())
			}
			if len(extra) > 0 {
				t.Errorf("reference: more stdout after the listening line: %q", extra)
			}
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
			t.Errorf("reference: still running 5s after SIGTERM")
		}
	})
	return fmt.Sprintf("http://127.0.0.1:%d", port), false
}

func refDial(t *testing.T, url string) *siotest.Client {
	t.Helper()
	c, err := siotest.Dial(url, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	t.Cleanup(c.Close)
	return c
}

func refEmit(t *testing.T, c *siotest.Client, event string, arg any) {
	t.Helper()
	if err := c.Emit(event, arg); err != nil {
		t.Fatalf("emit %s: %v", event, err)
	}
}

// refNext returns the first pending event among names, so a test can check
// the order in which they arrived.
func refNext(t *testing.T, c *siotest.Client, names ...string) siotest.Event {
	t.Helper()
	e, err := c.WaitFunc(5*time.Second, func(e siotest.Event) bool {
		for _, n := range names {
			if e.Name == n {
				return true
			}
		}
		return false
	})
	if err != nil {
		t.Fatalf("waiting for one of %v: %v", names, err)
	}
	return e
}

// refExpect takes the next event among names and checks it is want with
// a single object argument whose fields include fields.
func refExpect(t *testing.T, c *siotest.Client, want string, fields map[string]any, names ...string) {
	t.Helper()
	e := refNext(t, c, append(names, want)...)
	if e.Name != want {
		t.Fatalf("got %s %s, want %s first", e.Name, joinArgs(e), want)
	}
	if len(e.Args) != 1 {
		t.Fatalf("%s has %d arguments, want 1: %s", want, len(e.Args), joinArgs(e))
	}
	var got map[string]any
	if err := e.Arg(0, &got); err != nil {
		t.Fatalf("%s: %v", want, err)
	}
	for k, v := range fields {
		if got[k] != v {
			t.Fatalf("%s: %s = %v, want %v (payload %s)", want, k, got[k], v, e.Args[0])
		}
	}
}

func joinArgs(e siotest.Event) string {
	var parts []string
	for _, a := range e.Args {
		parts = append(parts, string(a))
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// TestReferenceServer is a smoke test of bench/reference/server.mjs: the
// rtc.io events and their order, as the benchmarks rely on them.
func TestReferenceServer(t *testing.T) {
	url := startReference(t)

	resp, err := http.Get(url + "/nope")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("GET /nope: %d, want 404", resp.StatusCode)
	}

	a := refDial(t, url)
	b := refDial(t, url)
	c := refDial(t, url)

	refEmit(t, a, "join-room", map[string]any{"name": "alice", "roomId": "r", "password": " s3cret "})
	refExpect(t, a, "join-ok", map[string]any{"roomId": "r"}, "join-error")

	refEmit(t, b, "join-room", map[string]any{"name": "bob", "roomId": "r", "password": "s3cret"})
	refExpect(t, b, "user-connected", map[string]any{"id": a.ID(), "name": "alice"}, "join-ok", "join-error")
	refExpect(t, b, "join-ok", map[string]any{"roomId": "r"}, "join-error")

	refExpect(t, a, "user-connected", map[string]any{"id": b.ID(), "name": "bob"}, "#rtcio:init-offer")
	refExpect(t, a, "#rtcio:init-offer", map[string]any{"source": b.ID()})

	// Relayed verbatim: data in the canonical form of JSON.stringify comes
	// back byte for byte.
	data := `{"type":"offer","sdp":"v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n","n":[1,2.5,-3e+21,null,true],"u":"é✓ \"q\""}`
	if err := a.EmitRaw(fmt.Sprintf(`["#rtcio:message",{"source":%q,"target":%q,"data":%s}]`, a.ID(), b.ID(), data)); err != nil {
		t.Fatal(err)
	}
	e, err := b.Wait("#rtcio:message", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var msg struct {
		Source, Target string
		Data           json.RawMessage
	}
	if err := e.Arg(0, &msg); err != nil || len(e.Args) != 1 {
		t.Fatalf("#rtcio:message %s: %v", joinArgs(e), err)
	}
	if msg.Source != a.ID() || msg.Target != b.ID() || string(msg.Data) != data {
		t.Fatalf("#rtcio:message relayed as %s", e.Args[0])
	}

	for _, tc := range []struct {
		password any
		event    string
		fields   map[string]any
	}{
		{"wrong", "join-error", map[string]any{"reason": "wrong-password", "roomId": "r"}},
		{nil, "join-error", map[string]any{"reason": "password-required", "roomId": "r"}},
		{"s3cret ", "room-check-ok", map[string]any{"roomId": "r", "passwordRequired": true}},
	} {
		req := map[string]any{"roomId": "r"}
		if tc.password != nil {
			req["password"] = tc.password
		}
		refEmit(t, c, "check-room", req)
		refExpect(t, c, tc.event, tc.fields, "join-error", "room-check-ok")
	}

	b.Close()
	refExpect(t, a, "#rtcio:peer-left", map[string]any{"id": b.ID()}, "user-disconnected")
	refExpect(t, a, "user-disconnected", map[string]any{"id": b.ID()})
}
