// Package shared holds what rtcmesh's services agree on over NATS: subject,
// stream and bucket names, the room-id escape, wire types, client-facing
// event names and error codes, and log keys. It imports only the standard
// library; services never import each other, only this.
package shared
