// Package bintest builds the rtcmesh binary once per test process and runs
// it as a child process, so tests can exercise the real command line and
// kill the real process.
package bintest

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// Binary returns the path of a freshly built rtcmesh binary.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Join(filepath.Dir(file), "..", "..")
		dir, err := os.MkdirTemp("", "rtcmesh-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "rtcmesh")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/rtcmesh")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatalf("bintest: %v", buildErr)
	}
	return binPath
}

// Proc is a running rtcmesh process. Its combined output is kept and
// scanned for "listening" lines.
type Proc struct {
	t    testing.TB
	Cmd  *exec.Cmd
	Name string

	mu    sync.Mutex
	out   strings.Builder
	addrs map[string]string // component -> address, from "listening" logs
	cond  *sync.Cond
	done  chan struct{}
	err   error
}

// listenRE matches the log line every server component writes once bound:
// msg="... listening" component=<name> addr=<host:port>.
var listenRE = regexp.MustCompile(`listening.*component=(\S+).*addr=(\S+)`)

// Start runs the binary with args and extra environment. The process is
// killed when the test ends.
func Start(t testing.TB, name string, env []string, args ...string) *Proc {
	t.Helper()
	p := &Proc{t: t, Name: name, addrs: map[string]string{}, done: make(chan struct{})}
	p.cond = sync.NewCond(&p.mu)
	p.Cmd = exec.Command(Binary(t), args...)
	p.Cmd.Env = append(os.Environ(), env...)
	pr, pw := io.Pipe()
	p.Cmd.Stdout = pw
	p.Cmd.Stderr = pw
	if err := p.Cmd.Start(); err != nil {
		t.Fatalf("bintest: start %s: %v", name, err)
	}
	go p.scan(pr)
	go func() {
		p.err = p.Cmd.Wait()
		pw.Close()
		close(p.done)
		p.mu.Lock()
		p.cond.Broadcast()
		p.mu.Unlock()
	}()
	t.Cleanup(func() {
		p.Kill()
		if t.Failed() {
			t.Logf("--- output of %s ---\n%s", name, p.Output())
		}
	})
	return p
}

func (p *Proc) scan(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		p.mu.Lock()
		p.out.WriteString(line)
		p.out.WriteByte('\n')
		if m := listenRE.FindStringSubmatch(line); m != nil {
			p.addrs[m[1]] = strings.Trim(m[2], `"`)
		}
		p.cond.Broadcast()
		p.mu.Unlock()
	}
}

// Addr waits for the component's "listening" line and returns its address.
func (p *Proc) Addr(component string, timeout time.Duration) string {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	timer := time.AfterFunc(timeout, func() { p.mu.Lock(); p.cond.Broadcast(); p.mu.Unlock() })
	defer timer.Stop()
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		if a, ok := p.addrs[component]; ok {
			return a
		}
		select {
		case <-p.done:
			p.t.Fatalf("bintest: %s exited before %s listened: %v\n%s", p.Name, component, p.err, p.out.String())
		default:
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("bintest: %s: no %s listening line after %v\n%s", p.Name, component, timeout, p.out.String())
		}
		p.cond.Wait()
	}
}

// WaitOutput waits until the output contains substr.
func (p *Proc) WaitOutput(substr string, timeout time.Duration) {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	timer := time.AfterFunc(timeout, func() { p.mu.Lock(); p.cond.Broadcast(); p.mu.Unlock() })
	defer timer.Stop()
	p.mu.Lock()
	defer p.mu.Unlock()
	for !strings.Contains(p.out.String(), substr) {
		if time.Now().After(deadline) {
			p.t.Fatalf("bintest: %s: %q not seen after %v\n%s", p.Name, substr, timeout, p.out.String())
		}
		p.cond.Wait()
	}
}

// Output returns everything the process printed so far.
func (p *Proc) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// Kill sends SIGKILL and waits for the process to exit.
func (p *Proc) Kill() {
	_ = p.Cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// Stop sends SIGTERM and waits up to timeout for a clean exit, returning
// the exit error.
func (p *Proc) Stop(timeout time.Duration) error {
	_ = p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		p.Kill()
		return fmt.Errorf("bintest: %s did not stop within %v", p.Name, timeout)
	}
}

// Exited reports whether the process has exited.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}
