// Package presence owns rtcmesh's JetStream state: the KV buckets holding
// rosters (rooms), media state (media), sockets (sockets) and gateway
// leases (gateways), the PRESENCE event stream, and the ROOMCMD stream
// that orders room commands. It provisions them, reads and writes them for
// the services, and follows them for `rtcmesh presence watch` and
// `rtcmesh rooms`.
package presence

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/rtcmesh/rtcmesh/shared"
)

// Config sizes the JetStream assets. Every process that provisions must
// use the same values, or they overwrite each other's configuration.
type Config struct {
	// Replicas is the replication factor of every stream and bucket
	// (1 for a single server, 3 for a three-node cluster).
	Replicas int
	// PresenceMaxAge is how long presence events stay replayable
	// (default 24h).
	PresenceMaxAge time.Duration
	// CommandMaxAge bounds how long an unprocessed room command waits for
	// a room service (default 1h).
	CommandMaxAge time.Duration
	// Memory stores everything in memory instead of files (tests, dev).
	Memory bool
}

func (c *Config) defaults() {
	if c.Replicas <= 0 {
		c.Replicas = 1
	}
	if c.PresenceMaxAge <= 0 {
		c.PresenceMaxAge = 24 * time.Hour
	}
	if c.CommandMaxAge <= 0 {
		c.CommandMaxAge = time.Hour
	}
}

// dedupWindow is how long JetStream remembers message ids. A room command
// reprocessed after a takeover republishes its presence events with the
// same ids within seconds, well inside it.
const dedupWindow = 2 * time.Minute

// Provision creates every stream and bucket, or updates them to cfg. It is
// idempotent and safe to run from several processes at once.
func Provision(ctx context.Context, js jetstream.JetStream, cfg Config) error {
	cfg.defaults()
	storage := jetstream.FileStorage
	if cfg.Memory {
		storage = jetstream.MemoryStorage
	}
	streams := []jetstream.StreamConfig{
		{
			Name:        shared.StreamRoomCommands,
			Description: "rtcmesh room commands, partitioned by room; each partition has one pinned room-service consumer",
			Subjects:    []string{shared.SubjRoomCmdAll},
			SubjectTransform: &jetstream.SubjectTransformConfig{
				Source:      shared.SubjRoomCmdAll,
				Destination: shared.SubjRoomPartitioned,
			},
			Retention:  jetstream.WorkQueuePolicy,
			Storage:    storage,
			Replicas:   cfg.Replicas,
			MaxAge:     cfg.CommandMaxAge,
			MaxBytes:   1 << 30,
			MaxMsgSize: 1 << 20,
			// Refuse new commands rather than silently dropping queued ones.
			Discard:    jetstream.DiscardNew,
			Duplicates: dedupWindow,
		},
		{
			Name:        shared.StreamPresence,
			Description: "rtcmesh presence events: join, leave, media-state",
			Subjects:    []string{shared.SubjPresenceAll},
			Retention:   jetstream.LimitsPolicy,
			Storage:     storage,
			Replicas:    cfg.Replicas,
			MaxAge:      cfg.PresenceMaxAge,
			MaxBytes:    1 << 30,
			Discard:     jetstream.DiscardOld,
			Duplicates:  dedupWindow,
		},
	}
	for _, sc := range streams {
		if _, err := js.CreateOrUpdateStream(ctx, sc); err != nil {
			return fmt.Errorf("provision stream %s: %w", sc.Name, err)
		}
	}
	buckets := []jetstream.KeyValueConfig{
		{Bucket: shared.BucketRooms, Description: "room members: <room>.<sid> -> member"},
		{Bucket: shared.BucketMedia, Description: "media state: <room>.<sid> -> {mic, cam}"},
		{Bucket: shared.BucketSockets, Description: "sockets in rooms: <sid> -> {gateway, rooms}"},
		{Bucket: shared.BucketGateways, Description: "gateway leases: <id> with a per-key TTL refreshed by the gateway"},
	}
	for _, kc := range buckets {
		// Per-message TTLs (leases, and markers of removed keys that must
		// not pile up) need limit markers; watchers see an expired key as
		// a purge.
		kc.LimitMarkerTTL = time.Minute
		kc.History = 1
		kc.Storage = storage
		kc.Replicas = cfg.Replicas
		if _, err := js.CreateOrUpdateKeyValue(ctx, kc); err != nil {
			return fmt.Errorf("provision bucket %s: %w", kc.Bucket, err)
		}
	}
	return nil
}
