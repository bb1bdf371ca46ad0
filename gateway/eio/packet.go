package eio

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"time"
)

// PacketType is the Engine.IO packet type, one ASCII digit on the wire.
type PacketType byte

// Engine.IO v4 packet types.
const (
	Open    PacketType = '0'
	Close   PacketType = '1'
	Ping    PacketType = '2'
	Pong    PacketType = '3'
	Message PacketType = '4'
	Upgrade PacketType = '5'
	Noop    PacketType = '6'
)

// recordSeparator joins packets in a long-polling payload.
const recordSeparator = 0x1e

// ErrInvalidPacket reports a packet or payload that does not decode.
var ErrInvalidPacket = errors.New("eio: invalid packet")

// Packet is one Engine.IO packet. Binary packets are always of type Message.
type Packet struct {
	Type   PacketType
	Data   []byte
	Binary bool
	// Gap asks the WebSocket writer to pause briefly after this packet so
	// the next one reaches the client in a separate read. Socket.IO sets it
	// on CONNECT replies: the reference writes the reply and the connection
	// handler's first emit in separate flushes, and clients that register
	// one listener per awaited frame (the official test suite does) lose a
	// frame that arrives in the same read as the previous one.
	Gap bool
}

// writeGap is the pause after a packet marked Gap.
const writeGap = 3 * time.Millisecond

// TextMessage returns a text message packet carrying data.
func TextMessage(data []byte) Packet { return Packet{Type: Message, Data: data} }

// BinaryMessage returns a binary message packet carrying data.
func BinaryMessage(data []byte) Packet { return Packet{Type: Message, Data: data, Binary: true} }

// DecodeText decodes one text packet ("<digit><data>"). The returned packet
// aliases b.
func DecodeText(b []byte) (Packet, error) {
	if len(b) == 0 || b[0] < byte(Open) || b[0] > byte(Noop) {
		return Packet{}, ErrInvalidPacket
	}
	return Packet{Type: PacketType(b[0]), Data: b[1:]}, nil
}

// DecodePayload splits a long-polling payload on the record separator and
// decodes each record; "b"-prefixed records are base64 binary messages.
// Decoding stops at the first invalid record: the packets before it are
// returned together with an error wrapping ErrInvalidPacket, and the caller
// must treat the whole request as a parse error after handling them.
// The returned text packets alias body.
func DecodePayload(body []byte) ([]Packet, error) {
	var pkts []Packet
	for rest := body; ; {
		rec := rest
		i := bytes.IndexByte(rest, recordSeparator)
		if i >= 0 {
			rec, rest = rest[:i], rest[i+1:]
		}
		p, err := decodeRecord(rec)
		if err != nil {
			return pkts, fmt.Errorf("record %d: %w", len(pkts), err)
		}
		pkts = append(pkts, p)
		if i < 0 {
			return pkts, nil
		}
	}
}

func decodeRecord(rec []byte) (Packet, error) {
	if len(rec) > 0 && rec[0] == 'b' {
		data := make([]byte, base64.StdEncoding.DecodedLen(len(rec)-1))
		n, err := base64.StdEncoding.Decode(data, rec[1:])
		if err != nil {
			return Packet{}, fmt.Errorf("%w: bad base64: %v", ErrInvalidPacket, err)
		}
		return BinaryMessage(data[:n]), nil
	}
	return DecodeText(rec)
}

// AppendPayload appends pkts to dst as a long-polling payload.
func AppendPayload(dst []byte, pkts []Packet) []byte {
	for i, p := range pkts {
		if i > 0 {
			dst = append(dst, recordSeparator)
		}
		if p.Binary {
			dst = append(dst, 'b')
			dst = base64.StdEncoding.AppendEncode(dst, p.Data)
			continue
		}
		dst = append(dst, byte(p.Type))
		dst = append(dst, p.Data...)
	}
	return dst
}

// payloadLen is the encoded size of pkts, used to size buffers up front.
func payloadLen(pkts []Packet) int {
	n := 0
	for _, p := range pkts {
		if p.Binary {
			n += 1 + base64.StdEncoding.EncodedLen(len(p.Data))
		} else {
			n += 1 + len(p.Data)
		}
		n++
	}
	return n
}
