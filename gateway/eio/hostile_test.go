package eio_test

// Hostile clients at the transport layer (issue #7): connection caps, and
// clients that stop reading. Every attack comes over the wire.

import (
	"encoding/json"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/rtcmesh/rtcmesh/gateway/eio"
	"github.com/rtcmesh/rtcmesh/internal/eiotest"
)

// handshake performs a polling handshake with extra headers and returns
// the status and body.
func handshake(t *testing.T, e *env, hdr http.Header) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.c.URL("EIO=4&transport=polling"), nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	res, err := e.c.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := res.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return res.StatusCode, b.String()
}

// refusal decodes a JSON error body.
func refusal(t *testing.T, body string) (code int, msg string) {
	t.Helper()
	var v struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("refusal body %q: %v", body, err)
	}
	return v.Code, v.Message
}

type reasonCount struct {
	mu sync.Mutex
	m  map[string]int
}

func (r *reasonCount) inc(reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[string]int{}
	}
	r.m[reason]++
}

func (r *reasonCount) get(reason string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.m[reason]
}

func TestConnectionCapPerIP(t *testing.T) {
	var refused reasonCount
	e := start(t, eio.Config{MaxConnectionsPerIP: 3, Counters: eio.Counters{Refused: refused.inc}}, false)
	var sids []string
	for range 3 {
		sids = append(sids, e.c.Open())
	}
	status, body := handshake(t, e, nil)
	if status != http.StatusTooManyRequests {
		t.Fatalf("4th handshake from one address: status %d %q, want 429", status, body)
	}
	if code, msg := refusal(t, body); code != 7 || msg == "" {
		t.Fatalf("refusal = %d %q", code, msg)
	}
	// A WebSocket handshake is refused the same way.
	_, res, err := e.c.Dial("EIO=4&transport=websocket")
	if err == nil || res == nil || res.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("WebSocket beyond the cap: err %v res %v", err, res)
	}
	if got := refused.get(eio.RefusedMaxPerIP); got != 2 {
		t.Fatalf("refused count = %d, want 2", got)
	}
	// A session that ends gives its slot back.
	e.c.Post(sids[0], "1")
	eventually(t, 2*time.Second, "slot released", func() bool {
		status, _ := handshake(t, e, nil)
		return status == http.StatusOK
	})
}

func TestConnectionCapPerServer(t *testing.T) {
	var refused reasonCount
	e := start(t, eio.Config{MaxConnections: 2, Counters: eio.Counters{Refused: refused.inc}}, false)
	e.c.Open()
	ws := e.c.MustDial("EIO=4&transport=websocket")
	ws.Read(time.Second) // open packet
	status, body := handshake(t, e, nil)
	if status != http.StatusServiceUnavailable {
		t.Fatalf("handshake beyond MaxConnections: %d %q, want 503", status, body)
	}
	if code, _ := refusal(t, body); code != 6 {
		t.Fatalf("code = %d, want 6", code)
	}
	if refused.get(eio.RefusedMaxConnections) != 1 {
		t.Fatal("refusal not counted")
	}
	_ = ws.Conn.Close() // a WebSocket session ends with its connection
	eventually(t, 2*time.Second, "slot released", func() bool {
		status, _ := handshake(t, e, nil)
		return status == http.StatusOK
	})
}

// Behind a trusted proxy, each forwarded client has its own budget; a
// client that forges X-Forwarded-For without going through one gains
// nothing.
func TestConnectionCapTrustedProxy(t *testing.T) {
	xff := func(v string) http.Header { return http.Header{"X-Forwarded-For": {v}} }
	t.Run("untrusted peer", func(t *testing.T) {
		e := start(t, eio.Config{MaxConnectionsPerIP: 1}, false)
		if s, _ := handshake(t, e, xff("198.51.100.1")); s != http.StatusOK {
			t.Fatal(s)
		}
		if s, _ := handshake(t, e, xff("198.51.100.2")); s != http.StatusTooManyRequests {
			t.Fatalf("forged X-Forwarded-For was believed: %d", s)
		}
	})
	t.Run("trusted peer", func(t *testing.T) {
		e := start(t, eio.Config{MaxConnectionsPerIP: 1, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}, false)
		if s, _ := handshake(t, e, xff("198.51.100.1")); s != http.StatusOK {
			t.Fatal(s)
		}
		if s, _ := handshake(t, e, xff("198.51.100.2")); s != http.StatusOK {
			t.Fatalf("second forwarded client refused: %d", s)
		}
		// The client prepends a fake hop; the proxy appends the real one.
		if s, _ := handshake(t, e, xff("203.0.113.9, 198.51.100.1")); s != http.StatusTooManyRequests {
			t.Fatalf("spoofed leftmost hop escaped the cap: %d", s)
		}
		var sess *eio.Session
		sid := e.c.Open() // no header: the proxy itself, 127.0.0.1
		sess = e.rec.session(sid)
		if got := sess.Request().RemoteAddr; !strings.HasPrefix(got, "127.0.0.1:") {
			t.Fatalf("RemoteAddr without X-Forwarded-For = %q", got)
		}
	})
}

