package mesh_test

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/rtcmesh/rtcmesh/gateway"
	"github.com/rtcmesh/rtcmesh/internal/meshtest"
	"github.com/rtcmesh/rtcmesh/internal/siotest"
)

// messagesFrom returns c's #rtcio:message events.
func messages(c events) []siotest.Event { return named(c, evMessage) }

// TestRelayStampsSourceKeepsBytes: #rtcio:message goes to its target only,
// across gateways, with source stamped with the sender's real id (every
// occurrence, or added when missing) and every other member, target and
// data included, byte for byte as sent, in order.
func TestRelayStampsSourceKeepsBytes(t *testing.T) {
	m := meshtest.Start(t, meshtest.Options{})
	sp := startSpy(t, m)
	a := dial(t, m, 0, "a")
	b := dial(t, m, 1, "b")
	a.join("r", "A")
	b.join("r", "B")
	waitCount(t, a, evInitOffer, 1, deliverWait)
	sp.waitFor(t, 0, "a's init-offer", to(a.ID()), evInitOffer)
	mark := sp.mark()

	data := `{"description": {"type":"offer", "sdp":"v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n"}, "n":[1, 2.50, 1e3, -0.0], "u":"\u00e9\ud83d\ude00 <&>", "x" : null}`
	// B's id with its first byte written as a \u escape: still B, but the
	// target must arrive exactly as written.
	escTarget := fmt.Sprintf(`"\u%04x%s"`, b.ID()[0], b.ID()[1:])
	sent := []struct {
		payload string
		want    []member
	}{
		{ // spoofed source
			fmt.Sprintf(`{"source":"mallory","target":%q,"data":%s}`, b.ID(), data),
			[]member{{"source", quote(a.ID())}, {"target", quote(b.ID())}, {"data", data}},
		},
		{ // no source: added first
			fmt.Sprintf(`{"target":%q,"data":{"candidate":{"candidate":"candidate:1 1 udp 1 127.0.0.1 9 typ host","sdpMid":"0","sdpMLineIndex":0}}}`, b.ID()),
			[]member{{"source", quote(a.ID())}, {"target", quote(b.ID())},
				{"data", `{"candidate":{"candidate":"candidate:1 1 udp 1 127.0.0.1 9 typ host","sdpMid":"0","sdpMLineIndex":0}}`}},
		},
		{ // two sources: both replaced
			fmt.Sprintf(`{"source":"x","target":%q,"source":"y","data":{"mid":"m1"}}`, b.ID()),
			[]member{{"source", quote(a.ID())}, {"target", quote(b.ID())}, {"source", quote(a.ID())}, {"data", `{"mid":"m1"}`}},
		},
		{ // escaped target, extra members kept
			fmt.Sprintf(`{"target":%s,"data":[],"extra":{"k":[true]}}`, escTarget),
			[]member{{"source", quote(a.ID())}, {"target", escTarget}, {"data", `[]`}, {"extra", `{"k":[true]}`}},
		},
	}
	for _, s := range sent {
		a.emitRaw(`["#rtcio:message",` + s.payload + `]`)
	}
	// Dropped: to itself, and to a socket it shares no room with.
	c := dial(t, m, 1, "c")
	c.join("s", "C")
	a.emitRaw(fmt.Sprintf(`["#rtcio:message",{"target":%q,"data":"self"}]`, a.ID()))
	a.emitRaw(fmt.Sprintf(`["#rtcio:message",{"target":%q,"data":"stranger"}]`, c.ID()))
	c.emitRaw(fmt.Sprintf(`["#rtcio:message",{"target":%q,"data":"stranger"}]`, a.ID()))
	// Fences: a later message from each sending gateway connection.
	a.emitRaw(fmt.Sprintf(`["#rtcio:message",{"target":%q,"data":"fence"}]`, b.ID()))
	c2 := dial(t, m, 0, "c2")
	c2.join("s", "C2")
	waitCount(t, c, evInitOffer, 1, deliverWait)
	c.emitRaw(fmt.Sprintf(`["#rtcio:message",{"target":%q,"data":"fence"}]`, c2.ID()))
	waitCount(t, b, evMessage, len(sent)+1, deliverWait)
	waitCount(t, c2, evMessage, 1, deliverWait)
	sp.waitFor(t, mark, "c's fence", relayTo(c2.ID()))
	poll(deliverWait, func() bool { return len(sp.since(mark, relayFrom(a.ID()))) >= len(sent)+1 })

	got := messages(b)
	if len(got) != len(sent)+1 {
		t.Fatalf("b received %d messages, want %d:\n%s", len(got), len(sent)+1, render(got))
	}
	for i, s := range sent {
		if ms := members(t, got[i].Args[0]); !slices.Equal(ms, s.want) {
			t.Errorf("message %d arrived as %s\nmembers %q\nwant    %q", i, got[i].Args[0], ms, s.want)
		}
	}
	if ms := members(t, got[len(sent)].Args[0]); ms[len(ms)-1] != (member{"data", `"fence"`}) {
		t.Errorf("last message %s, want the fence", got[len(sent)].Args[0])
	}
	for _, x := range []events{a, c} {
		if evs := messages(x); len(evs) != 0 {
			t.Errorf("%s received messages:\n%s", x.ID(), render(evs))
		}
	}
	if msgs := sp.since(mark, relayFrom(a.ID())); len(msgs) != len(sent)+1 || slices.ContainsFunc(msgs, func(m *nats.Msg) bool { return !relayTo(b.ID())(m) }) {
		t.Errorf("a's relays should all go to b:\n%s", renderMsgs(msgs))
	}
	if msgs := sp.since(mark, relayFrom(c.ID())); len(msgs) != 1 {
		t.Errorf("c's relays should be the fence only:\n%s", renderMsgs(msgs))
	}
}

