package sioclient_test

import (
	"strings"
	"testing"
	"time"

	"github.com/rtcmesh/rtcmesh/internal/bintest"
	"github.com/rtcmesh/rtcmesh/internal/nodetest"
)

// TestConformanceBinaryStockClient is the done-when test: the real
// `rtcmesh conformance` binary serves the stock socket.io-client 4.8.3 in
// each transport mode. The script (test/node/sio_conformance.mjs) checks:
// the first transport and, in default mode, the upgrade to websocket
// (engine "upgrade" event and engine.transport.name); "auth" == {};
// emitWithAck("message-with-ack") with plain values and binary (Buffer and
// Uint8Array) deep-equal; every ack argument of a mixed JSON/binary emit
// (nested binary, a 64 KiB and an empty buffer); "message" -> "message-back" with
// JSON and with binary; 20 concurrent acks matched to their emits; two
// heartbeats on the final transport; the final transport (polling stays
// polling, websocket-only never upgrades) and no unexpected disconnect.
func TestConformanceBinaryStockClient(t *testing.T) {
	nodetest.Require(t)
	p := bintest.Start(t, "rtcmesh conformance", nil, "conformance", "--addr", "127.0.0.1:0")
	url := "http://" + p.Addr("conformance", 10*time.Second)

	for _, mode := range transportModes {
		t.Run(mode, func(t *testing.T) {
			// The fixture's heartbeat is the official suites' 300 ms + 200 ms,
			// fixed in the binary: the stock client drops the connection
			// ("ping timeout") when no ping reaches it within 500 ms, which a
			// starved event loop on a loaded 2-core machine can cause. Only
			// that failure is retried, and at most twice; a server that
			// does not ping in time fails every attempt.
			const attempts = 3
			for attempt := 1; ; attempt++ {
				r := nodetest.Start(t, 40*time.Second, nil, "sio_conformance.mjs", url, "--transport="+mode).Wait()
				if r.Err == nil {
					if !strings.Contains(r.Stdout, "PASS: conformance "+mode) {
						t.Fatalf("script exited 0 without PASS line:\n%s", r.Stdout)
					}
					t.Logf("client output (attempt %d):\n%s", attempt, r.Stdout)
					break
				}
				if attempt < attempts && strings.Contains(r.Stdout, "unexpected disconnect: ping timeout") {
					t.Logf("attempt %d: client saw a ping timeout, retrying; output:\n%s%s", attempt, r.Stdout, r.Stderr)
					continue
				}
				t.Fatalf("sio_conformance.mjs --transport=%s (attempt %d): %v\nstdout:\n%s\nstderr:\n%s", mode, attempt, r.Err, r.Stdout, r.Stderr)
			}
		})
	}
	if p.Exited() {
		t.Fatalf("rtcmesh conformance exited during the test:\n%s", p.Output())
	}
	if out := p.Output(); strings.Contains(out, "panic") || strings.Contains(out, "DATA RACE") {
		t.Fatalf("rtcmesh conformance logged a panic or race:\n%s", out)
	}
}
