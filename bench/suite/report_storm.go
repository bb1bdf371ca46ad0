package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/rtcmesh/rtcmesh/bench"
)

// stormHead is the heading of a storm table after its first column.
var stormHead = []string{"joined>", "joins/s>", "join p50>", "join p90>", "join p99>", "join max>",
	"init-offer p50>", "init-offer p99>", "violations", "errors"}

func writeStorm(b *strings.Builder, res *Results) {
	b.WriteString("## Join storm\n\n")
	b.WriteString("`rtcmesh bench storm`: the sockets connect (not timed), then every one emits `join-room` at one instant " +
		"shared by all the bench's workers. joins/s counts join-ok replies over the time from that instant to the last one; " +
		"join latency is a socket's own join-room → join-ok; init-offer latency is a newcomer's join-room → the earlier " +
		"member's `#rtcio:init-offer` about it. The bench checks the rtc.io invariants on every event (exactly one " +
		"init-offer per pair, no event about oneself, backfill before join-ok, ...); a breach is a violation. " +
		"Rooms of 4.\n\n")
	var ids []string
	for _, n := range res.Params.StormCounts {
		fmt.Fprintf(b, "### %s sockets\n\n", fmtInt(n))
		node := res.report(caseID(groupStorm, n, depNode))
		t := newTable(append([]string{"deployment"}, stormHead...)...)
		for _, d := range allDeps {
			id := caseID(groupStorm, n, d)
			ids = append(ids, id)
			rep := res.report(id)
			if rep == nil || rep.Join == nil {
				t.add(d, statusCell(res.run(id)))
				continue
			}
			t.add(append([]string{d}, joinCells(rep, node)...)...)
		}
		b.WriteString(t.String() + "\n")
	}
	writeProblems(b, res, ids)
	writeCommands(b, res, ids)
}

// sweepPoint is one storm of the room-size sweep.
type sweepPoint struct {
	roomSize int
	id       string
	rep      *bench.Report
}

// sweepPoints are a deployment's storms at the sweep's socket count by
// room size, rooms of 4 taken from the storm scenario when it ran at that
// count.
func sweepPoints(res *Results, d string) []sweepPoint {
	var out []sweepPoint
	p := res.Params
	sizes := slices.Clone(p.SweepRoomSizes)
	if slices.Contains(p.StormCounts, p.SweepSockets) && !slices.Contains(sizes, 4) {
		sizes = append(sizes, 4)
	}
	slices.Sort(sizes)
	for _, k := range sizes {
		id := caseID(groupSweep, k, d)
		if !slices.Contains(p.SweepRoomSizes, k) {
			id = caseID(groupStorm, p.SweepSockets, d)
		}
		if rep := res.report(id); rep != nil && rep.Join != nil {
			out = append(out, sweepPoint{roomSize: k, id: id, rep: rep})
		}
	}
	return out
}

func writeSweep(b *strings.Builder, res *Results, refs chartRefs) {
	p := res.Params
	b.WriteString("## Join storm by room size\n\n")
	fmt.Fprintf(b, "The same storm at %s sockets with `--room-size` %s (rooms of 4 are the storm above). A join into "+
		"a room of k members sends the newcomer k − 1 `user-connected` and each earlier member a `user-connected` and an "+
		"init-offer, so the work per join grows with k. rtcmesh's default room cap is 50 (`--room-cap`), so 50 is its "+
		"largest allowed room; the Node reference has no cap.\n\n", fmtInt(p.SweepSockets), joinInts(p.SweepRoomSizes))
	t := newTable(append([]string{"room size>", "deployment"}, stormHead...)...)
	var ids []string
	for _, k := range p.SweepRoomSizes {
		for _, d := range threeDeps {
			ids = append(ids, caseID(groupSweep, k, d))
		}
	}
	points := map[string][]sweepPoint{}
	for _, d := range threeDeps {
		points[d] = sweepPoints(res, d)
	}
	sizes := slices.Clone(p.SweepRoomSizes)
	if len(points[depDev]) > 0 || len(points[depNode]) > 0 {
		sizes = append(sizes, 4)
	}
	slices.Sort(sizes)
	sizes = slices.Compact(sizes)
	for _, k := range sizes {
		var node *bench.Report
		for _, pt := range points[depNode] {
			if pt.roomSize == k {
				node = pt.rep
			}
		}
		for _, d := range threeDeps {
			i := slices.IndexFunc(points[d], func(pt sweepPoint) bool { return pt.roomSize == k })
			if i < 0 {
				t.add(fmt.Sprint(k), d, statusCell(res.run(caseID(groupSweep, k, d))))
				continue
			}
			t.add(append([]string{fmt.Sprint(k), d}, joinCells(points[d][i].rep, node)...)...)
		}
	}
	b.WriteString(t.String() + "\n")
	refs.chart(b, chartRoomsJoins, "joins per second against room size",
		"Join-storm throughput (join-ok replies per second, log scale) against the room size (log scale), per deployment.")
	refs.chart(b, chartRoomsP99, "join p99 against room size",
		"The 99th percentile of join-room → join-ok in the same storms (log scale), against the room size.")
	writeProblems(b, res, ids)
	writeCommands(b, res, ids)
}

func joinInts(v []int) string {
	var s []string
	for _, x := range v {
		s = append(s, fmt.Sprint(x))
	}
	return strings.Join(s, ", ")
}

// joinCells are the join figures of a storm with node's ratios.
func joinCells(rep, node *bench.Report) []string {
	j := rep.Join
	var nj *bench.JoinReport
	if node != nil && node != rep {
		nj = node.Join
	}
	ref := func(f func(*bench.JoinReport) float64) *float64 {
		if nj == nil {
			return nil
		}
		v := f(nj)
		return &v
	}
	lat := func(f func(*bench.JoinReport) float64) string { return withRatio(fmtMS(f(j)), f(j), ref(f)) }
	return []string{
		fmt.Sprintf("%s / %s", groupDigits(j.Joined), fmtInt(rep.Sockets)),
		withRatio(fmtRate(j.JoinsPerSec), j.JoinsPerSec, ref(func(x *bench.JoinReport) float64 { return x.JoinsPerSec })),
		lat(func(x *bench.JoinReport) float64 { return x.Latency.P50MS }),
		lat(func(x *bench.JoinReport) float64 { return x.Latency.P90MS }),
		lat(func(x *bench.JoinReport) float64 { return x.Latency.P99MS }),
		lat(func(x *bench.JoinReport) float64 { return x.Latency.MaxMS }),
		lat(func(x *bench.JoinReport) float64 { return x.InitOffer.P50MS }),
		lat(func(x *bench.JoinReport) float64 { return x.InitOffer.P99MS }),
		countsCell(rep.Violations),
		countsCell(rep.Errors),
	}
}
