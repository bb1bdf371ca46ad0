package shared

import (
	"errors"
	"fmt"
	"strings"
)

// MaxRoomIDBytes is the longest room id accepted, in bytes.
const MaxRoomIDBytes = 256

// Errors from room id handling.
var (
	// ErrInvalidRoomID means a room id is empty, too long or not a string.
	ErrInvalidRoomID = errors.New("shared: invalid room id")
	// ErrInvalidRoomKey means a string is not a well-formed escaped room id.
	ErrInvalidRoomKey = errors.New("shared: invalid room key")
)

// RoomKey is a room id escaped into one NATS subject token and one KV key
// segment: bytes in [A-Za-z0-9_-] stay, every other byte (including '=')
// becomes "=XX" with upper-case hex. The escape is injective and
// reversible, so distinct room ids never share subjects or keys.
type RoomKey string

const hexDigits = "0123456789ABCDEF"

// keepByte reports whether b is written unescaped.
func keepByte(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '_' || b == '-'
}

// EscapeRoom validates a client-supplied room id and returns its key.
func EscapeRoom(id string) (RoomKey, error) {
	if id == "" {
		return "", fmt.Errorf("%w: empty", ErrInvalidRoomID)
	}
	if len(id) > MaxRoomIDBytes {
		return "", fmt.Errorf("%w: longer than %d bytes", ErrInvalidRoomID, MaxRoomIDBytes)
	}
	n := 0
	for i := 0; i < len(id); i++ {
		if keepByte(id[i]) {
			n++
		} else {
			n += 3
		}
	}
	if n == len(id) {
		return RoomKey(id), nil
	}
	var b strings.Builder
	b.Grow(n)
	for i := 0; i < len(id); i++ {
		c := id[i]
		if keepByte(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('=')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&0xF])
	}
	return RoomKey(b.String()), nil
}

// ParseRoomKey checks that s is a canonical escaped room id and returns it
// with the original id.
func ParseRoomKey(s string) (RoomKey, string, error) {
	if s == "" {
		return "", "", fmt.Errorf("%w: empty", ErrInvalidRoomKey)
	}
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case keepByte(c):
			out = append(out, c)
		case c == '=' && i+2 < len(s) && isUpperHex(s[i+1]) && isUpperHex(s[i+2]):
			v := unhex(s[i+1])<<4 | unhex(s[i+2])
			if keepByte(v) {
				// A byte that is written plainly must never appear escaped,
				// or two keys would name the same room.
				return "", "", fmt.Errorf("%w: needless escape at %d", ErrInvalidRoomKey, i)
			}
			out = append(out, v)
			i += 2
		default:
			return "", "", fmt.Errorf("%w: byte %q at %d", ErrInvalidRoomKey, c, i)
		}
	}
	if len(out) > MaxRoomIDBytes {
		return "", "", fmt.Errorf("%w: room id longer than %d bytes", ErrInvalidRoomKey, MaxRoomIDBytes)
	}
	return RoomKey(s), string(out), nil
}

// ID returns the original room id. It panics on a key that did not come
// from EscapeRoom or ParseRoomKey.
func (k RoomKey) ID() string {
	_, id, err := ParseRoomKey(string(k))
	if err != nil {
		panic(err)
	}
	return id
}

func isUpperHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'A' && c <= 'F' }

func unhex(c byte) byte {
	if c <= '9' {
		return c - '0'
	}
	return c - 'A' + 10
}

// ValidRoomToken reports whether s is made only of the characters an
// escaped room id uses, so it is one subject token and one key segment.
func ValidRoomToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !keepByte(s[i]) && s[i] != '=' {
			return false
		}
	}
	return true
}
