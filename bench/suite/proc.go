package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// stopGrace is how long a process may take to exit after SIGTERM before
// its group is killed: a gateway disconnects its sockets and flushes its
// queued commands first, which takes a few seconds at most.
const stopGrace = 8 * time.Second

// procSpec is a process to start.
type procSpec struct {
	name   string // for logs and errors
	path   string
	args   []string
	dir    string
	env    []string  // added to this process's environment
	stdout io.Writer // default: the log file
	log    string    // file for stderr (and stdout by default)
}

// proc is a started process, leader of its own process group. Its waiter
// goroutine is owned by the proc: stop (or wait) always joins it.
type proc struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{} // closed once the process has exited
	err     error         // cmd.Wait's result, valid after done
}

func startProc(s procSpec) (*proc, error) {
	lf, err := os.Create(s.log)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", s.name, err)
	}
	cmd := exec.Command(s.path, s.args...)
	cmd.Dir = s.dir
	cmd.Env = append(os.Environ(), s.env...)
	cmd.Stdout, cmd.Stderr = lf, lf
	if s.stdout != nil {
		cmd.Stdout = s.stdout
	}
	// Own group: a terminal's Ctrl-C reaches only the suite, which then
	// stops every group in order. Pdeathsig covers a suite killed by
	// SIGKILL, when no deferred stop runs.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, fmt.Errorf("start %s: %w", s.name, err)
	}
	p := &proc{name: s.name, cmd: cmd, logPath: s.log, done: make(chan struct{})}
	go func() { // owned by p: stop and wait receive on done
		p.err = cmd.Wait()
		lf.Close()
		close(p.done)
	}()
	return p, nil
}

// pid is the process id, which is also its group id.
func (p *proc) pid() int { return p.cmd.Process.Pid }

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop ends the process group: SIGTERM to the group, SIGKILL after grace,
// and SIGKILL again once the leader is gone, for any child left behind
// (the bench's worker processes share its group). It returns the
// process's exit error, nil for an exit caused by the SIGTERM.
func (p *proc) stop(grace time.Duration) error {
	pg := -p.pid()
	termed := false
	if !p.exited() {
		_ = syscall.Kill(pg, syscall.SIGTERM)
		termed = true
		select {
		case <-p.done:
		case <-time.After(grace):
			_ = syscall.Kill(pg, syscall.SIGKILL)
			<-p.done
		}
	}
	_ = syscall.Kill(pg, syscall.SIGKILL) // ESRCH when nothing is left
	if termed && isSignalExit(p.err) {
		return nil
	}
	return p.err
}

// isSignalExit reports an exit by SIGTERM or SIGKILL, or a non-zero exit
// status while shutting down on request.
func isSignalExit(err error) bool {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled()
}

// logTail returns the last n lines of the process's log file.
func (p *proc) logTail(n int) string { return fileTail(p.logPath, n) }

// fileTail returns the last n lines of a file, or "" if it cannot be read.
func fileTail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return tailLines(b, n)
}

// tailLines returns the last n lines of b, each cut to 300 bytes.
func tailLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	for i, l := range lines {
		if len(l) > 300 {
			lines[i] = l[:300] + "…"
		}
	}
	return strings.TrimSpace(strings.Join(lines, "\n"))
}

// limitedBuffer keeps at most max bytes; a bench report is well under.
type limitedBuffer struct {
	bytes.Buffer
	max       int
	truncated bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.Len(); len(p) > room {
		b.truncated = true
		b.Buffer.Write(p[:max(room, 0)])
		return len(p), nil
	}
	return b.Buffer.Write(p)
}
