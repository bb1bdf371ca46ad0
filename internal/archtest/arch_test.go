// Package archtest checks the import rules of DESIGN.md §1: services never
// import each other (they talk over NATS with shared types), shared uses
// only the standard library, and only cmd wires packages together.
package archtest

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

const module = "github.com/rtcmesh/rtcmesh"

func deps(t *testing.T, pkg string) []string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	cmd := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", pkg)
	cmd.Dir = filepath.Join(filepath.Dir(file), "..", "..")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %s: %v", pkg, err)
	}
	var list []string
	for _, l := range strings.Fields(string(out)) {
		if l != pkg {
			list = append(list, l)
		}
	}
	return list
}

func TestImportRules(t *testing.T) {
	cases := []struct {
		pkg       string
		forbidden []string // module packages it must not depend on
		onlyStd   bool
	}{
		{pkg: module + "/shared", onlyStd: true},
		{pkg: module + "/roomsvc", forbidden: []string{"/gateway", "/presence", "/cmd"}},
		{pkg: module + "/gateway", forbidden: []string{"/roomsvc", "/presence", "/cmd"}},
		{pkg: module + "/presence", forbidden: []string{"/gateway", "/roomsvc", "/cmd"}},
		// Token verification is pure logic over sio's handshake: no NATS,
		// no service state.
		{pkg: module + "/gateway/auth", forbidden: []string{"/roomsvc", "/presence", "/cmd", "/internal/natsclient", "/internal/metrics"}},
		// The load generator drives any socket.io server over the wire;
		// it may use shared for event names, never a service's internals.
		{pkg: module + "/bench", forbidden: []string{"/gateway", "/roomsvc", "/presence", "/cmd"}},
		// The operations server serves handlers it is given; it knows no
		// service.
		{pkg: module + "/internal/ops", forbidden: []string{"/gateway", "/roomsvc", "/presence", "/cmd"}},
	}
	for _, tc := range cases {
		for _, d := range deps(t, tc.pkg) {
			if tc.onlyStd {
				t.Errorf("%s must use only the standard library, imports %s", tc.pkg, d)
				continue
			}
			for _, f := range tc.forbidden {
				if d == module+f || strings.HasPrefix(d, module+f+"/") {
					t.Errorf("%s must not depend on %s", tc.pkg, d)
				}
			}
		}
	}
}
