package bench

import "syscall"

// ipBindAddressNoPort is IP_BIND_ADDRESS_NO_PORT (linux/in.h). With a
// source address set, Go binds before connecting; without this option the
// kernel picks the port at bind time, not knowing the destination, so each
// source address could open only one ephemeral range of connections in
// total. With it the port is chosen at connect time, per destination.
const ipBindAddressNoPort = 24

func bindNoPort(network, _ string, c syscall.RawConn) error {
	if network != "tcp4" && network != "tcp" {
		return nil
	}
	return c.Control(func(fd uintptr) {
		// Best effort: kernels before 4.2 lack the option.
		_ = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, ipBindAddressNoPort, 1)
	})
}
