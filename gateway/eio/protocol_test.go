package eio_test

// Tests for the behaviours of docs/socketio-protocol.md §2 (items 1-14 and
// 22; the Socket.IO items live in gateway/sio), each on both transports
// where the behaviour exists on both.

import (
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/rtcmesh/rtcmesh/gateway/eio"
	"github.com/rtcmesh/rtcmesh/internal/eiotest"
)

// §2.1: malformed handshakes get 400 with a JSON error body.
func TestHandshakeErrors(t *testing.T) {
	e := start(t, eio.Config{}, false)
	cases := []struct {
		name, method, query string
		code                int
	}{
		{"missing EIO", "GET", "transport=polling", 5},
		{"EIO=abc", "GET", "EIO=abc&transport=polling", 5},
		{"EIO=3", "GET", "EIO=3&transport=polling", 5},
		{"missing transport", "GET", "EIO=4", 0},
		{"unknown transport", "GET", "EIO=4&transport=abc", 0},
		{"POST handshake", "POST", "EIO=4&transport=polling", 2},
		{"PUT handshake", "PUT", "EIO=4&transport=polling", 2},
		{"unknown sid", "GET", "EIO=4&transport=polling&sid=nope", 1},
		{"unknown sid POST", "POST", "EIO=4&transport=polling&sid=nope", 1},
		{"websocket without upgrade", "GET", "EIO=4&transport=websocket", 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body := e.c.Do(tc.method, tc.query, "")
			if status != http.StatusBadRequest {
				t.Fatalf("status = %d, want 400 (body %q)", status, body)
			}
			var eb struct {
				Code    *int   `json:"code"`
				Message string `json:"message"`
			}
			if err := json.Unmarshal([]byte(body), &eb); err != nil || eb.Code == nil || eb.Message == "" {
				t.Fatalf("body %q is not a JSON error", body)
			}
			if *eb.Code != tc.code {
				t.Fatalf("code = %d, want %d (%s)", *eb.Code, tc.code, eb.Message)
			}
		})
	}
	t.Run("websocket upgrades are refused before upgrading", func(t *testing.T) {
		for _, q := range []string{"transport=websocket", "EIO=abc&transport=websocket", "EIO=4", "EIO=4&transport=abc", "EIO=4&transport=websocket&sid=nope"} {
			conn, res, err := e.c.Dial(q)
			if err == nil {
				conn.Close()
				t.Fatalf("%s: upgrade succeeded", q)
			}
			if res == nil || res.StatusCode != http.StatusBadRequest {
				t.Fatalf("%s: response %v, want 400", q, res)
			}
		}
	})
}

// §2.2: the open packet has exactly the five keys, in milliseconds, and
// upgrades depend on the transport.
func TestHandshakeKeys(t *testing.T) {
	e := start(t, eio.Config{}, false)
	check := func(t *testing.T, pkt string, upgrades []string) {
		h, keys := parseOpen(t, pkt)
		var names []string
		for k := range keys {
			names = append(names, k)
		}
		sort.Strings(names)
		if got := strings.Join(names, ","); got != "maxPayload,pingInterval,pingTimeout,sid,upgrades" {
			t.Fatalf("keys = %s", got)
		}
		if h.PingInterval != 300 || h.PingTimeout != 200 || h.MaxPayload != 1000000 || h.SID == "" {
			t.Fatalf("handshake = %+v", h)
		}
		if strings.Join(h.Upgrades, ",") != strings.Join(upgrades, ",") || h.Upgrades == nil {
			t.Fatalf("upgrades = %#v, want %#v", h.Upgrades, upgrades)
		}
	}
	t.Run("polling", func(t *testing.T) {
		status, body := e.c.Do("GET", "EIO=4&transport=polling", "")
		if status != 200 {
			t.Fatalf("status %d", status)
		}
		check(t, body, []string{"websocket"})
	})
	t.Run("websocket", func(t *testing.T) {
		ws := e.c.MustDial("EIO=4&transport=websocket")
		check(t, ws.Read(2*time.Second).Data, []string{})
	})
}

