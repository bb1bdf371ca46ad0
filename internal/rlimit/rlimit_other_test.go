//go:build !linux && !darwin

package rlimit

import "testing"

func TestRaiseNoFile(t *testing.T) {
	if s, h, err := RaiseNoFile(); s != 0 || h != 0 || err != nil {
		t.Fatalf("no-op expected, got %d %d %v", s, h, err)
	}
}