// TestRelayAfterLeave: once two sockets share no room any more (one left
// with leave-room), their #rtcio:message to each other are dropped (§4:
// "a target that is not a socket sharing a room with the sender is
// dropped"), even after they had exchanged messages.
func TestRelayAfterLeave(t *testing.T) {
	m := meshtest.Start(t, meshtest.Options{})
	sp := startSpy(t, m)
	a := dial(t, m, 0, "a")
	b := dial(t, m, 1, "b")
	fa := dial(t, m, 0, "a's fence peer")
	fb := dial(t, m, 1, "b's fence peer")
	a.join("r", "A")
	fa.join("r", "FA")
	b.join("r", "B")
	b.join("s", "B")
	fb.join("s", "FB")
	waitCount(t, a, evInitOffer, 1, deliverWait)
	waitCount(t, b, evInitOffer, 1, deliverWait)
	a.emit(evMessage, map[string]any{"target": b.ID(), "data": "hello"})
	b.emit(evMessage, map[string]any{"target": a.ID(), "data": "hello"})
	waitCount(t, a, evMessage, 1, deliverWait)
	waitCount(t, b, evMessage, 1, deliverWait)
	sp.waitFor(t, 0, "the hello to a", relayTo(a.ID()))
	sp.waitFor(t, 0, "the hello to b", relayTo(b.ID()))

	b.emit(evLeaveRoom, map[string]any{"roomId": "r"})
	waitCount(t, a, evDisconn, 1, deliverWait)
	mark := sp.mark()
	a.emit(evMessage, map[string]any{"target": b.ID(), "data": "after leave"})
	b.emit(evMessage, map[string]any{"target": a.ID(), "data": "after leave"})
	a.emit(evMessage, map[string]any{"target": fa.ID(), "data": "fence"})
	b.emit(evMessage, map[string]any{"target": fb.ID(), "data": "fence"})
	sp.waitFor(t, mark, "a's fence", relayTo(fa.ID()))
	sp.waitFor(t, mark, "b's fence", relayTo(fb.ID()))
	if msgs := sp.since(mark, func(m *nats.Msg) bool { return relayTo(a.ID())(m) || relayTo(b.ID())(m) }); len(msgs) != 0 {
		t.Fatalf("relayed between sockets that no longer share a room:\n%s", renderMsgs(msgs))
	}
}

