// Package memtrim hands idle heap back to the operating system.
//
// Go's background scavenger returns freed heap pages slowly, and only the
// part above its retention goal. A gateway's memory follows its sockets in
// steps: a join storm grows the heap, and when the storm's garbage is
// collected the process keeps the pages for minutes. Trimmer checks the
// heap's free-but-retained bytes every Interval and, when they exceed
// Threshold, forces a collection and a full scavenge (debug.FreeOSMemory),
// so the resident size settles near the live heap.
package memtrim

import (
	"context"
	"log/slog"
	"runtime/debug"
	"runtime/metrics"
	"time"

	"github.com/rtcmesh/rtcmesh/shared"
)

// Config tunes a Trimmer.
type Config struct {
	// Interval between checks (default 5s).
	Interval time.Duration
	// Threshold is the free, unreleased heap that triggers a trim
	// (default 8 MiB). Below it the trim would cost more than it returns.
	Threshold uint64
	// Logger receives a debug line per trim (default slog.Default()).
	Logger *slog.Logger
}

// Trimmer periodically returns free heap pages to the OS.
type Trimmer struct {
	cfg     Config
	log     *slog.Logger
	samples []metrics.Sample
}

// metricFree counts free heap spans the scavenger has not released.
const metricFree = "/memory/classes/heap/free:bytes"

// New builds a Trimmer; Run starts it.
func New(cfg Config) *Trimmer {
	if cfg.Interval <= 0 {
		cfg.Interval = 5 * time.Second
	}
	if cfg.Threshold == 0 {
		cfg.Threshold = 8 << 20
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Trimmer{
		cfg:     cfg,
		log:     cfg.Logger.With(shared.KeyComponent, "memtrim"),
		samples: []metrics.Sample{{Name: metricFree}},
	}
}

// Run checks every Interval until ctx ends.
func (t *Trimmer) Run(ctx context.Context) error {
	tick := time.NewTicker(t.cfg.Interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			t.Check()
		}
	}
}

// Check trims once if the free, unreleased heap exceeds the threshold,
// and reports whether it did.
func (t *Trimmer) Check() bool {
	free := t.freeRetained()
	if free < t.cfg.Threshold {
		return false
	}
	start := time.Now()
	debug.FreeOSMemory()
	t.log.Debug("returned free heap to the OS", "free_bytes", free, "after_bytes", t.freeRetained(), "took", time.Since(start))
	return true
}

// freeRetained is the heap that is free but still resident.
func (t *Trimmer) freeRetained() uint64 {
	metrics.Read(t.samples)
	if t.samples[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return t.samples[0].Value.Uint64()
}
