package shared

// Log attribute keys, shared so that every component's logs can be
// filtered the same way.
const (
	KeyComponent = "component"
	KeyAddr      = "addr"
	KeyRoom      = "room"
	KeySID       = "sid"
	KeyGateway   = "gateway"
	KeySubject   = "subject"
	KeyEvent     = "event"
	KeyPartition = "partition"
	KeySeq       = "seq"
	KeyErr       = "err"
)
