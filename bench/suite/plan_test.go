package main

import (
	"regexp"
	"testing"

	"github.com/rtcmesh/rtcmesh/bench"
)

func TestFDLimitedSockets(t *testing.T) {
	for _, tc := range []struct {
		name                   string
		hard                   uint64
		margin, want, roomSize int
		got                    int
	}{
		{"this machine", 20000, 150, 20000, 4, 19848},
		{"under the limit", 20000, 150, 3000, 4, 3000},
		{"exactly fits", 20150, 150, 20000, 4, 20000},
		{"one short", 20149, 150, 20000, 4, 19996},
		{"large limit", 1 << 20, 150, 100000, 4, 100000},
		{"unlimited", ^uint64(0), 150, 20000, 4, 20000},
		{"pairs", 20000, 150, 20000, 2, 19850},
		{"rooms of 50", 20000, 150, 20000, 50, 19850},
		{"room size 1", 20000, 150, 20000, 1, 19850},
		{"limit below margin", 100, 150, 20000, 4, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := fdLimitedSockets(tc.hard, tc.margin, tc.want, tc.roomSize); got != tc.got {
				t.Errorf("fdLimitedSockets(%d, %d, %d, %d) = %d, want %d", tc.hard, tc.margin, tc.want, tc.roomSize, got, tc.got)
			}
		})
	}
}

func TestPlan(t *testing.T) {
	for _, tc := range []struct {
		name   string
		quick  bool
		groups map[string]int
	}{
		{"full", false, map[string]int{groupHold: 12, groupStorm: 8, groupSweep: 12, groupRelay: 4, groupSaturate: 4, groupFanout: 3, groupBig: 1}},
		{"quick", true, map[string]int{groupHold: 6, groupStorm: 8, groupSweep: 12, groupRelay: 4, groupSaturate: 4, groupFanout: 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newParams(tc.quick, 20000, 0, 0)
			cases := p.plan()
			got := map[string]int{}
			seen := map[string]bool{}
			for _, c := range cases {
				got[c.Group]++
				if seen[c.ID] {
					t.Errorf("duplicate id %s", c.ID)
				}
				seen[c.ID] = true
				if c.Sockets > p.MaxSockets && c.Group != groupBig {
					t.Errorf("%s: %d sockets, more than a server can hold (%d)", c.ID, c.Sockets, p.MaxSockets)
				}
				if c.Sockets%c.RoomSize != 0 {
					t.Errorf("%s: %d sockets do not fill rooms of %d", c.ID, c.Sockets, c.RoomSize)
				}
				if c.PIDs != (c.Scenario == bench.ScenarioHold) {
					t.Errorf("%s: PIDs %v", c.ID, c.PIDs)
				}
			}
			if len(got) != len(tc.groups) {
				t.Errorf("groups = %v, want %v", got, tc.groups)
			}
			for g, n := range tc.groups {
				if got[g] != n {
					t.Errorf("group %s: %d runs, want %d", g, got[g], n)
				}
			}
		})
	}
}

func TestPlanOrderAndFilter(t *testing.T) {
	cases := newParams(false, 20000, 0, 0).plan()
	// The deployments of one count run back to back.
	want := []string{"hold/1000/dev", "hold/1000/split-1gw", "hold/1000/node", "hold/3000/dev"}
	for i, id := range want {
		if cases[i].ID != id {
			t.Errorf("case %d = %s, want %s", i, cases[i].ID, id)
		}
	}
	for _, tc := range []struct {
		re   string
		want int
	}{
		{`^storm/`, 8},
		{`^storm/2000/(dev|node)$`, 2},
		{`/split-2gw$`, 4},
		{`^hold-100k/`, 1},
		{`nothing`, 0},
	} {
		if got := len(filter(cases, regexp.MustCompile(tc.re))); got != tc.want {
			t.Errorf("filter %s: %d cases, want %d", tc.re, got, tc.want)
		}
	}
	if len(filter(cases, nil)) != len(cases) {
		t.Error("nil filter dropped cases")
	}
}

func TestParamsRates(t *testing.T) {
	p := newParams(false, 20000, 3000, 1500)
	if p.RelayRate != 3000 || p.FanoutRate != 1500 {
		t.Errorf("rates = %v, %v", p.RelayRate, p.FanoutRate)
	}
	for _, c := range p.plan() {
		if c.ID == caseID(groupRelay, 2000, depDev) && (len(c.Args) < 2 || c.Args[1] != "3000") {
			t.Errorf("relay args = %v", c.Args)
		}
	}
}
