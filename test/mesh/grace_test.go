package mesh_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/rtcmesh/rtcmesh/internal/meshtest"
	"github.com/rtcmesh/rtcmesh/shared"
)

// command queues a room command as a gateway would.
func command(t *testing.T, m *meshtest.Mesh, verb string, cmd shared.Command) {
	t.Helper()
	key, err := shared.EscapeRoom(cmd.Room)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(cmd)
	if _, err := jetstreamOf(t, m).PublishMsg(t.Context(), &nats.Msg{Subject: shared.RoomCmd(key, verb), Data: data}); err != nil {
		t.Fatal(err)
	}
}

// TestGraceTransportDrop: a recoverable transport drop gives the room
// #rtcio:peer-left at once; a resume within the grace window cancels the
// departure silently (no user-disconnected, no presence leave, the member
// moved to the new gateway); without a resume, user-disconnected and a
// presence leave with reason "transport" follow the window.
func TestGraceTransportDrop(t *testing.T) {
	const window = 1500 * time.Millisecond
	m := meshtest.Start(t, meshtest.Options{Grace: window})
	l := watchPresence(t, m)
	st := m.Store()
	gw0, gw1 := m.Gateways[0].GW.ID(), m.Gateways[1].GW.ID()
	a := dial(t, m, 0, "a")
	b := dial(t, m, 1, "b")
	c := dial(t, m, 1, "c")
	a.join("g", "A")
	b.join("g", "B")
	c.join("g", "C")

	// b drops and comes back on the other gateway.
	nameB := "B"
	command(t, m, shared.VerbDisconnect, shared.Command{Room: "g", SID: b.ID(), Gateway: gw1, Reason: shared.ReasonTransport})
	waitCount(t, a, evPeerLeft, 1, deliverWait)
	command(t, m, shared.VerbResume, shared.Command{Room: "g", SID: b.ID(), Gateway: gw0, Name: &nameB})
	// c drops for good.
	command(t, m, shared.VerbDisconnect, shared.Command{Room: "g", SID: c.ID(), Gateway: gw1, Reason: shared.ReasonTransport})
	dropped := time.Now()
	l.wait(t, "leave", "g", c.ID(), 1, deliverWait)
	if since := time.Since(dropped); since < window {
		t.Fatalf("c's presence leave %v after its drop, within the %v grace window", since, window)
	}
	waitSeq(t, a, []string{evPeerLeft, evDisconn}, []string{peerLeft(b.ID()), peerLeft(c.ID()), userDisc(c.ID())}, deliverWait)
	d := dial(t, m, 0, "d") // marker: the resume and the expiry are processed
	d.join("g", "D")
	waitSeq(t, d, membership, []string{userConn(a.ID(), "A"), userConn(b.ID(), "B"), joinOK("g")}, deliverWait)
	if leaves := l.find("leave", "g", b.ID()); len(leaves) != 0 {
		t.Fatalf("the resumed socket left:\n%s", renderPresence(leaves))
	}
	departed(t, l, "g", c.ID(), shared.ReasonTransport, gw1)
	checkRosters(t, st, rosterWant{"g": {a.ID(), b.ID(), d.ID()}}, deliverWait)
	members, err := st.AllMembers(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, mem := range members {
		if mem.SID == b.ID() && (mem.Gateway != gw0 || mem.Departing != nil) {
			t.Fatalf("resumed member %+v: want gateway %s and no departure", mem, gw0)
		}
	}
}
