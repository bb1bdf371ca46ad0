package sio_test

// Hostile clients (issue #7): memory a client can pin per connection.
// Every attack comes over the wire, as raw Engine.IO frames.

import (
	"context"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/rtcmesh/rtcmesh/gateway/eio"
	"github.com/rtcmesh/rtcmesh/gateway/sio"
	"github.com/rtcmesh/rtcmesh/internal/eiotest"
)

// startPlain runs a server whose "/" accepts everyone and keeps nothing.
// Heartbeats are slow so that only the limits under test close anybody.
func startPlain(t *testing.T, cfg sio.Config) *eiotest.Client {
	t.Helper()
	cfg.Engine.PingInterval = time.Minute
	cfg.Engine.PingTimeout = time.Minute
	srv, err := sio.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv.Of("/").OnConnect(func(*sio.Socket) {})
	hs := httptest.NewServer(srv)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = srv.Run(ctx) }()
	t.Cleanup(func() { cancel(); wg.Wait(); hs.Close() })
	return eiotest.New(t, hs.URL+"/socket.io/")
}

// heapAlloc returns the live heap after a full collection.
func heapAlloc() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// What a client sends to connect (auth, headers, the POST body carrying
// it) is not kept once the CONNECT has been handled. Each attacker sends
// 256 KB; 16 of them would pin 4 MB if any of it were kept.
func TestConnectRetainsNothing(t *testing.T) {
	const n = 16
	pad := strings.Repeat("a", 256<<10)
	const limit = 1 << 20 // the sessions' own state is far below this

	cases := []struct {
		name   string
		attack func(t *testing.T, c *eiotest.Client)
	}{
		{"auth over polling", func(t *testing.T, c *eiotest.Client) {
			sid := c.Open()
			// The auth shares the POST body with a second packet, as a
			// batching client would send it.
			if st, body := c.Post(sid, `40{"token":"`+pad+`"}`+"\x1e"+`42["hello"]`); st != http.StatusOK {
				t.Fatalf("POST: %d %q", st, body)
			}
			if _, body := c.Get(sid); !strings.HasPrefix(body, "40{") {
				t.Fatalf("CONNECT reply %q", body)
			}
		}},
		{"auth over websocket", func(t *testing.T, c *eiotest.Client) {
			ws := c.MustDial("EIO=4&transport=websocket")
			ws.Read(time.Second)
			ws.Send(`40{"token":"` + pad + `"}`)
			if f := ws.Read(time.Second); !strings.HasPrefix(f.Data, "40{") {
				t.Fatalf("CONNECT reply %q", f.Data)
			}
		}},
		{"handshake headers", func(t *testing.T, c *eiotest.Client) {
			d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
			conn, _, err := d.Dial(c.WSURL("EIO=4&transport=websocket"), http.Header{"X-Pad": {pad}})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = conn.Close() })
			ws := &eiotest.WS{T: t, Conn: conn}
			ws.Read(time.Second)
			ws.Send(`40`)
			if f := ws.Read(time.Second); !strings.HasPrefix(f.Data, "40{") {
				t.Fatalf("CONNECT reply %q", f.Data)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := startPlain(t, sio.Config{})
			c.HTTP.Transport = &http.Transport{MaxIdleConnsPerHost: n}
			before := heapAlloc()
			for range n {
				tc.attack(t, c)
			}
			after := heapAlloc()
			if after > before && after-before > limit {
				t.Fatalf("%d connections pin %d KB after connecting (limit %d KB)", n, (after-before)>>10, limit>>10)
			}
		})
	}
}

// expectClose waits for the server's close frame and returns its code and
// text.
func expectClose(t *testing.T, ws *eiotest.WS, timeout time.Duration) (int, string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		_, err := ws.TryRead(time.Until(deadline))
		if err == nil {
			continue
		}
		if ce, ok := err.(*websocket.CloseError); ok {
			return ce.Code, ce.Text
		}
		t.Fatalf("connection not closed by the server: %v", err)
	}
}

// A binary packet's attachments are held only for a while and only up to
// a byte budget; the connection that breaches either is closed with a
// reason that says so.
func TestAttachmentLimits(t *testing.T) {
	connect := func(t *testing.T, c *eiotest.Client) *eiotest.WS {
		ws := c.MustDial("EIO=4&transport=websocket")
		ws.Read(time.Second)
		ws.Send("40")
		ws.Read(time.Second)
		return ws
	}
	t.Run("deadline", func(t *testing.T) {
		c := startPlain(t, sio.Config{AttachmentTimeout: 300 * time.Millisecond})
		ws := connect(t, c)
		ws.Send(`452-["x",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`)
		ws.SendBinary(make([]byte, 1000)) // the second never comes
		code, text := expectClose(t, ws, 5*time.Second)
		if code != websocket.ClosePolicyViolation || text != sio.ReasonAttachmentTimeout {
			t.Fatalf("close %d %q", code, text)
		}
	})
	t.Run("budget", func(t *testing.T) {
		c := startPlain(t, sio.Config{Engine: eio.Config{MaxPayload: 100_000}})
		ws := connect(t, c)
		ws.Send(`455-["x",{"_placeholder":true,"num":0}]`)
		// Each frame is within MaxPayload; together they are not.
		for range 2 {
			ws.SendBinary(make([]byte, 60_000))
		}
		code, text := expectClose(t, ws, 5*time.Second)
		if code != websocket.ClosePolicyViolation || text != sio.ReasonAttachmentTooLarge {
			t.Fatalf("close %d %q", code, text)
		}
	})
	t.Run("within limits", func(t *testing.T) {
		c := startPlain(t, sio.Config{Engine: eio.Config{MaxPayload: 100_000}, AttachmentTimeout: 300 * time.Millisecond})
		ws := connect(t, c)
		ws.Send(`452-["x",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`)
		ws.SendBinary(make([]byte, 40_000))
		ws.SendBinary(make([]byte, 40_000))
		// Once complete, the packet no longer counts against either limit.
		if _, err := ws.TryRead(time.Second); err == nil || strings.Contains(err.Error(), "close") {
			t.Fatalf("connection closed after a packet within the limits: %v", err)
		}
	})
}
