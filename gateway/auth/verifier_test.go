package auth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var (
	testSecret = []byte("0123456789abcdef0123456789abcdef")
	testNow    = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
)

func fixedNow() time.Time { return testNow }

func valid() TokenSpec {
	return TokenSpec{Subject: "user-1", IssuedAt: testNow, ExpiresAt: testNow.Add(time.Hour)}
}

func mustHS(t *testing.T, spec TokenSpec) string {
	t.Helper()
	tok, err := SignHS256(spec, testSecret)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// rawToken builds header.payload.signature from JSON parts, signed with
// HS256 over testSecret when sign is true (else the signature is junk).
func rawToken(t *testing.T, header, payload string, sign bool) string {
	t.Helper()
	enc := base64.RawURLEncoding
	signing := enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(payload))
	sig := []byte("junk")
	if sign {
		var err error
		if sig, err = jwt.SigningMethodHS256.Sign(signing, testSecret); err != nil {
			t.Fatal(err)
		}
	}
	return signing + "." + enc.EncodeToString(sig)
}

var (
	keysOnce sync.Once
	rsaKey   *rsa.PrivateKey
	ecKey    *ecdsa.PrivateKey
)

func testKeys(t *testing.T) (*rsa.PrivateKey, *ecdsa.PrivateKey) {
	t.Helper()
	keysOnce.Do(func() {
		var err error
		if rsaKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if ecKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			panic(err)
		}
	})
	return rsaKey, ecKey
}

