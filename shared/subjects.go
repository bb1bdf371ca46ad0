package shared

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
)

// Room command verbs: the last token of room.<room>.<verb>.
const (
	VerbJoin       = "join"
	VerbCheck      = "check"
	VerbLeave      = "leave"
	VerbDisconnect = "disconnect"
	VerbMedia      = "media"
	VerbBroadcast  = "broadcast"
	// VerbResume brings back a member whose transport dropped (a
	// disconnect with ReasonTransport, or its gateway lost): sent by the
	// gateway that now holds the socket, after a connection state recovery
	// or a gateway's return. Within the grace window it cancels the
	// pending departure without a word to the room; after it, the room
	// service treats it as a join.
	VerbResume = "resume"
	// VerbExpire ends a departure whose grace window passed without a
	// resume: the room service queues it for itself (Command.Departure
	// names the departure), and it is a no-op if the member resumed.
	VerbExpire = "expire"
)

// Subjects, streams and buckets. Nothing outside this file spells them.
const (
	// SubjRoomCmdAll matches every room command; the ROOMCMD stream
	// captures it.
	SubjRoomCmdAll = "room.*.*"
	// SubjRoomPartitioned is the stream's stored form of a command:
	// roomp.<partition>.<room>.<verb>.
	SubjRoomPartitioned = "roomp.{{partition(" + roomPartitionsStr + ",1)}}.{{wildcard(1)}}.{{wildcard(2)}}"
	// SubjSockAll matches every per-socket subject.
	SubjSockAll = "sock.*"
	// SubjPresenceAll matches every presence event.
	SubjPresenceAll = "presence.*.*"

	// StreamRoomCommands holds room commands, partitioned by room, until
	// the partition's owner acknowledges them.
	StreamRoomCommands = "ROOMCMD"
	// StreamPresence holds presence events for replay.
	StreamPresence = "PRESENCE"

	// BucketRooms maps <room>.<sid> to a Member.
	BucketRooms = "rooms"
	// BucketMedia maps <room>.<sid> to a MediaState.
	BucketMedia = "media"
	// BucketSockets maps <sid> to a SocketRecord.
	BucketSockets = "sockets"
	// BucketGateways maps <gateway id> to a GatewayLease with a per-key TTL.
	BucketGateways = "gateways"

	// RoomServiceGroup is the priority group of the room-service consumers.
	RoomServiceGroup = "roomsvc"
)

// RoomPartitions is the number of room partitions. Each partition is
// processed by exactly one room-service replica at a time. It is part of
// the ROOMCMD stream's configuration and cannot change without migrating
// the stream.
const RoomPartitions = 16

const roomPartitionsStr = "16"

// Message headers on sock.<sid> and command messages.
const (
	// HeaderEvent names the event a room-service message carries.
	HeaderEvent = "Rtcmesh-Event"
	// HeaderRoom is the RoomKey a room-service message is about.
	HeaderRoom = "Rtcmesh-Room"
	// HeaderPeer is the socket a membership event is about.
	HeaderPeer = "Rtcmesh-Peer"
	// HeaderOrigin identifies a room-service output as
	// <partition>.<stream seq>.<index>; gateways drop repeats, which a
	// takeover can produce when it reprocesses the last command.
	HeaderOrigin = "Rtcmesh-Origin"
	// HeaderVerb is the verb of the command a room-service message answers,
	// so that a gateway can tell a refused join from a refused check.
	HeaderVerb = "Rtcmesh-Verb"
	// HeaderFrom is the sender of a relayed #rtcio:message.
	HeaderFrom = "Rtcmesh-From"
)

// RoomCmd is the subject of a command for a room.
func RoomCmd(room RoomKey, verb string) string { return "room." + string(room) + "." + verb }

// RoomPartitionFilter is the stored-subject filter of one partition.
func RoomPartitionFilter(p int) string { return "roomp." + strconv.Itoa(p) + ".>" }

// RoomPartitionConsumer is the durable consumer name of one partition.
func RoomPartitionConsumer(p int) string { return "roomsvc-p" + strconv.Itoa(p) }

// RoomPartition returns the partition the stream assigns to room: FNV-1a
// (32 bit) of the room token, modulo RoomPartitions, as the server's
// partition() transform computes it.
func RoomPartition(room RoomKey) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(room))
	return int(h.Sum32() % RoomPartitions)
}

