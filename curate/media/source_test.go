package media

import (
	"slices"
	"strings"
	"testing"
)

// A presigned URL never survives into a reason: the one handed to the
// tool is cut out, and anything else that looks presigned (another
// encoding of it, a redirect) is replaced.
func TestCleanToolLineHidesPresignedURLs(t *testing.T) {
	const u = "http://127.0.0.1:8333/b/videos/a%20b.mp4?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AK%2F2026&X-Amz-Signature=abc123"
	src := Source{Name: "s3://b/videos/a b.mp4", URL: u, Size: 10}
	for line, want := range map[string]string{
		u + ": Server returned 403 Forbidden (access denied)":                                    "Server returned 403 Forbidden (access denied)",
		"[http @ 0x55d0c1a2b3c0] Redirect to https://x.example/a?X-Amz-Signature=ff&y=1 refused": "Redirect to <presigned URL> refused",
		"Connection to tcp://127.0.0.1:8333 failed: Connection refused":                          "Connection to tcp://127.0.0.1:8333 failed: Connection refused",
		"https://h/k?AWSAccessKeyId=AK&Signature=zz&Expires=1: Server returned 404 Not Found":    "<presigned URL> Server returned 404 Not Found",
	} {
		if got := cleanToolLine(line, src.hidden()...); got != want {
			t.Errorf("cleanToolLine(%q) = %q, want %q", line, got, want)
		}
	}
}

// A URL source opens with the protocol options before -i, If-Match its
// ETag when known; a file source stays "-i file:PATH".
func TestSourceInputArgs(t *testing.T) {
	if got := File("/x/-a.mp4").inputArgs(); !slices.Equal(got, []string{"-i", "file:/x/-a.mp4"}) {
		t.Errorf("file: %q", got)
	}
	got := Source{Name: "s3://b/k", URL: "http://h/b/k?X-Amz-Signature=s", Size: 5, ETag: "e-2"}.inputArgs()
	joined := strings.Join(got, " ")
	if got[len(got)-2] != "-i" || got[len(got)-1] != "http://h/b/k?X-Amz-Signature=s" ||
		!strings.Contains(joined, "-rw_timeout 30000000") || !strings.Contains(joined, "-reconnect 1") ||
		!slices.Contains(got, "If-Match: \"e-2\"\r\n") {
		t.Errorf("URL source args: %q", got)
	}
	if got := (Source{URL: "http://h/k", ETag: "bad\"etag"}).inputArgs(); slices.Contains(got, "-headers") {
		t.Errorf("an ETag with a quote went into a header: %q", got)
	}
}
