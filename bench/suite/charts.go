package main

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// The charts, by file name in the charts directory.
const (
	chartRelay      = "relay-rtt.svg"
	chartMemory     = "memory.svg"
	chartRoomsJoins = "storm-rooms-joins.svg"
	chartRoomsP99   = "storm-rooms-p99.svg"
)

// series is one line of a chart.
type series struct {
	name   string
	color  int // index in palette
	dashed bool
	pts    plotter.XYs
}

// palette gives each deployment the same colour in every chart.
var palette = []color.Color{
	color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}, // dev
	color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff}, // split-1gw
	color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff}, // split-2gw
	color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}, // node
	color.RGBA{R: 0x94, G: 0x67, B: 0xbd, A: 0xff}, // extra
}

func depColor(dep string) int {
	if i := slices.Index(allDeps, dep); i >= 0 {
		return i
	}
	return len(allDeps)
}

// chartSpec is a line chart's axes.
type chartSpec struct {
	title, x, y string
	logX, logY  bool
}

// chart is a plot and its legend, drawn beside it rather than over the
// lines.
type chart struct {
	plot   *plot.Plot
	legend plot.Legend
}

// lineChart draws the series; it returns nil when none has a point.
func lineChart(spec chartSpec, ss []series) (*chart, error) {
	p := plot.New()
	p.Title.Text, p.X.Label.Text, p.Y.Label.Text = spec.title, spec.x, spec.y
	if spec.logX {
		p.X.Scale, p.X.Tick.Marker = plot.LogScale{}, logTicks{}
	}
	if spec.logY {
		p.Y.Scale, p.Y.Tick.Marker = plot.LogScale{}, logTicks{}
	} else {
		p.Y.Min = 0 // absolute figures: start the axis at zero
	}
	p.Add(plotter.NewGrid())
	ch := &chart{plot: p, legend: plot.NewLegend()}
	ch.legend.Top, ch.legend.Left = true, true
	drawn := 0
	for _, s := range ss {
		pts := s.pts
		if spec.logX || spec.logY { // a log axis cannot show zero
			pts = slices.DeleteFunc(slices.Clone(pts), func(xy plotter.XY) bool {
				return spec.logX && xy.X <= 0 || spec.logY && xy.Y <= 0
			})
		}
		if len(pts) == 0 {
			continue
		}
		line, points, err := plotter.NewLinePoints(pts)
		if err != nil {
			return nil, fmt.Errorf("chart %s: %w", spec.title, err)
		}
		c := palette[min(s.color, len(palette)-1)]
		line.Color, points.Color = c, c
		line.Width = vg.Points(1.5)
		points.Shape = draw.CircleGlyph{}
		points.Radius = vg.Points(2)
		if s.dashed {
			line.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
		}
		p.Add(line, points)
		ch.legend.Add(s.name, line)
		drawn++
	}
	if drawn == 0 {
		return nil, nil
	}
	return ch, nil
}

// Chart size; the legend takes a column on the right.
const (
	chartW  = 8 * vg.Inch
	chartH  = 4 * vg.Inch
	legendW = 1.7 * vg.Inch
)

// draw renders the plot, and the legend in a column on its right.
func (ch *chart) draw(c vg.CanvasSizer) {
	dc := draw.New(c)
	ch.plot.Draw(draw.Crop(dc, 0, -legendW, 0, 0))
	ch.legend.Draw(draw.Crop(dc, chartW-legendW+vg.Points(8), 0, 0, -vg.Points(24)))
}

// saveSVG writes the chart as an SVG file.
func saveSVG(ch *chart, path string) error {
	c := vgsvg.New(chartW, chartH)
	ch.draw(c)
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return fmt.Errorf("render %s: %w", path, err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write chart: %w", err)
	}
	return nil
}

// logTicks labels a log axis at 1, 2 and 5 times the powers of ten, or at
// every integer multiple when the range holds fewer than two of those
// (gonum's LogTicks labels powers of ten only).
type logTicks struct{}

func (logTicks) Ticks(lo, hi float64) []plot.Tick {
	if lo <= 0 || hi <= lo {
		return nil
	}
	ticks := func(labelled []float64) ([]plot.Tick, int) {
		var out []plot.Tick
		n := 0
		for e := math.Floor(math.Log10(lo)); math.Pow(10, e) <= hi; e++ {
			for m := 1.0; m < 10; m++ {
				v := m * math.Pow(10, e)
				if v < lo*(1-1e-9) || v > hi*(1+1e-9) {
					continue
				}
				t := plot.Tick{Value: v}
				if slices.Contains(labelled, m) {
					t.Label, n = tickLabel(v), n+1
				}
				out = append(out, t)
			}
		}
		return out, n
	}
	out, n := ticks([]float64{1, 2, 5})
	if n < 2 {
		out, _ = ticks([]float64{1, 2, 3, 4, 5, 6, 7, 8, 9})
	}
	return out
}

