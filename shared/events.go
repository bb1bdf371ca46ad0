package shared

// Socket.IO events of the rtc.io contract (docs/rtcio-protocol.md).
const (
	EventJoinRoom         = "join-room"
	EventCheckRoom        = "check-room"
	EventLeaveRoom        = "leave-room"
	EventJoinOK           = "join-ok"
	EventJoinError        = "join-error"
	EventRoomCheckOK      = "room-check-ok"
	EventUserConnected    = "user-connected"
	EventUserDisconnected = "user-disconnected"
	EventMediaState       = "media-state"
	EventChatMessage      = "chat-message"
	EventStopScreenShare  = "stopScreenShare"
	EventAskICE           = "ask-ice"
	EventError            = "error"
	EventRTCMessage       = "#rtcio:message"
	EventInitOffer        = "#rtcio:init-offer"
	EventPeerLeft         = "#rtcio:peer-left"
)

// join-error reasons. The first five are the rtc.io contract's; the rest
// are rtcmesh's own refusals, named in the same style.
const (
	JoinInvalidRoom      = "invalid-room"
	JoinWrongPassword    = "wrong-password"
	JoinPasswordRequired = "password-required"
	JoinRoomFull         = "room-full"
	JoinForbidden        = "forbidden"
	JoinInvalidName      = "invalid-name" // name present but not a string of at most MaxNameBytes
	JoinUnavailable      = "unavailable"  // the mesh could not take the request; retry later
)

// Codes of the `error` event {code, event, roomId?, message}.
const (
	ErrInvalidPayload = "invalid-payload" // the event's argument has the wrong shape
	ErrNotMember      = "not-a-member"    // a room event for a room the socket is not in
	ErrTooLarge       = "too-large"       // the payload exceeds the configured limit
	ErrUnavailable    = "unavailable"     // the mesh could not take the event; retry later
	ErrRateLimited    = "rate-limited"    // too many events; the event was dropped
)

// MaxNameBytes bounds display names.
const MaxNameBytes = 256

// DefaultRoomBroadcastEvents are relayed to the rest of a room.
var DefaultRoomBroadcastEvents = []string{EventChatMessage, EventStopScreenShare}
