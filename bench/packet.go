package bench

import (
	"encoding/json"
	"errors"
)

// The packet parser reads only what the scenarios need: the Engine.IO and
// Socket.IO packet types, an event's name, its first argument (as raw
// JSON) and its argument count. It validates the whole JSON array on the
// way, without allocating: every slice points into the read buffer and is
// valid only until the handler returns.

// pktKind is what one Engine.IO packet carries.
type pktKind uint8

const (
	pkEvent        pktKind = iota // 42[...]: a Socket.IO EVENT on "/"
	pkPing                        // 2
	pkPong                        // 3 (never sent by a v4 server)
	pkNoop                        // 6
	pkClose                       // 1
	pkOpen                        // 0{...}
	pkUpgrade                     // 5
	pkProbe                       // 3probe
	pkConnect                     // 40{...}
	pkDisconnect                  // 41
	pkConnectError                // 44{...}
	pkAck                         // 43...
	pkBinary                      // 45, 46
	pkNamespace                   // a Socket.IO packet for a namespace other than "/"
)

var pktNames = [...]string{"event", "ping", "pong", "noop", "close", "open", "upgrade", "probe",
	"connect", "disconnect", "connect-error", "ack", "binary", "namespace"}

func (k pktKind) String() string { return pktNames[k] }

// event is a decoded Socket.IO EVENT.
type event struct {
	name   []byte // the event name without quotes (still JSON-escaped if esc)
	arg0   []byte // the first argument, raw JSON; nil without arguments
	nargs  int    // arguments after the name
	esc    bool   // the name contains escapes
	hasAck bool   // the server asked for an acknowledgement
}

// packet is a decoded Engine.IO packet.
type packet struct {
	kind pktKind
	ev   event
	data []byte // the payload of open, connect and connect-error packets
}

var (
	errEmpty     = errors.New("empty packet")
	errEIOType   = errors.New("unknown engine.io packet type")
	errSIOType   = errors.New("unknown socket.io packet type")
	errJSON      = errors.New("malformed json")
	errEventName = errors.New("event name is not a string")
	errTooDeep   = errors.New("json nested too deep")
)

// maxDepth matches encoding/json's nesting limit.
const maxDepth = 10000

// decode parses one Engine.IO packet (a WebSocket text frame or one
// polling record).
func decode(b []byte) (packet, error) {
	if len(b) == 0 {
		return packet{}, errEmpty
	}
	switch b[0] {
	case '0':
		return packet{kind: pkOpen, data: b[1:]}, nil
	case '1':
		return packet{kind: pkClose}, nil
	case '2':
		return packet{kind: pkPing, data: b[1:]}, nil
	case '3':
		if string(b[1:]) == "probe" {
			return packet{kind: pkProbe}, nil
		}
		return packet{kind: pkPong}, nil
	case '4':
		return decodeSIO(b[1:])
	case '5':
		return packet{kind: pkUpgrade}, nil
	case '6':
		return packet{kind: pkNoop}, nil
	}
	return packet{}, errEIOType
}

// decodeSIO parses a Socket.IO packet: <type>[<n>-][<nsp>,][<ack id>][json].
func decodeSIO(b []byte) (packet, error) {
	if len(b) == 0 {
		return packet{}, errSIOType
	}
	t, rest := b[0], b[1:]
	if t == '5' || t == '6' {
		return packet{kind: pkBinary}, nil
	}
	if len(rest) > 0 && rest[0] == '/' {
		i := 0
		for i < len(rest) && rest[i] != ',' {
			i++
		}
		nsp := rest[:i]
		if i < len(rest) {
			i++
		}
		rest = rest[i:]
		if string(nsp) != "/" {
			return packet{kind: pkNamespace}, nil
		}
	}
	switch t {
	case '0':
		return packet{kind: pkConnect, data: rest}, nil
	case '1':
		return packet{kind: pkDisconnect}, nil
	case '3':
		return packet{kind: pkAck}, nil
	case '4':
		return packet{kind: pkConnectError, data: rest}, nil
	case '2':
	default:
		return packet{}, errSIOType
	}
	i := 0
	for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
		i++
	}
	ev, err := parseEventArray(rest[i:])
	ev.hasAck = i > 0
	return packet{kind: pkEvent, ev: ev}, err
}

// parseEventArray parses ["name", args...].
func parseEventArray(b []byte) (event, error) {
	var ev event
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '[' {
		return ev, errJSON
	}
	i = skipWS(b, i+1)
	if i >= len(b) || b[i] != '"' {
		if _, err := skipValue(b, i, 1); err != nil {
			return ev, errJSON
		}
		return ev, errEventName
	}
	end, esc, err := scanString(b, i)
	if err != nil {
		return ev, err
	}
	ev.name, ev.esc = b[i+1:end-1], esc
	i = skipWS(b, end)
	for i < len(b) && b[i] == ',' {
		start := skipWS(b, i+1)
		end, err := skipValue(b, start, 1)
		if err != nil {
			return ev, err
		}
		if ev.nargs == 0 {
			ev.arg0 = b[start:end]
		}
		ev.nargs++
		i = skipWS(b, end)
	}
	if i >= len(b) || b[i] != ']' {
		return ev, errJSON
	}
	if skipWS(b, i+1) != len(b) {
		return ev, errJSON
	}
	return ev, nil
}

// Name returns the event name, unescaped.
func (e *event) Name() string {
	if !e.esc {
		return string(e.name)
	}
	var s string
	q := make([]byte, 0, len(e.name)+2)
	q = append(append(append(q, '"'), e.name...), '"')
	_ = json.Unmarshal(q, &s)
	return s
}