// §2.3: POST answers "ok" only after its packets were handled, and the
// next GET returns everything queued in one payload.
func TestPostBatchEcho(t *testing.T) {
	e := start(t, eio.Config{}, false)
	for i := 0; i < 20; i++ {
		sid := e.c.Open()
		status, body := e.c.Post(sid, "4test1\x1e4test2\x1e4test3")
		if status != 200 || body != "ok" {
			t.Fatalf("POST = %d %q", status, body)
		}
		if _, body := e.c.Get(sid); body != "4test1\x1e4test2\x1e4test3" {
			t.Fatalf("GET = %q", body)
		}
	}
}

// §2.4: binary goes as b<base64> over polling and as raw frames over WS.
func TestBinary(t *testing.T) {
	e := start(t, eio.Config{}, false)
	t.Run("polling", func(t *testing.T) {
		sid := e.c.Open()
		if status, _ := e.c.Post(sid, "4hello\x1ebAQIDBA=="); status != 200 {
			t.Fatalf("POST status %d", status)
		}
		if _, body := e.c.Get(sid); body != "4hello\x1ebAQIDBA==" {
			t.Fatalf("GET = %q", body)
		}
	})
	t.Run("websocket", func(t *testing.T) {
		ws := e.c.MustDial("EIO=4&transport=websocket")
		ws.Read(time.Second)
		ws.SendBinary([]byte{1, 2, 3, 4})
		f := ws.ReadSkipPings(2 * time.Second)
		if !f.Binary || f.Data != "\x01\x02\x03\x04" {
			t.Fatalf("frame = %+v", f)
		}
		ws.Send("4hello")
		if f := ws.ReadSkipPings(2 * time.Second); f.Binary || f.Data != "4hello" {
			t.Fatalf("frame = %+v", f)
		}
	})
}

// §2.5: an invalid packet in a POST closes the session.
func TestPollingParseErrorCloses(t *testing.T) {
	e := start(t, eio.Config{}, false)
	for _, payload := range []string{"abc", "4ok\x1ezzz", "", "b!!!"} {
		sid := e.c.Open()
		if status, _ := e.c.Post(sid, payload); status != http.StatusBadRequest {
			t.Fatalf("POST %q: status %d, want 400", payload, status)
		}
		if status, _ := e.c.Get(sid); status != http.StatusBadRequest {
			t.Fatalf("GET after %q: status %d, want 400", payload, status)
		}
		eventually(t, time.Second, "close reason", func() bool { return e.rec.closeReason(sid) == eio.ReasonParseError })
	}
}

// §2.6: a second concurrent GET gets 400, the first completes with "1",
// and the session is gone. Run many times: the lock must cover the check.
func TestDuplicateGet(t *testing.T) {
	e := start(t, eio.Config{}, false)
	for i := 0; i < 50; i++ {
		sid := e.c.Open()
		first := make(chan [2]any, 1)
		go func() {
			s, b := e.c.Get(sid)
			first <- [2]any{s, b}
		}()
		eventually(t, 2*time.Second, "first GET pending", func() bool { return e.srv.PendingPolls() == 1 })
		status, _ := e.c.Get(sid)
		if status != http.StatusBadRequest {
			t.Fatalf("second GET status %d", status)
		}
		r := <-first
		if r[0] != 200 || r[1] != "1" {
			t.Fatalf("first GET = %v %q, want 200 \"1\"", r[0], r[1])
		}
		if status, _ := e.c.Get(sid); status != http.StatusBadRequest {
			t.Fatalf("third GET status %d", status)
		}
	}
}

// §2.7: the client's "1" over polling: the pending GET gets "6" (also when
// the POST is handled first), and later requests 400.
func TestClientCloseWhileGetPending(t *testing.T) {
	e := start(t, eio.Config{}, false)
	for i := 0; i < 50; i++ {
		sid := e.c.Open()
		var wg sync.WaitGroup
		var getStatus int
		var getBody string
		wg.Add(2)
		go func() { defer wg.Done(); getStatus, getBody = e.c.Get(sid) }()
		go func() {
			defer wg.Done()
			if status, body := e.c.Post(sid, "1"); status != 200 || body != "ok" {
				t.Errorf("POST 1 = %d %q", status, body)
			}
		}()
		wg.Wait()
		if getStatus != 200 || getBody != "6" {
			t.Fatalf("iteration %d: GET = %d %q, want 200 \"6\"", i, getStatus, getBody)
		}
		if status, _ := e.c.Get(sid); status != http.StatusBadRequest {
			t.Fatalf("GET after close: status %d", status)
		}
		eventually(t, time.Second, "close reason", func() bool { return e.rec.closeReason(sid) == eio.ReasonTransportClose })
	}
}

