package shared

import (
	"errors"
	"time"
)

// Command is a request from a gateway to the room service, published on
// room.<room>.<verb>. Which fields matter depends on the verb.
type Command struct {
	// Room is the original room id.
	Room string `json:"room"`
	// SID is the socket the command is from (or about, for disconnect).
	SID string `json:"sid"`
	// Gateway is the gateway holding the socket.
	Gateway string `json:"gw,omitempty"`
	// UserID is the socket's authenticated user, when there is one.
	UserID string `json:"uid,omitempty"`
	// Name is the display name sent with join-room; nil when absent.
	Name *string `json:"name,omitempty"`
	// Password is the password sent with join-room or check-room.
	Password string `json:"pw,omitempty"`
	// Event is the event name of a broadcast.
	Event string `json:"ev,omitempty"`
	// Data is the client's payload for media-state and broadcasts,
	// relayed as it was sent (media-state gets its id stamped). It is
	// carried as bytes (base64 in the command's JSON): a json.RawMessage
	// field would be compacted and HTML-escaped on the way.
	Data []byte `json:"data,omitempty"`
	// Mic and Cam are the media-state flags when both were booleans.
	Mic *bool `json:"mic,omitempty"`
	Cam *bool `json:"cam,omitempty"`
	// Reason says why a socket disconnected (ReasonDisconnect, ...).
	Reason string `json:"reason,omitempty"`
	// Departure is, on VerbExpire, the Departure.Seq it ends.
	Departure uint64 `json:"dep,omitempty"`
	// Beat is set on the disconnects and resumes the room service queues
	// for a gateway that fell silent and came back: the gateway heartbeat
	// it last saw. A disconnect whose Beat is not newer than the member's
	// Beat predates a resume and is ignored.
	Beat uint64 `json:"beat,omitempty"`
}

// Member is a socket in a room: the value of rooms.<room>.<sid>.
type Member struct {
	SID      string    `json:"sid"`
	Room     string    `json:"room"`
	Name     *string   `json:"name,omitempty"`
	UserID   string    `json:"userId,omitempty"`
	Gateway  string    `json:"gateway"`
	JoinedAt time.Time `json:"joinedAt"`
	// Seq is the ROOMCMD stream sequence of the join that added the
	// member; a redelivered join recognises itself by it.
	Seq uint64 `json:"seq"`
	// Password is the room's password (salted hash), copied onto every
	// member so that it lives exactly as long as the room has members.
	Password *PasswordHash `json:"password,omitempty"`
	// Departing is set while the member's transport is gone and a resume
	// may still bring it back (a grace window); it is still a member.
	Departing *Departure `json:"departing,omitempty"`
	// Beat is the newest gateway heartbeat of a resume (see Command.Beat).
	Beat uint64 `json:"beat,omitempty"`
}

// Departure is a pending departure: #rtcio:peer-left went out at Since;
// user-disconnected and the presence leave follow at Deadline unless a
// resume comes first.
type Departure struct {
	// Reason is the reason of the final presence leave.
	Reason string `json:"reason"`
	// Seq is the ROOMCMD sequence of the disconnect that began it.
	Seq      uint64    `json:"seq"`
	Since    time.Time `json:"since"`
	Deadline time.Time `json:"deadline"`
}

// MediaState is a member's last media state: the value of media.<room>.<sid>.
type MediaState struct {
	SID     string    `json:"sid"`
	Room    string    `json:"room"`
	Mic     bool      `json:"mic"`
	Cam     bool      `json:"cam"`
	Updated time.Time `json:"updated"`
}

// SocketRecord is the value of sockets.<sid>, written by the gateway that
// holds the socket before it asks to join a room. The room service reaps
// the listed rooms when the gateway's lease expires.
type SocketRecord struct {
	SID       string    `json:"sid"`
	Gateway   string    `json:"gateway"`
	UserID    string    `json:"userId,omitempty"`
	Rooms     []string  `json:"rooms"`
	Connected time.Time `json:"connected"`
}

// GatewayLease is the value of gateways.<id>; the key expires unless the
// gateway refreshes it.
type GatewayLease struct {
	ID      string    `json:"id"`
	Addr    string    `json:"addr,omitempty"`
	Started time.Time `json:"started"`
	// Reaped marks the key written by the room service when it reaps the
	// gateway's sockets. Written with a compare-and-set, it settles the race
	// with a gateway re-acquiring a lease that lapsed: whoever writes the
	// key first wins.
	Reaped bool `json:"reaped,omitempty"`
}

// Presence event types.
const (
	PresenceJoin  = "join"
	PresenceLeave = "leave"
	PresenceMedia = "media-state"
)

// Reasons a member left a room.
const (
	ReasonLeave      = "leave"      // leave-room
	ReasonDisconnect = "disconnect" // the client disconnected the socket itself: not recoverable
	// ReasonTransport: the socket's transport dropped (closed, failed, ping
	// timeout) and it may be recovered. The room sends #rtcio:peer-left at
	// once and user-disconnected plus the presence leave only when the
	// grace window ends without a VerbResume.
	ReasonTransport   = "transport"
	ReasonGatewayLost = "gateway-lost" // the gateway's lease expired
	ReasonStale       = "stale"        // found by anti-entropy: no live socket behind the member
)

// PresenceEvent is published on presence.<room>.<type> for every roster
// or media change.
type PresenceEvent struct {
	Type    string  `json:"type"`
	Room    string  `json:"room"`
	ID      string  `json:"id"`
	Name    *string `json:"name,omitempty"`
	UserID  string  `json:"userId,omitempty"`
	Mic     *bool   `json:"mic,omitempty"`
	Cam     *bool   `json:"cam,omitempty"`
	Reason  string  `json:"reason,omitempty"`
	Gateway string  `json:"gateway"`
	// Seq is the ROOMCMD stream sequence of the command that caused the
	// event: increasing within a room, the same if the command is
	// reprocessed.
	Seq  uint64    `json:"seq"`
	Time time.Time `json:"time"`
}

// PresenceMsg is a presence event to publish with its deduplication id
// (Nats-Msg-Id): a reprocessed command republishes the same ids, and
// JetStream keeps only the first.
type PresenceMsg struct {
	Event PresenceEvent
	ID    string
}

// Lease errors.
var (
	// ErrLeaseLost means a gateway's lease expired or was rewritten.
	ErrLeaseLost = errors.New("shared: gateway lease lost")
	// ErrLeaseTaken means the lease key exists: a live lease, or the
	// marker of a gateway whose sockets were reaped.
	ErrLeaseTaken = errors.New("shared: gateway lease key exists")
)
