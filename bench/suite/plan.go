package main

import (
	"fmt"
	"regexp"
	"strconv"
	"time"

	"github.com/rtcmesh/rtcmesh/bench"
)

// The deployments, in the order they run within a scenario.
const (
	depDev    = "dev"
	depSplit1 = "split-1gw"
	depSplit2 = "split-2gw"
	depNode   = "node"
)

var (
	allDeps   = []string{depDev, depSplit1, depSplit2, depNode}
	threeDeps = []string{depDev, depSplit1, depNode}
	// meshDeps are the rtcmesh deployments, compared against node.
	meshDeps = []string{depDev, depSplit1, depSplit2}
)

// Groups of runs; a run's id is group/sockets/deployment (sweep:
// group/room size/deployment).
const (
	groupHold     = "hold"
	groupStorm    = "storm"
	groupSweep    = "storm-rooms"
	groupRelay    = "relay"
	groupSaturate = "relay-saturate"
	groupFanout   = "fanout"
	groupBig      = "hold-100k"
	idGoBench     = "go-bench"
)

// fdMargin is the descriptors a server keeps for itself (listeners, its
// JetStream store files, NATS connections, logs) beyond its sockets.
const fdMargin = 150

// Params are the counts and rates of one suite run; the report reads
// them back from results.json.
type Params struct {
	Quick           bool    `json:"quick"`
	FDHardLimit     uint64  `json:"fd_hard_limit"`
	FDMargin        int     `json:"fd_margin"`
	MaxSockets      int     `json:"max_sockets"` // the most sockets a server process may hold
	HoldCounts      []int   `json:"hold_counts"`
	HoldTargets     []int   `json:"hold_targets"` // counts the memory targets are checked at
	StormCounts     []int   `json:"storm_counts"`
	SweepSockets    int     `json:"sweep_sockets"`
	SweepRoomSizes  []int   `json:"sweep_room_sizes"`
	RelaySockets    int     `json:"relay_sockets"`
	RelayRate       float64 `json:"relay_rate"`
	Duration        string  `json:"duration"` // relay and fanout
	SaturateSockets int     `json:"saturate_sockets"`
	SaturateStep    string  `json:"saturate_step"`
	FanoutSockets   int     `json:"fanout_sockets"`
	FanoutRate      float64 `json:"fanout_rate"`
	BigSockets      int     `json:"big_sockets"` // 0: skipped
	BigSources      string  `json:"big_sources"`
	SettleWindow    string  `json:"settle_window"`
	SettleTimeout   string  `json:"settle_timeout"`
}

// fdLimitedSockets is want, capped so that a server process holding every
// socket stays margin descriptors under its hard limit, rounded down to
// whole rooms.
func fdLimitedSockets(hard uint64, margin, want, roomSize int) int {
	n := want
	if hard < uint64(want+margin) {
		n = int(hard) - margin
	}
	if roomSize > 1 {
		n -= n % roomSize
	}
	return max(n, 0)
}

// newParams picks the counts: the full suite, or the -quick one.
func newParams(quick bool, hard uint64, relayRate, fanoutRate float64) Params {
	maxS := fdLimitedSockets(hard, fdMargin, 20000, 4)
	p := Params{Quick: quick, FDHardLimit: hard, FDMargin: fdMargin, MaxSockets: maxS,
		HoldCounts: []int{1000, 3000, 10000, maxS}, HoldTargets: []int{3000, maxS},
		StormCounts: []int{2000, maxS}, SweepSockets: 2000, SweepRoomSizes: []int{2, 8, 20, 50},
		RelaySockets: 2000, RelayRate: 5000, Duration: "10s", SaturateSockets: 200, SaturateStep: "5s",
		FanoutSockets: 2000, FanoutRate: 2000, BigSockets: 100000, BigSources: "127.0.0.1-127.0.0.8",
		SettleWindow: "20s", SettleTimeout: "60s"}
	if quick {
		p.HoldCounts, p.HoldTargets, p.StormCounts = []int{200, 400}, []int{200, 400}, []int{200, 400}
		p.SweepSockets, p.RelaySockets, p.FanoutSockets = 200, 200, 200
		p.RelayRate, p.FanoutRate, p.Duration, p.SaturateStep = 500, 200, "2s", "2s"
		p.BigSockets, p.SettleWindow, p.SettleTimeout = 0, "2s", "6s"
	}
	if relayRate > 0 {
		p.RelayRate = relayRate
	}
	if fanoutRate > 0 {
		p.FanoutRate = fanoutRate
	}
	return p
}

