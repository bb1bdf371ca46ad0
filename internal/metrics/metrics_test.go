package metrics

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func scrape(t *testing.T, regs ...*Registry) string {
	t.Helper()
	rec := httptest.NewRecorder()
	HandlerFor(regs...).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	b, _ := io.ReadAll(rec.Body)
	if rec.Code != 200 {
		t.Fatalf("scrape: %d %s", rec.Code, b)
	}
	return string(b)
}

func TestExposition(t *testing.T) {
	var r Registry
	c := r.Counter("t_events_total", "events")
	c.Add(2)
	c.Inc()
	v := r.CounterVec("t_drops_total", "drops", "reason")
	v.With("slow").Inc()
	if v.With("slow") != v.With("slow") {
		t.Error("With does not cache its counter")
	}
	h := r.Histogram("t_join_seconds", "join latency", nil)
	h.Observe(3 * time.Millisecond)
	hv := r.HistogramVec("t_write_seconds", "writes", "kind", []float64{0.01, 1})
	hv.With("cmd").Observe(20 * time.Millisecond)
	r.GaugeFunc("t_sockets", "sockets", func() float64 { return 7 })
	r.CounterFunc("t_msgs_total", "msgs", func() float64 { return 9 })
	out := scrape(t, &r)
	for _, want := range []string{
		"t_events_total 3",
		`t_drops_total{reason="slow"} 1`,
		"t_join_seconds_count 1",
		`t_write_seconds_bucket{kind="cmd",le="1"} 1`,
		`t_write_seconds_bucket{kind="cmd",le="0.01"} 0`,
		"t_sockets 7",
		"t_msgs_total 9",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("exposition lacks %q:\n%s", want, out)
		}
	}
	if c.Value() != 3 || v.With("slow").Value() != 1 {
		t.Errorf("Value: %d, %d", c.Value(), v.With("slow").Value())
	}
}

func TestRuntimeAndSeveralRegistries(t *testing.T) {
	var a, b Registry
	a.RegisterRuntime()
	a.Counter("a_total", "a")
	b.Counter("b_total", "b")
	out := scrape(t, &a, &b)
	for _, want := range []string{"go_goroutines", "process_resident_memory_bytes", "a_total 0", "b_total 0"} {
		if !strings.Contains(out, want) {
			t.Errorf("exposition lacks %q", want)
		}
	}
}

func TestDuplicateNamePanics(t *testing.T) {
	var r Registry
	r.Counter("dup_total", "x")
	defer func() {
		if recover() == nil {
			t.Fatal("registering a name twice did not panic")
		}
	}()
	r.Counter("dup_total", "x")
}
