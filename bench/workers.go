package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// The worker protocol: JSON lines over a worker's stdin (commands) and
// stdout (replies). The parent sends setup, then connect, join, any number
// of step commands, and close; the worker answers each with one reply
// (ready, connected, joined, step, closed) and sends progress replies in
// between. Latencies travel as mergeable histograms, never raw samples.

// command is a parent → worker message.
type command struct {
	Cmd   string       `json:"cmd"` // setup, connect, join, step, close
	Setup *workerSetup `json:"setup,omitempty"`
	AtNS  int64        `json:"at_ns,omitempty"` // join: the start instant (Unix ns)
	Step  *stepCmd     `json:"step,omitempty"`
}

// reply is a worker → parent message.
type reply struct {
	Phase    string         `json:"phase"` // ready, connected, joined, step, closed, progress, error
	Error    string         `json:"error,omitempty"`
	Connect  *connectResult `json:"connect,omitempty"`
	Join     *joinResult    `json:"join,omitempty"`
	Step     *stepResult    `json:"step,omitempty"`
	Final    *finalResult   `json:"final,omitempty"`
	Progress *progress      `json:"progress,omitempty"`
}

// finalResult closes a worker's run.
type finalResult struct {
	Violations map[string]int64 `json:"violations"`
	Errors     map[string]int64 `json:"errors"`
	Live       int64            `json:"live"` // sockets still connected when close began
	CloseMS    float64          `json:"close_ms"`
}

// progress is a worker's running totals.
type progress struct {
	Connected  int64 `json:"connected"`
	Joined     int64 `json:"joined"`
	Sent       int64 `json:"sent"`
	Received   int64 `json:"received"`
	Errors     int64 `json:"errors"`
	Violations int64 `json:"violations"`
}

func (w *worker) progress() *progress {
	return &progress{Connected: w.cl.live.Load(), Joined: w.join.ok.Load(),
		Sent:     w.relay.sent.Load() + w.fan.sent.Load(),
		Received: w.relay.recv.Load() + w.fan.recv.Load(),
		Errors:   w.errs.total.Load(), Violations: w.viol.total.Load()}
}

// maxLine bounds one protocol line (a reply with a few histograms).
const maxLine = 16 << 20

// RunWorker serves the worker protocol: commands from in, replies to out.
// It returns after the close command, or when in ends (the parent went
// away) or ctx is done, having closed every socket it opened. It is what
// a worker process runs (`rtcmesh bench <scenario> --worker`); tests run it
// on goroutines over pipes.
func RunWorker(ctx context.Context, in io.Reader, out io.Writer, log *slog.Logger) error {
	if log == nil {
		log = slog.Default()
	}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	var wmu sync.Mutex
	enc := json.NewEncoder(out)
	send := func(r reply) error {
		wmu.Lock()
		defer wmu.Unlock()
		return enc.Encode(r)
	}
	read := func() (command, error) {
		var c command
		if !sc.Scan() {
			if err := sc.Err(); err != nil {
				return c, fmt.Errorf("read command: %w", err)
			}
			return c, io.EOF
		}
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			return c, fmt.Errorf("decode command: %w", err)
		}
		return c, nil
	}
	c, err := read()
	if err != nil || c.Cmd != "setup" || c.Setup == nil {
		return fmt.Errorf("worker: want setup first: %v", err)
	}
	w, err := newWorker(*c.Setup, log)
	if err != nil {
		_ = send(reply{Phase: "error", Error: err.Error()})
		return err
	}
	if err := send(reply{Phase: "ready"}); err != nil {
		return err
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	if every := time.Duration(w.set.ProgressMS * float64(time.Millisecond)); every > 0 {
		wg.Go(func() {
			t := time.NewTicker(every)
			defer t.Stop()
			for {
				select {
				case <-stop:
					return
				case <-t.C:
					_ = send(reply{Phase: "progress", Progress: w.progress()})
				}
			}
		})
	}
	defer func() { close(stop); wg.Wait() }()
	return w.serve(ctx, read, send)
}

func (w *worker) serve(ctx context.Context, read func() (command, error), send func(reply) error) error {
	for {
		c, err := read()
		if err != nil || ctx.Err() != nil {
			w.closeAll()
			if err == nil || errors.Is(err, io.EOF) {
				err = ctx.Err()
			}
			return err
		}
		var r reply
		switch c.Cmd {
		case "connect":
			r = reply{Phase: "connected", Connect: w.connect(ctx)}
		case "join":
			r = reply{Phase: "joined", Join: w.joinPhase(ctx, time.Unix(0, c.AtNS))}
		case "step":
			if c.Step == nil {
				return errors.New("worker: step without parameters")
			}
			if w.set.Scenario == ScenarioRelay {
				r = reply{Phase: "step", Step: w.relayStep(ctx, *c.Step)}
			} else {
				r = reply{Phase: "step", Step: w.fanoutStep(ctx, *c.Step)}
			}
		case "close":
			live, t0 := w.cl.live.Load(), time.Now()
			w.closeAll()
			return send(reply{Phase: "closed", Final: &finalResult{Violations: w.viol.snapshot(),
				Errors: w.errs.snapshot(), Live: live, CloseMS: ms(time.Since(t0))}})
		default:
			return fmt.Errorf("worker: unknown command %q", c.Cmd)
		}
		if err := send(r); err != nil {
			w.closeAll()
			return fmt.Errorf("send %s: %w", r.Phase, err)
		}
	}
}

