package roomsvc

import (
	"context"

	"github.com/rtcmesh/rtcmesh/shared"
)

// Store is what the room service needs from the JetStream state
// (presence.Store implements it).
type Store interface {
	// LoadRoom returns a room's members and media states; an unknown room
	// has none.
	LoadRoom(ctx context.Context, room shared.RoomKey) ([]shared.Member, []shared.MediaState, error)
	// PutMember writes a member record.
	PutMember(ctx context.Context, room shared.RoomKey, m shared.Member) error
	// DeleteMember removes a member record and its media state.
	DeleteMember(ctx context.Context, room shared.RoomKey, sid string) error
	// PutMedia writes a member's media state.
	PutMedia(ctx context.Context, room shared.RoomKey, m shared.MediaState) error
	// PublishPresence stores presence events, returning once all are stored.
	PublishPresence(ctx context.Context, msgs []shared.PresenceMsg) error

	// AllMembers, AllMedia, AllSockets and LiveGateways read whole
	// buckets for takeovers, the reaper and the anti-entropy pass.
	AllMembers(ctx context.Context) ([]shared.Member, error)
	AllMedia(ctx context.Context) ([]shared.MediaState, error)
	AllSockets(ctx context.Context) ([]shared.SocketRecord, error)
	LiveGateways(ctx context.Context) (map[string]bool, error)
	// MarkReaped claims a gateway for reaping with a compare-and-set on its
	// lease key; false means a live lease holds the key again.
	MarkReaped(ctx context.Context, gateway string) (bool, error)
	// Reaped reports whether the gateway's lease key is a reaped marker.
	Reaped(ctx context.Context, gateway string) (bool, error)
	// DeleteSocket removes a socket record (rev 0: unconditionally).
	DeleteSocket(ctx context.Context, sid string, rev uint64) error
	// WatchLeases reports lease changes (current leases first) until ctx
	// is done; live is false when a lease expired or was released.
	WatchLeases(ctx context.Context, fn func(gateway string, live bool)) error
}
