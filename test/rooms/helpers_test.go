// Package rooms_test drives rooms with the real socket.io-client (default
// transports: polling, then upgrade, as rtc.io uses it) through
// test/node/rooms_scenarios.mjs, against the real rtcmesh binary: one
// `rtcmesh dev` process, and a split deployment of one `rtcmesh nats`, two
// `rtcmesh roomsvc` and two `rtcmesh gateway` processes.
package rooms_test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rtcmesh/rtcmesh/internal/bintest"
	"github.com/rtcmesh/rtcmesh/internal/nodetest"
)

// script is a running rooms_scenarios.mjs whose stdout is scanned line by
// line while it runs, and whose stdin answers its HOLD lines.
type script struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	cancel context.CancelFunc

	mu     sync.Mutex
	cond   *sync.Cond
	out    strings.Builder
	stderr bytes.Buffer
	done   bool
	err    error
}

// startScript runs `node rooms_scenarios.mjs args...` in test/node, killing
// it after timeout or when the test ends.
func startScript(t *testing.T, timeout time.Duration, args ...string) *script {
	t.Helper()
	dir := nodetest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	s := &script{cancel: cancel}
	s.cond = sync.NewCond(&s.mu)
	s.cmd = exec.CommandContext(ctx, "node", append([]string{"rooms_scenarios.mjs"}, args...)...)
	s.cmd.Dir = dir
	s.cmd.Env = os.Environ()
	s.cmd.Stderr = lockedWriter{&s.mu, &s.stderr}
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if s.stdin, err = s.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start node rooms_scenarios.mjs: %v", err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		for sc.Scan() {
			s.mu.Lock()
			s.out.WriteString(sc.Text())
			s.out.WriteByte('\n')
			s.cond.Broadcast()
			s.mu.Unlock()
		}
		err := s.cmd.Wait()
		s.mu.Lock()
		s.done, s.err = true, err
		s.cond.Broadcast()
		s.mu.Unlock()
	}()
	t.Cleanup(func() {
		_ = s.stdin.Close()
		cancel()
		s.mu.Lock()
		for !s.done {
			s.cond.Wait()
		}
		s.mu.Unlock()
		if t.Failed() {
			t.Logf("--- rooms_scenarios.mjs stdout ---\n%s--- stderr ---\n%s", s.output(), s.stderrText())
		}
	})
	return s
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (s *script) output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.String()
}

func (s *script) stderrText() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stderr.String()
}

// waitLine waits for a stdout line starting with one of prefixes and
// returns it; it fails the test when the script exits or timeout passes
// first.
func (s *script) waitLine(t *testing.T, timeout time.Duration, prefixes ...string) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	timer := time.AfterFunc(timeout, func() { s.mu.Lock(); s.cond.Broadcast(); s.mu.Unlock() })
	defer timer.Stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		for _, line := range strings.Split(s.out.String(), "\n") {
			for _, p := range prefixes {
				if strings.HasPrefix(line, p) {
					return line
				}
			}
		}
		if s.done {
			t.Fatalf("rooms_scenarios.mjs exited (%v) before printing %q\nstdout:\n%s\nstderr:\n%s", s.err, prefixes, s.out.String(), s.stderr.String())
		}
		if time.Now().After(deadline) {
			t.Fatalf("rooms_scenarios.mjs printed no %q within %v\nstdout:\n%s", prefixes, timeout, s.out.String())
		}
		s.cond.Wait()
	}
}

// requirePass waits for the scenario's verdict and fails the test with the
// scenario's output unless it passed.
func (s *script) requirePass(t *testing.T, name string, timeout time.Duration) {
	t.Helper()
	line := s.waitLine(t, timeout, "SCENARIO PASS "+name+" ", "SCENARIO FAIL "+name+":")
	out := nodetest.ScenarioOutput(s.output(), name)
	if !strings.HasPrefix(line, "SCENARIO PASS ") {
		t.Fatalf("scenario %s failed:\n%s", name, out)
	}
	t.Logf("%s", line)
}

// release answers the script's current HOLD.
func (s *script) release(t *testing.T) {
	t.Helper()
	if _, err := io.WriteString(s.stdin, "go\n"); err != nil {
		t.Fatalf("release the script: %v", err)
	}
}

// wait waits for the script to exit and fails the test unless it exited 0.
func (s *script) wait(t *testing.T, timeout time.Duration) {
	t.Helper()
	_ = s.stdin.Close()
	timer := time.AfterFunc(timeout, func() { s.mu.Lock(); s.cond.Broadcast(); s.mu.Unlock() })
	defer timer.Stop()
	deadline := time.Now().Add(timeout)
	s.mu.Lock()
	defer s.mu.Unlock()
	for !s.done {
		if time.Now().After(deadline) {
			t.Fatalf("rooms_scenarios.mjs still running %v after its last scenario", timeout)
		}
		s.cond.Wait()
	}
	if s.err != nil {
		t.Fatalf("rooms_scenarios.mjs: %v\nstdout:\n%s\nstderr:\n%s", s.err, s.out.String(), s.stderr.String())
	}
}

var resultRE = regexp.MustCompile(`(?m)^RESULT ([\w.-]+)=(.*)$`)

// results returns a scenario's RESULT values by key (without the
// "scenario." prefix).
func (s *script) results(scenario string) map[string]string {
	m := map[string]string{}
	for _, sub := range resultRE.FindAllStringSubmatch(s.output(), -1) {
		if k, ok := strings.CutPrefix(sub[1], scenario+"."); ok {
			m[k] = strings.TrimSpace(sub[2])
		}
	}
	return m
}

func mustResult(t *testing.T, res map[string]string, key string) string {
	t.Helper()
	v, ok := res[key]
	if !ok || v == "" {
		t.Fatalf("no RESULT %s (have %v)", key, res)
	}
	return v
}

var gatewayIDRE = regexp.MustCompile(`msg=listening component=gateway addr=\S+ gateway=(\S+)`)

// gatewayID returns the id a gateway process announced in its listening
// line (call after Proc.Addr("gateway", ...)).
func gatewayID(t *testing.T, p *bintest.Proc) string {
	t.Helper()
	m := gatewayIDRE.FindStringSubmatch(p.Output())
	if m == nil {
		t.Fatalf("%s: no gateway id in its listening line:\n%s", p.Name, p.Output())
	}
	return strings.Trim(m[1], `"`)
}

// tool runs the rtcmesh binary to completion (`rooms list`, `rooms show`)
// and returns its stdout; logs go to stderr.
func tool(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bintest.Binary(t), args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("rtcmesh %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// jsonLines returns the lines of out that are JSON objects (the events of
// `presence watch`; its logs are text lines).
func jsonLines(out string) []string {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "{") {
			lines = append(lines, l)
		}
	}
	return lines
}
