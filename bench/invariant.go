package bench

// The rtc.io invariants of a join (DESIGN.md §5, docs/rtcio-protocol.md
// §2.3), checked per room from what each member received. Everything the
// check needs is recorded while the events arrive (logRec); the check itself
// is a pure function over those records, so tests feed it synthetic
// sequences.

// The kinds of join events a member records.
const (
	recJoinOK        uint8 = iota + 1 // join-ok
	recUserConnected                  // user-connected {id: peer}
	recInitOffer                      // #rtcio:init-offer {source: peer}
)

// Markers for logRec.peer besides a position in the room.
const (
	peerSelf    int16 = -1 // the event was about the receiver itself
	peerForeign int16 = -2 // about a socket that is not a member of the room (or unknown)
)

// logRec is one join event as a member received it, in arrival order.
type logRec struct {
	kind uint8
	bad  bool  // init-offer: not exactly one argument
	peer int16 // position of the socket the event is about, or a marker
}

// The violation kinds the checker counts.
const (
	vDuplicateInitOffer   = "duplicate-init-offer"     // the same member got init-offer about the same peer twice
	vInitOfferBothWays    = "init-offer-both-ways"     // both members of a pair got one (both polite)
	vMissingInitOffer     = "missing-init-offer"       // neither member of a pair got one
	vInitOfferArgs        = "init-offer-args"          // an init-offer without exactly one argument
	vAboutSelf            = "event-about-self"         // user-connected, media-state or init-offer about the receiver
	vAboutNonMember       = "event-about-non-member"   // about a socket outside the room
	vMissingUserConnected = "missing-user-connected"   // a member never heard of another
	vDupUserConnected     = "duplicate-user-connected" // ... or heard twice
	vBackfillAfterJoinOK  = "backfill-after-join-ok"   // a newcomer's user-connected about an earlier member came after its join-ok
	vMissingJoinOK        = "missing-join-ok"          // a live member never got join-ok (nor join-error)
	vDuplicateJoinOK      = "duplicate-join-ok"
)

// checkRoom counts the violations of one room. live marks the members that
// were connected when they joined (the others are left out); logs holds
// each member's records in arrival order; failed marks members whose join
// was refused (join-error, counted as an error elsewhere), which are
// expected to receive nothing.
func checkRoom(live, failed []bool, logs [][]logRec, v *counters) {
	k := len(logs)
	in := func(p int) bool { return live[p] && (failed == nil || !failed[p]) }
	uc := make([]int, k*k) // uc[x*k+y]: user-connected about y received by x
	io := make([]int, k*k)
	ucBefore := make([]bool, k*k) // the first such user-connected came before x's join-ok
	for x := 0; x < k; x++ {
		joinOK := 0
		for _, r := range logs[x] {
			switch {
			case r.kind == recJoinOK:
				joinOK++
				continue
			case r.kind == recInitOffer && r.bad:
				v.inc(vInitOfferArgs)
			}
			switch r.peer {
			case peerSelf:
				v.inc(vAboutSelf)
				continue
			case peerForeign:
				v.inc(vAboutNonMember)
				continue
			}
			y := int(r.peer)
			if y < 0 || y >= k || !in(y) {
				v.inc(vAboutNonMember)
				continue
			}
			switch r.kind {
			case recUserConnected:
				if uc[x*k+y] == 0 {
					ucBefore[x*k+y] = joinOK == 0
				}
				uc[x*k+y]++
			case recInitOffer:
				io[x*k+y]++
			}
		}
		if !in(x) {
			continue
		}
		switch {
		case joinOK == 0:
			v.inc(vMissingJoinOK)
		case joinOK > 1:
			v.inc(vDuplicateJoinOK)
		}
	}
	for x := 0; x < k; x++ {
		for y := 0; y < k; y++ {
			if x == y || !in(x) || !in(y) {
				continue
			}
			switch n := uc[x*k+y]; {
			case n == 0:
				v.inc(vMissingUserConnected)
			case n > 1:
				v.inc(vDupUserConnected)
			}
			if io[x*k+y] > 1 {
				v.inc(vDuplicateInitOffer)
			}
			// x got init-offer about y: x joined earlier, y is the
			// newcomer, whose backfill (user-connected about x) must
			// precede its join-ok. (When offers went both ways the order is
			// unknown; that is counted below.)
			if io[x*k+y] > 0 && io[y*k+x] == 0 && uc[y*k+x] > 0 && !ucBefore[y*k+x] {
				v.inc(vBackfillAfterJoinOK)
			}
			if y > x {
				a, b := io[x*k+y], io[y*k+x]
				switch {
				case a == 0 && b == 0:
					v.inc(vMissingInitOffer)
				case a > 0 && b > 0:
					v.inc(vInitOfferBothWays)
				}
			}
		}
	}
}
