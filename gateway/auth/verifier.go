// Package auth verifies the JSON Web Token a Socket.IO client sends in its
// CONNECT packet (socket.io-client `io(url, {auth: {token}})`) and turns
// its claims into the socket's Identity: a stable user id (sub), an
// optional display name (name) and an optional list of allowed rooms
// (rooms). It is pure logic plus a sio middleware; the gateway counts the
// refusals and applies the identity.
package auth

import (
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/rtcmesh/rtcmesh/shared"
)

// Defaults and bounds.
const (
	// DefaultLeeway is the clock skew tolerated on exp and nbf.
	DefaultLeeway = 30 * time.Second
	// MaxTokenBytes bounds the encoded token; longer ones are refused
	// before anything is decoded.
	MaxTokenBytes = 8 << 10
	// MaxSubjectBytes bounds sub, which becomes the socket's userId.
	MaxSubjectBytes = 256
	// MaxRoomPatterns bounds the entries of the rooms claim.
	MaxRoomPatterns = 256
)

// Config configures a Verifier. Exactly one of Secret and PublicKey is set.
type Config struct {
	// Secret is the HS256 shared secret.
	Secret []byte
	// PublicKey verifies RS256 (*rsa.PublicKey), ES256/ES384/ES512
	// (*ecdsa.PublicKey on P-256/P-384/P-521) or EdDSA
	// (ed25519.PublicKey) tokens; see ParsePublicKeyPEM.
	PublicKey crypto.PublicKey
	// Audience, when set, must be one of the token's aud values.
	Audience string
	// Issuer, when set, must equal the token's iss.
	Issuer string
	// Leeway is the clock skew tolerated on exp and nbf (default
	// DefaultLeeway; negative means none).
	Leeway time.Duration
	// Now returns the current time (default time.Now); for tests.
	Now func() time.Time
}

// Verifier checks tokens against one key. It is safe for concurrent use.
type Verifier struct {
	cfg    Config
	key    any
	alg    string
	parser *jwt.Parser
}

// New validates cfg and returns a Verifier that accepts only the
// algorithm of the configured key.
func New(cfg Config) (*Verifier, error) {
	if (len(cfg.Secret) > 0) == (cfg.PublicKey != nil) {
		return nil, errors.New("auth: config: set exactly one of Secret and PublicKey")
	}
	v := &Verifier{cfg: cfg}
	if len(cfg.Secret) > 0 {
		v.key, v.alg = cfg.Secret, jwt.SigningMethodHS256.Alg()
	} else {
		alg, err := publicKeyAlg(cfg.PublicKey)
		if err != nil {
			return nil, err
		}
		v.key, v.alg = cfg.PublicKey, alg
	}
	switch {
	case cfg.Leeway == 0:
		v.cfg.Leeway = DefaultLeeway
	case cfg.Leeway < 0:
		v.cfg.Leeway = 0
	}
	if v.cfg.Now == nil {
		v.cfg.Now = time.Now
	}
	v.parser = jwt.NewParser(
		jwt.WithValidMethods([]string{v.alg}),
		jwt.WithLeeway(v.cfg.Leeway),
		jwt.WithTimeFunc(v.cfg.Now),
		jwt.WithExpirationRequired(),
	)
	return v, nil
}

// Algorithm returns the one signing algorithm the verifier accepts.
func (v *Verifier) Algorithm() string { return v.alg }

// Reason is why a token was refused; it labels the refusal metric.
type Reason string

// Refusal reasons.
const (
	ReasonMissing     Reason = "missing"
	ReasonTooLarge    Reason = "too_large"
	ReasonMalformed   Reason = "malformed"
	ReasonAlgorithm   Reason = "algorithm"
	ReasonSignature   Reason = "signature"
	ReasonExpired     Reason = "expired"
	ReasonNotYetValid Reason = "not_yet_valid"
	ReasonNoExpiry    Reason = "no_expiry"
	ReasonAudience    Reason = "audience"
	ReasonIssuer      Reason = "issuer"
	ReasonSubject     Reason = "subject"
	ReasonClaims      Reason = "claims"
)

