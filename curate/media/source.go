package media

import (
	"regexp"
	"strconv"
	"strings"
)

// Source is a video the tools read: a local file, or an object in a bucket
// that ffmpeg and ffprobe read over HTTP(S), seeking with range requests
// as in a file (nothing is downloaded whole, nothing is written locally).
type Source struct {
	// Name is the file's path; for a URL, what every error says (the
	// object's s3:// URI).
	Name string
	// URL is "" for the file at Name, else the http:// or https:// URL the
	// tools read (a presigned GET). It is a secret: no error shows it.
	URL string
	// Size is the object's size in bytes, with URL (a file's is stat'ed).
	Size int64
	// ETag, if set with URL, pins the object's version: every request
	// asks If-Match, so an object replaced while it is read fails the tool
	// (HTTP 412, a fault of the machine: a re-run reads the new one)
	// rather than mixing two versions' bytes.
	ETag string
}

// File is the Source of the local file at path.
func File(path string) Source { return Source{Name: path} }

// RemoteTimeout is how long a tool waits on a server that sends nothing
// (ffmpeg's -rw_timeout) before it fails; a read that breaks off is
// resumed at its offset first (-reconnect), with waits up to
// remoteReconnectMax seconds.
const (
	RemoteTimeout      = 30 // seconds
	remoteReconnectMax = 8  // seconds
)

// inputArgs are the arguments that open s as a tool's input: its protocol
// options and "-i URL" (ffprobe takes the URL without "-i": see
// probeArgs).
func (s Source) inputArgs() []string {
	if s.URL == "" {
		return []string{"-i", mediaURL(s.Name)}
	}
	return append(s.remoteOptions(), "-i", s.URL)
}

// remoteOptions make a tool fail on a stalled server rather than wait for
// ever, and resume a read cut short (or answered 5xx) where it was.
func (s Source) remoteOptions() []string {
	opts := []string{
		"-rw_timeout", strconv.Itoa(RemoteTimeout * 1e6),
		"-reconnect", "1", "-reconnect_on_network_error", "1", "-reconnect_on_http_error", "5xx",
		"-reconnect_delay_max", strconv.Itoa(remoteReconnectMax),
	}
	if s.ETag != "" && !strings.ContainsAny(s.ETag, "\"\r\n") {
		opts = append(opts, "-headers", "If-Match: \""+s.ETag+"\"\r\n")
	}
	return opts
}

// hidden are the strings of s that a tool's message must not carry into an
// error: the file's name (the error names it already) and the URL.
func (s Source) hidden() []string {
	if s.URL == "" {
		return []string{s.Name}
	}
	return []string{s.URL, s.Name}
}

// signedURL matches a presigned URL anywhere in a tool's message, in case
// one reaches it in another form (percent-encoded, redirected).
var signedURL = regexp.MustCompile(`(?i)\S*(X-Amz-Signature|X-Amz-Credential|Signature=|AWSAccessKeyId=)\S*`)

// scrubURLs removes presigned URLs from a line.
func scrubURLs(line string) string {
	if !strings.Contains(strings.ToLower(line), "x-amz-") && !strings.Contains(line, "Signature=") && !strings.Contains(line, "AWSAccessKeyId=") {
		return line
	}
	return signedURL.ReplaceAllString(line, "<presigned URL>")
}
