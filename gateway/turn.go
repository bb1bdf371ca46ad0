package gateway

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"strconv"
	"strings"
	"time"
)

// iceServer is one RTCIceServer entry.
type iceServer struct {
	URLs       []string `json:"urls"`
	Username   string   `json:"username,omitempty"`
	Credential string   `json:"credential,omitempty"`
}

// iceServers answers ask-ice. With a TURN secret, turn: and turns: URLs
// get time-limited credentials in coturn's REST scheme (use-auth-secret):
// username = expiry unix time[:user], credential =
// base64(HMAC-SHA1(secret, username)). stun: URLs never carry credentials.
func iceServers(urls []string, secret string, ttl time.Duration, userID string, now time.Time) []iceServer {
	var stun, turn []string
	for _, u := range urls {
		if strings.HasPrefix(u, "turn:") || strings.HasPrefix(u, "turns:") {
			turn = append(turn, u)
		} else {
			stun = append(stun, u)
		}
	}
	out := []iceServer{}
	if len(stun) > 0 {
		out = append(out, iceServer{URLs: stun})
	}
	if len(turn) > 0 {
		s := iceServer{URLs: turn}
		if secret != "" {
			s.Username = strconv.FormatInt(now.Add(ttl).Unix(), 10)
			if userID != "" {
				s.Username += ":" + userID
			}
			mac := hmac.New(sha1.New, []byte(secret))
			mac.Write([]byte(s.Username))
			s.Credential = base64.StdEncoding.EncodeToString(mac.Sum(nil))
		}
		out = append(out, s)
	}
	return out
}
