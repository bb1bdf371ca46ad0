//go:build linux || darwin

package rlimit

import (
	"runtime"
	"syscall"
	"testing"
)

func TestRaiseNoFile(t *testing.T) {
	// Start from a lowered soft limit so that raising has work to do; the
	// hard limit is left alone (lowering it could not be undone).
	var orig syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &orig); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &orig) })
	low := orig
	low.Cur = min(orig.Max, 256)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	soft, hard, err := RaiseNoFile()
	if err != nil {
		t.Fatal(err)
	}
	if hard != uint64(orig.Max) || (soft != hard && runtime.GOOS == "linux") || soft < uint64(low.Cur) {
		t.Fatalf("soft %d hard %d, want soft = hard = %d", soft, hard, orig.Max)
	}
	var now syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &now); err != nil || uint64(now.Cur) != soft {
		t.Fatalf("limit now %d (%v), RaiseNoFile said %d", now.Cur, err, soft)
	}
	// Idempotent.
	if s2, h2, err := RaiseNoFile(); err != nil || s2 != soft || h2 != hard {
		t.Fatalf("second call: %d %d %v", s2, h2, err)
	}
}