// §2.8: pings every interval, rescheduled after each pong; without a pong
// the session dies at interval+timeout.
func TestHeartbeat(t *testing.T) {
	e := start(t, eio.Config{}, false)
	t.Run("polling pong keeps the session", func(t *testing.T) {
		sid := e.c.Open()
		for i := 0; i < 3; i++ {
			if status, body := e.c.Get(sid); status != 200 || body != "2" {
				t.Fatalf("round %d: GET = %d %q", i, status, body)
			}
			if status, _ := e.c.Post(sid, "3"); status != 200 {
				t.Fatalf("round %d: POST pong status %d", i, status)
			}
		}
	})
	t.Run("polling timeout", func(t *testing.T) {
		sid := e.c.Open()
		if _, body := e.c.Get(sid); body != "2" {
			t.Fatalf("GET = %q, want ping", body)
		}
		// No pong: the waiting GET is released with a close packet.
		if status, body := e.c.Get(sid); status != 200 || body != "1" {
			t.Fatalf("GET = %d %q, want close", status, body)
		}
		if status, _ := e.c.Get(sid); status != http.StatusBadRequest {
			t.Fatalf("GET after timeout: %d", status)
		}
		eventually(t, time.Second, "close reason", func() bool { return e.rec.closeReason(sid) == eio.ReasonPingTimeout })
	})
	t.Run("websocket pong keeps the session", func(t *testing.T) {
		ws := e.c.MustDial("EIO=4&transport=websocket")
		ws.Read(time.Second)
		for i := 0; i < 3; i++ {
			if f := ws.Read(2 * time.Second); f.Data != "2" {
				t.Fatalf("round %d: frame %q", i, f.Data)
			}
			ws.Send("3")
		}
	})
	t.Run("websocket timeout", func(t *testing.T) {
		ws := e.c.MustDial("EIO=4&transport=websocket")
		h, _ := parseOpen(t, ws.Read(time.Second).Data)
		ws.ExpectClosed(3 * time.Second)
		eventually(t, 2*time.Second, "close reason", func() bool { return e.rec.closeReason(h.SID) == eio.ReasonPingTimeout })
	})
}

// §2.8: a request after interval+timeout without a pong gets 400 even if
// the timer never fired: the deadline is checked on each request. The
// scheduler is stopped here, so only that check can close the session.
func TestDeadlineCheckedOnRequest(t *testing.T) {
	e := start(t, eio.Config{}, true)
	sid := e.c.Open()
	began := time.Now()
	eventually(t, 3*time.Second, "request refused after the deadline", func() bool {
		status, _ := e.c.Post(sid, "6")
		return status == http.StatusBadRequest
	})
	if elapsed := time.Since(began); elapsed < pingInterval+pingTimeout-50*time.Millisecond {
		t.Fatalf("session refused after %v, before its deadline", elapsed)
	}
	eventually(t, time.Second, "close reason", func() bool { return e.rec.closeReason(sid) == eio.ReasonPingTimeout })
}

// §2.9: while upgrading, GETs get noops, repeatedly.
func TestUpgradeNoops(t *testing.T) {
	e := start(t, eio.Config{PingInterval: 5 * time.Second, PingTimeout: 5 * time.Second}, false)
	sid := e.c.Open()
	pending := make(chan string, 1)
	go func() { _, b := e.c.Get(sid); pending <- b }()
	eventually(t, 2*time.Second, "GET pending", func() bool { return e.srv.PendingPolls() == 1 })
	ws := probe(t, e, sid)
	if b := <-pending; b != "6" {
		t.Fatalf("pending GET = %q, want noop", b)
	}
	for i := 0; i < 3; i++ {
		if status, b := e.c.Get(sid); status != 200 || b != "6" {
			t.Fatalf("GET %d while upgrading = %d %q", i, status, b)
		}
	}
	ws.Send("5")
	ws.Send("4hello")
	if f := ws.Read(time.Second); f.Data != "4hello" {
		t.Fatalf("after upgrade: %q", f.Data)
	}
}

