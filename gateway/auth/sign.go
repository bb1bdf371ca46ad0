package auth

import (
	"crypto"
	"errors"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TokenSpec describes a token to sign (for `rtcmesh token` and tests).
type TokenSpec struct {
	Subject  string
	Name     string
	Rooms    []string // nil: no rooms claim
	Audience string
	Issuer   string
	// IssuedAt is the iat; NotBefore, when set, the nbf; ExpiresAt the
	// exp (required, as the Verifier requires it).
	IssuedAt  time.Time
	NotBefore time.Time
	ExpiresAt time.Time
}

type signClaims struct {
	jwt.RegisteredClaims
	Name string `json:"name,omitempty"`
	// omitzero, not omitempty: an empty list (no room allowed) must be
	// kept, only a nil one dropped.
	Rooms []string `json:"rooms,omitzero"`
}

// SignHS256 signs spec with an HS256 secret.
func SignHS256(spec TokenSpec, secret []byte) (string, error) {
	if len(secret) == 0 {
		return "", errors.New("auth: empty secret")
	}
	return sign(spec, jwt.SigningMethodHS256, secret)
}

// SignWithKey signs spec with a private key, using the one algorithm the
// Verifier accepts for its public half (RS256, ES256/384/512 or EdDSA).
func SignWithKey(spec TokenSpec, key crypto.Signer) (string, error) {
	alg, err := publicKeyAlg(key.Public())
	if err != nil {
		return "", err
	}
	return sign(spec, jwt.GetSigningMethod(alg), key)
}

func sign(spec TokenSpec, m jwt.SigningMethod, key any) (string, error) {
	if spec.Subject == "" {
		return "", errors.New("auth: a token needs a subject")
	}
	if spec.ExpiresAt.IsZero() {
		return "", errors.New("auth: a token needs an expiry")
	}
	c := signClaims{Name: spec.Name}
	c.Subject = spec.Subject
	c.Issuer = spec.Issuer
	if spec.Audience != "" {
		c.Audience = jwt.ClaimStrings{spec.Audience}
	}
	if !spec.IssuedAt.IsZero() {
		c.IssuedAt = jwt.NewNumericDate(spec.IssuedAt)
	}
	if !spec.NotBefore.IsZero() {
		c.NotBefore = jwt.NewNumericDate(spec.NotBefore)
	}
	c.ExpiresAt = jwt.NewNumericDate(spec.ExpiresAt)
	c.Rooms = spec.Rooms
	return jwt.NewWithClaims(m, c).SignedString(key)
}
