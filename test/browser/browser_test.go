// Package browser_test runs the demo call page (gateway/demo) in Debian's
// Chromium against the real rtcmesh binary: real WebRTC between headless
// tabs with fake cameras, signaled through gateways and the room service.
// The browsers are driven by puppeteer-core scripts in test/node
// (browser_*.mjs); these tests start the servers and run the scripts.
//
// Chromium is found through $CHROMIUM or `chromium` on PATH; the tests fail
// (never skip) when it, Node or the npm packages are missing.
package browser_test

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rtcmesh/rtcmesh/internal/bintest"
	"github.com/rtcmesh/rtcmesh/internal/nodetest"
)

// startTimeout bounds how long a process may take to log its listening
// line. Generous: the machine may be a loaded 2-core box running -race.
const startTimeout = 30 * time.Second

// room is deliberately awkward: a space, a dot and a non-ASCII letter all
// need escaping on the way to NATS subjects and KV keys.
const room = "stand-up café.1"

// requireBrowser returns the Chromium path for the scripts' environment
// and checks that Node and puppeteer-core are installed.
func requireBrowser(t *testing.T) []string {
	t.Helper()
	path := os.Getenv("CHROMIUM")
	if path == "" {
		p, err := exec.LookPath("chromium")
		if err != nil {
			t.Fatalf("Chromium not found: set CHROMIUM or put `chromium` on PATH (Debian: apt-get install chromium): %v", err)
		}
		path = p
	} else if _, err := os.Stat(path); err != nil {
		t.Fatalf("CHROMIUM=%s: %v", path, err)
	}
	dir := nodetest.Require(t)
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "puppeteer-core", "package.json")); err != nil {
		t.Fatalf("puppeteer-core missing in %s; run `npm ci` there: %v", dir, err)
	}
	return []string{"CHROMIUM=" + path}
}

// script is a running browser script. Its stdout is read line by line so
// the test can react to requests ("GO <what>") and answer on stdin
// ("DONE <what>").
type script struct {
	t      *testing.T
	name   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string // stdout lines; closed at EOF
	cancel context.CancelFunc

	mu     sync.Mutex
	stdout strings.Builder
	stderr strings.Builder
}

// startScript runs `node name args...` in test/node. The script enforces
// its own, shorter deadline so that it can close Chromium; timeout is only
// the backstop.
func startScript(t *testing.T, env []string, timeout time.Duration, name string, args ...string) *script {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	s := &script{t: t, name: name, lines: make(chan string, 1024), cancel: cancel}
	s.cmd = exec.CommandContext(ctx, "node", append([]string{name}, args...)...)
	s.cmd.Dir = nodetest.Dir(t)
	// SIGTERM first: puppeteer then kills Chromium before node exits, so a
	// failed or timed-out run leaves no orphaned browser behind.
	s.cmd.Cancel = func() error { return s.cmd.Process.Signal(syscall.SIGTERM) }
	s.cmd.WaitDelay = 10 * time.Second
	s.cmd.Env = append(os.Environ(), env...)
	s.cmd.Stderr = writerFunc(func(p []byte) {
		s.mu.Lock()
		s.stderr.Write(p)
		s.mu.Unlock()
	})
	var err error
	if s.stdin, err = s.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start node %s: %v", name, err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		for sc.Scan() {
			s.mu.Lock()
			s.stdout.WriteString(sc.Text() + "\n")
			s.mu.Unlock()
			select {
			case s.lines <- sc.Text():
			default: // nobody is waiting for that many lines; the transcript has them
			}
		}
		close(s.lines)
	}()
	t.Cleanup(func() {
		cancel()
		_ = s.cmd.Wait()
	})
	return s
}

type writerFunc func([]byte)

func (f writerFunc) Write(p []byte) (int, error) { f(p); return len(p), nil }

// transcript returns what the script printed so far.
func (s *script) transcript() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return "--- stdout ---\n" + s.stdout.String() + "--- stderr ---\n" + s.stderr.String()
}

