package sio_test

// Tests for the Socket.IO behaviours of docs/socketio-protocol.md §2
// (items 15-21), over WebSocket and long-polling.

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rtcmesh/rtcmesh/gateway/eio"
	"github.com/rtcmesh/rtcmesh/gateway/sio"
	"github.com/rtcmesh/rtcmesh/internal/eiotest"
	"github.com/rtcmesh/rtcmesh/internal/testutil"
)

type events struct {
	mu          sync.Mutex
	disconnects map[string]string // socket id -> reason
	sockets     map[string]*sio.Socket
}

func (ev *events) reason(id string) string {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	return ev.disconnects[id]
}

// startServer runs the fixture's namespaces plus a refusing middleware on
// /private, with the suites' timing.
func startServer(t *testing.T) (*eiotest.Client, *events, *sio.Server) {
	t.Helper()
	srv, err := sio.New(sio.Config{
		Engine:         eio.Config{PingInterval: 300 * time.Millisecond, PingTimeout: 200 * time.Millisecond},
		ConnectTimeout: time.Second,
		AckTimeout:     time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	ev := &events{disconnects: map[string]string{}, sockets: map[string]*sio.Socket{}}
	onConnect := func(s *sio.Socket) {
		ev.mu.Lock()
		ev.sockets[s.ID()] = s
		ev.mu.Unlock()
		_ = s.Emit("auth", s.Handshake().Auth)
	}
	onDisconnect := func(s *sio.Socket, reason string) {
		ev.mu.Lock()
		defer ev.mu.Unlock()
		if _, dup := ev.disconnects[s.ID()]; dup {
			t.Errorf("disconnect handler ran twice for %s", s.ID())
		}
		ev.disconnects[s.ID()] = reason
	}
	root := srv.Of("/")
	root.OnConnect(onConnect)
	root.OnDisconnect(onDisconnect)
	root.On("message", func(s *sio.Socket, e *sio.Event) { _ = s.EmitArgs("message-back", e.Args, e.Attachments) })
	root.On("message-with-ack", func(_ *sio.Socket, e *sio.Event) { _ = e.AckArgs(e.Args, e.Attachments) })
	root.On("ask-back", func(s *sio.Socket, e *sio.Event) {
		// Ask the client for an ack and report what it answered.
		_ = s.EmitWithAck("question", func(args []json.RawMessage, atts [][]byte, err error) {
			if err != nil {
				_ = s.Emit("answer-error", err.Error())
				return
			}
			raw := make([]any, len(args))
			for i, a := range args {
				raw[i] = a
			}
			_ = s.Emit("answer", raw...)
		}, json.RawMessage(`{"q":1}`))
	})
	root.On("kick", func(s *sio.Socket, _ *sio.Event) { s.Disconnect(false) })
	custom := srv.Of("/custom")
	custom.OnConnect(onConnect)
	custom.OnDisconnect(onDisconnect)
	srv.Of("/private").Use(func(h *sio.Handshake) error {
		var auth struct{ Token string }
		_ = json.Unmarshal(h.Auth, &auth)
		if auth.Token == "" {
			return errors.New("missing token")
		}
		if auth.Token != "good" {
			return &sio.ConnectError{Message: "invalid token", Data: map[string]string{"hint": "use good"}}
		}
		return nil
	})

	mux := http.NewServeMux()
	mux.Handle("/socket.io/", srv)
	hs := httptest.NewServer(mux)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; hs.Close() })
	return eiotest.New(t, hs.URL+"/socket.io/"), ev, srv
}

// wsConnect opens a WebSocket session and joins "/" with auth (may be "").
func wsConnect(t *testing.T, c *eiotest.Client, auth string) (*eiotest.WS, string) {
	t.Helper()
	ws := c.MustDial("EIO=4&transport=websocket")
	ws.Read(time.Second) // open
	ws.Send("40" + auth)
	reply := ws.Read(time.Second).Data
	if !strings.HasPrefix(reply, "40{") {
		t.Fatalf("CONNECT reply %q", reply)
	}
	var body map[string]string
	if err := json.Unmarshal([]byte(reply[2:]), &body); err != nil || len(body) != 1 || body["sid"] == "" {
		t.Fatalf("CONNECT reply %q must hold only sid", reply)
	}
	return ws, body["sid"]
}