func newHS(t *testing.T, mod func(*Config)) *Verifier {
	t.Helper()
	cfg := Config{Secret: testSecret, Now: fixedNow}
	if mod != nil {
		mod(&cfg)
	}
	v, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func reasonOf(err error) Reason {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}

func TestVerifyHS256(t *testing.T) {
	rk, ek := testKeys(t)
	rsTok, err := SignWithKey(valid(), rk)
	if err != nil {
		t.Fatal(err)
	}
	esTok, err := SignWithKey(valid(), ek)
	if err != nil {
		t.Fatal(err)
	}
	otherSecret, err := SignHS256(valid(), []byte("another secret, 32 bytes long!!!"))
	if err != nil {
		t.Fatal(err)
	}
	good := mustHS(t, valid())
	tampered := good[:strings.LastIndexByte(good, '.')] + ".AAAA"
	with := func(f func(*TokenSpec)) string {
		s := valid()
		f(&s)
		return mustHS(t, s)
	}
	cases := []struct {
		name  string
		token string
		cfg   func(*Config)
		want  Reason // "" = accepted
	}{
		{name: "valid", token: good},
		{name: "empty", token: "", want: ReasonMissing},
		{name: "garbage", token: "not-a-jwt", want: ReasonMalformed},
		{name: "two segments", token: "a.b", want: ReasonMalformed},
		{name: "oversized", token: strings.Repeat("a", MaxTokenBytes+1), want: ReasonTooLarge},
		{name: "expired", token: with(func(s *TokenSpec) { s.ExpiresAt = testNow.Add(-time.Minute) }), want: ReasonExpired},
		{name: "expired within leeway", token: with(func(s *TokenSpec) { s.ExpiresAt = testNow.Add(-10 * time.Second) })},
		{name: "expired, no leeway", token: with(func(s *TokenSpec) { s.ExpiresAt = testNow.Add(-10 * time.Second) }),
			cfg: func(c *Config) { c.Leeway = -1 }, want: ReasonExpired},
		{name: "not yet valid", token: with(func(s *TokenSpec) { s.NotBefore = testNow.Add(time.Minute) }), want: ReasonNotYetValid},
		{name: "nbf within leeway", token: with(func(s *TokenSpec) { s.NotBefore = testNow.Add(20 * time.Second) })},
		{name: "no exp", token: rawToken(t, `{"alg":"HS256","typ":"JWT"}`, `{"sub":"u"}`, true), want: ReasonNoExpiry},
		{name: "exp not a number", token: rawToken(t, `{"alg":"HS256","typ":"JWT"}`, `{"sub":"u","exp":"soon"}`, true), want: ReasonMalformed},
		{name: "bad signature", token: tampered, want: ReasonSignature},
		{name: "other secret", token: otherSecret, want: ReasonSignature},
		{name: "alg none", token: rawToken(t, `{"alg":"none","typ":"JWT"}`, `{"sub":"u","exp":9999999999}`, false), want: ReasonAlgorithm},
		{name: "alg missing", token: rawToken(t, `{"typ":"JWT"}`, `{"sub":"u","exp":9999999999}`, true), want: ReasonAlgorithm},
		{name: "alg HS512", token: rawToken(t, `{"alg":"HS512","typ":"JWT"}`, `{"sub":"u","exp":9999999999}`, true), want: ReasonAlgorithm},
		{name: "RS256 to HS verifier", token: rsTok, want: ReasonAlgorithm},
		{name: "ES256 to HS verifier", token: esTok, want: ReasonAlgorithm},
		{name: "no sub", token: rawToken(t, `{"alg":"HS256"}`, `{"exp":9999999999}`, true), want: ReasonSubject},
		{name: "empty sub", token: rawToken(t, `{"alg":"HS256"}`, `{"sub":"","exp":9999999999}`, true), want: ReasonSubject},
		{name: "long sub", token: rawToken(t, `{"alg":"HS256"}`, `{"sub":"`+strings.Repeat("u", MaxSubjectBytes+1)+`","exp":9999999999}`, true), want: ReasonSubject},
		{name: "audience ok", token: with(func(s *TokenSpec) { s.Audience = "rtc" }), cfg: func(c *Config) { c.Audience = "rtc" }},
		{name: "audience in list", token: rawToken(t, `{"alg":"HS256"}`, `{"sub":"u","aud":["x","rtc"],"exp":9999999999}`, true),
			cfg: func(c *Config) { c.Audience = "rtc" }},
		{name: "wrong audience", token: with(func(s *TokenSpec) { s.Audience = "other" }), cfg: func(c *Config) { c.Audience = "rtc" }, want: ReasonAudience},
		{name: "missing audience", token: good, cfg: func(c *Config) { c.Audience = "rtc" }, want: ReasonAudience},
		{name: "audience not checked when unset", token: with(func(s *TokenSpec) { s.Audience = "other" })},
		{name: "issuer ok", token: with(func(s *TokenSpec) { s.Issuer = "me" }), cfg: func(c *Config) { c.Issuer = "me" }},
		{name: "wrong issuer", token: with(func(s *TokenSpec) { s.Issuer = "you" }), cfg: func(c *Config) { c.Issuer = "me" }, want: ReasonIssuer},
		{name: "missing issuer", token: good, cfg: func(c *Config) { c.Issuer = "me" }, want: ReasonIssuer},
		{name: "name not a string", token: rawToken(t, `{"alg":"HS256"}`, `{"sub":"u","name":7,"exp":9999999999}`, true), want: ReasonClaims},
		{name: "name too long", token: with(func(s *TokenSpec) { s.Name = strings.Repeat("n", 257) }), want: ReasonClaims},
		{name: "rooms not a list", token: rawToken(t, `{"alg":"HS256"}`, `{"sub":"u","rooms":"a","exp":9999999999}`, true), want: ReasonClaims},
		{name: "rooms with a number", token: rawToken(t, `{"alg":"HS256"}`, `{"sub":"u","rooms":["a",1],"exp":9999999999}`, true), want: ReasonClaims},
		{name: "rooms with an empty entry", token: with(func(s *TokenSpec) { s.Rooms = []string{""} }), want: ReasonClaims},
		{name: "too many rooms", token: with(func(s *TokenSpec) {
			for i := 0; i <= MaxRoomPatterns; i++ {
				s.Rooms = append(s.Rooms, "r")
			}
		}), want: ReasonClaims},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := newHS(t, tc.cfg)
			id, err := v.Verify(tc.token)
			if got := reasonOf(err); got != tc.want {
				t.Fatalf("reason = %q (err %v), want %q", got, err, tc.want)
			}
			if tc.want == "" && id.UserID == "" {
				t.Fatalf("accepted without a user id: %+v", id)
			}
			if tc.want != "" && !strings.HasPrefix(err.Error(), "unauthorized: ") {
				t.Fatalf("message %q lacks the unauthorized prefix", err.Error())
			}
		})
	}
}

