package sioclient_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rtcmesh/rtcmesh/gateway/eio"
	"github.com/rtcmesh/rtcmesh/gateway/sio"
	"github.com/rtcmesh/rtcmesh/internal/nodetest"
)

// featureServer is an in-process sio.Server with the namespaces and
// handlers test/node/sio_features.mjs expects.
type featureServer struct {
	*recorder
	srv *sio.Server
	url string
}

// serverAck is what an EmitWithAck callback received.
type serverAck struct {
	args []string
	atts [][]byte
	err  error
}

// upload is what an "upload" event carried.
type upload struct {
	args []string
	atts [][]byte
}

func rawStrings(args []json.RawMessage) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = string(a)
	}
	return out
}

func startFeatureServer(t *testing.T, name string) *featureServer {
	t.Helper()
	srv, err := sio.New(sio.Config{
		// Heartbeats run during the scenarios; the timeout is generous so a
		// loaded machine does not cut clients off.
		Engine:     eio.Config{PingInterval: time.Second, PingTimeout: 5 * time.Second},
		AckTimeout: 2 * time.Second, // the "ask-ignored" scenario waits for it
		Logger:     testLogger(t, name),
	})
	if err != nil {
		t.Fatal(err)
	}
	fs := &featureServer{recorder: newRecorder(), srv: srv}

	// Handlers shared by "/" and "/custom".
	common := func(ns *sio.Namespace) {
		ns.OnDisconnect(fs.onDisconnect)
		ns.On("echo", func(_ *sio.Socket, e *sio.Event) { _ = e.AckArgs(e.Args, e.Attachments) })
		ns.On("engine-sessions", func(_ *sio.Socket, e *sio.Event) { _ = e.Ack(srv.Engine().Len()) })
		ns.On("transport", func(s *sio.Socket, e *sio.Event) { _ = e.Ack(s.Transport()) })
		ns.On("disconnect-reason", func(_ *sio.Socket, e *sio.Event) {
			var sid string
			if len(e.Args) > 0 {
				_ = json.Unmarshal(e.Args[0], &sid)
			}
			if reason, ok := fs.reason(sid); ok {
				_ = e.Ack(reason)
				return
			}
			_ = e.Ack(nil)
		})
	}
	emitAuth := func(s *sio.Socket) {
		fs.onConnect(s)
		_ = s.Emit("auth", s.Handshake().Auth)
	}

	root := srv.Of("/")
	root.OnConnect(func(s *sio.Socket) {
		emitAuth(s)
		// auth {"kickCloseAfterMs": n} asks for Disconnect(true) n ms after
		// joining (the server-close-upgrading scenario).
		var auth struct{ KickCloseAfterMs int }
		if json.Unmarshal(s.Handshake().Auth, &auth) == nil && auth.KickCloseAfterMs > 0 {
			time.AfterFunc(time.Duration(auth.KickCloseAfterMs)*time.Millisecond, func() { s.Disconnect(true) })
		}
	})
	common(root)
	ask := func(event string) sio.EventHandler {
		return func(s *sio.Socket, _ *sio.Event) {
			err := s.EmitWithAck(event, func(args []json.RawMessage, atts [][]byte, err error) {
				fs.note("ack:"+s.ID(), serverAck{rawStrings(args), atts, err})
				if err != nil {
					_ = s.Emit("answer-error", err.Error())
					return
				}
				_ = s.EmitArgs("answer", args, atts)
			}, json.RawMessage(`{"q":41}`), []byte{0xde, 0xad, 0xbe, 0xef})
			if err != nil {
				_ = s.Emit("answer-error", "EmitWithAck: "+err.Error())
			}
		}
	}
	root.On("ask", ask("question"))
	root.On("ask-ignored", ask("question-ignored"))
	// "ask-many" n: n concurrent EmitWithAck("q", i), each expecting 2*i
	// back; "many-done" reports how many matched.
	root.On("ask-many", func(s *sio.Socket, e *sio.Event) {
		var n int
		_ = json.Unmarshal(e.Args[0], &n)
		var mu sync.Mutex
		ok, bad, done := 0, 0, 0
		record := func(match bool) {
			mu.Lock()
			defer mu.Unlock()
			if match {
				ok++
			} else {
				bad++
			}
			if done++; done == n {
				_ = s.Emit("many-done", map[string]int{"ok": ok, "bad": bad})
			}
		}
		for i := 0; i < n; i++ {
			go func() {
				err := s.EmitWithAck("q", func(args []json.RawMessage, _ [][]byte, err error) {
					var got int
					record(err == nil && len(args) == 1 && json.Unmarshal(args[0], &got) == nil && got == 2*i)
				}, i)
				if err != nil {
					record(false)
				}
			}()
		}
	})
	root.On("upload", func(s *sio.Socket, e *sio.Event) {
		fs.note("upload:"+s.ID(), upload{rawStrings(e.Args), e.Attachments})
		_ = e.Ack(map[string]int{"attachments": len(e.Attachments)})
	})
	root.On("download", func(s *sio.Socket, e *sio.Event) {
		var req struct{ Size, Mul int }
		if len(e.Args) == 0 || json.Unmarshal(e.Args[0], &req) != nil {
			_ = e.Ack("bad request")
			return
		}
		_ = s.Emit("blob", pattern(req.Size, req.Mul), map[string]any{"name": "b.bin", "size": req.Size})
		_ = e.Ack("sent")
	})
	root.On("kick", func(s *sio.Socket, _ *sio.Event) { s.Disconnect(false) })
	root.On("kick-close", func(s *sio.Socket, _ *sio.Event) { s.Disconnect(true) })

	// "/stream" streams numbered events from connect on, paced by a ticker
	// so that in default mode the stream spans the upgrade, and checks the
	// order of the client's numbered events.
	stream := srv.Of("/stream")
	stream.OnConnect(func(s *sio.Socket) {
		fs.onConnect(s)
		go func() {
			// About 200 ms of streaming: in default mode the first events are
			// queued while the session still polls (the client is probing)
			// and the rest after the switch to websocket.
			tick := time.NewTicker(time.Millisecond)
			defer tick.Stop()
			for i := 0; i < streamEvents; i++ {
				if i%2 == 0 {
					<-tick.C
				}
				fs.inc("stream-on-" + s.Transport() + ":" + s.ID())
				var err error
				if i%25 == 0 {
					err = s.Emit("seq", i, []byte{byte(i), byte(i >> 8)})
				} else {
					err = s.Emit("seq", i)
				}
				if err != nil {
					fs.note("stream-err:"+s.ID(), err)
					return
				}
			}
			_ = s.Emit("seq-end", streamEvents)
		}()
	})
	stream.OnDisconnect(fs.onDisconnect)
	stream.On("cseq", func(s *sio.Socket, e *sio.Event) {
		var i int
		if len(e.Args) == 0 || json.Unmarshal(e.Args[0], &i) != nil {
			fs.note("cseq:"+s.ID(), -1)
			return
		}
		if i%25 == 0 && (len(e.Attachments) != 1 || !bytes.Equal(e.Attachments[0], []byte{byte(i), byte(i >> 8)})) {
			fs.note("cseq:"+s.ID(), -2)
			return
		}
		fs.note("cseq:"+s.ID(), i)
	})
	stream.On("cseq-done", func(s *sio.Socket, e *sio.Event) {
		got := fs.getNotes("cseq:" + s.ID())
		inOrder := true
		for i, v := range got {
			if v != i {
				inOrder = false
			}
		}
		_ = e.Ack(map[string]any{"count": len(got), "inOrder": inOrder})
	})

	custom := srv.Of("/custom")
	custom.OnConnect(emitAuth)
	common(custom)

	secure := srv.Of("/secure")
	secure.Use(func(h *sio.Handshake) error {
		var auth struct {
			Token *string `json:"token"`
		}
		_ = json.Unmarshal(h.Auth, &auth)
		switch {
		case auth.Token == nil:
			fs.inc("mw:missing")
			return errors.New("missing token")
		case *auth.Token != "good":
			fs.inc("mw:bad")
			return &sio.ConnectError{Message: "invalid token", Data: map[string]any{"reason": "x"}}
		}
		fs.inc("mw:good")
		h.Data = "user-" + *auth.Token
		return nil
	})
	secure.OnConnect(func(s *sio.Socket) {
		fs.onConnect(s)
		_ = s.Emit("welcome", s.Handshake().Auth, s.Data())
	})
	secure.OnDisconnect(fs.onDisconnect)

	fs.url = serve(t, srv)
	return fs
}

