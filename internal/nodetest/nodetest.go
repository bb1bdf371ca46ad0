// Package nodetest runs the project's Node.js test scripts (test/node),
// which drive the real socket.io-client and Chromium. It fails the test
// loudly when Node or the npm packages are missing: run `make test` (or
// `npm ci` in test/node) first.
package nodetest

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Dir returns the absolute path of test/node.
func Dir(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("nodetest: cannot locate source file")
	}
	return filepath.Join(filepath.Dir(file), "..", "..", "test", "node")
}

// Require checks that node and the pinned packages are installed.
func Require(t testing.TB) string {
	t.Helper()
	dir := Dir(t)
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatalf("nodetest: node is not installed (Node 20 is required): %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "socket.io-client", "package.json")); err != nil {
		t.Fatalf("nodetest: npm packages missing in %s; run `make test` or `npm ci` there: %v", dir, err)
	}
	return dir
}

// Result is the outcome of a script run.
type Result struct {
	Stdout, Stderr string
	Err            error
}

// Run runs `node script args...` in test/node with env added to the
// environment, killing it after timeout. It fails the test if the script
// exits non-zero, printing its output.
func Run(t testing.TB, timeout time.Duration, env []string, script string, args ...string) string {
	t.Helper()
	r := Start(t, timeout, env, script, args...).Wait()
	if r.Err != nil {
		t.Fatalf("nodetest: %s %v: %v\nstdout:\n%s\nstderr:\n%s", script, args, r.Err, r.Stdout, r.Stderr)
	}
	return r.Stdout
}

// Proc is a running script.
type Proc struct {
	cmd            *exec.Cmd
	cancel         context.CancelFunc
	stdout, stderr bytes.Buffer
	done           chan struct{}
	err            error
}

// Start starts a script without waiting for it.
func Start(t testing.TB, timeout time.Duration, env []string, script string, args ...string) *Proc {
	t.Helper()
	dir := Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	p := &Proc{cancel: cancel, done: make(chan struct{})}
	p.cmd = exec.CommandContext(ctx, "node", append([]string{script}, args...)...)
	p.cmd.Dir = dir
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout = &p.stdout
	p.cmd.Stderr = &p.stderr
	if err := p.cmd.Start(); err != nil {
		cancel()
		t.Fatalf("nodetest: start %s: %v", script, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() { p.cancel(); <-p.done })
	return p
}

// Wait waits for the script to exit.
func (p *Proc) Wait() Result {
	<-p.done
	p.cancel()
	return Result{Stdout: p.stdout.String(), Stderr: p.stderr.String(), Err: p.err}
}

// ScenarioOutput returns the part of a script's output that belongs to
// one scenario: from its "=== scenario NAME" line to the next such line,
// or everything when the scenario never started.
func ScenarioOutput(out, name string) string {
	start := strings.Index(out, "=== scenario "+name+"\n")
	if start < 0 {
		return out
	}
	rest := out[start+1:]
	if end := strings.Index(rest, "\n=== scenario "); end >= 0 {
		return out[start : start+1+end+1]
	}
	return out[start:]
}
