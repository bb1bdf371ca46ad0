package shared_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/rtcmesh/rtcmesh/shared"
)

func TestEscapeRoom(t *testing.T) {
	cases := []struct {
		id, key string
		err     error
	}{
		{"stand-up", "stand-up", nil},
		{"x.y z", "x=2Ey=20z", nil},
		{"Café", "Caf=C3=A9", nil},
		{"a=b", "a=3Db", nil},
		{"=3D", "=3D3D", nil},
		{"*>", "=2A=3E", nil},
		{"under_score-1", "under_score-1", nil},
		{"", "", shared.ErrInvalidRoomID},
		{strings.Repeat("a", 256), strings.Repeat("a", 256), nil},
		{strings.Repeat("a", 257), "", shared.ErrInvalidRoomID},
		{strings.Repeat("é", 128), strings.Repeat("=C3=A9", 128), nil},
	}
	for _, tc := range cases {
		key, err := shared.EscapeRoom(tc.id)
		if !errors.Is(err, tc.err) {
			t.Fatalf("EscapeRoom(%q) error = %v, want %v", tc.id, err, tc.err)
		}
		if err != nil {
			continue
		}
		if string(key) != tc.key {
			t.Fatalf("EscapeRoom(%q) = %q, want %q", tc.id, key, tc.key)
		}
		if key.ID() != tc.id {
			t.Fatalf("round trip of %q gave %q", tc.id, key.ID())
		}
	}
}

func TestParseRoomKeyRejectsNonCanonical(t *testing.T) {
	for _, s := range []string{"", "a.b", "a b", "=41", "=2e", "=2", "=", "a=G0", "a*", strings.Repeat("=2E", 257)} {
		if _, _, err := shared.ParseRoomKey(s); !errors.Is(err, shared.ErrInvalidRoomKey) {
			t.Fatalf("ParseRoomKey(%q) error = %v", s, err)
		}
	}
}

// Every subject builder's output must match its wildcard and be made of
// valid tokens.
func TestSubjectsMatchWildcards(t *testing.T) {
	key, _ := shared.EscapeRoom("x.y z")
	cases := []struct{ subject, wildcard string }{
		{shared.RoomCmd(key, shared.VerbJoin), shared.SubjRoomCmdAll},
		{shared.Sock("abcDEF123_-xyz"), shared.SubjSockAll},
		{shared.Presence(key, shared.PresenceJoin), shared.SubjPresenceAll},
		{shared.Presence(key, shared.PresenceMedia), shared.PresenceRoomFilter(key)},
		{"roomp.3." + string(key) + ".join", shared.RoomPartitionFilter(3)},
		{shared.GatewayBeat("gw-abc_1"), shared.SubjGatewayBeatAll},
	}
	for _, tc := range cases {
		if !subjectMatches(tc.subject, tc.wildcard) {
			t.Fatalf("%q does not match %q", tc.subject, tc.wildcard)
		}
	}
	if got := shared.SockID(shared.Sock("abc_1")); got != "abc_1" {
		t.Fatalf("SockID = %q", got)
	}
	if tok, verb, err := shared.ParseRoomPartitioned("roomp.3." + string(key) + ".join"); err != nil || tok != string(key) || verb != "join" {
		t.Fatalf("ParseRoomPartitioned = %q %q %v", tok, verb, err)
	}
	if _, _, err := shared.ParseRoomPartitioned(shared.RoomCmd(key, shared.VerbJoin)); err == nil {
		t.Fatal("ParseRoomPartitioned accepted an unpartitioned subject")
	}
	room, sid, err := shared.SplitMemberKey(shared.MemberKey(key, "sock_1"))
	if err != nil || room != key || sid != "sock_1" {
		t.Fatalf("SplitMemberKey = %q %q %v", room, sid, err)
	}
}

func subjectMatches(subject, pattern string) bool {
	st, pt := strings.Split(subject, "."), strings.Split(pattern, ".")
	for i, p := range pt {
		if p == ">" {
			return len(st) > i
		}
		if i >= len(st) || st[i] == "" || (p != "*" && p != st[i]) {
			return false
		}
	}
	return len(st) == len(pt)
}

func TestValidSocketID(t *testing.T) {
	for s, want := range map[string]bool{
		"AbC_-09": true, "": false, "a.b": false, "a b": false, "a*": false, ">": false,
		strings.Repeat("a", 64): true, strings.Repeat("a", 65): false,
	} {
		if got := shared.ValidSocketID(s); got != want {
			t.Fatalf("ValidSocketID(%q) = %v", s, got)
		}
	}
}

func TestPasswordHash(t *testing.T) {
	h := shared.HashPassword("s3cret")
	if !h.Matches("s3cret") || h.Matches("s3cre") || h.Matches("") {
		t.Fatal("password hash does not discriminate")
	}
	if h2 := shared.HashPassword("s3cret"); h2.Hash == h.Hash {
		t.Fatal("hashes are not salted")
	}
}

// FuzzRoomKey checks that the escape is injective and reversible: every id
// escapes to a valid key that parses back to it, and every key that
// parses is the escape of what it parses to.
func FuzzRoomKey(f *testing.F) {
	for _, s := range []string{"stand-up", "x.y z", "Café", "a=b", "=3D", "", "\x00\xff", "*>.$"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if key, err := shared.EscapeRoom(s); err == nil {
			if !shared.ValidRoomToken(string(key)) {
				t.Fatalf("key %q of %q is not a single token", key, s)
			}
			back, id, err := shared.ParseRoomKey(string(key))
			if err != nil || back != key || id != s {
				t.Fatalf("escape(%q) = %q does not parse back: %q %q %v", s, key, back, id, err)
			}
		}
		if key, id, err := shared.ParseRoomKey(s); err == nil {
			again, err := shared.EscapeRoom(id)
			if err != nil || again != key {
				t.Fatalf("parse(%q) = %q, but escape gives %q (%v)", s, id, again, err)
			}
		}
	})
}
