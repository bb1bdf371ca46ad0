//go:build !linux && !darwin

package rlimit

// RaiseNoFile does nothing on this system and reports no limit.
func RaiseNoFile() (soft, hard uint64, err error) { return 0, 0, nil }
