// Package metrics is a small Prometheus text-format registry: counters,
// labelled counters and gauges read at scrape time. It covers what the
// gateways and the room service export without pulling in a client
// library.
package metrics

import (
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
)

// Registry holds metrics in registration order.
type Registry struct {
	mu    sync.Mutex
	items []item
}

type item interface {
	write(w io.Writer)
}

// Counter is a monotonically increasing count.
type Counter struct {
	v atomic.Int64
}

// Add adds n.
func (c *Counter) Add(n int64) { c.v.Add(n) }

// Inc adds one.
func (c *Counter) Inc() { c.v.Add(1) }

// Value returns the count.
func (c *Counter) Value() int64 { return c.v.Load() }

type counterItem struct {
	name, help string
	c          *Counter
}

func (i *counterItem) write(w io.Writer) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s counter\n%s %d\n", i.name, i.help, i.name, i.name, i.c.Value())
}

// Counter registers a counter.
func (r *Registry) Counter(name, help string) *Counter {
	c := &Counter{}
	r.add(&counterItem{name, help, c})
	return c
}

// CounterVec is a counter per value of one label.
type CounterVec struct {
	name, help, label string
	mu                sync.RWMutex
	m                 map[string]*Counter
}

// With returns the counter for a label value.
func (v *CounterVec) With(value string) *Counter {
	v.mu.RLock()
	c, ok := v.m[value]
	v.mu.RUnlock()
	if ok {
		return c
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if c, ok = v.m[value]; !ok {
		c = &Counter{}
		v.m[value] = c
	}
	return c
}

func (v *CounterVec) write(w io.Writer) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s counter\n", v.name, v.help, v.name)
	v.mu.RLock()
	keys := make([]string, 0, len(v.m))
	for k := range v.m {
		keys = append(keys, k)
	}
	v.mu.RUnlock()
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "%s{%s=\"%s\"} %d\n", v.name, v.label, escape(k), v.With(k).Value())
	}
}

// CounterVec registers a labelled counter.
func (r *Registry) CounterVec(name, help, label string) *CounterVec {
	v := &CounterVec{name: name, help: help, label: label, m: map[string]*Counter{}}
	r.add(v)
	return v
}

type funcItem struct {
	name, help, kind string
	fn               func() float64
}

func (g *funcItem) write(w io.Writer) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n%s %g\n", g.name, g.help, g.name, g.kind, g.name, g.fn())
}

// GaugeFunc registers a gauge computed at scrape time.
func (r *Registry) GaugeFunc(name, help string, fn func() float64) {
	r.add(&funcItem{name, help, "gauge", fn})
}

// CounterFunc registers a counter read at scrape time from a value kept
// elsewhere.
func (r *Registry) CounterFunc(name, help string, fn func() float64) {
	r.add(&funcItem{name, help, "counter", fn})
}

func (r *Registry) add(i item) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.items = append(r.items, i)
}

// Write writes every metric in the text exposition format.
func (r *Registry) Write(w io.Writer) {
	r.mu.Lock()
	items := append([]item(nil), r.items...)
	r.mu.Unlock()
	for _, i := range items {
		i.write(w)
	}
}

// Handler serves the registry.
func (r *Registry) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		r.Write(w)
	})
}

func escape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}