// serve handles the script's requests with handlers (keyed by what follows
// "GO "), then waits for it to exit and fails the test unless it passed.
func (s *script) serve(handlers map[string]func()) {
	s.t.Helper()
	for line := range s.lines {
		_, req, ok := strings.Cut(line, "] GO ")
		if !ok {
			continue
		}
		h := handlers[req]
		if h == nil {
			s.t.Fatalf("%s asked for unknown step %q\n%s", s.name, req, s.transcript())
		}
		h()
		if _, err := io.WriteString(s.stdin, "DONE "+req+"\n"); err != nil {
			s.t.Fatalf("answer %s: %v\n%s", s.name, err, s.transcript())
		}
	}
	err := s.cmd.Wait()
	s.cancel()
	if err != nil {
		s.t.Fatalf("%s failed: %v\n%s", s.name, err, s.transcript())
	}
	s.t.Logf("%s:\n%s", s.name, s.transcript())
	if !strings.Contains(s.transcript(), "PASS: ") {
		s.t.Fatalf("%s exited cleanly without reporting PASS", s.name)
	}
}

// TestMeshThreeTabsTwoGateways runs the split deployment (one NATS, one
// room service, two gateways) and a three-party call across it: two tabs
// on gateway A, one on gateway B. browser_mesh.mjs checks that every pair
// connects and decodes video, that exactly one side of each pair is polite,
// that media-state crosses gateways, that a closed tab leaves the others'
// state within 15 s, and that after gateway B is killed and restarted on
// the same address its tab reconnects, the dead socket is reaped and the
// call is re-established.
func TestMeshThreeTabsTwoGateways(t *testing.T) {
	env := requireBrowser(t)

	nats := bintest.Start(t, "nats", nil, "nats", "--addr", "127.0.0.1:0", "--store", t.TempDir())
	natsURL := "nats://" + nats.Addr("nats", startTimeout)
	rooms := bintest.Start(t, "roomsvc", nil, "roomsvc", "--nats", natsURL)
	gwA := bintest.Start(t, "gateway-a", nil, "gateway", "--nats", natsURL, "--addr", "127.0.0.1:0")
	gwB := bintest.Start(t, "gateway-b", nil, "gateway", "--nats", natsURL, "--addr", "127.0.0.1:0")
	urlA := "http://" + gwA.Addr("gateway", startTimeout)
	urlB := "http://" + gwB.Addr("gateway", startTimeout)
	rooms.WaitOutput("room service running", startTimeout)

	addrB := strings.TrimPrefix(urlB, "http://")
	startScript(t, env, 110*time.Second, "browser_mesh.mjs", "--gateways="+urlA+","+urlB, "--room="+room).serve(map[string]func(){
		"restart gateway B": func() {
			gwB.Kill() // SIGKILL: no goodbye, so only the lease tells the room service
			gwB2 := bintest.Start(t, "gateway-b2", nil, "gateway", "--nats", natsURL, "--addr", addrB)
			if got := gwB2.Addr("gateway", startTimeout); got != addrB {
				t.Fatalf("restarted gateway B listens on %s, want %s", got, addrB)
			}
		},
	})
}

// TestIsolatedDevServersDoNotMeet is the negative control behind the
// README's claim that two plain socket.io processes would fail: two
// `rtcmesh dev` processes, each with its own embedded NATS, are as
// unconnected as two socket.io servers, so one tab on each in the same
// room must never see the other (browser_isolated.mjs watches for 5 s).
// TestMeshThreeTabsTwoGateways is the positive control: the same page and
// room across two gateways sharing one NATS do meet.
func TestIsolatedDevServersDoNotMeet(t *testing.T) {
	env := requireBrowser(t)

	dev1 := bintest.Start(t, "dev-1", nil, "dev", "--addr", "127.0.0.1:0", "--nats-addr", "127.0.0.1:0")
	dev2 := bintest.Start(t, "dev-2", nil, "dev", "--addr", "127.0.0.1:0", "--nats-addr", "127.0.0.1:0")
	url1 := "http://" + dev1.Addr("gateway", startTimeout)
	url2 := "http://" + dev2.Addr("gateway", startTimeout)
	if n1, n2 := dev1.Addr("nats", startTimeout), dev2.Addr("nats", startTimeout); n1 == n2 {
		t.Fatalf("both dev processes report NATS on %s; they must be isolated", n1)
	}
	dev1.WaitOutput("room service running", startTimeout)
	dev2.WaitOutput("room service running", startTimeout)

	startScript(t, env, 60*time.Second, "browser_isolated.mjs",
		"--gateways="+url1+","+url2, "--room="+room, "--observe-ms=5000").serve(nil)
}