// §2.15: the CONNECT reply holds only sid and precedes the handler's
// output; auth defaults to {}; a namespace without trailing comma parses.
func TestConnect(t *testing.T) {
	c, _, _ := startServer(t)
	t.Run("websocket", func(t *testing.T) {
		ws, _ := wsConnect(t, c, "")
		if f := ws.ReadSkipPings(time.Second); f.Data != `42["auth",{}]` {
			t.Fatalf("first event %q", f.Data)
		}
		ws2, _ := wsConnect(t, c, `{"token":"123"}`)
		if f := ws2.ReadSkipPings(time.Second); f.Data != `42["auth",{"token":"123"}]` {
			t.Fatalf("auth echo %q", f.Data)
		}
	})
	t.Run("custom namespace without comma", func(t *testing.T) {
		ws := c.MustDial("EIO=4&transport=websocket")
		ws.Read(time.Second)
		ws.Send("40/custom")
		reply := ws.Read(time.Second).Data
		if !strings.HasPrefix(reply, "40/custom,{\"sid\":") {
			t.Fatalf("reply %q", reply)
		}
		if f := ws.ReadSkipPings(time.Second); f.Data != `42/custom,["auth",{}]` {
			t.Fatalf("auth %q", f.Data)
		}
	})
	t.Run("polling", func(t *testing.T) {
		sid := c.Open()
		if status, _ := c.Post(sid, `40{"token":"abc"}`); status != 200 {
			t.Fatalf("POST %d", status)
		}
		_, body := c.Get(sid)
		parts := strings.Split(body, "\x1e")
		if len(parts) != 2 || !strings.HasPrefix(parts[0], `40{"sid":"`) || parts[1] != `42["auth",{"token":"abc"}]` {
			t.Fatalf("GET %q", body)
		}
	})
}

// §2.16: arguments are re-serialised byte-exact, for events and acks.
func TestByteExactEcho(t *testing.T) {
	c, _, _ := startServer(t)
	ws, _ := wsConnect(t, c, "")
	ws.ReadSkipPings(time.Second) // auth
	for _, tc := range []struct{ in, want string }{
		{`42["message",1,"2",{"3":[true]}]`, `42["message-back",1,"2",{"3":[true]}]`},
		{`42456["message-with-ack",1,"2",{"3":[false]}]`, `43456[1,"2",{"3":[false]}]`},
		{`42["message",{"b":1,"a":[1.50,2e3,"\u00e9<>&"]},null]`, `42["message-back",{"b":1,"a":[1.50,2e3,"\u00e9<>&"]},null]`},
		{`42["message",12345678901234567890]`, `42["message-back",12345678901234567890]`},
		{`427["message-with-ack"]`, `437[]`},
	} {
		ws.Send(tc.in)
		if f := ws.ReadSkipPings(time.Second); f.Data != tc.want {
			t.Fatalf("%s -> %q, want %q", tc.in, f.Data, tc.want)
		}
	}
}

// §2.17: binary events and acks round-trip with placeholders and
// attachments on both transports.
func TestBinaryRoundTrip(t *testing.T) {
	c, _, _ := startServer(t)
	t.Run("websocket", func(t *testing.T) {
		ws, _ := wsConnect(t, c, "")
		ws.ReadSkipPings(time.Second)
		for _, tc := range []struct{ in, want string }{
			{`452-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`,
				`452-["message-back",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`},
			{`452-789["message-with-ack",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`,
				`462-789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`},
		} {
			ws.Send(tc.in)
			ws.SendBinary([]byte{1, 2, 3})
			ws.SendBinary([]byte{4, 5, 6})
			if f := ws.ReadSkipPings(time.Second); f.Data != tc.want {
				t.Fatalf("got %q want %q", f.Data, tc.want)
			}
			for _, want := range []string{"\x01\x02\x03", "\x04\x05\x06"} {
				if f := ws.ReadSkipPings(time.Second); !f.Binary || f.Data != want {
					t.Fatalf("attachment %+v", f)
				}
			}
		}
	})
	t.Run("polling", func(t *testing.T) {
		sid := c.Open()
		c.Post(sid, "40")
		c.Get(sid) // connect reply + auth
		payload := `452-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]` + "\x1ebAQID\x1ebBAUG"
		if status, _ := c.Post(sid, payload); status != 200 {
			t.Fatalf("POST %d", status)
		}
		_, body := c.Get(sid)
		want := `452-["message-back",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]` + "\x1ebAQID\x1ebBAUG"
		if body != want {
			t.Fatalf("GET %q want %q", body, want)
		}
	})
}

