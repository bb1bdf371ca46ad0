package natsauth

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/rtcmesh/rtcmesh/internal/bintest"
	"github.com/rtcmesh/rtcmesh/internal/siotest"
	"github.com/rtcmesh/rtcmesh/internal/testutil"
	"github.com/rtcmesh/rtcmesh/shared"
)

// TestLockedDownMesh runs every service with its own least-privilege
// user: the mesh works, the presence reader sees the join, and the
// reader's attempt to publish a room command is refused and never reaches
// the room service.
func TestLockedDownMesh(t *testing.T) {
	url, server := startLockedNATS(t)
	// The room service takes its credentials from the environment, the
	// others from flags.
	rs := bintest.Start(t, "roomsvc", []string{"RTCMESH_NATS_USER=roomsvc", "RTCMESH_NATS_PASSWORD=" + roomsvcPassword},
		"roomsvc", "--nats", url, "--ops-addr", "127.0.0.1:0")
	gw := bintest.Start(t, "gateway", nil, "gateway", "--nats", url, "--nats-user", "gateway", "--nats-password", gatewayPassword,
		"--addr", "127.0.0.1:0", "--ops-addr", "127.0.0.1:0", "--no-demo")
	rsOps := rs.Addr("roomsvc-ops", 60*time.Second)
	gwOps := gw.Addr("gateway-ops", 60*time.Second)
	base := "http://" + gw.Addr("gateway", 60*time.Second)
	waitReady(t, gwOps)
	waitReady(t, rsOps)
	watch := bintest.Start(t, "presence-watch", nil, "presence", "watch", "--nats", url,
		"--nats-user", "presence", "--nats-password", presencePassword, "--from-start")

	a := join(t, base, "locked room", "alice")
	b := join(t, base, "locked room", "bob")
	if _, err := a.WaitFunc(10*time.Second, func(e siotest.Event) bool { return e.Name == shared.EventUserConnected }); err != nil {
		t.Fatalf("alice: no user-connected: %v", err)
	}
	ev, err := a.Wait(shared.EventInitOffer, 10*time.Second)
	if err != nil {
		t.Fatalf("alice: no init-offer: %v", err)
	}
	var offer struct{ Source string }
	if err := ev.Arg(0, &offer); err != nil || offer.Source != b.ID() {
		t.Fatalf("init-offer %s, want source %s (%v)", ev.Args, b.ID(), err)
	}
	watch.WaitOutput(`"type":"join","room":"locked room","id":"`+b.ID()+`"`, 20*time.Second)

	// The rooms reader lists and shows the room from KV.
	list := bintest.Start(t, "rooms-list", nil, "rooms", "list", "--json", "--nats", url, "--nats-user", "rooms", "--nats-password", roomsPassword)
	if code := waitExit(t, list, 20*time.Second); code != 0 || !strings.Contains(list.Output(), `{"room":"locked room","members":2`) {
		t.Fatalf("rooms list: exit %d\n%s", code, list.Output())
	}
	show := bintest.Start(t, "rooms-show", nil, "rooms", "show", "locked room", "--json", "--nats", url, "--nats-user", "rooms", "--nats-password", roomsPassword)
	if code := waitExit(t, show, 20*time.Second); code != 0 || !strings.Contains(show.Output(), `"sid":"`+b.ID()+`"`) {
		t.Fatalf("rooms show: exit %d\n%s", code, show.Output())
	}

	// The presence reader may not publish room commands.
	processed := counter(t, rsOps, "rtcmesh_roomsvc_commands_processed_total")
	rejected := counter(t, rsOps, "rtcmesh_roomsvc_commands_rejected_total")
	asyncErr := make(chan error, 16)
	nc, err := nats.Connect(url, nats.UserInfo("presence", presencePassword),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { asyncErr <- err }))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	const spy = "spysock0000000000001"
	name := "mallory"
	cmd, _ := json.Marshal(shared.Command{Room: "locked room", SID: spy, Gateway: "gw-fake", Name: &name})
	key, _ := shared.EscapeRoom("locked room")
	if err := nc.Publish(shared.RoomCmd(key, shared.VerbJoin), cmd); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-asyncErr:
		if !errors.Is(err, nats.ErrPermissionViolation) || !strings.Contains(err.Error(), "room.") {
			t.Fatalf("async error %v, want a publish permissions violation on room.>", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no permissions violation reported for the reader's publish")
	}
	// Barrier: a real command after the refused one. Once it is
	// processed, the refused one would have been too.
	if err := b.Emit(shared.EventLeaveRoom, map[string]any{"roomId": "locked room"}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Wait(shared.EventUserDisconnected, 10*time.Second); err != nil {
		t.Fatalf("alice: no user-disconnected after bob left: %v", err)
	}
	watch.WaitOutput(`"type":"leave","room":"locked room","id":"`+b.ID()+`"`, 20*time.Second)
	// The counter moves once the command is acknowledged, after its
	// outputs went out.
	testutil.Eventually(t, 10*time.Second, "the leave counted as processed", func() bool {
		return counter(t, rsOps, "rtcmesh_roomsvc_commands_processed_total") > processed
	})
	if got := counter(t, rsOps, "rtcmesh_roomsvc_commands_processed_total"); got != processed+1 {
		t.Errorf("room service processed %d commands after the refused publish and one leave, want %d", got-processed, 1)
	}
	if got := counter(t, rsOps, "rtcmesh_roomsvc_commands_rejected_total"); got != rejected {
		t.Errorf("room service rejected %d commands, want none", got-rejected)
	}
	if strings.Contains(watch.Output(), spy) {
		t.Errorf("the refused command reached the room service: %s", watch.Output())
	}

	// A killed gateway is reaped with the room service's own rights: the
	// liveness probe, the reaped marker on the lease, the disconnect
	// command and its presence leave.
	gw.Kill()
	watch.WaitOutput(`"reason":"gateway-lost"`, 30*time.Second)
	reaped := false
	for _, line := range strings.Split(watch.Output(), "\n") {
		reaped = reaped || strings.Contains(line, `"reason":"gateway-lost"`) && strings.Contains(line, `"id":"`+a.ID()+`"`)
	}
	if !reaped {
		t.Errorf("no gateway-lost leave for alice:\n%s", watch.Output())
	}
	for _, line := range strings.Split(server.Output(), "\n") {
		if strings.Contains(line, "Violation") && !strings.Contains(line, `user:presence\" - Publish Violation - Subject \"room.`) {
			t.Errorf("a service hit a permissions violation with its own user (the example config is too strict): %s", line)
		}
	}
}

// TestBadCredentialsFailAtStart: wrong or missing credentials stop a
// service at once with a clear error, well before the 30 s connect
// timeout; contradictory flags are refused before connecting.
func TestBadCredentialsFailAtStart(t *testing.T) {
	url, _ := startLockedNATS(t)
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"gateway wrong password", []string{"gateway", "--nats", url, "--addr", "127.0.0.1:0", "--nats-user", "gateway", "--nats-password", "wrong"},
			[]string{"user gateway", "refused the credentials", "authorization violation"}},
		{"roomsvc wrong password", []string{"roomsvc", "--nats", url, "--nats-user", "roomsvc", "--nats-password", "wrong"},
			[]string{"user roomsvc", "refused the credentials"}},
		{"presence watch without credentials", []string{"presence", "watch", "--nats", url},
			[]string{"no credentials", "refused the credentials"}},
		{"two methods", []string{"gateway", "--nats", url, "--nats-user", "gateway", "--nats-password", "x", "--nats-token", "t"},
			[]string{"give only one of"}},
		{"user without password", []string{"rooms", "list", "--nats", url, "--nats-user", "gateway"},
			[]string{"a user needs a password"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := bintest.Start(t, tc.name, nil, tc.args...)
			if code := waitExit(t, p, 15*time.Second); code == 0 {
				t.Fatalf("exit code 0, want failure\n%s", p.Output())
			}
			if err := contains(p.Output(), tc.want...); err != nil {
				t.Fatalf("%v\n%s", err, p.Output())
			}
		})
	}
}

