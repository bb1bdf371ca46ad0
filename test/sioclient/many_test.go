package sioclient_test

import (
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rtcmesh/rtcmesh/gateway/sio"
	"github.com/rtcmesh/rtcmesh/internal/nodetest"
	"github.com/rtcmesh/rtcmesh/internal/testutil"
)

const manyClients = 200

// TestManyStockClients opens 200 stock-client connections at once (one
// engine connection each) in each transport mode. The script checks that
// every client connects and its ack (JSON + binary) comes back intact, that
// ids are distinct, that the server reports 200 connects and 201 engine
// sessions (with the control connection), that default-mode clients all
// upgrade, and, after closing, that the server saw 200 disconnects and
// dropped the sessions. From Go the test then checks 200 connects and 200
// disconnects, all with "client namespace disconnect", none twice.
func TestManyStockClients(t *testing.T) {
	nodetest.Require(t)
	for _, mode := range transportModes {
		t.Run(mode, func(t *testing.T) {
			rec := newRecorder()
			srv, err := sio.New(sio.Config{Logger: testLogger(t, "many")})
			if err != nil {
				t.Fatal(err)
			}
			var connects, disconnects atomic.Int64
			root := srv.Of("/")
			root.OnConnect(func(s *sio.Socket) {
				connects.Add(1)
				rec.onConnect(s)
			})
			root.OnDisconnect(func(s *sio.Socket, reason string) {
				disconnects.Add(1)
				rec.onDisconnect(s, reason)
			})
			root.On("echo", func(_ *sio.Socket, e *sio.Event) { _ = e.AckArgs(e.Args, e.Attachments) })
			srv.Of("/control").On("stats", func(_ *sio.Socket, e *sio.Event) {
				_ = e.Ack(map[string]int64{
					"connects":       connects.Load(),
					"disconnects":    disconnects.Load(),
					"engineSessions": int64(srv.Engine().Len()),
				})
			})
			url := serve(t, srv)

			start := time.Now()
			out := nodetest.Run(t, 120*time.Second, nil, "sio_many.mjs", url,
				"--clients="+strconv.Itoa(manyClients), "--transport="+mode)
			if !strings.Contains(out, "PASS: many") {
				t.Fatalf("script exited 0 without PASS line:\n%s", out)
			}
			t.Logf("%d clients in %v; client output:\n%s", manyClients, time.Since(start), out)

			if n := rec.connectsIn("/"); n != manyClients {
				t.Errorf("server saw %d connects on \"/\", want %d", n, manyClients)
			}
			// The script waited for the server's count, so this holds at once;
			// Eventually only guards against a late extra disconnect.
			testutil.Eventually(t, 10*time.Second, "200 disconnects", func() bool {
				n, _ := rec.disconnectsIn("/")
				return n == manyClients
			})
			n, reasons := rec.disconnectsIn("/")
			if n != manyClients || reasons["client namespace disconnect"] != manyClients {
				t.Errorf("server saw %d disconnects with reasons %v, want %d x \"client namespace disconnect\"", n, reasons, manyClients)
			}
			if d := rec.duplicates(); len(d) > 0 {
				t.Errorf("OnDisconnect ran twice for %d sockets", len(d))
			}
			if got := connects.Load(); got != manyClients {
				t.Errorf("OnConnect ran %d times, want %d", got, manyClients)
			}
			// The control connection was websocket; its close frame ends the
			// last session.
			testutil.Eventually(t, 10*time.Second, "every engine session to close", func() bool {
				return srv.Engine().Len() == 0
			})
		})
	}
}
