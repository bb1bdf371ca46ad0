//go:build !linux

package bench

import "syscall"

// bindNoPort is a no-op outside Linux.
func bindNoPort(string, string, syscall.RawConn) error { return nil }