func tickLabel(v float64) string {
	if v >= 1000 {
		return groupDigits(int64(math.Round(v)))
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

// writeCharts draws every chart that has data into dir and returns the
// files written, by chart name.
func writeCharts(res *Results, dir string) (map[string]bool, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("charts dir: %w", err)
	}
	specs := []struct {
		file string
		spec chartSpec
		ss   []series
	}{
		{chartRelay, chartSpec{"Relay round trip under load (200 sockets, steps of ×1.5)", "offered round trips/s",
			"RTT (ms): p50 solid, p99 dashed", true, true}, relaySeries(res)},
		{chartMemory, chartSpec{"Memory per joined socket, settled (VmRSS)", "sockets", "KB per socket", true, false},
			memorySeries(res)},
		{chartRoomsJoins, chartSpec{fmt.Sprintf("Join storm, %s sockets: throughput by room size", fmtInt(res.Params.SweepSockets)),
			"members per room", "joins/s", true, true}, sweepSeries(res, true)},
		{chartRoomsP99, chartSpec{fmt.Sprintf("Join storm, %s sockets: join-ok p99 by room size", fmtInt(res.Params.SweepSockets)),
			"members per room", "join p99 (ms)", true, true}, sweepSeries(res, false)},
	}
	done := map[string]bool{}
	for _, c := range specs {
		p, err := lineChart(c.spec, c.ss)
		if err != nil {
			return nil, err
		}
		if p == nil {
			continue
		}
		if err := saveSVG(p, filepath.Join(dir, c.file)); err != nil {
			return nil, err
		}
		done[c.file] = true
	}
	return done, nil
}

// relaySeries is p50 and p99 against the offered rate of every saturation
// step, per deployment.
func relaySeries(res *Results) []series {
	var ss []series
	for _, d := range allDeps {
		rep := res.report(caseID(groupSaturate, res.Params.SaturateSockets, d))
		if rep == nil || rep.Relay == nil {
			continue
		}
		p50, p99 := series{name: d + " p50", color: depColor(d)}, series{name: d + " p99", color: depColor(d), dashed: true}
		for _, s := range rep.Relay.Steps {
			p50.pts = append(p50.pts, plotter.XY{X: s.OfferedPerSec, Y: s.RTT.P50MS})
			p99.pts = append(p99.pts, plotter.XY{X: s.OfferedPerSec, Y: s.RTT.P99MS})
		}
		ss = append(ss, p50, p99)
	}
	return ss
}

// memorySeries is the settled RSS per socket against the socket count:
// the whole of each deployment, and split-1gw's gateway alone.
func memorySeries(res *Results) []series {
	var ss []series
	for _, d := range threeDeps {
		s := series{name: d, color: depColor(d)}
		gw := series{name: d + " gateway only", color: depColor(d), dashed: true}
		for _, n := range res.Params.HoldCounts {
			rep := res.report(caseID(groupHold, n, d))
			if v, ok := settledPerSocket(rep, anyProcess); ok {
				s.pts = append(s.pts, plotter.XY{X: float64(n), Y: v / 1000})
			}
			if v, ok := settledPerSocket(rep, isGateway); ok && d == depSplit1 {
				gw.pts = append(gw.pts, plotter.XY{X: float64(n), Y: v / 1000})
			}
		}
		ss = append(ss, s)
		if len(gw.pts) > 0 {
			ss = append(ss, gw)
		}
	}
	return ss
}

// sweepSeries is joins/s (or the join p99) against the room size; rooms
// of 4 come from the storm at the sweep's socket count.
func sweepSeries(res *Results, joins bool) []series {
	var ss []series
	for _, d := range threeDeps {
		s := series{name: d, color: depColor(d)}
		for _, pt := range sweepPoints(res, d) {
			y := pt.rep.Join.JoinsPerSec
			if !joins {
				y = pt.rep.Join.Latency.P99MS
			}
			s.pts = append(s.pts, plotter.XY{X: float64(pt.roomSize), Y: y})
		}
		ss = append(ss, s)
	}
	return ss
}
