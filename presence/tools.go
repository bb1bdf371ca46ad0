package presence

import (
	"context"
	"fmt"
	"sort"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/rtcmesh/rtcmesh/shared"
)

// RoomSummary is one line of `rtcmesh rooms list`.
type RoomSummary struct {
	Room              string `json:"room"`
	Members           int    `json:"members"`
	PasswordProtected bool   `json:"passwordProtected"`
}

// ListRooms summarises every room with members, sorted by room id.
func (s *Store) ListRooms(ctx context.Context) ([]RoomSummary, error) {
	members, err := s.AllMembers(ctx)
	if err != nil {
		return nil, err
	}
	byRoom := map[string]*RoomSummary{}
	for _, m := range members {
		r := byRoom[m.Room]
		if r == nil {
			r = &RoomSummary{Room: m.Room}
			byRoom[m.Room] = r
		}
		r.Members++
		r.PasswordProtected = r.PasswordProtected || m.Password != nil
	}
	out := make([]RoomSummary, 0, len(byRoom))
	for _, r := range byRoom {
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Room < out[j].Room })
	return out, nil
}

// RoomMember is one member in `rtcmesh rooms show`: the record without its
// password hash, with the media state when known.
type RoomMember struct {
	SID      string  `json:"sid"`
	Name     *string `json:"name,omitempty"`
	UserID   string  `json:"userId,omitempty"`
	Gateway  string  `json:"gateway"`
	JoinedAt string  `json:"joinedAt"`
	Mic      *bool   `json:"mic,omitempty"`
	Cam      *bool   `json:"cam,omitempty"`
}

// RoomDetail is `rtcmesh rooms show ROOM`.
type RoomDetail struct {
	Room              string       `json:"room"`
	PasswordProtected bool         `json:"passwordProtected"`
	Members           []RoomMember `json:"members"`
}

// ShowRoom returns a room's members in join order.
func (s *Store) ShowRoom(ctx context.Context, roomID string) (RoomDetail, error) {
	key, err := shared.EscapeRoom(roomID)
	if err != nil {
		return RoomDetail{}, err
	}
	members, media, err := s.LoadRoom(ctx, key)
	if err != nil {
		return RoomDetail{}, err
	}
	sort.Slice(members, func(i, j int) bool { return members[i].Seq < members[j].Seq })
	states := map[string]shared.MediaState{}
	for _, m := range media {
		states[m.SID] = m
	}
	d := RoomDetail{Room: roomID, Members: []RoomMember{}}
	for _, m := range members {
		rm := RoomMember{SID: m.SID, Name: m.Name, UserID: m.UserID, Gateway: m.Gateway, JoinedAt: m.JoinedAt.Format("2006-01-02T15:04:05.000Z07:00")}
		if ms, ok := states[m.SID]; ok {
			mic, cam := ms.Mic, ms.Cam
			rm.Mic, rm.Cam = &mic, &cam
		}
		d.PasswordProtected = d.PasswordProtected || m.Password != nil
		d.Members = append(d.Members, rm)
	}
	return d, nil
}

// WatchOptions selects presence events.
type WatchOptions struct {
	// Room limits events to one room (the original id); empty for all.
	Room string
	// FromStart replays every retained event before following new ones;
	// otherwise only new events are delivered.
	FromStart bool
}

// WatchPresence calls fn with the JSON of every selected presence event,
// in stream order, until ctx is done or fn fails.
func WatchPresence(ctx context.Context, js jetstream.JetStream, o WatchOptions, fn func([]byte) error) error {
	filter := shared.SubjPresenceAll
	if o.Room != "" {
		key, err := shared.EscapeRoom(o.Room)
		if err != nil {
			return err
		}
		filter = shared.PresenceRoomFilter(key)
	}
	policy := jetstream.DeliverNewPolicy
	if o.FromStart {
		policy = jetstream.DeliverAllPolicy
	}
	cons, err := js.OrderedConsumer(ctx, shared.StreamPresence, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{filter},
		DeliverPolicy:  policy,
	})
	if err != nil {
		return fmt.Errorf("watch presence: %w", err)
	}
	it, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("watch presence: %w", err)
	}
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	defer it.Stop()
	for {
		msg, err := it.Next()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("watch presence: %w", err)
		}
		if err := fn(msg.Data()); err != nil {
			return err
		}
	}
}
