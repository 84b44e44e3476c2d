package fault

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
)

// Two kinds of failure, told apart here and nowhere else.
//
// An input failure is the video's or the clip's own: it cannot be decoded,
// has no video stream, is too small for a motion score, or ffmpeg rejects
// it with an error about the input. It is recorded as NeMo Curator records
// it (a clip's errors in its metas, a video in the run's failures), and a
// re-run with the same file and settings does not try it again.
//
// An environment failure is the machine's: a full disk (ENOSPC, EDQUOT),
// EIO or EROFS on the database, a tool killed by a signal or missing, a
// model out of memory, a caption or enhancement endpoint that stays
// unreachable, times out or answers 5xx/429 through its retries, or
// cancellation. It is never recorded: the chunk it hit is aborted (nothing
// of it is committed, its blobs are removed) and the video is left
// unfinished, so a re-run or retry curates exactly what is left.

// EnvError is a video left unfinished by an environment failure.
type EnvError struct {
	Path     string // the source video
	Cause    string // one line: "disk full: no space left on device", "ffmpeg killed by signal: killed"
	DiskFull bool   // ENOSPC or EDQUOT: the run stops taking new videos
	Err      error
}

func (e *EnvError) Error() string {
	if e.Path == "" {
		return "not finished: " + e.Cause
	}
	return e.Path + ": not finished: " + e.Cause
}

func (e *EnvError) Unwrap() error { return e.Err }

// ErrUnfinished is returned (wrapped) by a run that an environment failure
// left with videos unfinished; it wins over a run's input failures.
var ErrUnfinished = errors.New("some videos were left unfinished by a fault of the machine; run again to finish them")

// ErrUnavailable is wrapped by the error of a call to an outside service (a
// caption endpoint) that stayed unreachable, timed out or answered 5xx/429
// through its retries.
var ErrUnavailable = errors.New("service unavailable")

// serviceDown says err has an error of an outside service that says
// itself unavailable (an Unavailable method reporting true), as the object
// store's errors (index/s3store) do for a server that stayed unreachable
// or answered 5xx through its retries: this package imports no such
// service.
func serviceDown(err error) bool {
	var u interface{ Unavailable() bool }
	return errors.As(err, &u) && u.Unavailable()
}

// ErrDiskFull is wrapped by environment failures of a full disk, and by the
// free-space guard (Config.MinFree).
var ErrDiskFull = errors.New("disk full")

// toolTexts are what ffmpeg's and libav's messages say for environment
// faults (strerror texts of the errno values above, and allocation
// failures): an ffmpeg that exits 1 after "No space left on device" failed
// for the machine, not for the video.
var toolTexts = []struct {
	text     string
	cause    string
	diskFull bool
}{
	{"No space left on device", "disk full: no space left on device", true},
	{"Disk quota exceeded", "disk full: disk quota exceeded", true},
	{"Read-only file system", "read-only file system", false},
	{"Input/output error", "input/output error", false},
	{"Cannot allocate memory", "out of memory", false},
	{"out of memory", "out of memory", false},
	{"CUDA_ERROR_OUT_OF_MEMORY", "GPU out of memory", false},
	// A video read over HTTP (a presigned URL into a bucket): the server
	// or the way to it failed, or it refused the URL. Never the video's
	// fault; a 404 (the object is gone) is not here: that is the input's.
	{"Connection refused", "server unreachable: connection refused", false},
	{"Connection timed out", "server unreachable: timed out", false},
	{"Network is unreachable", "server unreachable: network is unreachable", false},
	{"No route to host", "server unreachable: no route to host", false},
	{"Failed to resolve hostname", "server unreachable: host name not found", false},
	{"Connection reset by peer", "server dropped the connection", false},
	{"Server returned 401", "the server refused the presigned URL (HTTP 401)", false},
	{"Server returned 403", "the server refused the presigned URL: expired, or its credentials may not read the object (HTTP 403)", false},
	{"Server returned 400", "the server refused the presigned URL (HTTP 400)", false},
	{"Server returned 5XX", "server error (HTTP 5xx)", false},
	{"Server returned 4XX", "the server refused the request (HTTP 4xx: the object changed while it was read, or requests are throttled)", false},
}

// Classify classifies err: ok reports an environment failure, with its
// cause in one line and whether the disk is full.
func Classify(err error) (cause string, diskFull, ok bool) {
	if err == nil {
		return "", false, false
	}
	var ee *EnvError
	if errors.As(err, &ee) {
		return ee.Cause, ee.DiskFull, true
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		switch errno { // the whole message: it says where (a file, Badger's headroom)
		case syscall.ENOSPC, syscall.EDQUOT:
			return "disk full: " + err.Error(), true, true
		case syscall.EIO, syscall.EROFS, syscall.ENOMEM:
			return err.Error(), false, true
		}
	}
	switch {
	case errors.Is(err, ErrDiskFull):
		return err.Error(), true, true
	case errors.Is(err, ErrUnavailable), serviceDown(err): // before DeadlineExceeded: it may wrap a timeout
		return err.Error(), false, true
	case errors.Is(err, context.Canceled):
		return "cancelled", false, true
	case errors.Is(err, context.DeadlineExceeded):
		return "timed out: " + err.Error(), false, true
	case errors.Is(err, exec.ErrNotFound):
		return "tool missing: " + err.Error(), false, true
	}
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		if ws, isWS := exitErr.Sys().(syscall.WaitStatus); isWS && ws.Signaled() {
			return fmt.Sprintf("killed by signal: %s", ws.Signal()), false, true
		}
	}
	var execErr *exec.Error // the tool could not be started
	if errors.As(err, &execErr) {
		return "cannot run " + execErr.Name + ": " + execErr.Err.Error(), false, true
	}
	msg := strings.ToLower(err.Error())
	for _, t := range toolTexts {
		if strings.Contains(msg, strings.ToLower(t.text)) {
			return t.cause, t.diskFull, true
		}
	}
	return "", false, false
}

// Environmental reports whether err is a fault of the machine (see the
// top of this file) rather than of an input.
func Environmental(err error) bool {
	_, _, ok := Classify(err)
	return ok
}

// AsEnv returns err as an *EnvError for the video at path when it is
// an environment failure, and nil otherwise.
func AsEnv(path string, err error) *EnvError {
	var ee *EnvError
	if errors.As(err, &ee) {
		if ee.Path == "" {
			c := *ee
			c.Path = path
			return &c
		}
		return ee
	}
	cause, full, ok := Classify(err)
	if !ok {
		return nil
	}
	return &EnvError{Path: path, Cause: cause, DiskFull: full, Err: err}
}
