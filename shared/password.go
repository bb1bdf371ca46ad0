package shared

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
)

// PasswordHash is a room password as stored in KV: a random salt and
// SHA-256(salt || password), both base64. Room passwords are short-lived
// shared secrets, not account credentials; the hash keeps them out of
// `rooms show` and of anyone reading the bucket.
type PasswordHash struct {
	Salt string `json:"salt"`
	Hash string `json:"hash"`
}

// HashPassword salts and hashes a room password.
func HashPassword(pw string) *PasswordHash {
	var salt [16]byte
	_, _ = rand.Read(salt[:])
	return &PasswordHash{
		Salt: base64.RawStdEncoding.EncodeToString(salt[:]),
		Hash: hashWith(salt[:], pw),
	}
}

// Matches reports, in constant time, whether pw is the password.
func (h *PasswordHash) Matches(pw string) bool {
	salt, err := base64.RawStdEncoding.DecodeString(h.Salt)
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(hashWith(salt, pw)), []byte(h.Hash)) == 1
}

func hashWith(salt []byte, pw string) string {
	sum := sha256.New()
	sum.Write(salt)
	sum.Write([]byte(pw))
	return base64.RawStdEncoding.EncodeToString(sum.Sum(nil))
}
