package gateway

import (
	"context"
	"time"

	"github.com/rtcmesh/rtcmesh/shared"
)

// Registry is what a gateway needs from the JetStream state
// (presence.Store implements it).
type Registry interface {
	// PutSocket writes the record of a socket this gateway holds.
	PutSocket(ctx context.Context, rec shared.SocketRecord) error
	// DeleteSocket removes a socket record (rev 0: unconditionally).
	DeleteSocket(ctx context.Context, sid string, rev uint64) error
	// AcquireLease creates the gateway's lease, expiring after ttl.
	AcquireLease(ctx context.Context, lease shared.GatewayLease, ttl time.Duration) (uint64, error)
	// RefreshLease extends the lease; it returns an error wrapping
	// shared.ErrLeaseLost when the lease expired or was rewritten.
	RefreshLease(ctx context.Context, lease shared.GatewayLease, rev uint64, ttl time.Duration) (uint64, error)
	// ReleaseLease deletes the lease.
	ReleaseLease(ctx context.Context, id string) error
}
