package main

import (
	"strings"
	"testing"
)

func TestShellJoin(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want string
	}{
		{[]string{"bench", "storm", "--url", "http://127.0.0.1:4000,http://127.0.0.1:4001", "--pid", "nats=1,gateway=2"},
			"bench storm --url http://127.0.0.1:4000,http://127.0.0.1:4001 --pid nats=1,gateway=2"},
		{[]string{"-run", "^$", ""}, "-run '^$' ''"},
		{[]string{"it's", "a b"}, `'it'\''s' 'a b'`},
	} {
		if got := shellJoin(tc.in); got != tc.want {
			t.Errorf("shellJoin(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
	e := &env{work: "/tmp/rtcmesh-suite-123"}
	if got := e.display("rtcmesh dev --store /tmp/rtcmesh-suite-123/hold_1000_dev/store"); got != "rtcmesh dev --store $WORK/hold_1000_dev/store" {
		t.Errorf("display = %s", got)
	}
}

func TestTailLines(t *testing.T) {
	long := strings.Repeat("x", 400)
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"a\nb\nc\n", 2, "b\nc"},
		{"a\nb\n", 5, "a\nb"},
		{"", 3, ""},
		{long + "\n", 1, strings.Repeat("x", 300) + "…"},
	} {
		if got := tailLines([]byte(tc.in), tc.n); got != tc.want {
			t.Errorf("tailLines(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}

func TestLimitedBuffer(t *testing.T) {
	b := &limitedBuffer{max: 5}
	for _, s := range []string{"abc", "def", "g"} {
		if n, err := b.Write([]byte(s)); n != len(s) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", s, n, err)
		}
	}
	if b.String() != "abcde" || !b.truncated {
		t.Errorf("buffer %q truncated %v", b.String(), b.truncated)
	}
}
