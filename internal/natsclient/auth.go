package natsclient

import (
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
)

// Auth is how a connection authenticates to NATS. At most one method may
// be set: a credentials file (JWT + NKey seed, as issued by nsc), a user
// and password, or a token. The zero Auth connects without credentials.
type Auth struct {
	// CredsFile is the path of a .creds file.
	CredsFile string
	// User and Password authenticate as a user of the server's config.
	User, Password string
	// Token is an authorization token.
	Token string
}

// ErrAuthConfig means the credentials given are contradictory or
// incomplete.
var ErrAuthConfig = errors.New("natsclient: invalid NATS credentials")

// Validate checks that at most one method is given, and completely.
func (a Auth) Validate() error {
	n := 0
	for _, set := range []bool{a.CredsFile != "", a.User != "" || a.Password != "", a.Token != ""} {
		if set {
			n++
		}
	}
	switch {
	case n > 1:
		return fmt.Errorf("%w: give only one of a credentials file, a user and password, or a token", ErrAuthConfig)
	case a.User != "" && a.Password == "":
		return fmt.Errorf("%w: a user needs a password", ErrAuthConfig)
	case a.User == "" && a.Password != "":
		return fmt.Errorf("%w: a password needs a user", ErrAuthConfig)
	}
	return nil
}

// Method names the method in use, for logs and errors ("" for none).
func (a Auth) Method() string {
	switch {
	case a.CredsFile != "":
		return "creds"
	case a.User != "":
		return "user " + a.User
	case a.Token != "":
		return "token"
	}
	return ""
}

func (a Auth) options() []nats.Option {
	switch {
	case a.CredsFile != "":
		return []nats.Option{nats.UserCredentials(a.CredsFile)}
	case a.User != "":
		return []nats.Option{nats.UserInfo(a.User, a.Password)}
	case a.Token != "":
		return []nats.Option{nats.Token(a.Token)}
	}
	return nil
}

// authFailure reports whether err means the server refused the
// credentials: retrying with the same ones cannot succeed.
func authFailure(err error) bool {
	return errors.Is(err, nats.ErrAuthorization) || errors.Is(err, nats.ErrAuthExpired) ||
		errors.Is(err, nats.ErrAuthRevoked) || errors.Is(err, nats.ErrAccountAuthExpired)
}