// §2.10: a GET sent right after "5" gets 400, whichever goroutine runs
// first; also when "2probe" and "5" are sent back to back.
func TestGetRightAfterUpgrade(t *testing.T) {
	e := start(t, eio.Config{}, false)
	for i := 0; i < 30; i++ {
		sid := e.c.Open()
		ws := e.c.MustDial("EIO=4&transport=websocket&sid=" + sid)
		ws.Send("2probe")
		if i%2 == 0 {
			ws.Read(time.Second) // 3probe
		}
		ws.Send("5")
		if status, body := e.c.Get(sid); status != http.StatusBadRequest {
			t.Fatalf("iteration %d: GET after upgrade = %d %q", i, status, body)
		}
		ws.Send("4hello")
		if f := ws.ReadSkipPings(time.Second); f.Data == "3probe" {
			if f = ws.ReadSkipPings(time.Second); f.Data != "4hello" {
				t.Fatalf("echo %q", f.Data)
			}
		} else if f.Data != "4hello" {
			t.Fatalf("echo %q", f.Data)
		}
		ws.Conn.Close()
	}
}

// §2.11: a second WebSocket for an upgraded (or upgrading) sid completes
// the handshake and is closed at once; the first keeps working.
func TestSecondWebSocket(t *testing.T) {
	e := start(t, eio.Config{}, false)
	sid := e.c.Open()
	ws := upgrade(t, e, sid)
	second, res, err := e.c.Dial("EIO=4&transport=websocket&sid=" + sid)
	if err != nil {
		t.Fatalf("second upgrade refused: %v (%v)", err, res)
	}
	if res.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d", res.StatusCode)
	}
	expectClosed(t, second)
	ws.Send("4hello")
	if f := ws.ReadSkipPings(time.Second); f.Data != "4hello" {
		t.Fatalf("first socket echo %q", f.Data)
	}

	// And while the first probe is still in progress.
	sid = e.c.Open()
	probe := e.c.MustDial("EIO=4&transport=websocket&sid=" + sid)
	probe.Send("2probe")
	probe.Read(time.Second)
	second, _, err = e.c.Dial("EIO=4&transport=websocket&sid=" + sid)
	if err != nil {
		t.Fatalf("second probe refused: %v", err)
	}
	expectClosed(t, second)
}