// TestRelayOrder: 500 #rtcio:message each way between sockets on different
// gateways, sent back to back: all delivered, each direction in order.
func TestRelayOrder(t *testing.T) {
	m := meshtest.Start(t, meshtest.Options{})
	a := dial(t, m, 0, "a")
	b := dial(t, m, 1, "b")
	a.join("r", "A")
	b.join("r", "B")
	waitCount(t, a, evInitOffer, 1, deliverWait)
	const n = 500
	var wg sync.WaitGroup
	for _, pair := range [][2]*client{{a, b}, {b, a}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range n {
				if err := pair[0].Emit(evMessage, map[string]any{"target": pair[1].ID(), "data": map[string]any{"i": i}}); err != nil {
					t.Errorf("emit: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, pair := range [][2]*client{{a, b}, {b, a}} {
		from, to := pair[0], pair[1]
		waitCount(t, to, evMessage, n, deliverWait)
		got := messages(to)
		if len(got) != n {
			t.Fatalf("%s received %d messages, want %d", to.label, len(got), n)
		}
		for i, e := range got {
			var msg struct {
				Source, Target string
				Data           struct{ I int }
			}
			if err := e.Arg(0, &msg); err != nil || msg.Source != from.ID() || msg.Target != to.ID() || msg.Data.I != i {
				t.Fatalf("%s: message %d is %s, want data.i=%d from %s", to.label, i, e.Args[0], i, from.ID())
			}
		}
	}
}

// TestBroadcastEvents: chat-message, stopScreenShare and any configured
// broadcast event from a member reach the rest of its room (as sent, up to
// JSON encoding) and nobody else, the sender included; an event not
// configured is ignored.
func TestBroadcastEvents(t *testing.T) {
	m := meshtest.Start(t, meshtest.Options{Gateway: func(c *gateway.Config) {
		c.BroadcastEvents = []string{evChat, evStopShare, "raise-hand"}
	}})
	sp := startSpy(t, m)
	a := dial(t, m, 0, "a")
	b := dial(t, m, 1, "b")
	c := dial(t, m, 0, "c")
	d := dial(t, m, 1, "d")
	a.join("r", "A")
	b.join("r", "B")
	c.join("r", "C")
	d.join("q", "D")
	sp.waitFor(t, 0, "d's join-ok", to(d.ID()))
	mark := sp.mark()

	// One sender at a time: commands from different gateways have no
	// order between them.
	kinds := []string{evChat, evStopShare, "raise-hand", "lower-hand"}
	chat := `{"roomId":"r", "text":"h\u00e9llo <b>", "meta": {"k":[1, 2.0]}}`
	a.emitRaw(`["chat-message",` + chat + `]`)
	waitCount(t, b, evChat, 1, deliverWait)
	waitCount(t, c, evChat, 1, deliverWait)
	b.emitRaw(`["stopScreenShare",{"roomId":"r","streamId":"s1"}]`)
	waitCount(t, a, evStopShare, 1, deliverWait)
	waitCount(t, c, evStopShare, 1, deliverWait)
	c.emitRaw(`["raise-hand",{"roomId":"r","up":true}]`)
	c.emitRaw(`["lower-hand",{"roomId":"r"}]`) // not configured: ignored
	c.emitRaw(`["chat-message",{"roomId":"r","text":"fence"}]`)

	stop := ev(evStopShare, map[string]any{"roomId": "r", "streamId": "s1"})
	hand := ev("raise-hand", map[string]any{"roomId": "r", "up": true})
	fence := ev(evChat, map[string]any{"roomId": "r", "text": "fence"})
	waitSeq(t, a, kinds, []string{stop, hand, fence}, deliverWait)
	waitSeq(t, b, kinds, []string{ev(evChat, rawArg(chat)), hand, fence}, deliverWait)
	a.emitRaw(`["chat-message",{"roomId":"r","text":"fence 2"}]`)
	waitSeq(t, c, kinds, []string{ev(evChat, rawArg(chat)), stop, ev(evChat, map[string]any{"roomId": "r", "text": "fence 2"})}, deliverWait)
	// (Broadcasts are equal as JSON values, not byte for byte: the command
	// re-encodes them. Only #rtcio:message is promised unchanged bytes.)
	if msgs := sp.since(mark, to(d.ID())); len(msgs) != 0 || len(seq(d, kinds...)) != 0 {
		t.Errorf("the other room's socket received a broadcast:\n%s", renderMsgs(msgs))
	}
}

// TestAskICE: ask-ice with an ack gets {iceServers} with coturn REST
// credentials on the TURN entries, whatever arguments come with it.
func TestAskICE(t *testing.T) {
	const secret = "s3cret"
	ttl := 10 * time.Minute
	urls := []string{"stun:stun.example.org:3478", "turn:turn.example.org:3478?transport=udp", "turns:turn.example.org:5349?transport=tcp"}
	m := meshtest.Start(t, meshtest.Options{Gateway: func(c *gateway.Config) {
		c.TURNSecret, c.TURNURLs, c.TURNTTL = secret, urls, ttl
	}})
	for gw := range 2 {
		c := dial(t, m, gw, "c")
		for _, args := range [][]any{nil, {nil}, {42, "x"}} {
			start := time.Now()
			ack, err := c.EmitWithAck(deliverWait, evAskICE, args...)
			if err != nil {
				t.Fatalf("gateway %d: ask-ice %v: %v", gw, args, err)
			}
			if len(ack) != 1 {
				t.Fatalf("ack with %d arguments, want 1", len(ack))
			}
			var got struct {
				ICEServers []struct {
					URLs       []string `json:"urls"`
					Username   string   `json:"username"`
					Credential string   `json:"credential"`
				} `json:"iceServers"`
			}
			if err := json.Unmarshal(ack[0], &got); err != nil || len(got.ICEServers) != 2 {
				t.Fatalf("ack %s, want two ICE servers", ack[0])
			}
			stun, turn := got.ICEServers[0], got.ICEServers[1]
			if !slices.Equal(stun.URLs, urls[:1]) || stun.Username != "" || stun.Credential != "" {
				t.Errorf("stun entry %+v, want %v without credentials", stun, urls[:1])
			}
			if !slices.Equal(turn.URLs, urls[1:]) {
				t.Errorf("turn entry urls %v, want %v", turn.URLs, urls[1:])
			}
			expiry, err := strconv.ParseInt(turn.Username, 10, 64)
			if lo, hi := start.Add(ttl).Unix()-1, time.Now().Add(ttl).Unix()+1; err != nil || expiry < lo || expiry > hi {
				t.Errorf("turn username %q, want the expiry time in [%d, %d]", turn.Username, lo, hi)
			}
			mac := hmac.New(sha1.New, []byte(secret))
			mac.Write([]byte(turn.Username))
			if want := base64.StdEncoding.EncodeToString(mac.Sum(nil)); turn.Credential != want {
				t.Errorf("turn credential %q, want base64(HMAC-SHA1(secret, username)) = %q", turn.Credential, want)
			}
		}
		if evs := c.Events(); len(evs) != 0 {
			t.Errorf("ask-ice caused events:\n%s", render(evs))
		}
	}
}