func TestVerifyIdentity(t *testing.T) {
	v := newHS(t, nil)
	s := valid()
	s.Name, s.Rooms = "Alice", []string{"stand-up", "team-*"}
	id, err := v.Verify(mustHS(t, s))
	if err != nil {
		t.Fatal(err)
	}
	if id.UserID != "user-1" || id.Name != "Alice" || !id.Rooms.Restricted() {
		t.Fatalf("identity = %+v", id)
	}
	if !id.Rooms.Allows("team-a") || id.Rooms.Allows("other") {
		t.Fatalf("rooms claim not applied: %+v", id.Rooms)
	}
	// No rooms claim: every room; an empty one: none.
	id, err = v.Verify(mustHS(t, valid()))
	if err != nil || id.Rooms.Restricted() || !id.Rooms.Allows("any") || id.Name != "" {
		t.Fatalf("no claims: %+v, %v", id, err)
	}
	s = valid()
	s.Rooms = []string{}
	id, err = v.Verify(mustHS(t, s))
	if err != nil || !id.Rooms.Restricted() || id.Rooms.Allows("any") {
		t.Fatalf("empty rooms claim: %+v, %v", id, err)
	}
}

func TestPublicKeyVerifiers(t *testing.T) {
	rk, ek := testKeys(t)
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	hsTok := mustHS(t, valid())
	for _, tc := range []struct {
		name   string
		signer func() (string, error)
		alg    string
	}{
		{name: "rsa", alg: "RS256", signer: func() (string, error) { return SignWithKey(valid(), rk) }},
		{name: "ecdsa", alg: "ES256", signer: func() (string, error) { return SignWithKey(valid(), ek) }},
		{name: "ed25519", alg: "EdDSA", signer: func() (string, error) { return SignWithKey(valid(), edKey) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := tc.signer()
			if err != nil {
				t.Fatal(err)
			}
			var pub any
			switch tc.name {
			case "rsa":
				pub = &rk.PublicKey
			case "ecdsa":
				pub = &ek.PublicKey
			default:
				pub = edKey.Public()
			}
			der, err := x509.MarshalPKIXPublicKey(pub)
			if err != nil {
				t.Fatal(err)
			}
			key, err := ParsePublicKeyPEM(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
			if err != nil {
				t.Fatal(err)
			}
			v, err := New(Config{PublicKey: key, Now: fixedNow})
			if err != nil {
				t.Fatal(err)
			}
			if v.Algorithm() != tc.alg {
				t.Fatalf("alg = %s, want %s", v.Algorithm(), tc.alg)
			}
			if _, err := v.Verify(tok); err != nil {
				t.Fatalf("valid %s token refused: %v", tc.alg, err)
			}
			// HS/RS confusion: an HS256 token, even one whose secret were
			// the public key's bytes, is refused on its algorithm.
			if got := reasonOf(mustErr(v.Verify(hsTok))); got != ReasonAlgorithm {
				t.Fatalf("HS256 token to %s verifier: reason %q", tc.alg, got)
			}
			confused, err := SignHS256(valid(), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
			if err != nil {
				t.Fatal(err)
			}
			if got := reasonOf(mustErr(v.Verify(confused))); got != ReasonAlgorithm {
				t.Fatalf("key-confusion token: reason %q", got)
			}
		})
	}
}

func mustErr(_ Identity, err error) error { return err }

func TestNewConfig(t *testing.T) {
	_, ek := testKeys(t)
	if _, err := New(Config{}); err == nil {
		t.Error("no key: want an error")
	}
	if _, err := New(Config{Secret: testSecret, PublicKey: &ek.PublicKey}); err == nil {
		t.Error("both keys: want an error")
	}
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{PublicKey: &small.PublicKey}); err == nil {
		t.Error("1024-bit RSA: want an error")
	}
	if _, err := ParsePublicKeyPEM([]byte("not pem")); err == nil {
		t.Error("not PEM: want an error")
	}
	der, _ := x509.MarshalECPrivateKey(ek)
	if _, err := ParsePublicKeyPEM(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})); err == nil {
		t.Error("private key as public key: want an error")
	}
	signer, err := ParsePrivateKeyPEM(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := SignWithKey(valid(), signer); err != nil {
		t.Fatal(err)
	}
}