// TestOpsPort: the client port serves /healthz only; the operations port
// serves /metrics, /healthz and /readyz, and pprof only with --pprof.
func TestOpsPort(t *testing.T) {
	for _, pprof := range []bool{false, true} {
		args := []string{"dev", "--addr", "127.0.0.1:0", "--nats-addr", "127.0.0.1:0", "--ops-addr", "127.0.0.1:0", "--no-demo"}
		if pprof {
			args = append(args, "--pprof")
		}
		p := bintest.Start(t, "dev", nil, args...)
		client := "http://" + p.Addr("gateway", 60*time.Second)
		ops := p.Addr("dev-ops", 60*time.Second)
		waitReady(t, ops)
		wantPprof := http.StatusNotFound
		if pprof {
			wantPprof = http.StatusOK
		}
		for _, tc := range []struct {
			url  string
			code int
			body string
		}{
			{client + "/healthz", 200, "ok"},
			{client + "/metrics", 404, ""},
			{client + "/readyz", 404, ""},
			{client + "/debug/pprof/", 404, ""},
			{"http://" + ops + "/healthz", 200, "ok"},
			{"http://" + ops + "/readyz", 200, "ready"},
			{"http://" + ops + "/metrics", 200, "rtcmesh_gateway_sockets"},
			{"http://" + ops + "/metrics", 200, "rtcmesh_roomsvc_commands_processed_total"},
			{"http://" + ops + "/debug/pprof/", wantPprof, ""},
			{"http://" + ops + "/socket.io/?EIO=4&transport=polling", 404, ""},
		} {
			code, body := httpGet(t, tc.url)
			if code != tc.code || !strings.Contains(body, tc.body) {
				t.Errorf("pprof=%v: GET %s: %d %q, want %d with %q", pprof, tc.url, code, body, tc.code, tc.body)
			}
		}
		// A room service stopped while it is still creating its consumers
		// reports the cancellation as an error; let it finish starting.
		p.WaitOutput("room service running", 30*time.Second)
		if err := p.Stop(30 * time.Second); err != nil {
			t.Fatalf("dev did not stop cleanly: %v", err)
		}
	}
}
