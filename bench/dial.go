package bench

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// maxSources bounds one --source list.
const maxSources = 1 << 16

// ParseSources parses --source: comma-separated items, each an address
// ("127.0.0.2", "::1"), an inclusive range ("127.0.0.1-127.0.0.20") or a
// CIDR inside 127.0.0.0/8 ("127.0.1.0/24", every address of which Linux
// routes to the loopback interface; the network and broadcast addresses are
// left out). The empty string means "let the kernel choose".
func ParseSources(s string) ([]netip.Addr, error) {
	var out []netip.Addr
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		var err error
		switch {
		case strings.Contains(item, "/"):
			out, err = appendCIDR(out, item)
		case strings.Contains(item, "-"):
			out, err = appendRange(out, item)
		default:
			var a netip.Addr
			a, err = netip.ParseAddr(strings.Trim(item, "[]"))
			out = append(out, a.Unmap())
		}
		if err != nil {
			return nil, fmt.Errorf("source %q: %w", item, err)
		}
		if len(out) > maxSources {
			return nil, fmt.Errorf("more than %d source addresses", maxSources)
		}
	}
	return out, nil
}

var loopback8 = netip.MustParsePrefix("127.0.0.0/8")

func appendCIDR(out []netip.Addr, item string) ([]netip.Addr, error) {
	p, err := netip.ParsePrefix(item)
	if err != nil {
		return nil, err
	}
	p = p.Masked()
	if !p.Addr().Is4() || !loopback8.Contains(p.Addr()) || p.Bits() < loopback8.Bits() {
		return nil, fmt.Errorf("a CIDR must lie inside 127.0.0.0/8")
	}
	if p.Bits() < 32-16 {
		return nil, fmt.Errorf("more than %d source addresses", maxSources)
	}
	first, n := p.Addr(), 1<<(32-p.Bits())
	if n > 2 { // skip the network and broadcast addresses
		first, n = first.Next(), n-2
	}
	for a := first; n > 0; a, n = a.Next(), n-1 {
		out = append(out, a)
	}
	return out, nil
}

func appendRange(out []netip.Addr, item string) ([]netip.Addr, error) {
	lo, hi, _ := strings.Cut(item, "-")
	a, err := netip.ParseAddr(strings.TrimSpace(lo))
	if err != nil {
		return nil, err
	}
	b, err := netip.ParseAddr(strings.TrimSpace(hi))
	if err != nil {
		return nil, err
	}
	a, b = a.Unmap(), b.Unmap()
	if a.BitLen() != b.BitLen() || b.Less(a) {
		return nil, fmt.Errorf("range must go upwards within one address family")
	}
	for n := 0; ; a = a.Next() {
		if n++; n > maxSources {
			return nil, fmt.Errorf("more than %d source addresses", maxSources)
		}
		out = append(out, a)
		if a == b {
			return out, nil
		}
	}
}

// dialer opens TCP connections from the configured source addresses. Each
// destination has its own round-robin counter, so the connections to every
// destination are spread evenly over the sources (a single counter would
// pair source i with destination i whenever their counts share a factor).
type dialer struct {
	sources []netip.Addr
	timeout time.Duration
	next    map[string]*atomic.Uint64 // per destination host:port; read-only after newDialer
	other   atomic.Uint64
}

func newDialer(sources []netip.Addr, timeout time.Duration, dests []string) *dialer {
	d := &dialer{sources: sources, timeout: timeout, next: map[string]*atomic.Uint64{}}
	for _, h := range dests {
		d.next[h] = new(atomic.Uint64)
	}
	return d
}

// DialContext picks the next source for addr and dials.
func (d *dialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	nd := net.Dialer{Timeout: d.timeout}
	if len(d.sources) > 0 {
		nd.Control = bindNoPort
		c := d.next[addr]
		if c == nil {
			c = &d.other
		}
		src := d.sources[(c.Add(1)-1)%uint64(len(d.sources))]
		nd.LocalAddr = &net.TCPAddr{IP: src.AsSlice()}
	}
	return nd.DialContext(ctx, network, addr)
}

// portsPerPair is the kernel's ephemeral port range: how many connections
// one source address can open to one destination.
func portsPerPair() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 28000
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 28000
	}
	lo, err1 := strconv.Atoi(f[0])
	hi, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil || hi < lo {
		return 28000
	}
	return hi - lo + 1
}

// target is one server base URL.
type target struct {
	base, poll, ws, hostport string
}

func newTarget(raw string) (target, error) {
	u, err := url.Parse(strings.TrimRight(strings.TrimSpace(raw), "/"))
	if err != nil {
		return target{}, fmt.Errorf("url %q: %w", raw, err)
	}
	wsScheme := map[string]string{"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}[u.Scheme]
	if wsScheme == "" || u.Host == "" {
		return target{}, fmt.Errorf("url %q: want http://host:port", raw)
	}
	httpScheme := strings.Replace(wsScheme, "ws", "http", 1)
	host := u.Host
	if u.Port() == "" {
		host += map[string]string{"http": ":80", "https": ":443"}[httpScheme]
	}
	path := u.Path + "/socket.io/?EIO=4&transport="
	return target{
		base:     httpScheme + "://" + u.Host + u.Path,
		poll:     httpScheme + "://" + u.Host + path + "polling",
		ws:       wsScheme + "://" + u.Host + path + "websocket",
		hostport: host,
	}, nil
}
