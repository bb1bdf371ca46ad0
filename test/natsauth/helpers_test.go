// Package natsauth runs the real binary against `rtcmesh nats --config`
// with the least-privilege users of deploy/nats-auth.conf, and checks the
// operations port.
package natsauth

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rtcmesh/rtcmesh/internal/bintest"
	"github.com/rtcmesh/rtcmesh/internal/siotest"
	"github.com/rtcmesh/rtcmesh/internal/testutil"
	"github.com/rtcmesh/rtcmesh/shared"
)

// Passwords of the config's users, given to the server through its
// environment (the file reads $RTCMESH_*_PASSWORD).
const (
	gatewayPassword  = "gw-secret-1"
	roomsvcPassword  = "rs-secret-2"
	presencePassword = "pr-secret-3"
	roomsPassword    = "ro-secret-4"
)

var serverEnv = []string{
	"RTCMESH_GATEWAY_PASSWORD=" + gatewayPassword,
	"RTCMESH_ROOMSVC_PASSWORD=" + roomsvcPassword,
	"RTCMESH_PRESENCE_PASSWORD=" + presencePassword,
	"RTCMESH_ROOMS_PASSWORD=" + roomsPassword,
}

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// authConfig copies deploy/nats-auth.conf into a temporary directory and
// returns its path.
func authConfig(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(), "deploy", "nats-auth.conf"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "nats.conf")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// startLockedNATS runs `rtcmesh nats --config` on a free port and returns
// its URL.
func startLockedNATS(t *testing.T) (string, *bintest.Proc) {
	t.Helper()
	p := bintest.Start(t, "nats", serverEnv, "nats", "--config", authConfig(t), "--addr", "127.0.0.1:0", "--store", t.TempDir())
	return "nats://" + p.Addr("nats", 20*time.Second), p
}

// httpGet returns the status and body of GET url.
func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// waitReady polls /readyz on an operations address until it answers 200.
func waitReady(t *testing.T, opsAddr string) {
	t.Helper()
	testutil.Eventually(t, 60*time.Second, opsAddr+"/readyz answers 200", func() bool {
		res, err := http.Get("http://" + opsAddr + "/readyz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	})
}

// counter reads a counter from a Prometheus exposition.
func counter(t *testing.T, opsAddr, name string) int64 {
	t.Helper()
	code, body := httpGet(t, "http://"+opsAddr+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d", code)
	}
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` (\d+)$`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no %s in /metrics:\n%s", name, body)
	}
	n, _ := strconv.ParseInt(m[1], 10, 64)
	return n
}

// join connects a socket to the gateway at base and joins room.
func join(t *testing.T, base, room, name string) *siotest.Client {
	t.Helper()
	c, err := siotest.Dial(base, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	if err := c.Emit(shared.EventJoinRoom, map[string]any{"roomId": room, "name": name}); err != nil {
		t.Fatal(err)
	}
	ev, err := c.WaitFunc(20*time.Second, func(e siotest.Event) bool {
		return e.Name == shared.EventJoinOK || e.Name == shared.EventJoinError
	})
	if err != nil {
		t.Fatalf("join %s: %v", room, err)
	}
	if ev.Name != shared.EventJoinOK {
		t.Fatalf("join %s: %s %s", room, ev.Name, ev.Args)
	}
	return c
}

// waitExit waits until p exits and returns its exit code.
func waitExit(t *testing.T, p *bintest.Proc, timeout time.Duration) int {
	t.Helper()
	testutil.Eventually(t, timeout, fmt.Sprintf("%s exits", p.Name), p.Exited)
	return p.Cmd.ProcessState.ExitCode()
}

func contains(s string, subs ...string) error {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return fmt.Errorf("output lacks %q", sub)
		}
	}
	return nil
}

// TestReadmeShowsTheTestedConfig: the README's "Locking down NATS" copy
// of deploy/nats-auth.conf is the file the tests run with.
func TestReadmeShowsTheTestedConfig(t *testing.T) {
	conf, err := os.ReadFile(filepath.Join(repoRoot(), "deploy", "nats-auth.conf"))
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(repoRoot(), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(string(readme), "## Locking down NATS")
	if i < 0 {
		t.Fatal(`README.md has no "## Locking down NATS" section`)
	}
	if !strings.Contains(string(readme[i:]), "```\n"+string(conf)+"```\n") {
		t.Fatal("README.md's copy of deploy/nats-auth.conf differs from the file: paste the file into the section")
	}
}
