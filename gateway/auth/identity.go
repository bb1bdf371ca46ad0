package auth

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/rtcmesh/rtcmesh/shared"
)

// Identity is what a verified token says about its socket. The gateway
// reads it from sio.Handshake.Data.
type Identity struct {
	// UserID is the token's sub: carried on socket records, roster
	// entries and presence events.
	UserID string
	// Name, when not empty, replaces the name a client sends in join-room.
	Name string
	// Rooms restricts the rooms the socket may join or check.
	Rooms Rooms
}

// Rooms is the rooms claim: room ids, where a trailing "*" matches every
// id with that prefix ("team-*"; "*" alone matches every room). The zero
// value, from a token without the claim, allows every room; an empty
// claim ([]) allows none.
type Rooms struct {
	restricted bool
	exact      []string
	prefixes   []string
}

// Restricted reports whether the token carried a rooms claim.
func (r Rooms) Restricted() bool { return r.restricted }

// Allows reports whether room id may be joined.
func (r Rooms) Allows(id string) bool {
	if !r.restricted {
		return true
	}
	for _, e := range r.exact {
		if e == id {
			return true
		}
	}
	for _, p := range r.prefixes {
		if strings.HasPrefix(id, p) {
			return true
		}
	}
	return false
}

// ParseRooms builds Rooms from claim entries, as a token would carry them.
func ParseRooms(patterns []string) (Rooms, error) {
	if len(patterns) > MaxRoomPatterns {
		return Rooms{}, fmt.Errorf("auth: rooms claim has more than %d entries", MaxRoomPatterns)
	}
	r := Rooms{restricted: true}
	for _, p := range patterns {
		switch {
		case p == "":
			return Rooms{}, errors.New("auth: rooms claim has an empty entry")
		case strings.HasSuffix(p, "*"):
			prefix := strings.TrimSuffix(p, "*")
			if len(prefix) > shared.MaxRoomIDBytes {
				return Rooms{}, fmt.Errorf("auth: rooms claim entry longer than %d bytes", shared.MaxRoomIDBytes)
			}
			r.prefixes = append(r.prefixes, prefix)
		default:
			if len(p) > shared.MaxRoomIDBytes {
				return Rooms{}, fmt.Errorf("auth: rooms claim entry longer than %d bytes", shared.MaxRoomIDBytes)
			}
			r.exact = append(r.exact, p)
		}
	}
	// The lists live as long as the socket: drop append's spare capacity.
	r.exact, r.prefixes = slices.Clip(r.exact), slices.Clip(r.prefixes)
	return r, nil
}

// parseRooms reads the optional rooms claim: an array of strings. The
// strings are copies, so nothing of the token is kept.
func parseRooms(raw json.RawMessage) (Rooms, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return Rooms{}, nil
	}
	var list []string
	if err := json.Unmarshal(raw, &list); err != nil {
		return Rooms{}, errors.New("auth: rooms claim is not an array of strings")
	}
	return ParseRooms(list)
}
