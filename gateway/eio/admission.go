package eio

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
)

// Admission refusal reasons, as counted by Counters.Refused.
const (
	RefusedMaxConnections = "max_connections"
	RefusedMaxPerIP       = "max_connections_per_ip"
)

var (
	errServerFull = httpError{http.StatusServiceUnavailable, 6, "Server at connection capacity"}
	errTooManyIP  = httpError{http.StatusTooManyRequests, 7, "Too many connections from this address"}
)

// admission caps live sessions per server and per client address at the
// Engine.IO handshake. Counting sessions (not TCP connections) is what
// bounds memory: a session is what holds a queue, a heartbeat and a
// Socket.IO connection. A polling session counts while it exists, whether
// or not a GET is open.
type admission struct {
	max     int // 0: unlimited
	perIP   int // 0: unlimited
	trusted []netip.Prefix

	mu    sync.Mutex
	total int
	byIP  map[netip.Addr]int
}

func newAdmission(max, perIP int, trusted []netip.Prefix) *admission {
	return &admission{max: max, perIP: perIP, trusted: trusted, byIP: make(map[netip.Addr]int)}
}

// ParseTrustedProxies parses a list of CIDR prefixes or bare addresses
// (a bare address is a /32 or /128).
func ParseTrustedProxies(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !strings.Contains(s, "/") {
			a, err := netip.ParseAddr(s)
			if err != nil {
				return nil, err
			}
			a = a.Unmap()
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, err
		}
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

func (a *admission) isTrusted(ip netip.Addr) bool {
	for _, p := range a.trusted {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// clientAddr returns the client's address. X-Forwarded-For is believed
// only when the peer is a trusted proxy, and then only up to the last
// hop a trusted proxy appended: walking the list from the right, the
// first address that is not itself a trusted proxy is the client. Hops
// further left were written by the client and prove nothing. An
// unparsable hop ends the walk at the nearest trusted proxy, so garbage
// cannot pick an address.
func (a *admission) clientAddr(remoteAddr string, xff []string) netip.Addr {
	peer := parseHostAddr(remoteAddr)
	if !peer.IsValid() || len(a.trusted) == 0 || !a.isTrusted(peer) {
		return peer
	}
	client := peer
	var hops []string
	for _, h := range xff {
		hops = append(hops, strings.Split(h, ",")...)
	}
	for i := len(hops) - 1; i >= 0; i-- {
		ip, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return client
		}
		client = ip.Unmap()
		if !a.isTrusted(client) {
			return client
		}
	}
	return client
}

// parseHostAddr parses "host:port" (or a bare host) as an address; the
// zero Addr when it is not one (e.g. a unix socket or a test's pipe).
func parseHostAddr(s string) netip.Addr {
	host := s
	if h, _, err := net.SplitHostPort(s); err == nil {
		host = h
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return ip.Unmap()
}

// key is the per-address bucket: IPv6 clients are grouped by /64, since
// one host or subscriber typically holds a whole /64 and could otherwise
// mint addresses at will.
func key(ip netip.Addr) netip.Addr {
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.Addr()
	}
	return ip
}

// admit reserves a session slot for ip, or returns the refusal and its
// reason. A reserved slot must be given back with release.
func (a *admission) admit(ip netip.Addr) (string, *httpError) {
	k := key(ip)
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.max > 0 && a.total >= a.max {
		return RefusedMaxConnections, &errServerFull
	}
	if a.perIP > 0 && ip.IsValid() && a.byIP[k] >= a.perIP {
		return RefusedMaxPerIP, &errTooManyIP
	}
	a.total++
	if ip.IsValid() {
		a.byIP[k]++
	}
	return "", nil
}

// release returns the slot admit reserved for ip.
func (a *admission) release(ip netip.Addr) {
	k := key(ip)
	a.mu.Lock()
	defer a.mu.Unlock()
	a.total--
	if !ip.IsValid() {
		return
	}
	if n := a.byIP[k] - 1; n > 0 {
		a.byIP[k] = n
	} else {
		delete(a.byIP, k)
	}
}