// GatewayAlive is the subject a gateway answers on while it runs. Before
// reaping a gateway whose lease lapsed, the room service asks it there: a
// lease can lapse while JetStream elects a leader although the gateway is
// fine.
func GatewayAlive(id string) string { return "gw." + id + ".alive" }

// GatewayBeat is the core-NATS subject a gateway sends its heartbeat on
// (the payload is a decimal sequence number, see ParseBeat). The room
// service suspects a gateway that falls silent.
func GatewayBeat(id string) string { return "gw." + id + ".beat" }

// SubjGatewayBeatAll matches every gateway's heartbeat.
const SubjGatewayBeatAll = "gw.*.beat"

// SubjDepartures is where the room-service replica that began a departure
// announces its deadline (core NATS), so that every replica times it and
// the expiry survives the loss of that replica.
const SubjDepartures = "roomsvc.departures"

// Sock is the subject of everything addressed to one socket.
func Sock(sid string) string { return "sock." + sid }

// SockID returns the socket id of a Sock subject.
func SockID(subject string) string { return strings.TrimPrefix(subject, "sock.") }

// ParseRoomPartitioned splits a stored command subject,
// roomp.<partition>.<room>.<verb>, into its room token and verb.
func ParseRoomPartitioned(subject string) (room, verb string, err error) {
	parts := strings.Split(subject, ".")
	if len(parts) != 4 || parts[0] != "roomp" {
		return "", "", fmt.Errorf("shared: not a partitioned room command subject: %q", subject)
	}
	return parts[2], parts[3], nil
}

// KVSubject is the subject that stores key in a KV bucket; publishing to
// it directly lets a writer attach a per-message TTL (see GatewayLease).
func KVSubject(bucket, key string) string { return "$KV." + bucket + "." + key }

// Presence is the subject of a presence event.
func Presence(room RoomKey, typ string) string { return "presence." + string(room) + "." + typ }

// PresenceRoomFilter matches the presence events of one room.
func PresenceRoomFilter(room RoomKey) string { return "presence." + string(room) + ".*" }

// MemberKey is the rooms/media bucket key of a socket in a room.
func MemberKey(room RoomKey, sid string) string { return string(room) + "." + sid }

// RoomKeyFilter matches every member key of a room.
func RoomKeyFilter(room RoomKey) string { return string(room) + ".*" }

// SplitMemberKey splits <room>.<sid>.
func SplitMemberKey(key string) (RoomKey, string, error) {
	for i := len(key) - 1; i >= 0; i-- {
		if key[i] == '.' {
			room, _, err := ParseRoomKey(key[:i])
			if err != nil {
				return "", "", err
			}
			sid := key[i+1:]
			if !ValidSocketID(sid) {
				return "", "", fmt.Errorf("shared: bad socket id in key %q", key)
			}
			return room, sid, nil
		}
	}
	return "", "", fmt.Errorf("shared: member key %q has no room", key)
}

// MaxSocketIDBytes bounds socket ids accepted from clients.
const MaxSocketIDBytes = 64

// ValidSocketID reports whether s can be a socket id: non-empty URL-safe
// base64 of bounded length, hence a single subject token and KV key.
func ValidSocketID(s string) bool {
	if s == "" || len(s) > MaxSocketIDBytes {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !keepByte(s[i]) {
			return false
		}
	}
	return true
}

// ValidGatewayID reports whether s can be a gateway id (same alphabet).
func ValidGatewayID(s string) bool { return ValidSocketID(s) }

// MaxBeatBytes bounds a heartbeat payload.
const MaxBeatBytes = 20

// ParseBeat decodes a heartbeat published on GatewayBeat: the gateway id
// from the subject and the decimal sequence number from the payload.
func ParseBeat(subject string, data []byte) (id string, seq uint64, err error) {
	rest, ok := strings.CutPrefix(subject, "gw.")
	if !ok {
		return "", 0, fmt.Errorf("shared: not a heartbeat subject: %q", subject)
	}
	id, ok = strings.CutSuffix(rest, ".beat")
	if !ok || !ValidGatewayID(id) {
		return "", 0, fmt.Errorf("shared: not a heartbeat subject: %q", subject)
	}
	if len(data) == 0 || len(data) > MaxBeatBytes {
		return "", 0, fmt.Errorf("shared: heartbeat payload of %d bytes", len(data))
	}
	seq, err = strconv.ParseUint(string(data), 10, 64)
	if err != nil {
		return "", 0, fmt.Errorf("shared: heartbeat sequence: %w", err)
	}
	return id, seq, nil
}
