package gateway

import (
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/rtcmesh/rtcmesh/gateway/sio"
	"github.com/rtcmesh/rtcmesh/shared"
)

// maxCorrespondents bounds the sockets remembered as having messaged a
// socket, and correspondentTTL how long (see client.correspondents).
const (
	maxCorrespondents = 256
	correspondentTTL  = 30 * time.Second
)

// client is the gateway's view of one rtc.io socket: the rooms it asked to
// join and, per room, the peers the room service told it about. The relay
// check reads it; NATS deliveries and the socket's own events update it.
type client struct {
	g      *Gateway
	sock   *sio.Socket
	sid    string
	userID string

	mu      sync.Mutex
	closed  bool
	sub     *nats.Subscription
	rooms   map[shared.RoomKey]*roomView
	record  []string // rooms in the sockets KV record (a superset of rooms)
	nextCmd uint64
	// correspondents are sockets that sent this one a #rtcio:message, and
	// when. They passed their own gateway's room check, so an answer to
	// them is allowed even if this socket has not yet been told they are a
	// peer (deliveries on different subjects can be reordered in a
	// cluster). They are forgotten when they stop sharing a room, and
	// after correspondentTTL at the latest.
	correspondents map[string]time.Time
	corrOrder      []string
	// origins is the last room-service output seen per partition; a
	// takeover may reprocess a command and repeat its outputs.
	origins     map[int]origin
	roomTokens  bucket
	relayTokens bucket
	lastLimited time.Time
}

type roomView struct {
	id      string
	joined  bool // a join was confirmed
	pending int  // joins sent and not answered yet
	peers   map[string]struct{}
}

type origin struct {
	seq uint64
	idx int
}

func newClient(g *Gateway, s *sio.Socket, userID string) *client {
	now := time.Now()
	return &client{
		g: g, sock: s, sid: s.ID(), userID: userID,
		rooms:       make(map[shared.RoomKey]*roomView),
		roomTokens:  newBucket(g.cfg.RoomEventRate, now),
		relayTokens: newBucket(g.cfg.RelayRate, now),
	}
}

// msgID returns the next command's Nats-Msg-Id.
func (c *client) msgID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nextCmd++
	return c.sid + "." + strconv.FormatUint(c.nextCmd, 10)
}

// Reasons addRoom refuses a join.
var (
	errClientClosed = errors.New("gateway: socket closed")
	errTooManyRooms = errors.New("gateway: too many rooms for one socket")
)

// addRoom records a join request; a room the socket has not asked for
// yet is refused when it already asked for max. It returns the rooms the
// sockets record must list, or nil when the record already lists the room.
func (c *client) addRoom(key shared.RoomKey, id string, max int) ([]string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, errClientClosed
	}
	r := c.rooms[key]
	if r == nil {
		if len(c.rooms) >= max {
			return nil, errTooManyRooms
		}
		r = &roomView{id: id, peers: map[string]struct{}{}}
		c.rooms[key] = r
	}
	r.pending++
	for _, r := range c.record {
		if r == id {
			return nil, nil
		}
	}
	c.record = append(c.record, id)
	return append([]string(nil), c.record...), nil
}

// dropRecordRoom undoes addRoom after its record could not be written.
func (c *client) dropRecordRoom(key shared.RoomKey, id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.joinAnswered(key, false)
	for i, r := range c.record {
		if r == id {
			c.record = append(c.record[:i], c.record[i+1:]...)
			break
		}
	}
}

// inRoom reports whether the socket asked to join the room.
func (c *client) inRoom(key shared.RoomKey) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.rooms[key]
	return ok
}

// joinAnswered settles one pending join: a refusal forgets the room
// unless the socket is in it or another join for it is still pending.
func (c *client) joinAnswered(key shared.RoomKey, ok bool) {
	r := c.rooms[key]
	if r == nil {
		return
	}
	if r.pending > 0 {
		r.pending--
	}
	if ok {
		r.joined = true
	} else if !r.joined && r.pending == 0 {
		delete(c.rooms, key)
	}
}

func (c *client) leaveRoom(key shared.RoomKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.rooms[key]
	if r == nil {
		return
	}
	delete(c.rooms, key)
	for p := range r.peers {
		c.forgetIfStrangerLocked(p)
	}
}

// sharesRoomLocked reports whether peer is a peer in any room, other than
// except.
func (c *client) sharesRoomLocked(peer string, except shared.RoomKey) bool {
	for k, r := range c.rooms {
		if k == except {
			continue
		}
		if _, ok := r.peers[peer]; ok {
			return true
		}
	}
	return false
}

// forgetIfStrangerLocked drops peer from the correspondents once it
// shares no room with this socket.
func (c *client) forgetIfStrangerLocked(peer string) {
	if _, ok := c.correspondents[peer]; ok && !c.sharesRoomLocked(peer, "") {
		delete(c.correspondents, peer)
	}
}

