package bench

import (
	"encoding/json"
	"math"
	"slices"
	"testing"
	"time"
)

func TestHistQuantiles(t *testing.T) {
	uniform := func(n int, step time.Duration) []time.Duration {
		var v []time.Duration
		for i := 1; i <= n; i++ {
			v = append(v, time.Duration(i)*step)
		}
		return v
	}
	cases := []struct {
		name   string
		values []time.Duration
	}{
		{"single", []time.Duration{1500 * time.Microsecond}},
		{"small exact", []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}},
		{"uniform µs to ms", uniform(10000, 100*time.Nanosecond)},
		{"uniform ms to s", uniform(1000, time.Millisecond)},
		{"bimodal", append(uniform(990, time.Microsecond), uniform(10, time.Second)...)},
		{"zero", []time.Duration{0, 0, 0}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var h Hist
			for _, v := range tc.values {
				h.Record(v)
			}
			sorted := slices.Sorted(slices.Values(tc.values))
			for _, q := range []float64{0, 0.5, 0.9, 0.99, 0.999, 1} {
				rank := max(1, int(math.Ceil(q*float64(len(sorted)))))
				want := sorted[rank-1]
				got := h.Quantile(q)
				if diff := math.Abs(float64(got - want)); diff > 0.004*float64(want)+1 {
					t.Errorf("q%.3f = %v, want %v (±0.4%%)", q, got, want)
				}
			}
			if h.Count() != int64(len(tc.values)) || h.Max() != sorted[len(sorted)-1] || h.Min() != sorted[0] {
				t.Errorf("count %d min %v max %v, want %d %v %v", h.Count(), h.Min(), h.Max(), len(sorted), sorted[0], sorted[len(sorted)-1])
			}
		})
	}
}

func TestHistBuckets(t *testing.T) {
	// Every bucket's range maps back to it, and the ranges tile the line.
	next := int64(0)
	for i := range histBuckets - 1 {
		lo, hi := bucketRange(i)
		if lo != next || hi < lo || bucketOf(lo) != i || bucketOf(hi) != i {
			t.Fatalf("bucket %d: [%d, %d], next %d, bucketOf(lo)=%d", i, lo, hi, next, bucketOf(lo))
		}
		next = hi + 1
	}
	if bucketOf(math.MaxInt64) != histBuckets-1 || bucketOf(-5) != 0 {
		t.Fatal("out-of-range values must clamp")
	}
}

func TestHistMergeAndJSON(t *testing.T) {
	var a, b, all Hist
	for i := range 5000 {
		v := time.Duration(i*i) * time.Microsecond / 7
		all.Record(v)
		if i%3 == 0 {
			a.Record(v)
		} else {
			b.Record(v)
		}
	}
	var merged Hist
	merged.Merge(&a)
	merged.Merge(&b)
	merged.Merge(nil)
	merged.Merge(new(Hist))
	raw, err := json.Marshal(&merged)
	if err != nil {
		t.Fatal(err)
	}
	var back Hist
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	for _, h := range []*Hist{&merged, &back} {
		if h.Summary() != all.Summary() {
			t.Errorf("summary %+v, want %+v", h.Summary(), all.Summary())
		}
	}
	var empty Hist
	raw, _ = json.Marshal(&empty)
	if err := json.Unmarshal(raw, &back); err != nil || back.Count() != 0 || back.Min() != 0 {
		t.Errorf("empty round trip: %v, %+v", err, back.Summary())
	}
	for _, bad := range []string{`{"n":2,"b":[[1,1]]}`, `{"n":1,"b":[[99999,1]]}`, `{"n":1,"b":[[1,-1]]}`, `[`} {
		if err := json.Unmarshal([]byte(bad), &back); err == nil {
			t.Errorf("%s: want an error", bad)
		}
	}
}
