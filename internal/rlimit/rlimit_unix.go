//go:build linux || darwin

package rlimit

import (
	"fmt"
	"runtime"
	"syscall"
)

// darwinOpenMax is OPEN_MAX: macOS refuses a soft limit above it when the
// hard limit is "unlimited".
const darwinOpenMax = 10240

// RaiseNoFile raises the soft RLIMIT_NOFILE to the hard limit and returns
// the resulting limits. On error the limits returned are the current ones.
func RaiseNoFile() (soft, hard uint64, err error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, 0, fmt.Errorf("get file descriptor limit: %w", err)
	}
	if lim.Cur >= lim.Max {
		return uint64(lim.Cur), uint64(lim.Max), nil
	}
	want := lim
	want.Cur = lim.Max
	err = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want)
	if err != nil && runtime.GOOS == "darwin" && lim.Max > darwinOpenMax {
		want.Cur = darwinOpenMax
		err = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want)
	}
	if err != nil {
		return uint64(lim.Cur), uint64(lim.Max), fmt.Errorf("raise file descriptor limit to %d: %w", want.Cur, err)
	}
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return uint64(want.Cur), uint64(want.Max), nil
	}
	return uint64(lim.Cur), uint64(lim.Max), nil
}