// §2.18: an unknown namespace is refused with the exact message and the
// connection stays usable.
func TestUnknownNamespace(t *testing.T) {
	c, _, _ := startServer(t)
	ws := c.MustDial("EIO=4&transport=websocket")
	ws.Read(time.Second)
	ws.Send("40/random")
	if f := ws.Read(time.Second); f.Data != `44/random,{"message":"Invalid namespace"}` {
		t.Fatalf("refusal %q", f.Data)
	}
	ws.Send("40")
	if f := ws.Read(time.Second); !strings.HasPrefix(f.Data, `40{"sid":`) {
		t.Fatalf("connect after refusal %q", f.Data)
	}
}

// Middleware refusals reach the client as CONNECT_ERROR {message, data?}.
func TestMiddlewareRefusal(t *testing.T) {
	c, _, _ := startServer(t)
	ws := c.MustDial("EIO=4&transport=websocket")
	ws.Read(time.Second)
	ws.Send("40/private,")
	if f := ws.Read(time.Second); f.Data != `44/private,{"message":"missing token"}` {
		t.Fatalf("refusal %q", f.Data)
	}
	ws.Send(`40/private,{"token":"bad"}`)
	if f := ws.Read(time.Second); f.Data != `44/private,{"message":"invalid token","data":{"hint":"use good"}}` {
		t.Fatalf("refusal %q", f.Data)
	}
	ws.Send(`40/private,{"token":"good"}`)
	if f := ws.Read(time.Second); !strings.HasPrefix(f.Data, `40/private,{"sid":`) {
		t.Fatalf("accepted %q", f.Data)
	}
}

// §2.19: invalid Socket.IO input closes the whole connection.
func TestInvalidPacketsClose(t *testing.T) {
	c, _, _ := startServer(t)
	cases := []struct {
		name    string
		connect bool
		send    []string // "bin:" prefix sends a binary frame
	}{
		{"unknown type", true, []string{"4abc"}},
		{"event not an array", true, []string{"42{}"}},
		{"bad ack id", true, []string{`42abc["message-with-ack",1]`}},
		{"not JSON", true, []string{`42["message",`}},
		{"empty event array", true, []string{`42[]`}},
		{"event name not a string", true, []string{`42[{}]`}},
		{"reserved event name", true, []string{`42["disconnect"]`}},
		{"first packet not CONNECT", false, []string{`42["message"]`}},
		{"event for a namespace not joined", true, []string{`42/custom,["message"]`}},
		{"CONNECT twice", true, []string{"40"}},
		{"CONNECT_ERROR from client", true, []string{`44{"message":"x"}`}},
		{"disconnect with payload", true, []string{`41{}`}},
		{"text while attachments are due", true, []string{`451-["message",{"_placeholder":true,"num":0}]`, `42["message"]`}},
		{"unannounced attachment", true, []string{"bin:abc"}},
		{"too many attachments", true, []string{`4511-["message"]`}},
		{"bad attachment count", true, []string{`45x-["message"]`}},
		{"ack without id", true, []string{`43[1]`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var ws *eiotest.WS
			if tc.connect {
				ws, _ = wsConnect(t, c, "")
				ws.ReadSkipPings(time.Second)
			} else {
				ws = c.MustDial("EIO=4&transport=websocket")
				ws.Read(time.Second)
			}
			for _, m := range tc.send {
				if b, ok := strings.CutPrefix(m, "bin:"); ok {
					ws.SendBinary([]byte(b))
				} else {
					ws.Send(m)
				}
			}
			ws.ExpectClosed(2 * time.Second)
		})
	}
	t.Run("polling", func(t *testing.T) {
		sid := c.Open()
		c.Post(sid, "40")
		c.Get(sid)
		c.Post(sid, "42{}")
		if status, _ := c.Get(sid); status != http.StatusBadRequest {
			t.Fatalf("GET after invalid packet: %d", status)
		}
	})
}

