package bench

import (
	"encoding/json"
	"fmt"
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// Hist is a log-linear latency histogram of durations in nanoseconds, safe
// for concurrent Record calls (every field is atomic, so the hot path takes
// no lock). Values below 256 ns are exact; above, each power of two is split
// into 128 buckets, so a quantile is within 0.4 % of the recorded value
// (the bucket's midpoint is returned). Values beyond about 18 minutes share
// the last bucket; Max stays exact.
//
// Histograms merge by adding bucket counts, which is how workers send
// their latencies to the parent: as histograms, never raw samples.
type Hist struct {
	n, sum   atomic.Int64
	min, max atomic.Int64 // min is stored +1 so that zero means "none"
	b        [histBuckets]atomic.Int64
}

const (
	histSub     = 7                                     // log2 of the buckets per power of two
	histMaxExp  = 40                                    // 2^40 ns ≈ 18 min
	histBuckets = (histMaxExp - histSub + 1) << histSub // 4352
)

// bucketOf maps a value to its bucket.
func bucketOf(v int64) int {
	if v < 0 {
		v = 0
	}
	if v < 2<<histSub {
		return int(v)
	}
	shift := bits.Len64(uint64(v)) - histSub - 1 // ≥ 1
	idx := shift<<histSub + int(v>>shift)
	if idx >= histBuckets {
		return histBuckets - 1
	}
	return idx
}

// bucketRange returns the smallest and largest value of bucket i.
func bucketRange(i int) (lo, hi int64) {
	if i < 2<<histSub {
		return int64(i), int64(i)
	}
	shift := i>>histSub - 1
	mant := int64(i - shift<<histSub)
	return mant << shift, (mant+1)<<shift - 1
}

// Record adds one duration.
func (h *Hist) Record(d time.Duration) { h.RecordN(int64(d), 1) }

// RecordN adds n values v (nanoseconds).
func (h *Hist) RecordN(v, n int64) {
	if v < 0 {
		v = 0
	}
	h.b[bucketOf(v)].Add(n)
	h.n.Add(n)
	h.sum.Add(v * n)
	for {
		m := h.max.Load()
		if v <= m || h.max.CompareAndSwap(m, v) {
			break
		}
	}
	for {
		m := h.min.Load()
		if (m != 0 && v+1 >= m) || h.min.CompareAndSwap(m, v+1) {
			break
		}
	}
}

// Count is the number of recorded values.
func (h *Hist) Count() int64 { return h.n.Load() }

// Max is the largest recorded value (exact).
func (h *Hist) Max() time.Duration { return time.Duration(h.max.Load()) }

// Min is the smallest recorded value (exact).
func (h *Hist) Min() time.Duration {
	if m := h.min.Load(); m > 0 {
		return time.Duration(m - 1)
	}
	return 0
}

// Mean is the exact mean.
func (h *Hist) Mean() time.Duration {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	return time.Duration(h.sum.Load() / n)
}

// Quantile returns the value below which a fraction q of the values lie
// (q in [0, 1]): the midpoint of the bucket holding the rank ceil(q·n),
// clamped to the exact min and max.
func (h *Hist) Quantile(q float64) time.Duration {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	rank := int64(math.Ceil(q * float64(n)))
	rank = max(rank, 1)
	var seen int64
	for i := range h.b {
		seen += h.b[i].Load()
		if seen >= rank {
			lo, hi := bucketRange(i)
			v := lo + (hi-lo)/2
			return time.Duration(min(max(v, int64(h.Min())), int64(h.Max())))
		}
	}
	return h.Max()
}

// Merge adds o's values to h.
func (h *Hist) Merge(o *Hist) {
	if o == nil || o.n.Load() == 0 {
		return
	}
	for i := range o.b {
		if c := o.b[i].Load(); c != 0 {
			h.b[i].Add(c)
		}
	}
	h.n.Add(o.n.Load())
	h.sum.Add(o.sum.Load())
	if m := o.max.Load(); m > h.max.Load() {
		h.max.Store(m)
	}
	if m := o.min.Load(); m != 0 && (h.min.Load() == 0 || m < h.min.Load()) {
		h.min.Store(m)
	}
}

// histJSON is the wire form: sparse [bucket, count] pairs.
type histJSON struct {
	N   int64      `json:"n"`
	Sum int64      `json:"sum"`
	Min int64      `json:"min"`
	Max int64      `json:"max"`
	B   [][2]int64 `json:"b"`
}

// MarshalJSON writes the histogram sparsely; it round-trips exactly.
func (h *Hist) MarshalJSON() ([]byte, error) {
	j := histJSON{N: h.n.Load(), Sum: h.sum.Load(), Min: int64(h.Min()), Max: h.max.Load(), B: [][2]int64{}}
	for i := range h.b {
		if c := h.b[i].Load(); c != 0 {
			j.B = append(j.B, [2]int64{int64(i), c})
		}
	}
	return json.Marshal(j)
}

// UnmarshalJSON replaces h's contents.
func (h *Hist) UnmarshalJSON(b []byte) error {
	var j histJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return fmt.Errorf("histogram: %w", err)
	}
	*h = Hist{}
	var n int64
	for _, p := range j.B {
		if p[0] < 0 || p[0] >= histBuckets || p[1] < 0 {
			return fmt.Errorf("histogram: bad bucket %v", p)
		}
		h.b[p[0]].Add(p[1])
		n += p[1]
	}
	if n != j.N {
		return fmt.Errorf("histogram: buckets hold %d values, header says %d", n, j.N)
	}
	h.n.Store(j.N)
	h.sum.Store(j.Sum)
	h.max.Store(j.Max)
	if j.N > 0 {
		h.min.Store(j.Min + 1)
	}
	return nil
}

// Latency is a histogram's summary in the report; every figure is in
// milliseconds.
type Latency struct {
	Count  int64   `json:"count"`
	MinMS  float64 `json:"min_ms"`
	MeanMS float64 `json:"mean_ms"`
	P50MS  float64 `json:"p50_ms"`
	P90MS  float64 `json:"p90_ms"`
	P99MS  float64 `json:"p99_ms"`
	P999MS float64 `json:"p999_ms"`
	MaxMS  float64 `json:"max_ms"`
}

// Summary returns the report form of h.
func (h *Hist) Summary() Latency {
	return Latency{
		Count: h.Count(), MinMS: ms(h.Min()), MeanMS: ms(h.Mean()),
		P50MS: ms(h.Quantile(0.50)), P90MS: ms(h.Quantile(0.90)), P99MS: ms(h.Quantile(0.99)),
		P999MS: ms(h.Quantile(0.999)), MaxMS: ms(h.Max()),
	}
}

// ms converts a duration to float64 milliseconds, the report's unit.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
