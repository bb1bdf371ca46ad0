package sio

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// PacketType is the Socket.IO packet type.
type PacketType byte

// Socket.IO v5 packet types.
const (
	PacketConnect      PacketType = 0
	PacketDisconnect   PacketType = 1
	PacketEvent        PacketType = 2
	PacketAck          PacketType = 3
	PacketConnectError PacketType = 4
	PacketBinaryEvent  PacketType = 5
	PacketBinaryAck    PacketType = 6
)

// MaxAttachments is the largest attachment count a packet may announce
// (the reference parser's default).
const MaxAttachments = 10

// maxAckIDDigits bounds ack ids so they fit an int64.
const maxAckIDDigits = 15

// ErrInvalidPacket reports an undecodable Socket.IO packet.
var ErrInvalidPacket = errors.New("sio: invalid packet")

// reservedEvents may not be sent by clients.
var reservedEvents = map[string]bool{
	"connect": true, "connect_error": true, "disconnect": true,
	"disconnecting": true, "newListener": true, "removeListener": true,
}

// Packet is a decoded Socket.IO packet. Data is the raw JSON payload (nil
// when absent); placeholders for binary attachments are left in it as sent.
type Packet struct {
	Type        PacketType
	Namespace   string
	ID          int64 // ack id, valid when HasID
	HasID       bool
	Attachments int
	Data        json.RawMessage

	// For events and acks, Decode splits Data once: elems are its
	// elements (byte-exact) and name is an event's name.
	elems []json.RawMessage
	name  string
}

// carriesArray reports whether the packet type's payload is an array.
func (t PacketType) carriesArray() bool {
	return t == PacketEvent || t == PacketBinaryEvent || t == PacketAck || t == PacketBinaryAck
}

// binary reports whether the packet type carries attachments.
func (t PacketType) binary() bool { return t == PacketBinaryEvent || t == PacketBinaryAck }

// Decode parses one text packet: type digit, attachment count and "-" for
// binary types, "/namespace," (the comma may be omitted at the end), ack
// id digits, then the JSON payload. The payload shape is checked per type.
// The returned packet aliases b.
func Decode(b []byte) (Packet, error) {
	var p Packet
	if len(b) == 0 || b[0] < '0' || b[0] > '6' {
		return p, fmt.Errorf("%w: unknown type", ErrInvalidPacket)
	}
	p.Type = PacketType(b[0] - '0')
	i := 1
	if p.Type.binary() {
		j := i
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
		}
		if j == i || j >= len(b) || b[j] != '-' || j-i > 2 {
			return p, fmt.Errorf("%w: illegal attachments", ErrInvalidPacket)
		}
		n, _ := strconv.Atoi(string(b[i:j]))
		if n > MaxAttachments {
			return p, fmt.Errorf("%w: too many attachments", ErrInvalidPacket)
		}
		p.Attachments = n
		i = j + 1
	}
	p.Namespace = "/"
	if i < len(b) && b[i] == '/' {
		j := bytes.IndexByte(b[i:], ',')
		if j < 0 {
			p.Namespace, i = string(b[i:]), len(b)
		} else {
			p.Namespace, i = string(b[i:i+j]), i+j+1
		}
	}
	if j := i; j < len(b) && b[j] >= '0' && b[j] <= '9' {
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
		}
		if j-i > maxAckIDDigits {
			return p, fmt.Errorf("%w: ack id too long", ErrInvalidPacket)
		}
		p.ID, _ = strconv.ParseInt(string(b[i:j]), 10, 64)
		p.HasID = true
		i = j
	}
	if i < len(b) {
		p.Data = json.RawMessage(b[i:])
		if p.Type.carriesArray() {
			// One pass validates the payload and splits it.
			if firstByte(p.Data) != '[' {
				return p, fmt.Errorf("%w: payload must be an array", ErrInvalidPacket)
			}
			if err := json.Unmarshal(p.Data, &p.elems); err != nil {
				return p, fmt.Errorf("%w: payload is not JSON", ErrInvalidPacket)
			}
		} else if !json.Valid(p.Data) {
			return p, fmt.Errorf("%w: payload is not JSON", ErrInvalidPacket)
		}
	}
	if err := checkShape(&p); err != nil {
		return p, err
	}
	return p, nil
}

// checkShape applies the reference's payload rules per packet type.
func checkShape(p *Packet) error {
	first := firstByte(p.Data)
	bad := func(why string) error { return fmt.Errorf("%w: %s", ErrInvalidPacket, why) }
	switch p.Type {
	case PacketConnect:
		if p.Data != nil && first != '{' {
			return bad("connect payload must be an object")
		}
	case PacketDisconnect:
		if p.Data != nil {
			return bad("disconnect takes no payload")
		}
	case PacketConnectError:
		if first != '{' && first != '"' {
			return bad("connect_error payload must be an object or a string")
		}
	case PacketEvent, PacketBinaryEvent:
		if first != '[' {
			return bad("event payload must be an array")
		}
		if len(p.elems) == 0 {
			return bad("empty event array")
		}
		name, err := eventName(p.elems[0])
		if err != nil {
			return err
		}
		if reservedEvents[name] {
			return bad("reserved event name")
		}
		p.name = name
	case PacketAck, PacketBinaryAck:
		if first != '[' {
			return bad("ack payload must be an array")
		}
	}
	if p.HasID && (p.Type == PacketConnect || p.Type == PacketDisconnect || p.Type == PacketConnectError) {
		return bad("ack id on a packet that cannot carry one")
	}
	return nil
}

// firstByte returns the first non-space byte of a JSON text, or 0.
func firstByte(b []byte) byte {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return c
	}
	return 0
}

// eventName decodes an event array's first element, which must be a
// string or a number (numbers are returned in their JSON spelling).
func eventName(first json.RawMessage) (string, error) {
	switch c := first[0]; {
	case c == '"':
		var name string
		if err := json.Unmarshal(first, &name); err != nil {
			return "", fmt.Errorf("%w: %v", ErrInvalidPacket, err)
		}
		return name, nil
	case c == '-' || c >= '0' && c <= '9':
		return string(first), nil
	}
	return "", fmt.Errorf("%w: event name must be a string or a number", ErrInvalidPacket)
}

// appendHeader appends the packet prefix: type, attachments, namespace and
// ack id. The payload follows it directly.
func appendHeader(dst []byte, t PacketType, attachments int, nsp string, id int64, hasID bool) []byte {
	dst = append(dst, byte('0'+t))
	if t.binary() {
		dst = strconv.AppendInt(dst, int64(attachments), 10)
		dst = append(dst, '-')
	}
	if nsp != "/" && nsp != "" {
		dst = append(dst, nsp...)
		dst = append(dst, ',')
	}
	if hasID {
		dst = strconv.AppendInt(dst, id, 10)
	}
	return dst
}

// Encode returns the text form of p.
func (p Packet) Encode() []byte {
	b := appendHeader(make([]byte, 0, 16+len(p.Namespace)+len(p.Data)), p.Type, p.Attachments, p.Namespace, p.ID, p.HasID)
	return append(b, p.Data...)
}
