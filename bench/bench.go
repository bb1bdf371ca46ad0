package bench

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Scenario is what a run measures.
type Scenario string

// The scenarios, one per `rtcmesh bench` subcommand.
const (
	ScenarioHold   Scenario = "hold"
	ScenarioStorm  Scenario = "storm"
	ScenarioRelay  Scenario = "relay"
	ScenarioFanout Scenario = "fanout"
)

// Config describes a run. Zero values take the defaults noted; the fields
// map one to one to the CLI flags.
type Config struct {
	Scenario        Scenario
	URLs            []string     // default http://127.0.0.1:3001; sockets are spread round-robin
	Sockets         int          // default 1000
	RoomSize        int          // default 4; relay always uses 2
	Transport       Transport    // default websocket
	Sources         []netip.Addr // source addresses for outgoing connections; none: the kernel's choice
	Procs           int          // worker processes; 0: enough for FDLimit
	FDLimit         uint64       // this process's file descriptor limit; 0: 1024
	DialConcurrency int          // connection attempts in flight, in total; default 256
	ConnectRetries  int          // extra attempts per socket; default 2, negative: none
	Timeout         time.Duration
	Grace           time.Duration // wait after the expected join events, for late duplicates; default 250ms
	RoomPrefix      string        // default a random per-run prefix
	NamePrefix      string        // default "bench-"

	// hold
	PIDs           []PID
	SettleTimeout  time.Duration                 // default 120s
	SettleWindow   time.Duration                 // default 20s: settled when the last window varies by < 1 %
	SampleInterval time.Duration                 // default 1s
	JoinedDelay    time.Duration                 // sample this long after every socket joined; default 2s
	Hold           time.Duration                 // stay idle this long after measuring
	ReadRSS        func(pid int) (uint64, error) // default ReadRSS

	// relay and fanout
	Rate         float64       // messages per second offered in total; default 1000 (relay), 200 (fanout)
	Duration     time.Duration // measured time; default 10s
	Warmup       time.Duration // unmeasured time before; default 1s, negative: none
	Drain        time.Duration // wait for messages in flight after a step; default 2s
	Saturate     bool          // relay: step the rate up until saturation
	StepDuration time.Duration // default 5s
	MaxP99       time.Duration // default 250ms
	MaxSteps     int           // default 25
	PayloadBytes int           // relay: size of the ICE candidate in data; default 200

	Progress    time.Duration // progress line interval; 0: none
	ProgressOut io.Writer     // where progress lines go (stderr in the CLI)
	Spawn       Spawner       // starts workers when Procs > 1; default InProcess
	Logger      *slog.Logger
}

// Bench is a configured run.
type Bench struct {
	cfg   Config
	procs int
}

