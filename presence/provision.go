// Package presence owns rtcmesh's JetStream state: the KV buckets holding
// rosters (rooms), media state (media), sockets (sockets) and gateway
// leases (gateways), the PRESENCE event stream, and the ROOMCMD stream
// that orders room commands. It provisions them, reads and writes them for
// the services, and follows them for `rtcmesh presence watch` and
// `rtcmesh rooms`.
package presence

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
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

// ErrConfig means the provisioning settings are invalid; retrying cannot
// help.
var ErrConfig = errors.New("presence: invalid configuration")

// dedupWindow is how long JetStream remembers message ids. A room command
// reprocessed after a takeover republishes its presence events with the
// same ids within seconds, well inside it.
const dedupWindow = 2 * time.Minute

// Provision creates every stream and bucket, or updates them to cfg. It is
// idempotent and safe to run from several processes at once.
func Provision(ctx context.Context, js jetstream.JetStream, cfg Config) error {
	cfg.defaults()
	if cfg.PresenceMaxAge < dedupWindow || cfg.CommandMaxAge < dedupWindow {
		return fmt.Errorf("%w: presence and command max age must be at least %v (the deduplication window)", ErrConfig, dedupWindow)
	}
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
		sc := sc
		err := ensure(ctx, sc.Name, js,
			func(cur *jetstream.StreamConfig) bool { return sameStream(cur, &sc) },
			func(ctx context.Context) error { _, err := js.CreateStream(ctx, sc); return err },
			func(ctx context.Context) error { _, err := js.UpdateStream(ctx, sc); return err })
		if err != nil {
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
		err := ensure(ctx, "KV_"+kc.Bucket, js,
			func(cur *jetstream.StreamConfig) bool {
				return cur.Replicas == kc.Replicas && cur.Storage == kc.Storage &&
					cur.MaxMsgsPerSubject == int64(kc.History) && cur.AllowMsgTTL && cur.SubjectDeleteMarkerTTL == kc.LimitMarkerTTL
			},
			func(ctx context.Context) error { _, err := js.CreateKeyValue(ctx, kc); return err },
			func(ctx context.Context) error { _, err := js.UpdateKeyValue(ctx, kc); return err })
		if err != nil {
			return fmt.Errorf("provision bucket %s: %w", kc.Bucket, err)
		}
	}
	return nil
}

// ensure makes stream name exist with the wanted configuration. Every
// gateway and room service provisions at startup, so several processes
// race to create the same assets; concurrent identical creates in a
// JetStream cluster can leave every requester without an answer. So each
// step is short and the loop re-reads what exists instead of trusting one
// long create.
func ensure(ctx context.Context, name string, js jetstream.JetStream,
	matches func(*jetstream.StreamConfig) bool, create, update func(context.Context) error) error {
	for attempt := 0; ; attempt++ {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		st, err := js.Stream(cctx, name)
		cancel()
		switch {
		case err == nil:
			cur := st.CachedInfo().Config
			if matches(&cur) {
				return nil
			}
			cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			err = update(cctx)
			cancel()
			if err == nil {
				return nil
			}
		case errors.Is(err, jetstream.ErrStreamNotFound):
			cctx, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
			err = create(cctx)
			cancel()
			if err == nil {
				return nil
			}
		}
		if ctx.Err() != nil {
			return err
		}
		// Someone else may have created it meanwhile, or the cluster is
		// still electing: look again shortly, with jitter.
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(100+rand.IntN(200)) * time.Millisecond):
		}
	}
}

// sameStream compares the settings Provision controls.
func sameStream(cur, want *jetstream.StreamConfig) bool {
	if cur.Replicas != want.Replicas || cur.Storage != want.Storage || cur.Retention != want.Retention ||
		cur.MaxAge != want.MaxAge || cur.MaxBytes != want.MaxBytes || cur.Discard != want.Discard ||
		cur.Duplicates != want.Duplicates || cur.MaxMsgSize != want.MaxMsgSize ||
		strings.Join(cur.Subjects, ",") != strings.Join(want.Subjects, ",") {
		return false
	}
	if (cur.SubjectTransform == nil) != (want.SubjectTransform == nil) {
		return false
	}
	return want.SubjectTransform == nil ||
		*cur.SubjectTransform == *want.SubjectTransform
}