// §2.12: the probe socket carries no normal traffic before "5"; what was
// queued meanwhile is flushed on it afterwards, in order.
func TestProbeFlushesQueue(t *testing.T) {
	e := start(t, eio.Config{PingInterval: 5 * time.Second, PingTimeout: 5 * time.Second}, false)
	sid := e.c.Open()
	ws := probe(t, e, sid)
	s := e.rec.session(sid)
	for _, m := range []string{"a", "b", "c"} {
		if err := s.Send(eio.TextMessage([]byte(m))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ws.TryRead(100 * time.Millisecond); err == nil {
		t.Fatal("probe socket received traffic before the upgrade completed")
	}
	// The timed-out read above poisons gorilla's reader; use a fresh probe.
	ws.Conn.Close()
	sid = e.c.Open()
	ws = e.c.MustDial("EIO=4&transport=websocket&sid=" + sid)
	ws.Send("2probe")
	ws.Read(time.Second)
	s = e.rec.session(sid)
	for _, m := range []string{"a", "b", "c"} {
		_ = s.Send(eio.TextMessage([]byte(m)))
	}
	ws.Send("5")
	for _, want := range []string{"4a", "4b", "4c"} {
		if f := ws.Read(time.Second); f.Data != want {
			t.Fatalf("flushed %q, want %q", f.Data, want)
		}
	}
	if s.Transport() != "websocket" {
		t.Fatalf("transport %s", s.Transport())
	}
}

// §2.13: WebSocket parse errors and close packets close at once.
func TestWebSocketClose(t *testing.T) {
	e := start(t, eio.Config{}, false)
	for _, tc := range []struct{ send, reason string }{
		{"abc", eio.ReasonParseError},
		{"1", eio.ReasonTransportClose},
		{"2", eio.ReasonTransportError},
	} {
		ws := e.c.MustDial("EIO=4&transport=websocket")
		h, _ := parseOpen(t, ws.Read(time.Second).Data)
		ws.Send(tc.send)
		ws.ExpectClosed(time.Second)
		eventually(t, time.Second, "close reason", func() bool { return e.rec.closeReason(h.SID) == tc.reason })
	}
}

// §2.14: maxPayload is enforced: 413 on a large POST, a read limit on WS.
func TestMaxPayload(t *testing.T) {
	e := start(t, eio.Config{MaxPayload: 1000}, false)
	sid := e.c.Open()
	if status, _ := e.c.Post(sid, "4"+strings.Repeat("x", 1000)); status != http.StatusRequestEntityTooLarge {
		t.Fatalf("large POST status %d, want 413", status)
	}
	if status, body := e.c.Post(sid, "4"+strings.Repeat("x", 998)); status != 200 || body != "ok" {
		t.Fatalf("POST at the limit = %d %q", status, body)
	}
	ws := e.c.MustDial("EIO=4&transport=websocket")
	h, _ := parseOpen(t, ws.Read(time.Second).Data)
	ws.Send("4" + strings.Repeat("x", 2000))
	ws.ExpectClosed(time.Second)
	eventually(t, time.Second, "closed", func() bool { return e.rec.closeReason(h.SID) != "" })
}

// The newer suite: abandoning a pending GET closes the session.
func TestCancelledPollCloses(t *testing.T) {
	e := start(t, eio.Config{}, false)
	sid := e.c.Open()
	ctxReq, _ := http.NewRequest("GET", e.c.URL("EIO=4&transport=polling&sid="+sid), nil)
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	done := make(chan struct{})
	go func() {
		defer close(done)
		client := &http.Client{Transport: tr, Timeout: 50 * time.Millisecond}
		if res, err := client.Do(ctxReq); err == nil {
			res.Body.Close()
		}
	}()
	<-done
	eventually(t, 2*time.Second, "session closed", func() bool { return e.rec.closeReason(sid) != "" })
	if status, _ := e.c.Get(sid); status != http.StatusBadRequest {
		t.Fatalf("GET after abort %d", status)
	}
}

// §2.22: output order holds across the polling-to-WebSocket switch while
// the server emits continuously.
func TestOrderAcrossUpgrade(t *testing.T) {
	e := start(t, eio.Config{PingInterval: 5 * time.Second, PingTimeout: 5 * time.Second}, false)
	for round := 0; round < 10; round++ {
		sid := e.c.Open()
		s := e.rec.session(sid)
		const n = 300
		stop := make(chan struct{})
		sent := make(chan int, 1)
		go func() {
			i := 0
			defer func() { sent <- i }()
			for ; i < n; i++ {
				if err := s.Send(eio.TextMessage([]byte(itoa(i)))); err != nil {
					return
				}
				if i == n/3 {
					close(stop)
				}
			}
		}()
		var got []string
		<-stop
		// Drain by polling until the probe starts, then upgrade.
		status, body := e.c.Get(sid)
		if status != 200 {
			t.Fatalf("GET %d", status)
		}
		got = append(got, strings.Split(body, "\x1e")...)
		ws := upgrade(t, e, sid)
		total := <-sent
		for len(got) < total {
			f := ws.Read(2 * time.Second)
			if f.Data == "6" || f.Data == "3probe" {
				continue
			}
			got = append(got, f.Data)
		}
		for i, g := range got {
			if g != "4"+itoa(i) {
				t.Fatalf("round %d: packet %d = %q (order or loss)", round, i, g)
			}
		}
		ws.Conn.Close()
	}
}

// Slow clients are disconnected, not starved: overflowing the queue closes
// the session and Send reports it.
func TestSlowClientClosed(t *testing.T) {
	e := start(t, eio.Config{MaxQueuedBytes: 10 * eio.PacketOverhead}, false)
	sid := e.c.Open()
	s := e.rec.session(sid)
	var err error
	for i := 0; i < 20 && err == nil; i++ {
		err = s.Send(eio.TextMessage([]byte("x")))
	}
	if err != eio.ErrSlow {
		t.Fatalf("Send error = %v, want ErrSlow", err)
	}
	eventually(t, time.Second, "slow-client close", func() bool { return e.rec.closeReason(sid) == eio.ReasonSlowClient })
	if err := s.Send(eio.TextMessage([]byte("x"))); err != eio.ErrClosed {
		t.Fatalf("Send after close = %v", err)
	}
}

// Server-side Close flushes what is queued, then ends the session.
func TestGracefulClose(t *testing.T) {
	e := start(t, eio.Config{}, false)
	t.Run("polling", func(t *testing.T) {
		sid := e.c.Open()
		s := e.rec.session(sid)
		_ = s.Send(eio.TextMessage([]byte("bye")))
		s.Close()
		// The data first, the close packet in the next response.
		if _, body := e.c.Get(sid); body != "4bye" {
			t.Fatalf("GET = %q", body)
		}
		if _, body := e.c.Get(sid); body != "1" {
			t.Fatalf("second GET = %q", body)
		}
		if status, _ := e.c.Get(sid); status != http.StatusBadRequest {
			t.Fatalf("GET after close %d", status)
		}
	})
	t.Run("websocket", func(t *testing.T) {
		ws := e.c.MustDial("EIO=4&transport=websocket")
		h, _ := parseOpen(t, ws.Read(time.Second).Data)
		s := e.rec.session(h.SID)
		_ = s.Send(eio.TextMessage([]byte("bye")))
		s.Close()
		if f := ws.Read(time.Second); f.Data != "4bye" {
			t.Fatalf("frame %q", f.Data)
		}
		ws.ExpectClosed(time.Second)
	})
}

func TestCORS(t *testing.T) {
	t.Run("any origin", func(t *testing.T) {
		e := start(t, eio.Config{}, false)
		req, _ := http.NewRequest("OPTIONS", e.c.URL("EIO=4&transport=polling"), nil)
		req.Header.Set("Origin", "https://app.example")
		req.Header.Set("Access-Control-Request-Headers", "x-token")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusNoContent || res.Header.Get("Access-Control-Allow-Origin") != "*" ||
			res.Header.Get("Access-Control-Allow-Headers") != "x-token" {
			t.Fatalf("preflight = %d %v", res.StatusCode, res.Header)
		}
	})
	t.Run("restricted", func(t *testing.T) {
		e := start(t, eio.Config{AllowedOrigins: []string{"https://ok.example"}}, false)
		get := func(origin string) *http.Response {
			req, _ := http.NewRequest("GET", e.c.URL("EIO=4&transport=polling"), nil)
			req.Header.Set("Origin", origin)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			return res
		}
		if res := get("https://ok.example"); res.StatusCode != 200 || res.Header.Get("Access-Control-Allow-Origin") != "https://ok.example" {
			t.Fatalf("allowed origin: %d %v", res.StatusCode, res.Header)
		}
		if res := get("https://evil.example"); res.StatusCode != http.StatusForbidden {
			t.Fatalf("refused origin: %d", res.StatusCode)
		}
		d := websocket.Dialer{}
		hdr := http.Header{"Origin": {"https://evil.example"}}
		if conn, res, err := d.Dial(e.c.WSURL("EIO=4&transport=websocket"), hdr); err == nil {
			conn.Close()
			t.Fatal("cross-origin upgrade accepted")
		} else if res == nil || res.StatusCode != http.StatusForbidden {
			t.Fatalf("cross-origin upgrade: %v", res)
		}
		hdr = http.Header{"Origin": {"https://ok.example"}}
		conn, _, err := d.Dial(e.c.WSURL("EIO=4&transport=websocket"), hdr)
		if err != nil {
			t.Fatalf("allowed upgrade: %v", err)
		}
		conn.Close()
	})
}

func parseOpen(t *testing.T, pkt string) (eiotest.Handshake, map[string]json.RawMessage) {
	t.Helper()
	return eiotest.ParseOpen(t, pkt)
}

func expectClosed(t *testing.T, conn *websocket.Conn) {
	t.Helper()
	defer conn.Close()
	(&eiotest.WS{T: t, Conn: conn}).ExpectClosed(2 * time.Second)
}

func itoa(i int) string { return strconv.Itoa(i) }

// A session closed by the server while it upgrades still completes the
// upgrade and delivers its last packets on the WebSocket before closing.
func TestCloseDuringUpgrade(t *testing.T) {
	e := start(t, eio.Config{PingInterval: 5 * time.Second, PingTimeout: 5 * time.Second}, false)
	sid := e.c.Open()
	ws := probe(t, e, sid)
	s := e.rec.session(sid)
	_ = s.Send(eio.TextMessage([]byte("last words")))
	s.Close()
	ws.Send("5")
	if f := ws.Read(time.Second); f.Data != "4last words" {
		t.Fatalf("after upgrade got %q, want the queued message", f.Data)
	}
	if f := ws.Read(time.Second); f.Data != "1" {
		t.Fatalf("then %q, want the close packet", f.Data)
	}
	ws.ExpectClosed(time.Second)
}