// pattern returns n bytes with b[i] = i*mul.
func pattern(n, mul int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i * mul)
	}
	return b
}

// streamEvents is the length of the "/stream" sequences (as in the script).
const streamEvents = 400

const placeholder0 = `{"_placeholder":true,"num":0}`

// TestStockClientFeatures runs every scenario of sio_features.mjs in each
// transport mode, each scenario against its own in-process server (one
// Node process per mode), then checks the server's side from Go.
func TestStockClientFeatures(t *testing.T) {
	nodetest.Require(t)
	type check func(t *testing.T, fs *featureServer, mode string, res map[string]string, out string)
	scenarios := []struct {
		name  string
		check check
	}{
		// "/" and "/custom" from one Manager share socket.io.engine (and the
		// server counts one Engine.IO session); "/nope" gets connect_error
		// "Invalid namespace" and the shared connection survives; the
		// server's Socket.Transport() matches the client's final transport.
		{"namespaces", func(t *testing.T, fs *featureServer, mode string, res map[string]string, out string) {
			for key, nsp := range map[string]string{"root": "/", "custom": "/custom"} {
				sid := mustResult(t, res, key, out)
				if got, ok := fs.namespaceOf(sid); !ok || got != nsp {
					t.Errorf("socket %s: server saw namespace %q (known %v), want %q", sid, got, ok, nsp)
				}
				checkConnectTransport(t, fs, sid, mode)
			}
			if n := fs.connectsIn("/"); n != 1 {
				t.Errorf("server saw %d connects on \"/\", want 1", n)
			}
			if n := fs.connectsIn("/custom"); n != 1 {
				t.Errorf("server saw %d connects on \"/custom\", want 1", n)
			}
		}},
		// Client emit with ack (JSON, binary, none, callback style); server
		// EmitWithAck answered by the client's handler, whose arguments
		// (JSON + binary) the server received and reported back; 50
		// concurrent server EmitWithAck calls each get their own answer; a
		// handler that never answers makes the server's ack time out.
		{"acks", func(t *testing.T, fs *featureServer, mode string, res map[string]string, out string) {
			sid := mustResult(t, res, "sid", out)
			checkConnectTransport(t, fs, sid, mode)
			acks := fs.getNotes("ack:" + sid)
			if len(acks) != 2 {
				t.Fatalf("server recorded %d acks, want 2: %+v", len(acks), acks)
			}
			ok := acks[0].(serverAck)
			if ok.err != nil || fmt.Sprint(ok.args) != fmt.Sprint([]string{`{"answer":42}`, placeholder0}) ||
				len(ok.atts) != 1 || !bytes.Equal(ok.atts[0], []byte{1, 2, 3}) {
				t.Errorf("first ack: args %q atts %v err %v; want [{\"answer\":42} %s] [[1 2 3]] nil", ok.args, ok.atts, ok.err, placeholder0)
			}
			if to := acks[1].(serverAck); !errors.Is(to.err, sio.ErrAckTimeout) || len(to.args) != 0 || len(to.atts) != 0 {
				t.Errorf("second ack: args %q err %v; want ErrAckTimeout", to.args, to.err)
			}
		}},
		// Client Buffers arrive as attachments behind placeholders with the
		// exact bytes (also 200 KiB); server []byte arrives as Buffer.
		{"binary", func(t *testing.T, fs *featureServer, mode string, res map[string]string, out string) {
			sid := mustResult(t, res, "sid", out)
			checkConnectTransport(t, fs, sid, mode)
			ups := fs.getNotes("upload:" + sid)
			if len(ups) != 2 {
				t.Fatalf("server recorded %d uploads, want 2", len(ups))
			}
			first := ups[0].(upload)
			wantArgs := []string{placeholder0, `{"name":"n.bin","data":{"_placeholder":true,"num":1}}`}
			if fmt.Sprint(first.args) != fmt.Sprint(wantArgs) {
				t.Errorf("upload args %q, want %q", first.args, wantArgs)
			}
			if len(first.atts) != 2 || !bytes.Equal(first.atts[0], pattern(256, 1)) || string(first.atts[1]) != "hello" {
				t.Errorf("upload attachments %v, want [00..ff, \"hello\"]", first.atts)
			}
			second := ups[1].(upload)
			if fmt.Sprint(second.args) != fmt.Sprint([]string{placeholder0}) || len(second.atts) != 1 ||
				!bytes.Equal(second.atts[0], pattern(200*1024, 7)) {
				n := -1
				if len(second.atts) > 0 {
					n = len(second.atts[0])
				}
				t.Errorf("big upload: args %q, %d attachments, first %d bytes; want one 204800-byte attachment", second.args, len(second.atts), n)
			}
		}},
		// The middleware refuses a bad token (ConnectError message + data)
		// and a missing one (plain error), and admits "good", also on the
		// refused socket once its auth is fixed.
		{"auth", func(t *testing.T, fs *featureServer, mode string, res map[string]string, out string) {
			for _, key := range []string{"sid", "sid-fixed"} {
				sid := mustResult(t, res, key, out)
				if ns, ok := fs.namespaceOf(sid); !ok || ns != "/secure" {
					t.Errorf("%s %s: namespace %q (known %v), want /secure", key, sid, ns, ok)
				}
				checkConnectTransport(t, fs, sid, mode)
			}
			if n := fs.connectsIn("/secure"); n != 2 {
				t.Errorf("server saw %d connects on /secure, want 2 (good tokens only)", n)
			}
			for k, want := range map[string]int{"mw:bad": 1, "mw:missing": 1, "mw:good": 2} {
				if n := fs.count(k); n != want {
					t.Errorf("middleware %s ran %d times, want %d", k, n, want)
				}
			}
		}},
		// Numbered events (some binary) stay in order both ways while the
		// server streams from connect on (across the upgrade in default
		// mode).
		{"ordering", func(t *testing.T, fs *featureServer, mode string, res map[string]string, out string) {
			sid := mustResult(t, res, "sid", out)
			checkConnectTransport(t, fs, sid, mode)
			if errs := fs.getNotes("stream-err:" + sid); len(errs) > 0 {
				t.Errorf("server stream failed: %v", errs)
			}
			t.Logf("server emitted %d events while polling, %d on websocket",
				fs.count("stream-on-polling:"+sid), fs.count("stream-on-websocket:"+sid))
			got := fs.getNotes("cseq:" + sid)
			if len(got) != streamEvents {
				t.Fatalf("server got %d client events, want %d", len(got), streamEvents)
			}
			for i, v := range got {
				if v != i {
					t.Fatalf("client event #%d carried %v (negative: bad payload)", i, v)
				}
			}
		}},
		// socket.Disconnect(false) from Go: the client sees "io server
		// disconnect", does not reconnect by itself, and an explicit
		// connect() gets a new socket.
		{"server-disconnect", func(t *testing.T, fs *featureServer, mode string, res map[string]string, out string) {
			sid := mustResult(t, res, "sid", out)
			if reason, ok := fs.reason(sid); !ok || reason != "server namespace disconnect" {
				t.Errorf("OnDisconnect for %s: %q (ran %v), want \"server namespace disconnect\"", sid, reason, ok)
			}
			sid2 := mustResult(t, res, "sid2", out)
			if ns, ok := fs.namespaceOf(sid2); !ok || ns != "/" {
				t.Errorf("reconnected socket %s unknown to the server", sid2)
			}
			if n := fs.connectsIn("/"); n != 2 {
				t.Errorf("server saw %d connects on \"/\", want 2 (no automatic reconnection)", n)
			}
		}},
		// socket.Disconnect(true) from Go: DISCONNECT, then the engine
		// connection closes; the stock client (reconnection on) must still
		// see "io server disconnect" and stay disconnected. Over polling
		// this needs the DISCONNECT and the close packet in separate poll
		// responses (the client handles a payload's close packet before
		// its messages). A kick during the upgrade is covered by
		// upgrade_close_test.go.
		{"server-close", func(t *testing.T, fs *featureServer, mode string, res map[string]string, out string) {
			sid := mustResult(t, res, "sid", out)
			if reason, ok := fs.reason(sid); !ok || reason != "server namespace disconnect" {
				t.Errorf("OnDisconnect for %s: %q (ran %v), want \"server namespace disconnect\"", sid, reason, ok)
			}
			if n := fs.connectsIn("/"); n != 1 {
				t.Errorf("server saw %d connects on \"/\", want 1 (the client must not reconnect)", n)
			}
		}},
		// socket.disconnect() in the client runs OnDisconnect with "client
		// namespace disconnect" (checked here from Go, and by the script
		// through "/custom" on the same engine connection).
		{"client-disconnect", func(t *testing.T, fs *featureServer, mode string, res map[string]string, out string) {
			sid := mustResult(t, res, "sid", out)
			if reason, ok := fs.reason(sid); !ok || reason != "client namespace disconnect" {
				t.Errorf("OnDisconnect for %s: %q (ran %v), want \"client namespace disconnect\"", sid, reason, ok)
			}
			// The script then rejoined "/" over the same engine connection.
			sid2 := mustResult(t, res, "sid2", out)
			if ns, ok := fs.namespaceOf(sid2); !ok || ns != "/" {
				t.Errorf("rejoined socket %s unknown to the server", sid2)
			}
			if n := fs.connectsIn("/"); n != 2 {
				t.Errorf("server saw %d connects on \"/\", want 2", n)
			}
		}},
	}

	for _, mode := range transportModes {
		t.Run(mode, func(t *testing.T) {
			servers := map[string]*featureServer{}
			args := []string{"--transport=" + mode}
			for _, sc := range scenarios {
				fs := startFeatureServer(t, sc.name)
				servers[sc.name] = fs
				args = append(args, sc.name+"="+fs.url)
			}
			r := nodetest.Start(t, 150*time.Second, nil, "sio_features.mjs", args...).Wait()
			all := results(t, r.Stdout)
			ran := 0
			for _, sc := range scenarios {
				t.Run(sc.name, func(t *testing.T) {
					out := nodetest.ScenarioOutput(r.Stdout, sc.name)
					if !strings.Contains(out, "SCENARIO PASS "+sc.name) {
						t.Fatalf("client scenario did not pass (script: %v):\n%s\nstderr:\n%s", r.Err, out, r.Stderr)
					}
					ran++
					t.Logf("client output:\n%s", out)
					fs := servers[sc.name]
					sc.check(t, fs, mode, withPrefix(all, sc.name+"."), out)
					if d := fs.duplicates(); len(d) > 0 {
						t.Errorf("OnDisconnect ran twice for %v", d)
					}
				})
			}
			if r.Err != nil && ran == len(scenarios) {
				t.Fatalf("sio_features.mjs failed after every scenario passed: %v\nstdout:\n%s\nstderr:\n%s", r.Err, r.Stdout, r.Stderr)
			}
		})
	}
}

// checkConnectTransport checks the transport the server saw when sid
// joined. Pinned modes must use their transport; in default mode a CONNECT
// may travel over polling or, when the client queued it behind the
// upgrade, over the new websocket.
func checkConnectTransport(t *testing.T, fs *featureServer, sid, mode string) {
	t.Helper()
	got := fs.transportOf(sid)
	switch {
	case mode == "default" && (got == "polling" || got == "websocket"):
	case mode == got:
	default:
		t.Errorf("socket %s joined over %q in mode %s", sid, got, mode)
	}
}
