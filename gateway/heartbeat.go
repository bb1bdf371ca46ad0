package gateway

import (
	"context"
	"strconv"
	"time"

	"github.com/rtcmesh/rtcmesh/shared"
)

// beatInterval is the period of the gateway's heartbeat. The room service
// probes a gateway it has not heard for a second (four beats) and, if the
// probe fails, begins the departures of its sockets: a killed gateway's
// peers get #rtcio:peer-left in about a second, not after its lease ran
// out.
const beatInterval = 250 * time.Millisecond

// heartbeat publishes shared.GatewayBeat(id) with an increasing sequence
// until ctx is done. It is core NATS: it keeps flowing while JetStream
// elects a leader, and while NATS reconnects the client buffers it. The id
// is read at each beat, so a gateway that changed its id after being
// reaped beats under its new one.
func (g *Gateway) heartbeat(ctx context.Context) {
	tick := time.NewTicker(beatInterval)
	defer tick.Stop()
	var seq uint64
	buf := make([]byte, 0, shared.MaxBeatBytes)
	for {
		seq++ // the first beat goes out at once
		// A failed publish (connection closed) is the signal itself.
		_ = g.nc.Publish(shared.GatewayBeat(g.ID()), strconv.AppendUint(buf[:0], seq, 10))
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
