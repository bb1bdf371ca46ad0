package bench

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
)

func TestParseSources(t *testing.T) {
	cases := []struct {
		in      string
		n       int
		first   string
		last    string
		wantErr string
	}{
		{in: "", n: 0},
		{in: "127.0.0.2", n: 1, first: "127.0.0.2", last: "127.0.0.2"},
		{in: "127.0.0.1, 127.0.0.3 ,::1", n: 3, first: "127.0.0.1", last: "::1"},
		{in: "[::1]", n: 1, first: "::1", last: "::1"},
		{in: "127.0.0.1-127.0.0.20", n: 20, first: "127.0.0.1", last: "127.0.0.20"},
		{in: "127.0.0.250-127.0.1.4", n: 11, first: "127.0.0.250", last: "127.0.1.4"},
		{in: "127.0.0.5-127.0.0.5", n: 1, first: "127.0.0.5", last: "127.0.0.5"},
		{in: "127.0.1.0/24", n: 254, first: "127.0.1.1", last: "127.0.1.254"},
		{in: "127.0.0.8/30", n: 2, first: "127.0.0.9", last: "127.0.0.10"},
		{in: "127.0.0.9/31", n: 2, first: "127.0.0.8", last: "127.0.0.9"},
		{in: "127.0.0.7/32", n: 1, first: "127.0.0.7", last: "127.0.0.7"},
		{in: "127.1.0.0/16", n: 65534, first: "127.1.0.1", last: "127.1.255.254"},
		{in: "127.0.0.1,127.0.0.2-127.0.0.3,127.0.0.4/32", n: 4, first: "127.0.0.1", last: "127.0.0.4"},
		{in: "10.0.0.0/24", wantErr: "127.0.0.0/8"},
		{in: "127.0.0.0/8", wantErr: "more than"},
		{in: "127.0.0.9-127.0.0.1", wantErr: "upwards"},
		{in: "127.0.0.1-::1", wantErr: "upwards"},
		{in: "127.0.0.0-127.1.0.0", wantErr: "more than"},
		{in: "localhost", wantErr: "source"},
		{in: "127.0.0.1-x", wantErr: "source"},
	}
	for _, tc := range cases {
		got, err := ParseSources(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%q: error %v, want one mentioning %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil || len(got) != tc.n {
			t.Errorf("%q: %d addresses, %v; want %d", tc.in, len(got), err, tc.n)
			continue
		}
		if tc.n > 0 && (got[0].String() != tc.first || got[len(got)-1].String() != tc.last) {
			t.Errorf("%q: %v..%v, want %s..%s", tc.in, got[0], got[len(got)-1], tc.first, tc.last)
		}
	}
}

// TestDialerSpreadsSources checks that connections go out from every
// source address, evenly per destination.
func TestDialerSpreadsSources(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	srcs := []netip.Addr{netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.0.0.3")}
	d := newDialer(srcs, 0, []string{ln.Addr().String()})
	seen := map[string]int{}
	for range 4 {
		c, err := d.DialContext(context.Background(), "tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		s, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		host, _, _ := net.SplitHostPort(s.RemoteAddr().String())
		seen[host]++
		s.Close()
		c.Close()
	}
	if seen["127.0.0.2"] != 2 || seen["127.0.0.3"] != 2 {
		t.Fatalf("sources used: %v", seen)
	}
}

func TestNewTarget(t *testing.T) {
	cases := []struct{ in, poll, ws, hostport string }{
		{"http://127.0.0.1:3001", "http://127.0.0.1:3001/socket.io/?EIO=4&transport=polling", "ws://127.0.0.1:3001/socket.io/?EIO=4&transport=websocket", "127.0.0.1:3001"},
		{"https://example.com/", "https://example.com/socket.io/?EIO=4&transport=polling", "wss://example.com/socket.io/?EIO=4&transport=websocket", "example.com:443"},
		{"ws://h:1/app", "http://h:1/app/socket.io/?EIO=4&transport=polling", "ws://h:1/app/socket.io/?EIO=4&transport=websocket", "h:1"},
	}
	for _, tc := range cases {
		got, err := newTarget(tc.in)
		if err != nil || got.poll != tc.poll || got.ws != tc.ws || got.hostport != tc.hostport {
			t.Errorf("%s: %+v, %v", tc.in, got, err)
		}
	}
	for _, bad := range []string{"127.0.0.1:3001", "ftp://x", "http://"} {
		if _, err := newTarget(bad); err == nil {
			t.Errorf("%s: want an error", bad)
		}
	}
}