// WorkerProc is a started worker: its pipes and how to wait for it.
type WorkerProc struct {
	In   io.WriteCloser // commands; closing it tells the worker to stop
	Out  io.Reader      // replies
	Wait func() error   // waits for the worker to end, after Out is drained
}

// A Spawner starts worker i.
type Spawner func(ctx context.Context, i int) (*WorkerProc, error)

// InProcess runs workers as goroutines over pipes in this process.
func InProcess(log *slog.Logger) Spawner {
	return func(ctx context.Context, i int) (*WorkerProc, error) {
		inR, inW := io.Pipe()
		outR, outW := io.Pipe()
		done := make(chan error, 1)
		go func() { // owned: WorkerProc.Wait receives its result
			err := RunWorker(ctx, inR, outW, log)
			_ = inR.Close()
			_ = outW.Close()
			done <- err
		}()
		return &WorkerProc{In: inW, Out: outR, Wait: func() error { return <-done }}, nil
	}
}

// Exec runs workers as processes: path with args (for rtcmesh, itself with
// `bench <scenario> --worker`). Their stderr is this process's.
func Exec(path string, args ...string) Spawner {
	return func(ctx context.Context, i int) (*WorkerProc, error) {
		cmd := exec.CommandContext(ctx, path, args...)
		cmd.Stderr = os.Stderr
		cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
		cmd.WaitDelay = 10 * time.Second
		in, err := cmd.StdinPipe()
		if err != nil {
			return nil, err
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			return nil, err
		}
		if err := cmd.Start(); err != nil {
			return nil, fmt.Errorf("start worker %d: %w", i, err)
		}
		return &WorkerProc{In: in, Out: out, Wait: cmd.Wait}, nil
	}
}

// fleet is the parent's side of the workers.
type fleet struct {
	procs   []*WorkerProc
	encs    []*json.Encoder
	replies []chan reply
	prog    []atomic.Pointer[progress]
	wg      sync.WaitGroup // one reader goroutine per worker
}

func startFleet(ctx context.Context, spawn Spawner, setups []workerSetup) (*fleet, error) {
	f := &fleet{prog: make([]atomic.Pointer[progress], len(setups))}
	for i := range setups {
		p, err := spawn(ctx, i)
		if err != nil {
			f.close()
			return nil, err
		}
		ch := make(chan reply, 2)
		f.procs, f.encs, f.replies = append(f.procs, p), append(f.encs, json.NewEncoder(p.In)), append(f.replies, ch)
		f.wg.Go(func() { f.readReplies(i, p.Out, ch) })
	}
	for i := range setups {
		if err := f.send(i, command{Cmd: "setup", Setup: &setups[i]}); err != nil {
			f.close()
			return nil, err
		}
	}
	if _, err := f.await(ctx, "ready", 0); err != nil {
		f.close()
		return nil, err
	}
	return f, nil
}

func (f *fleet) readReplies(i int, out io.Reader, ch chan<- reply) {
	defer close(ch)
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	for sc.Scan() {
		var r reply
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			ch <- reply{Phase: "error", Error: fmt.Sprintf("worker %d: bad reply: %v", i, err)}
			continue
		}
		if r.Phase == "progress" {
			f.prog[i].Store(r.Progress)
			continue
		}
		ch <- r
	}
	_, _ = io.Copy(io.Discard, out) // let the worker finish writing even after a bad line
}

func (f *fleet) send(i int, c command) error {
	if err := f.encs[i].Encode(c); err != nil {
		return fmt.Errorf("worker %d: send %s: %w", i, c.Cmd, err)
	}
	return nil
}

func (f *fleet) broadcast(c command) error {
	for i := range f.procs {
		if err := f.send(i, c); err != nil {
			return err
		}
	}
	return nil
}

// await collects one reply of the given phase from every worker, waiting
// at most limit (0: until ctx is done).
func (f *fleet) await(ctx context.Context, phase string, limit time.Duration) ([]reply, error) {
	var expire <-chan time.Time
	if limit > 0 {
		t := time.NewTimer(limit)
		defer t.Stop()
		expire = t.C
	}
	out := make([]reply, len(f.procs))
	for i, ch := range f.replies {
		select {
		case r, ok := <-ch:
			switch {
			case !ok:
				return nil, fmt.Errorf("worker %d exited before %s", i, phase)
			case r.Phase == "error":
				return nil, fmt.Errorf("worker %d: %s", i, r.Error)
			case r.Phase != phase:
				return nil, fmt.Errorf("worker %d: want %s, got %s", i, phase, r.Phase)
			}
			out[i] = r
		case <-expire:
			return nil, fmt.Errorf("worker %d: no %s within %v", i, phase, limit)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return out, nil
}

// progress sums the workers' latest progress.
func (f *fleet) progress() progress {
	var p progress
	for i := range f.prog {
		if q := f.prog[i].Load(); q != nil {
			p.Connected += q.Connected
			p.Joined += q.Joined
			p.Sent += q.Sent
			p.Received += q.Received
			p.Errors += q.Errors
			p.Violations += q.Violations
		}
	}
	return p
}

// close ends every worker: closing stdin makes a worker close its sockets
// and exit; then the readers drain and the workers are waited for.
func (f *fleet) close() error {
	for _, p := range f.procs {
		_ = p.In.Close()
	}
	for _, ch := range f.replies {
		for range ch { // unblock a reader whose reply nobody awaits
		}
	}
	f.wg.Wait()
	var errs []error
	for i, p := range f.procs {
		if err := p.Wait(); err != nil && !errors.Is(err, context.Canceled) {
			errs = append(errs, fmt.Errorf("worker %d: %w", i, err))
		}
	}
	return errors.Join(errs...)
}