// Reasons lists every Reason, for metrics that pre-register labels.
var Reasons = []Reason{ReasonMissing, ReasonTooLarge, ReasonMalformed, ReasonAlgorithm, ReasonSignature,
	ReasonExpired, ReasonNotYetValid, ReasonNoExpiry, ReasonAudience, ReasonIssuer, ReasonSubject, ReasonClaims}

var messages = map[Reason]string{
	ReasonMissing:     "unauthorized: token missing",
	ReasonTooLarge:    "unauthorized: token too large",
	ReasonMalformed:   "unauthorized: token malformed",
	ReasonAlgorithm:   "unauthorized: token algorithm not allowed",
	ReasonSignature:   "unauthorized: bad token signature",
	ReasonExpired:     "unauthorized: token expired",
	ReasonNotYetValid: "unauthorized: token not valid yet",
	ReasonNoExpiry:    "unauthorized: token has no exp claim",
	ReasonAudience:    "unauthorized: wrong token audience",
	ReasonIssuer:      "unauthorized: wrong token issuer",
	ReasonSubject:     "unauthorized: token sub missing or invalid",
	ReasonClaims:      "unauthorized: invalid token claims",
}

// Error is a refused token. Its message is what the client sees in
// connect_error (err.message in socket.io-client).
type Error struct {
	Reason Reason
	// Err is the underlying cause, for logs only.
	Err error
}

func (e *Error) Error() string { return messages[e.Reason] }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

func refuse(r Reason, err error) *Error { return &Error{Reason: r, Err: err} }

// claims is what a token may carry. name and rooms stay raw until the
// signature and the registered claims have been checked.
type claims struct {
	jwt.RegisteredClaims
	Name  json.RawMessage `json:"name,omitempty"`
	Rooms json.RawMessage `json:"rooms,omitempty"`
}

// Verify checks token and returns the identity it carries, or an *Error.
func (v *Verifier) Verify(token string) (Identity, error) {
	if token == "" {
		return Identity{}, refuse(ReasonMissing, nil)
	}
	if len(token) > MaxTokenBytes {
		return Identity{}, refuse(ReasonTooLarge, fmt.Errorf("%d bytes", len(token)))
	}
	var c claims
	tok, err := v.parser.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return v.key, nil })
	if err != nil {
		return Identity{}, v.classify(tok, err)
	}
	if v.cfg.Audience != "" && !containsString(c.Audience, v.cfg.Audience) {
		return Identity{}, refuse(ReasonAudience, nil)
	}
	if v.cfg.Issuer != "" && c.Issuer != v.cfg.Issuer {
		return Identity{}, refuse(ReasonIssuer, nil)
	}
	if c.Subject == "" || len(c.Subject) > MaxSubjectBytes {
		return Identity{}, refuse(ReasonSubject, nil)
	}
	id := Identity{UserID: c.Subject}
	if id.Name, err = parseName(c.Name); err != nil {
		return Identity{}, refuse(ReasonClaims, err)
	}
	if id.Rooms, err = parseRooms(c.Rooms); err != nil {
		return Identity{}, refuse(ReasonClaims, err)
	}
	return id, nil
}

// classify maps a jwt error onto a Reason. The order matters: the library
// reports every failed time claim at once, and a token signed with
// another algorithm is reported as a bad signature.
func (v *Verifier) classify(tok *jwt.Token, err error) *Error {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return refuse(ReasonMalformed, err)
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		// An unknown or missing alg.
		return refuse(ReasonAlgorithm, err)
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		if tok != nil {
			if alg, _ := tok.Header["alg"].(string); alg != v.alg {
				return refuse(ReasonAlgorithm, err)
			}
		}
		return refuse(ReasonSignature, err)
	case errors.Is(err, jwt.ErrTokenExpired):
		return refuse(ReasonExpired, err)
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return refuse(ReasonNotYetValid, err)
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return refuse(ReasonNoExpiry, err)
	}
	return refuse(ReasonClaims, err)
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// parseName reads the optional name claim: a string of at most
// shared.MaxNameBytes bytes; "" means none.
func parseName(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var name string
	if err := json.Unmarshal(raw, &name); err != nil {
		return "", errors.New("auth: name claim is not a string")
	}
	if len(name) > shared.MaxNameBytes {
		return "", fmt.Errorf("auth: name claim longer than %d bytes", shared.MaxNameBytes)
	}
	return name, nil
}
