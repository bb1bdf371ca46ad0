// Package metrics is rtcmesh's seam over the Prometheus client library
// (github.com/prometheus/client_golang): the services declare counters,
// one-label counters, latency histograms and scrape-time gauges through
// it, and serve a Registry with Handler. It keeps the services' metric
// code short and the label sets bounded (one label, values chosen by the
// code, never by a client).
package metrics

import (
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
)

// Registry holds a service's metrics. The zero value is ready to use.
type Registry struct {
	once sync.Once
	r    *prometheus.Registry
}

func (r *Registry) reg() *prometheus.Registry {
	r.once.Do(func() { r.r = prometheus.NewRegistry() })
	return r.r
}

// Gatherer exposes the registry to the Prometheus library, for serving
// several registries on one endpoint (prometheus.Gatherers).
func (r *Registry) Gatherer() prometheus.Gatherer { return r.reg() }

// RegisterRuntime adds the Go runtime and process collectors (GC, heap,
// goroutines, RSS, file descriptors). Call it once per process, on the
// registry that process serves.
func (r *Registry) RegisterRuntime() {
	r.reg().MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
}

// Handler serves the registry in the Prometheus exposition format.
func (r *Registry) Handler() http.Handler { return HandlerFor(r) }

// HandlerFor serves several registries on one endpoint, as `rtcmesh dev`
// does for its gateway and room service. Metric names must not collide.
func HandlerFor(regs ...*Registry) http.Handler {
	gs := make(prometheus.Gatherers, len(regs))
	for i, r := range regs {
		gs[i] = r.reg()
	}
	return promhttp.HandlerFor(gs, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// Counter is a monotonically increasing count.
type Counter struct{ c prometheus.Counter }

// Add adds n (n >= 0).
func (c *Counter) Add(n int64) { c.c.Add(float64(n)) }

// Inc adds one.
func (c *Counter) Inc() { c.c.Inc() }

// Value returns the count (for tests and logs).
func (c *Counter) Value() int64 {
	var m dto.Metric
	if err := c.c.Write(&m); err != nil {
		return 0
	}
	return int64(m.GetCounter().GetValue())
}

// Counter registers a counter.
func (r *Registry) Counter(name, help string) *Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	r.reg().MustRegister(c)
	return &Counter{c: c}
}

// CounterVec is a counter per value of one label.
type CounterVec struct {
	v     *prometheus.CounterVec
	cache sync.Map // label value -> *Counter
}

// With returns the counter for a label value. Resolve it once where the
// value is fixed; the lookup is cached either way.
func (v *CounterVec) With(value string) *Counter {
	if c, ok := v.cache.Load(value); ok {
		return c.(*Counter)
	}
	c, _ := v.cache.LoadOrStore(value, &Counter{c: v.v.WithLabelValues(value)})
	return c.(*Counter)
}

// CounterVec registers a counter with one label.
func (r *Registry) CounterVec(name, help, label string) *CounterVec {
	v := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, []string{label})
	r.reg().MustRegister(v)
	return &CounterVec{v: v}
}

// LatencyBuckets span 100µs to 10s, for signaling latencies: a relay on
// one machine takes well under a millisecond, a command write during a
// JetStream leader election several seconds.
var LatencyBuckets = prometheus.ExponentialBucketsRange(0.0001, 10, 16)

// Histogram observes durations, in seconds.
type Histogram struct{ h prometheus.Observer }

// Observe records one duration.
func (h *Histogram) Observe(d time.Duration) { h.h.Observe(d.Seconds()) }

// Since records the time since start.
func (h *Histogram) Since(start time.Time) { h.h.Observe(time.Since(start).Seconds()) }

// Histogram registers a latency histogram (LatencyBuckets when buckets is
// nil). Its name should end in _seconds.
func (r *Registry) Histogram(name, help string, buckets []float64) *Histogram {
	if buckets == nil {
		buckets = LatencyBuckets
	}
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets})
	r.reg().MustRegister(h)
	return &Histogram{h: h}
}

// HistogramVec is a latency histogram per value of one label.
type HistogramVec struct {
	v     *prometheus.HistogramVec
	cache sync.Map // label value -> *Histogram
}

// With returns the histogram for a label value.
func (v *HistogramVec) With(value string) *Histogram {
	if h, ok := v.cache.Load(value); ok {
		return h.(*Histogram)
	}
	h, _ := v.cache.LoadOrStore(value, &Histogram{h: v.v.WithLabelValues(value)})
	return h.(*Histogram)
}

// HistogramVec registers a latency histogram with one label.
func (r *Registry) HistogramVec(name, help, label string, buckets []float64) *HistogramVec {
	if buckets == nil {
		buckets = LatencyBuckets
	}
	v := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, []string{label})
	r.reg().MustRegister(v)
	return &HistogramVec{v: v}
}

// GaugeFunc registers a gauge computed at scrape time.
func (r *Registry) GaugeFunc(name, help string, fn func() float64) {
	r.reg().MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, fn))
}

// CounterFunc registers a counter read at scrape time from a value kept
// elsewhere.
func (r *Registry) CounterFunc(name, help string, fn func() float64) {
	r.reg().MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, fn))
}
