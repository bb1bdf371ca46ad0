package bench

import (
	"maps"
	"testing"
)

// Shorthands for synthetic event sequences.
var (
	ok          = logRec{kind: recJoinOK}
	uc          = func(p int16) logRec { return logRec{kind: recUserConnected, peer: p} }
	offer       = func(p int16) logRec { return logRec{kind: recInitOffer, peer: p} }
	offerTwoArg = func(p int16) logRec { return logRec{kind: recInitOffer, peer: p, bad: true} }
)

// correct3 is a correct room of three: 0 joined first, then 1, then 2.
func correct3() [][]logRec {
	return [][]logRec{
		{ok, uc(1), offer(1), uc(2), offer(2)},
		{uc(0), ok, uc(2), offer(2)},
		{uc(0), uc(1), ok},
	}
}

func TestCheckRoom(t *testing.T) {
	all := func(n int) []bool {
		b := make([]bool, n)
		for i := range b {
			b[i] = true
		}
		return b
	}
	cases := []struct {
		name    string
		live    []bool
		refused []bool
		logs    [][]logRec
		want    map[string]int64
	}{
		{name: "correct", logs: correct3(), want: map[string]int64{}},
		{name: "single member", logs: [][]logRec{{ok}}, want: map[string]int64{}},
		{name: "double init-offer", logs: func() [][]logRec {
			l := correct3()
			l[0] = append(l[0], offer(2))
			return l
		}(), want: map[string]int64{vDuplicateInitOffer: 1}},
		{name: "init-offer both ways", logs: func() [][]logRec {
			l := correct3()
			l[2] = append(l[2], offer(0))
			return l
		}(), want: map[string]int64{vInitOfferBothWays: 1}},
		{name: "missing init-offer", logs: [][]logRec{
			{ok, uc(1), uc(2), offer(2)},
			{uc(0), ok, uc(2), offer(2)},
			{uc(0), uc(1), ok},
		}, want: map[string]int64{vMissingInitOffer: 1}},
		{name: "init-offer with two arguments", logs: func() [][]logRec {
			l := correct3()
			l[1][3] = offerTwoArg(2)
			return l
		}(), want: map[string]int64{vInitOfferArgs: 1}},
		{name: "user-connected about self", logs: func() [][]logRec {
			l := correct3()
			l[1] = append(l[1], uc(peerSelf))
			return l
		}(), want: map[string]int64{vAboutSelf: 1}},
		{name: "init-offer about self", logs: func() [][]logRec {
			l := correct3()
			l[2] = append(l[2], offer(peerSelf))
			return l
		}(), want: map[string]int64{vAboutSelf: 1}},
		{name: "about a non-member", logs: func() [][]logRec {
			l := correct3()
			l[0] = append(l[0], uc(peerForeign), offer(7))
			return l
		}(), want: map[string]int64{vAboutNonMember: 2}},
		{name: "backfill after join-ok", logs: [][]logRec{
			{ok, uc(1), offer(1), uc(2), offer(2)},
			{ok, uc(0), uc(2), offer(2)}, // user-connected about 0 came after its join-ok
			{uc(0), uc(1), ok},
		}, want: map[string]int64{vBackfillAfterJoinOK: 1}},
		{name: "missing and duplicate user-connected", logs: [][]logRec{
			{ok, uc(1), offer(1), uc(2), uc(2), offer(2)},
			{uc(0), ok, offer(2)},
			{uc(0), uc(1), ok},
		}, want: map[string]int64{vDupUserConnected: 1, vMissingUserConnected: 1}},
		{name: "missing and duplicate join-ok", logs: [][]logRec{
			{ok, ok, uc(1), offer(1)},
			{uc(0)},
		}, want: map[string]int64{vDuplicateJoinOK: 1, vMissingJoinOK: 1}},
		{name: "a member that never connected is left out", live: []bool{true, false, true}, logs: [][]logRec{
			{ok, uc(2), offer(2)},
			nil,
			{uc(0), ok},
		}, want: map[string]int64{}},
		{name: "events about a member that never connected", live: []bool{true, false}, logs: [][]logRec{
			{ok, uc(1)},
			nil,
		}, want: map[string]int64{vAboutNonMember: 1}},
		{name: "a refused member expects nothing", refused: []bool{false, true, false}, logs: [][]logRec{
			{ok, uc(2), offer(2)},
			nil,
			{uc(0), ok},
		}, want: map[string]int64{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			live := tc.live
			if live == nil {
				live = all(len(tc.logs))
			}
			v := newCounters()
			checkRoom(live, tc.refused, tc.logs, v)
			want := maps.Clone(tc.want)
			maps.DeleteFunc(want, func(_ string, n int64) bool { return n == 0 })
			if got := v.snapshot(); !maps.Equal(got, want) {
				t.Errorf("violations %v, want %v", got, want)
			}
		})
	}
}
