package eio

import (
	"net/netip"
	"testing"
)

func TestParseTrustedProxies(t *testing.T) {
	got, err := ParseTrustedProxies([]string{"10.0.0.0/8", " 192.168.1.7 ", "", "::ffff:172.16.0.0/108", "2001:db8::/32"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"10.0.0.0/8", "192.168.1.7/32", "172.16.0.0/12", "2001:db8::/32"}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for i := range want {
		if got[i].String() != want[i] {
			t.Errorf("%d: %s, want %s", i, got[i], want[i])
		}
	}
	for _, bad := range []string{"10.0.0.0/33", "nope", "1.2.3"} {
		if _, err := ParseTrustedProxies([]string{bad}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestClientAddr(t *testing.T) {
	trusted, _ := ParseTrustedProxies([]string{"10.0.0.0/8", "127.0.0.1"})
	a := newAdmission(0, 0, trusted)
	none := newAdmission(0, 0, nil)
	cases := []struct {
		name   string
		adm    *admission
		remote string
		xff    []string
		want   string
	}{
		{"no proxies: the peer", none, "198.51.100.1:5000", []string{"203.0.113.1"}, "198.51.100.1"},
		{"untrusted peer ignores the header", a, "198.51.100.1:5000", []string{"203.0.113.1"}, "198.51.100.1"},
		{"trusted peer without header", a, "10.1.2.3:5000", nil, "10.1.2.3"},
		{"one hop", a, "10.1.2.3:5000", []string{"203.0.113.1"}, "203.0.113.1"},
		{"client-written hops are skipped", a, "10.1.2.3:5000", []string{"1.1.1.1, 2.2.2.2, 203.0.113.1"}, "203.0.113.1"},
		{"chain of trusted proxies", a, "127.0.0.1:5000", []string{"203.0.113.1, 10.9.9.9"}, "203.0.113.1"},
		{"several header lines", a, "10.1.2.3:5000", []string{"1.1.1.1", "203.0.113.1"}, "203.0.113.1"},
		{"all hops trusted", a, "10.1.2.3:5000", []string{"10.0.0.1, 10.0.0.2"}, "10.0.0.1"},
		{"garbage stops at the nearest proxy", a, "10.1.2.3:5000", []string{"junk, 10.0.0.2"}, "10.0.0.2"},
		{"garbage right away", a, "10.1.2.3:5000", []string{"not-an-ip"}, "10.1.2.3"},
		{"mapped addresses", a, "[::ffff:10.1.2.3]:5000", []string{"::ffff:203.0.113.1"}, "203.0.113.1"},
		{"ipv6 client", a, "10.1.2.3:5000", []string{" 2001:db8::1 "}, "2001:db8::1"},
		{"unparsable peer", a, "@pipe", []string{"203.0.113.1"}, "invalid IP"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.adm.clientAddr(tc.remote, tc.xff).String(); got != tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestAdmitRelease(t *testing.T) {
	a := newAdmission(5, 2, nil)
	ip1 := netip.MustParseAddr("198.51.100.1")
	ip6a := netip.MustParseAddr("2001:db8:1:2::1")
	ip6b := netip.MustParseAddr("2001:db8:1:2:ffff::9") // same /64
	ip6c := netip.MustParseAddr("2001:db8:1:3::1")      // another /64
	ip2 := netip.MustParseAddr("192.0.2.9")
	steps := []struct {
		ip     netip.Addr
		reason string
	}{
		{ip1, ""}, {ip1, ""}, {ip1, RefusedMaxPerIP},
		{ip6a, ""}, {ip6b, ""}, {ip6a, RefusedMaxPerIP},
		{ip6c, ""}, {ip2, RefusedMaxConnections},
	}
	for i, s := range steps {
		reason, refusal := a.admit(s.ip)
		if reason != s.reason || (refusal != nil) != (s.reason != "") {
			t.Fatalf("step %d (%s): reason %q, want %q", i, s.ip, reason, s.reason)
		}
	}
	a.release(ip1)
	if reason, _ := a.admit(ip2); reason != "" {
		t.Fatalf("after a release: %q", reason)
	}
	for _, ip := range []netip.Addr{ip1, ip6a, ip6b, ip6c, ip2} {
		a.release(ip)
	}
	if a.total != 0 || len(a.byIP) != 0 {
		t.Fatalf("leftover counts: total %d, by address %v", a.total, a.byIP)
	}
	// Peers without an address (unix sockets, pipes) count only against
	// the total.
	b := newAdmission(0, 1, nil)
	for range 3 {
		if reason, _ := b.admit(netip.Addr{}); reason != "" {
			t.Fatal(reason)
		}
	}
}

// FuzzClientAddr checks that any X-Forwarded-For parses without a panic
// and that the answer is the peer or one of the header's addresses.
func FuzzClientAddr(f *testing.F) {
	for _, s := range []string{"203.0.113.1", "1.1.1.1, 10.0.0.1", "junk", "", ",,,", "::1, ::ffff:1.2.3.4", "[::1]"} {
		f.Add("10.1.2.3:80", s)
	}
	trusted, _ := ParseTrustedProxies([]string{"10.0.0.0/8"})
	a := newAdmission(0, 0, trusted)
	f.Fuzz(func(t *testing.T, remote, xff string) {
		got := a.clientAddr(remote, []string{xff})
		peer := parseHostAddr(remote)
		if got == peer {
			return
		}
		if !peer.IsValid() || !a.isTrusted(peer) {
			t.Fatalf("untrusted peer %q gave %s", remote, got)
		}
	})
}
