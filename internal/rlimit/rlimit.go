// Package rlimit raises the process's file-descriptor limit. Every socket
// is a descriptor, so a gateway or the load generator holding tens of
// thousands of connections needs the soft limit at the hard limit. Raising
// the hard limit itself needs CAP_SYS_RESOURCE, which rtcmesh never
// assumes: with a hard limit below the sockets wanted, the load generator
// spreads them over several worker processes instead.
package rlimit