// stuckDial opens a WebSocket session with a tiny receive buffer, reads
// the open packet and then never reads again: its TCP window fills as
// soon as the server has more than a few KB for it.
func stuckDial(t *testing.T, c *eiotest.Client) (*websocket.Conn, string) {
	t.Helper()
	nd := &net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	d := websocket.Dialer{NetDial: nd.Dial, HandshakeTimeout: 5 * time.Second}
	conn, _, err := d.Dial(c.WSURL("EIO=4&transport=websocket"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, b, err := conn.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	h, _ := eiotest.ParseOpen(t, string(b))
	return conn, h.SID
}

// pingGaps follows a healthy WebSocket client for d, answering pings, and
// returns the longest wait between two frames it received.
func frameGaps(t *testing.T, ws *eiotest.WS, d time.Duration) time.Duration {
	t.Helper()
	var worst time.Duration
	last := time.Now()
	end := last.Add(d)
	for time.Now().Before(end) {
		f, err := ws.TryRead(5 * time.Second)
		if err != nil {
			t.Fatalf("healthy client: %v (after %v)", err, time.Since(last))
		}
		now := time.Now()
		worst = max(worst, now.Sub(last))
		last = now
		if !f.Binary && f.Data == "2" {
			ws.Send("3")
		}
	}
	return worst
}

// Clients that stop reading are cut off by the heartbeat scheduler and by
// the code that queues their packets (a NATS dispatch shard in the
// gateway). Neither may wait on the stuck connection: a healthy client
// keeps getting its pings and its messages on time.
func TestStuckReadersDoNotBlockSharedGoroutines(t *testing.T) {
	const stuck = 6
	// A generous bound: the healthy client's frames come every 300 ms or
	// less; before the fix each stuck client held the shared goroutine
	// for a second, six seconds in all.
	const maxGap = 2500 * time.Millisecond
	big := eio.TextMessage([]byte(strings.Repeat("x", 1<<20)))

	t.Run("heartbeat scheduler", func(t *testing.T) {
		var closed reasonCount
		e := start(t, eio.Config{MaxQueuedBytes: 64 << 20, Counters: eio.Counters{Closed: closed.inc}}, false)
		var sids []string
		for range stuck {
			_, sid := stuckDial(t, e.c)
			s := e.rec.session(sid)
			for range 8 { // 8 MiB: far beyond the socket buffers
				if err := s.Send(big); err != nil {
					t.Fatal(err)
				}
			}
			sids = append(sids, sid)
		}
		ws := e.c.MustDial("EIO=4&transport=websocket")
		ws.Read(time.Second)
		// The stuck clients miss their pong after 500 ms; follow the
		// healthy one well past that.
		if gap := frameGaps(t, ws, 3*time.Second); gap > maxGap {
			t.Fatalf("healthy client waited %v for a ping while stuck clients were cut off", gap)
		}
		eventually(t, 10*time.Second, "stuck clients closed", func() bool {
			for _, sid := range sids {
				if e.rec.closeReason(sid) == "" {
					return false
				}
			}
			return true
		})
		if closed.get("ping_timeout") < stuck {
			t.Fatalf("ping timeouts counted %d, want %d", closed.get("ping_timeout"), stuck)
		}
	})

	t.Run("dispatch", func(t *testing.T) {
		var closed reasonCount
		e := start(t, eio.Config{MaxQueuedBytes: 4 << 20, PingInterval: time.Minute, PingTimeout: time.Minute,
			Counters: eio.Counters{Closed: closed.inc}}, false)
		var victims []*eio.Session
		for range stuck {
			_, sid := stuckDial(t, e.c)
			victims = append(victims, e.rec.session(sid))
		}
		ws := e.c.MustDial("EIO=4&transport=websocket")
		ws.Read(time.Second)
		healthy := e.rec.session(e.rec.lastSID(t))

		// One goroutine, like a dispatch shard, feeds everybody: the
		// healthy client a message every 50 ms, each stuck one 1 MiB
		// per round until it overflows its budget and is closed.
		done := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(50 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-done:
					return
				case <-tick.C:
				}
				_ = healthy.Send(eio.TextMessage([]byte("tick")))
				for _, v := range victims {
					_ = v.Send(big)
				}
			}
		}()
		gap := frameGaps(t, ws, 3*time.Second)
		close(done)
		wg.Wait()
		if gap > maxGap {
			t.Fatalf("healthy client waited %v for a message while stuck clients were cut off", gap)
		}
		for _, v := range victims {
			if err := v.Send(eio.TextMessage([]byte("x"))); err != eio.ErrClosed {
				t.Fatalf("stuck client still open: %v", err)
			}
		}
		if closed.get("slow_client") < stuck {
			t.Fatalf("slow clients counted %d, want %d", closed.get("slow_client"), stuck)
		}
	})
}
