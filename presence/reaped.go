package presence

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/rtcmesh/rtcmesh/shared"
)

// Reaped reports whether a gateway's lease key is the room service's
// reaped marker: its sockets are being reaped and it may not keep them.
// A live lease, a lapsed one and a released one all report false.
func (s *Store) Reaped(ctx context.Context, gateway string) (bool, error) {
	e, err := s.gateways.Get(ctx, gateway)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read lease %s: %w", gateway, err)
	}
	var lease shared.GatewayLease
	if err := json.Unmarshal(e.Value(), &lease); err != nil {
		return false, fmt.Errorf("decode lease %s: %w", gateway, err)
	}
	return lease.Reaped, nil
}
