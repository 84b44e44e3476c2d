package s3store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"

	"github.com/minio/minio-go/v7"
)

// Error is a failed operation on one object or folder of the store: one
// line naming what it was done to and why. It unwraps to the reason, which
// matches fs.ErrNotExist for a missing object and context.Canceled or
// context.DeadlineExceeded for a cancelled one.
type Error struct {
	Op  string // put, check the size of, open, read, remove, list, connect to, ...
	URI string // s3://BUCKET/KEY
	Err error
}

func (e *Error) Error() string { return "s3store: " + e.Op + " " + e.URI + ": " + oneLine(e.Err) }
func (e *Error) Unwrap() error { return e.Err }

// Unavailable says the server stayed unreachable, timed out or kept
// answering 5xx, 429 or SlowDown through the retries: a fault of the
// environment that a later try may not meet, not one of the object
// (curate/fault counts it so, and a run that meets it is unfinished).
func (e *Error) Unavailable() bool { return isUnavailable(e.Err) }

// isUnavailable looks for a reason that says the server is unavailable.
func isUnavailable(err error) bool {
	var u interface{ Unavailable() bool }
	return errors.As(err, &u) && u.Unavailable()
}

// unreachable is a network failure through the retries (no connection,
// a reset, a stalled request), unwrapping to the network error; it
// matches ErrUnavailable.
type unreachable struct{ err error }

func (u *unreachable) Error() string        { return u.err.Error() }
func (u *unreachable) Unwrap() error        { return u.err }
func (u *unreachable) Unavailable() bool    { return true }
func (u *unreachable) Is(target error) bool { return target == ErrUnavailable }

// reason is an S3 error code said in words, matching what it stands for:
// fs.ErrNotExist for a missing object.
type reason struct {
	text string
	code string // S3's code, and the HTTP status
	is   error
	// busy: the server kept answering 5xx, 429 or SlowDown.
	busy bool
}

func (r *reason) Unavailable() bool { return r.busy }

func (r *reason) Error() string {
	if r.code == "" {
		return r.text
	}
	return r.text + " (" + r.code + ")"
}

// Is matches what the code stands for, and ErrUnavailable for a busy server.
func (r *reason) Is(target error) bool {
	return r.is != nil && target == r.is || r.busy && target == ErrUnavailable
}

// ErrUnavailable is matched by the error of a request that the server did
// not answer through every try: unreachable, stalled, or 5xx, 429 and
// SlowDown to the last (the errors whose Unavailable method says true).
// It is the server's (or the network's) state, not a fault of the
// request: the same request may succeed later.
var ErrUnavailable = errors.New("the S3 server is unavailable")

// errNotFound is the reason of an object that is not there.
var errNotFound = &reason{text: "no such object", is: fs.ErrNotExist}

// explain turns a client error into a reason a user can act on: S3's
// codes in words, network errors without the request's URL (which the
// Error names), a cancelled context as itself.
func (s *Store) explain(ctx context.Context, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return ctxErr
	}
	var stalled errStalled
	if errors.As(err, &stalled) {
		return &unreachable{fmt.Errorf("%w, after %d tries", stalled, s.cfg.attempts)}
	}
	resp := minio.ToErrorResponse(err)
	if resp.Code == "" {
		var ue *url.Error
		if errors.As(err, &ue) {
			return &unreachable{fmt.Errorf("%w, after %d tries", ue.Err, s.cfg.attempts)}
		}
		return err
	}
	code := fmt.Sprintf("%s, HTTP %d", resp.Code, resp.StatusCode)
	switch resp.Code {
	case minio.NoSuchKey, "NotFound":
		return errNotFound
	case minio.NoSuchBucket:
		return &reason{text: fmt.Sprintf("bucket %q does not exist", s.loc.Bucket), code: code, is: fs.ErrNotExist}
	case "InvalidAccessKeyId":
		return &reason{text: fmt.Sprintf("the server does not know the access key ID from %s", s.cfg.credsFrom), code: code}
	case "SignatureDoesNotMatch":
		return &reason{text: fmt.Sprintf("the secret access key from %s does not match the server's for its access key ID", s.cfg.credsFrom), code: code}
	case minio.AccessDenied:
		return &reason{text: fmt.Sprintf("access denied to the credentials from %s", s.cfg.credsFrom), code: code}
	case "ExpiredToken", "InvalidToken":
		return &reason{text: fmt.Sprintf("the session token from %s is expired or invalid", s.cfg.credsFrom), code: code}
	case "RequestTimeTooSkewed":
		return &reason{text: "this machine's clock is too far from the server's", code: code}
	}
	text := resp.Message
	if text == "" {
		text = "the server refused the request"
	}
	busy := resp.StatusCode >= 500 || resp.StatusCode == 429 || resp.Code == "SlowDown"
	if busy {
		text = fmt.Sprintf("%s, after %d tries", text, s.cfg.attempts)
	}
	return &reason{text: text, code: code, busy: busy}
}

// fail is the Error of op on key.
func (s *Store) fail(ctx context.Context, op, key string, err error) error {
	return &Error{Op: op, URI: "s3://" + s.loc.Bucket + "/" + key, Err: s.explain(ctx, err)}
}
