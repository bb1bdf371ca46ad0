// Package auth_test checks JWT connect authentication end to end: the real
// socket.io-client (test/node/auth.mjs) against the real `rtcmesh dev
// --jwt-secret ... --jwt-audience ...`, with tokens minted by the real
// `rtcmesh token`, and the token's sub read back as userId from the real
// `rtcmesh presence watch`.
package auth_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rtcmesh/rtcmesh/internal/bintest"
	"github.com/rtcmesh/rtcmesh/internal/nodetest"
)

const (
	secret   = "test-secret-0123456789abcdef0123"
	audience = "rtcmesh-test"
)

func TestJWTConnect(t *testing.T) {
	nodetest.Require(t)
	var b [4]byte
	_, _ = rand.Read(b[:])
	room := "team-" + hex.EncodeToString(b[:])

	dev := bintest.Start(t, "dev", nil, "dev", "--addr", "127.0.0.1:0", "--nats-addr", "127.0.0.1:0",
		"--ops-addr", "127.0.0.1:0", "--jwt-secret", secret, "--jwt-audience", audience)
	gw := "http://" + dev.Addr("gateway", 60*time.Second)
	ops := "http://" + dev.Addr("dev-ops", 60*time.Second)
	natsURL := "nats://" + dev.Addr("nats", 10*time.Second)

	tokens := map[string]string{
		"alice": mint(t, "--secret", secret, "--sub", "alice", "--aud", audience, "--rooms", "lobby,team-*", "--name", "Alice (token)"),
		"bob":   mint(t, "--secret", secret, "--sub", "bob", "--aud", audience),
		// Signed with another secret: same claims, wrong signature.
		"badsig": mint(t, "--secret", "another-secret-0123456789abcdef", "--sub", "alice", "--aud", audience),
		// Expired well beyond the 30 s leeway.
		"expired":  mint(t, "--secret", secret, "--sub", "alice", "--aud", audience, "--ttl", "-2m"),
		"wrongaud": mint(t, "--secret", secret, "--sub", "alice", "--aud", "someone-else"),
		"noaud":    mint(t, "--secret", secret, "--sub", "alice"),
	}
	env, err := json.Marshal(tokens)
	if err != nil {
		t.Fatal(err)
	}
	out := nodetest.Run(t, 150*time.Second, []string{"AUTH_TOKENS=" + string(env)}, "auth.mjs", "--gw="+gw, "--room="+room)
	t.Logf("auth.mjs:\n%s", out)
	res := results(out)
	aliceSID, bobSID := res["alice"], res["bob"]
	if aliceSID == "" || bobSID == "" {
		t.Fatalf("no socket ids in the script's RESULT lines:\n%s", out)
	}

	t.Run("refusals counted", func(t *testing.T) {
		metrics := get(t, ops+"/metrics")
		want := map[string]int{"missing": 2, "malformed": 2, "signature": 1, "expired": 1, "audience": 2, "not_yet_valid": 0}
		for reason, n := range want {
			line := fmt.Sprintf(`rtcmesh_gateway_auth_refused_total{reason=%q} %d`, reason, n)
			if !strings.Contains(metrics, line+"\n") {
				t.Errorf("metrics lack %q:\n%s", line, grep(metrics, "auth_refused"))
			}
		}
	})

	t.Run("sub is the userId in presence watch", func(t *testing.T) {
		watch := bintest.Start(t, "presence-watch", nil, "presence", "watch", "--from-start", "--room", room, "--nats", natsURL)
		// Both sockets joined and, once the script closed them, left.
		watch.WaitOutput(`"type":"leave","room":"`+room+`","id":"`+bobSID+`"`, 30*time.Second)
		joins := map[string]map[string]any{}
		for _, l := range strings.Split(watch.Output(), "\n") {
			if !strings.HasPrefix(l, "{") {
				continue
			}
			var ev map[string]any
			if err := json.Unmarshal([]byte(l), &ev); err != nil {
				t.Fatalf("presence watch printed bad JSON %q: %v", l, err)
			}
			if ev["type"] == "join" {
				joins[ev["id"].(string)] = ev
			}
		}
		for sid, want := range map[string][2]string{aliceSID: {"alice", "Alice (token)"}, bobSID: {"bob", "Bob"}} {
			ev, ok := joins[sid]
			if !ok {
				t.Fatalf("no presence join for %s:\n%s", sid, watch.Output())
			}
			if ev["userId"] != want[0] || ev["name"] != want[1] {
				t.Errorf("join of %s: userId %v name %v, want %q %q", sid, ev["userId"], ev["name"], want[0], want[1])
			}
		}
		if err := watch.Stop(10 * time.Second); err != nil {
			t.Errorf("presence watch did not stop cleanly: %v", err)
		}
	})
}

// mint runs `rtcmesh token args...` and returns the token it printed.
func mint(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bintest.Binary(t), append([]string{"token"}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("rtcmesh token %v: %v\n%s", args, err, stderr.String())
	}
	tok := strings.TrimSpace(stdout.String())
	if strings.Count(tok, ".") != 2 {
		t.Fatalf("rtcmesh token %v printed %q, not a JWT", args, tok)
	}
	return tok
}

var resultRE = regexp.MustCompile(`(?m)^RESULT ([\w.-]+)=(.*)$`)

func results(out string) map[string]string {
	m := map[string]string{}
	for _, sub := range resultRE.FindAllStringSubmatch(out, -1) {
		m[sub[1]] = strings.TrimSpace(sub[2])
	}
	return m
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
	}
	return string(b)
}

func grep(text, substr string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