// New checks cfg and fills in the defaults.
func New(cfg Config) (*Bench, error) {
	switch cfg.Scenario {
	case ScenarioHold, ScenarioStorm, ScenarioRelay, ScenarioFanout:
	default:
		return nil, fmt.Errorf("bench: unknown scenario %q", cfg.Scenario)
	}
	switch cfg.Transport {
	case "":
		cfg.Transport = TransportWebSocket
	case TransportWebSocket, TransportPolling, TransportUpgrade:
	default:
		return nil, fmt.Errorf("bench: unknown transport %q (want websocket, polling or upgrade)", cfg.Transport)
	}
	if len(cfg.URLs) == 0 {
		cfg.URLs = []string{"http://127.0.0.1:3001"}
	}
	for _, u := range cfg.URLs {
		if _, err := newTarget(u); err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	defInt := func(d *int, v int) {
		if *d == 0 {
			*d = v
		}
	}
	defInt(&cfg.Sockets, 1000)
	defInt(&cfg.RoomSize, 4)
	defInt(&cfg.DialConcurrency, 256)
	defInt(&cfg.ConnectRetries, 2)
	defInt(&cfg.MaxSteps, 25)
	defInt(&cfg.PayloadBytes, 200)
	cfg.ConnectRetries = max(cfg.ConnectRetries, 0)
	def(&cfg.Timeout, 30*time.Second)
	def(&cfg.Grace, 250*time.Millisecond)
	def(&cfg.SettleTimeout, 120*time.Second)
	def(&cfg.SettleWindow, 20*time.Second)
	def(&cfg.SampleInterval, time.Second)
	def(&cfg.JoinedDelay, 2*time.Second)
	def(&cfg.Duration, 10*time.Second)
	def(&cfg.Warmup, time.Second)
	def(&cfg.Drain, 2*time.Second)
	def(&cfg.StepDuration, 5*time.Second)
	def(&cfg.MaxP99, 250*time.Millisecond)
	if cfg.Scenario == ScenarioRelay {
		cfg.RoomSize = 2
	}
	if cfg.Rate == 0 {
		cfg.Rate = map[Scenario]float64{ScenarioRelay: 1000, ScenarioFanout: 200}[cfg.Scenario]
	}
	if cfg.ReadRSS == nil {
		cfg.ReadRSS = ReadRSS
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.NamePrefix == "" {
		cfg.NamePrefix = "bench-"
	}
	if cfg.RoomPrefix == "" {
		cfg.RoomPrefix = "bench-" + strings.ToLower(rand.Text()[:8])
	}
	switch {
	case cfg.Sockets < 0 || cfg.RoomSize < 1:
		return nil, errors.New("bench: --sockets and --room-size must be positive")
	case cfg.Rate < 0 || cfg.Procs < 0:
		return nil, errors.New("bench: --rate and --procs must not be negative")
	case cfg.Timeout < 0 || cfg.Duration < 0:
		return nil, errors.New("bench: durations must not be negative")
	}
	cfg.Warmup = max(cfg.Warmup, 0)
	if n := portsPerPair(); len(cfg.Sources) <= 1 && cfg.Sockets*cfg.Transport.fdsPerSocket() > n*len(cfg.URLs) {
		cfg.Logger.Warn("bench: more connections than ephemeral ports per source and destination; use --source",
			"sockets", cfg.Sockets, "ports", n, "urls", len(cfg.URLs))
	}
	b := &Bench{cfg: cfg, procs: cfg.Procs}
	if b.procs == 0 {
		b.procs = autoProcs(cfg.Sockets, cfg.Transport, cfg.FDLimit)
	}
	rooms := (cfg.Sockets + cfg.RoomSize - 1) / cfg.RoomSize
	b.procs = max(1, min(b.procs, rooms))
	return b, nil
}

// Procs is how many workers the run uses.
func (b *Bench) Procs() int { return b.procs }

// autoProcs is the fewest workers that keep each one within its file
// descriptor limit, with a margin for the HTTP client, logs and retries.
func autoProcs(sockets int, t Transport, limit uint64) int {
	if limit == 0 {
		limit = 1024
	}
	margin := max(256, limit/10)
	usable := limit / 2
	if limit > 2*margin {
		usable = limit - margin
	}
	per := max(1, int(usable)/t.fdsPerSocket())
	return max(1, (sockets+per-1)/per)
}

// plan gives each worker whole rooms, as evenly as possible.
func (b *Bench) plan() []workerSetup {
	cfg := b.cfg
	k := cfg.RoomSize
	rooms := (cfg.Sockets + k - 1) / k
	var sources []string
	for _, a := range cfg.Sources {
		sources = append(sources, a.String())
	}
	out := make([]workerSetup, b.procs)
	for i := range out {
		r0, r1 := rooms*i/b.procs, rooms*(i+1)/b.procs
		s0, s1 := r0*k, min(r1*k, cfg.Sockets)
		out[i] = workerSetup{Index: i, Scenario: cfg.Scenario, URLs: cfg.URLs, Transport: cfg.Transport,
			Sources: sources, RoomSize: k, FirstSocket: int64(s0), Sockets: s1 - s0,
			RoomPrefix: cfg.RoomPrefix, NamePrefix: cfg.NamePrefix,
			DialConcurrency: max(1, (cfg.DialConcurrency+b.procs-1)/b.procs), ConnectRetries: cfg.ConnectRetries,
			TimeoutMS: ms(cfg.Timeout), GraceMS: ms(cfg.Grace), ProgressMS: ms(cfg.Progress), PayloadBytes: cfg.PayloadBytes}
	}
	return out
}

// run is one Run's state.
type run struct {
	*Bench
	setups []workerSetup
	f      *fleet
	rep    *Report
	phase  atomic.Pointer[string]
	mem    *memory
}

func (r *run) setPhase(p string) { r.phase.Store(&p) }

// Run runs the scenario and returns its report. An error means the run
// could not be completed; violations and errors of the system under test
// are in the report.
func (b *Bench) Run(ctx context.Context) (*Report, error) {
	cfg := b.cfg
	started := time.Now()
	r := &run{Bench: b, rep: &Report{Schema: SchemaVersion, Scenario: cfg.Scenario, URLs: cfg.URLs,
		Transport: cfg.Transport, Sockets: cfg.Sockets, RoomSize: cfg.RoomSize, Procs: b.procs,
		Rooms: (cfg.Sockets + cfg.RoomSize - 1) / cfg.RoomSize, Sources: len(cfg.Sources),
		RoomPrefix: cfg.RoomPrefix, Started: started.UTC(),
		Violations: map[string]int64{}, Errors: map[string]int64{}}}
	r.setPhase("start")
	spawn := cfg.Spawn
	if spawn == nil || b.procs == 1 {
		spawn = InProcess(cfg.Logger)
	}
	r.setups = b.plan()
	f, err := startFleet(ctx, spawn, r.setups)
	if err != nil {
		return nil, fmt.Errorf("bench: start workers: %w", err)
	}
	r.f = f
	stop := make(chan struct{})
	var wg sync.WaitGroup
	if cfg.Progress > 0 && cfg.ProgressOut != nil {
		wg.Go(func() { r.printProgress(stop, started) })
	}
	err = r.phases(ctx)
	close(stop)
	wg.Wait()
	if cerr := f.close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("bench: %s: %w", *r.phase.Load(), err)
	}
	r.rep.ElapsedMS = ms(time.Since(started))
	r.rep.ViolationsTotal, r.rep.ErrorsTotal = sumCounts(r.rep.Violations), sumCounts(r.rep.Errors)
	r.rep.OK = r.rep.ViolationsTotal == 0 && r.rep.ErrorsTotal == 0
	return r.rep, nil
}

func (r *run) phases(ctx context.Context) error {
	cfg := r.cfg
	if cfg.Scenario == ScenarioHold && len(cfg.PIDs) > 0 {
		r.setPhase("baseline")
		m, err := newMemory(cfg.PIDs, cfg.ReadRSS)
		if err != nil {
			return err
		}
		r.mem = m
	}
	r.setPhase("connect")
	if err := r.f.broadcast(command{Cmd: "connect"}); err != nil {
		return err
	}
	rs, err := r.f.await(ctx, "connected", 0)
	if err != nil {
		return err
	}
	if err := r.mergeConnect(rs); err != nil {
		return err
	}
	if r.mem != nil {
		if err := r.mem.sample(func(p *ProcessMemory, v uint64) { p.ConnectedBytes = v }); err != nil {
			return err
		}
	}
	r.setPhase("join")
	at := time.Now().Add(max(300*time.Millisecond, time.Duration(r.procs)*100*time.Millisecond))
	if err := r.f.broadcast(command{Cmd: "join", AtNS: at.UnixNano()}); err != nil {
		return err
	}
	if rs, err = r.f.await(ctx, "joined", 2*cfg.Timeout+cfg.Grace+time.Minute); err != nil {
		return err
	}
	r.mergeJoin(rs)
	switch cfg.Scenario {
	case ScenarioHold:
		r.setPhase("hold")
		if err := r.hold(ctx); err != nil {
			return err
		}
	case ScenarioRelay:
		r.setPhase("relay")
		if err := r.relaySteps(ctx); err != nil {
			return err
		}
	case ScenarioFanout:
		r.setPhase("fanout")
		if err := r.fanout(ctx); err != nil {
			return err
		}
	}
	r.setPhase("close")
	if err := r.f.broadcast(command{Cmd: "close"}); err != nil {
		return err
	}
	if rs, err = r.f.await(ctx, "closed", cfg.Timeout+time.Minute); err != nil {
		return err
	}
	for _, x := range rs {
		mergeCounts(r.rep.Violations, x.Final.Violations)
		mergeCounts(r.rep.Errors, x.Final.Errors)
		r.rep.Close.Live += x.Final.Live
		r.rep.Close.DurationMS = max(r.rep.Close.DurationMS, x.Final.CloseMS)
	}
	return nil
}

// mergeConnect sums the connect phase; it fails when no socket connected
// at all, as the run would measure nothing.
func (r *run) mergeConnect(rs []reply) error {
	c, h := &r.rep.Connect, new(Hist)
	errs := map[string]int64{}
	for _, x := range rs {
		mergeCounts(errs, x.Connect.Errors)
		c.Connected += x.Connect.Connected
		c.Failed += x.Connect.Failed
		c.DurationMS = max(c.DurationMS, x.Connect.DurationMS)
		h.Merge(x.Connect.Latency)
	}
	if c.DurationMS > 0 {
		c.PerSec = float64(c.Connected) / (c.DurationMS / 1000)
	}
	c.Latency = h.Summary()
	if c.Connected == 0 && r.cfg.Sockets > 0 {
		return fmt.Errorf("no socket connected to %s (errors: %v)", strings.Join(r.cfg.URLs, ", "), errs)
	}
	return nil
}

func (r *run) mergeJoin(rs []reply) {
	j := &JoinReport{}
	lat, offer := new(Hist), new(Hist)
	var at, last int64
	for _, x := range rs {
		y := x.Join
		j.Joined += y.Joined
		j.Failed += y.Failed
		j.InitOffersExpected += y.InitOffersExpected
		j.InitOffersReceived += y.InitOffersReceived
		j.UserConnectedExpected += y.UserConnExpected
		j.UserConnectedReceived += y.UserConnReceived
		j.TimedOut = j.TimedOut || y.TimedOut
		at, last = y.AtNS, max(last, y.LastOKNS)
		lat.Merge(y.Latency)
		offer.Merge(y.InitOffer)
	}
	if last > at {
		j.DurationMS = float64(last-at) / 1e6
		j.JoinsPerSec = float64(j.Joined) / (j.DurationMS / 1000)
	}
	j.Latency, j.InitOffer = lat.Summary(), offer.Summary()
	r.rep.Join = j
}

func (r *run) printProgress(stop <-chan struct{}, started time.Time) {
	t := time.NewTicker(r.cfg.Progress)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			p := r.f.progress()
			fmt.Fprintf(r.cfg.ProgressOut, "bench %s: %-8s connected %d/%d  joined %d  sent %d  received %d  errors %d  violations %d  %.0fs\n",
				r.cfg.Scenario, *r.phase.Load(), p.Connected, r.cfg.Sockets, p.Joined, p.Sent, p.Received, p.Errors, p.Violations,
				time.Since(started).Seconds())
		}
	}
}