// Case is one run: a scenario against one freshly started deployment.
type Case struct {
	ID         string
	Group      string
	Scenario   bench.Scenario
	Deployment string
	Sockets    int
	RoomSize   int
	Args       []string      // scenario flags after the common ones
	PIDs       bool          // pass --pid with every process of the deployment
	Timeout    time.Duration // the whole bench run
}

func caseID(group string, n int, dep string) string {
	return group + "/" + strconv.Itoa(n) + "/" + dep
}

// plan lists every run in order: scenario by scenario, and within one
// count or room size the deployments back to back.
func (p Params) plan() []Case {
	var out []Case
	add := func(c Case) {
		if c.Timeout == 0 {
			c.Timeout = 10 * time.Minute
		}
		out = append(out, c)
	}
	hold := []string{"--settle-window", p.SettleWindow, "--settle-timeout", p.SettleTimeout}
	for _, n := range p.HoldCounts {
		for _, d := range threeDeps {
			add(Case{ID: caseID(groupHold, n, d), Group: groupHold, Scenario: bench.ScenarioHold, Deployment: d,
				Sockets: n, RoomSize: 4, Args: hold, PIDs: true})
		}
	}
	for _, n := range p.StormCounts {
		for _, d := range allDeps {
			add(Case{ID: caseID(groupStorm, n, d), Group: groupStorm, Scenario: bench.ScenarioStorm, Deployment: d,
				Sockets: n, RoomSize: 4})
		}
	}
	for _, k := range p.SweepRoomSizes {
		for _, d := range threeDeps {
			add(Case{ID: caseID(groupSweep, k, d), Group: groupSweep, Scenario: bench.ScenarioStorm, Deployment: d,
				Sockets: p.SweepSockets, RoomSize: k})
		}
	}
	for _, d := range allDeps {
		add(Case{ID: caseID(groupRelay, p.RelaySockets, d), Group: groupRelay, Scenario: bench.ScenarioRelay, Deployment: d,
			Sockets: p.RelaySockets, RoomSize: 2,
			Args: []string{"--rate", fmtFlagFloat(p.RelayRate), "--duration", p.Duration}})
	}
	for _, d := range allDeps {
		add(Case{ID: caseID(groupSaturate, p.SaturateSockets, d), Group: groupSaturate, Scenario: bench.ScenarioRelay,
			Deployment: d, Sockets: p.SaturateSockets, RoomSize: 2,
			Args: []string{"--saturate", "--rate", "1000", "--step-duration", p.SaturateStep}, Timeout: 15 * time.Minute})
	}
	for _, d := range threeDeps {
		add(Case{ID: caseID(groupFanout, p.FanoutSockets, d), Group: groupFanout, Scenario: bench.ScenarioFanout, Deployment: d,
			Sockets: p.FanoutSockets, RoomSize: 4,
			Args: []string{"--rate", fmtFlagFloat(p.FanoutRate), "--duration", p.Duration}})
	}
	if p.BigSockets > 0 {
		// The server cannot hold this many sockets (its descriptor limit),
		// so the sockets beyond it never connect: a short timeout and no
		// retries bound how long their failures take.
		add(Case{ID: caseID(groupBig, p.BigSockets, depDev), Group: groupBig, Scenario: bench.ScenarioHold, Deployment: depDev,
			Sockets: p.BigSockets, RoomSize: 4, PIDs: true, Timeout: 30 * time.Minute,
			Args: append([]string{"--source", p.BigSources, "--timeout", "10s", "--connect-retries", "0",
				"--dial-concurrency", "4096"}, hold...)})
	}
	return out
}

// filter keeps the cases whose id matches only (all when nil).
func filter(cases []Case, only *regexp.Regexp) []Case {
	if only == nil {
		return cases
	}
	var out []Case
	for _, c := range cases {
		if only.MatchString(c.ID) {
			out = append(out, c)
		}
	}
	return out
}

func fmtFlagFloat(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// describe is a case's one-line summary for progress logs.
func (c Case) describe() string {
	return fmt.Sprintf("%s (%s, %d sockets, rooms of %d)", c.ID, c.Scenario, c.Sockets, c.RoomSize)
}