// §2.20: "41" gets no reply and keeps the Engine.IO connection; leaving
// /custom leaves / working.
func TestNamespaceDisconnect(t *testing.T) {
	c, ev, _ := startServer(t)
	ws, id := wsConnect(t, c, "")
	ws.ReadSkipPings(time.Second)
	ws.Send("41")
	if f := ws.Read(time.Second); f.Data != "2" {
		t.Fatalf("after 41 got %q, want the next ping", f.Data)
	}
	ws.Send("3")
	waitFor(t, "disconnect reason", func() bool { return ev.reason(id) == "client namespace disconnect" })
	ws.Send("40")
	ws.ReadSkipPings(time.Second) // connect reply
	ws.ReadSkipPings(time.Second) // auth
	ws.Send("40/custom,")
	ws.ReadSkipPings(time.Second)
	ws.ReadSkipPings(time.Second)
	ws.Send("41/custom,")
	ws.Send(`42["message","to main"]`)
	if f := ws.ReadSkipPings(time.Second); f.Data != `42["message-back","to main"]` {
		t.Fatalf("main namespace after leaving /custom: %q", f.Data)
	}
}

// §2.21: a connection that joins no namespace in time is closed.
func TestConnectTimeout(t *testing.T) {
	c, _, _ := startServer(t)
	ws := c.MustDial("EIO=4&transport=websocket")
	ws.Read(time.Second)
	began := time.Now()
	for {
		f, err := ws.TryRead(3 * time.Second)
		if err != nil {
			break
		}
		if f.Data == "2" {
			ws.Send("3") // stay alive: only the connect timeout may close us
		}
	}
	if d := time.Since(began); d < 900*time.Millisecond {
		t.Fatalf("closed after %v, before the connect timeout", d)
	}
}

// Server-to-client acks, both ways, and ack timeouts.
func TestServerAck(t *testing.T) {
	c, _, _ := startServer(t)
	ws, _ := wsConnect(t, c, "")
	ws.ReadSkipPings(time.Second)
	ws.Send(`42["ask-back"]`)
	f := ws.ReadSkipPings(time.Second)
	if f.Data != `420["question",{"q":1}]` {
		t.Fatalf("question %q", f.Data)
	}
	ws.Send(`430["yes",{"n":2}]`)
	if f := ws.ReadSkipPings(time.Second); f.Data != `42["answer","yes",{"n":2}]` {
		t.Fatalf("answer %q", f.Data)
	}
	ws.Send(`43999["stray"]`) // unknown ack ids are ignored
	ws.Send(`42["ask-back"]`)
	if f := ws.ReadSkipPings(time.Second); f.Data != `421["question",{"q":1}]` {
		t.Fatalf("question %q", f.Data)
	}
	if f := ws.ReadSkipPings(3 * time.Second); f.Data != `42["answer-error","sio: ack timeout"]` {
		t.Fatalf("timeout %q", f.Data)
	}
}

// A server-side disconnect sends "41" and runs the disconnect handler once.
func TestServerDisconnect(t *testing.T) {
	c, ev, _ := startServer(t)
	ws, id := wsConnect(t, c, "")
	ws.ReadSkipPings(time.Second)
	ws.Send(`42["kick"]`)
	if f := ws.ReadSkipPings(time.Second); f.Data != "41" {
		t.Fatalf("got %q, want 41", f.Data)
	}
	waitFor(t, "disconnect reason", func() bool { return ev.reason(id) == "server namespace disconnect" })
	ws.Conn.Close()
	// Transport loss ends the other sockets with the transport's reason.
	ws, id = wsConnect(t, c, "")
	ws.Conn.Close()
	waitFor(t, "transport close", func() bool { return ev.reason(id) == "transport close" })
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testutil.Eventually(t, 3*time.Second, what, cond)
}