// canMessage reports whether the socket may send a #rtcio:message to
// target: a peer in one of its rooms, or a socket that messaged it.
func (c *client) canMessage(target string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range c.rooms {
		if _, ok := r.peers[target]; ok {
			return true
		}
	}
	at, ok := c.correspondents[target]
	return ok && time.Since(at) < correspondentTTL
}

func (c *client) noteCorrespondent(from string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.correspondents == nil {
		c.correspondents = make(map[string]time.Time)
	}
	if _, ok := c.correspondents[from]; ok {
		c.correspondents[from] = time.Now()
		return
	}
	if len(c.corrOrder) >= maxCorrespondents {
		delete(c.correspondents, c.corrOrder[0])
		c.corrOrder = c.corrOrder[1:]
	}
	c.correspondents[from] = time.Now()
	c.corrOrder = append(c.corrOrder, from)
}

// observe updates the membership view from a room-service message and
// reports whether it should be delivered: false for a repeated output (a
// takeover reprocessed its command), and for an init-offer about a socket
// this one already shares another room with (their peer connection exists;
// a second offer would make the rtc.io client overwrite it).
func (c *client) observe(h nats.Header) bool {
	event := h.Get(shared.HeaderEvent)
	key := shared.RoomKey(h.Get(shared.HeaderRoom))
	peer := h.Get(shared.HeaderPeer)
	verb := h.Get(shared.HeaderVerb)
	c.mu.Lock()
	defer c.mu.Unlock()
	if o := h.Get(shared.HeaderOrigin); o != "" {
		part, pos, ok := parseOrigin(o)
		if ok {
			if c.origins == nil {
				c.origins = make(map[int]origin, 1)
			}
			last, seen := c.origins[part]
			if seen && (pos.seq < last.seq || pos.seq == last.seq && pos.idx <= last.idx) {
				return false
			}
			c.origins[part] = pos
		}
	}
	switch event {
	case shared.EventJoinOK:
		c.joinAnswered(key, true)
	case shared.EventJoinError:
		// A refused check-room (same event) says nothing about joins.
		if verb == shared.VerbJoin {
			c.joinAnswered(key, false)
		}
	case shared.EventUserConnected:
		if r := c.rooms[key]; r != nil && peer != "" {
			r.peers[peer] = struct{}{}
		}
	case shared.EventInitOffer:
		if peer != "" && c.sharesRoomLocked(peer, key) {
			return false
		}
	case shared.EventUserDisconnected, shared.EventPeerLeft:
		if r := c.rooms[key]; r != nil {
			delete(r.peers, peer)
			c.forgetIfStrangerLocked(peer)
		}
	}
	return true
}

// parseOrigin parses <partition>.<seq>.<index>.
func parseOrigin(s string) (int, origin, bool) {
	a, rest, ok := strings.Cut(s, ".")
	if !ok {
		return 0, origin{}, false
	}
	b, cidx, ok := strings.Cut(rest, ".")
	if !ok {
		return 0, origin{}, false
	}
	part, err1 := strconv.Atoi(a)
	seq, err2 := strconv.ParseUint(b, 10, 64)
	idx, err3 := strconv.Atoi(cidx)
	if err1 != nil || err2 != nil || err3 != nil {
		return 0, origin{}, false
	}
	return part, origin{seq: seq, idx: idx}, true
}

// close marks the client gone and returns the rooms it must leave and
// whether a sockets record was written.
func (c *client) close() (rooms []string, hadRecord bool, sub *nats.Subscription) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	seen := map[string]bool{}
	for _, r := range c.record {
		if !seen[r] {
			seen[r] = true
			rooms = append(rooms, r)
		}
	}
	for _, r := range c.rooms {
		if !seen[r.id] {
			seen[r.id] = true
			rooms = append(rooms, r.id)
		}
	}
	return rooms, len(c.record) > 0, c.sub
}

// allow takes a token for a room event (room) or a relay (!room).
func (c *client) allow(room bool, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if room {
		return c.roomTokens.take(now)
	}
	return c.relayTokens.take(now)
}

// shouldReportLimit rate-limits the rate-limited error itself.
func (c *client) shouldReportLimit(now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now.Sub(c.lastLimited) < time.Second {
		return false
	}
	c.lastLimited = now
	return true
}

// bucket is a token bucket: rate tokens per second, bursts of twice that.
// A zero rate disables it.
type bucket struct {
	rate   float64
	tokens float64
	last   time.Time
}

func newBucket(rate float64, now time.Time) bucket {
	return bucket{rate: rate, tokens: 2 * rate, last: now}
}

func (b *bucket) take(now time.Time) bool {
	if b.rate <= 0 {
		return true
	}
	b.tokens = min(2*b.rate, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
