package s3store

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestParseURI(t *testing.T) {
	tests := []struct {
		uri    string
		want   Location
		errHas string
	}{
		{"s3://bucket", Location{"bucket", ""}, ""},
		{"s3://bucket/", Location{"bucket", ""}, ""},
		{"s3://bucket/a", Location{"bucket", "a"}, ""},
		{"s3://bucket/a/b/", Location{"bucket", "a/b"}, ""},
		{"s3://my.bucket-1/curated/2026", Location{"my.bucket-1", "curated/2026"}, ""},
		{"s3:bucket/a", Location{}, "followed by //"},
		{"https://bucket/a", Location{}, "scheme must be s3://"},
		{"/local/path", Location{}, "scheme must be s3://"},
		{"s3://", Location{}, "no bucket"},
		{"s3:///a", Location{}, "no bucket"},
		{"s3://bucket:9000/a", Location{}, "no user or port"},
		{"s3://key@bucket/a", Location{}, "no user or port"},
		{"s3://bucket/a?versionId=1", Location{}, "no ? or #"},
		{"s3://bucket/a#x", Location{}, "no ? or #"},
		{"s3://bucket//a", Location{}, "empty"},
		{"s3://bucket/a/../b", Location{}, `".."`},
		{"s3://bucket/./a", Location{}, `"."`},
		{"s3://Bu_cket/a", Location{}, "bucket"},
	}
	for _, tc := range tests {
		got, err := ParseURI(tc.uri)
		switch {
		case tc.errHas == "" && err != nil:
			t.Errorf("ParseURI(%q): %v", tc.uri, err)
		case tc.errHas != "" && (err == nil || !strings.Contains(err.Error(), tc.errHas)):
			t.Errorf("ParseURI(%q): error %v, want one saying %q", tc.uri, err, tc.errHas)
		case err == nil && got != tc.want:
			t.Errorf("ParseURI(%q) = %+v, want %+v", tc.uri, got, tc.want)
		case err == nil && got.String() != strings.TrimSuffix(tc.uri, "/"):
			t.Errorf("ParseURI(%q).String() = %q", tc.uri, got.String())
		}
	}
	if got := (Location{"b", "p/q"}).folder("blobs"); got != "p/q/blobs/" {
		t.Errorf("folder: %q", got)
	}
	if got := (Location{"b", ""}).folder("index"); got != "index/" {
		t.Errorf("folder of the whole bucket: %q", got)
	}
}

func TestEndpointAndRegion(t *testing.T) {
	tests := []struct {
		opts            Options
		env             map[string]string
		endpoint        string
		region, errHas  string
		pathStyleForced bool
	}{
		{env: map[string]string{}, endpoint: "https://s3.us-east-1.amazonaws.com", region: "us-east-1"},
		{env: map[string]string{"AWS_REGION": "eu-west-3"}, endpoint: "https://s3.eu-west-3.amazonaws.com", region: "eu-west-3"},
		{env: map[string]string{"AWS_DEFAULT_REGION": "ap-south-1"}, region: "ap-south-1", endpoint: "https://s3.ap-south-1.amazonaws.com"},
		{env: map[string]string{"AWS_ENDPOINT_URL": "http://127.0.0.1:8333"}, endpoint: "http://127.0.0.1:8333", region: "us-east-1"},
		{env: map[string]string{"AWS_ENDPOINT_URL": "http://other:1", "AWS_ENDPOINT_URL_S3": "http://s3only:2/"}, endpoint: "http://s3only:2", region: "us-east-1"},
		{opts: Options{Endpoint: "https://minio.lan", Region: "home"}, env: map[string]string{"AWS_ENDPOINT_URL": "http://other:1", "AWS_REGION": "x"}, endpoint: "https://minio.lan", region: "home"},
		{env: map[string]string{"AWS_ENDPOINT_URL": "127.0.0.1:8333"}, errHas: `AWS_ENDPOINT_URL "127.0.0.1:8333" is not an http:// or https:// URL`},
		{env: map[string]string{"AWS_ENDPOINT_URL_S3": "http://host/path"}, errHas: "AWS_ENDPOINT_URL_S3"},
		{opts: Options{PartSize: 1 << 20}, env: map[string]string{}, errHas: "part size"},
	}
	for i, tc := range tests {
		for _, k := range []string{"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"} {
			t.Setenv(k, tc.env[k])
		}
		tc.opts.AccessKeyID, tc.opts.SecretAccessKey = "id", "secret"
		c, err := tc.opts.resolve(context.Background())
		switch {
		case tc.errHas != "":
			if err == nil || !strings.Contains(err.Error(), tc.errHas) {
				t.Errorf("#%d: error %v, want one saying %q", i, err, tc.errHas)
			}
		case err != nil:
			t.Errorf("#%d: %v", i, err)
		case c.endpoint.String() != tc.endpoint || c.region != tc.region:
			t.Errorf("#%d: endpoint %s, region %s; want %s, %s", i, c.endpoint, c.region, tc.endpoint, tc.region)
		}
	}
}

func TestCheckRange(t *testing.T) {
	tests := []struct {
		cr             string
		length, off, n int64
		size           int64
		ok             bool
		description    string
	}{
		{"bytes 10-19/100", 10, 10, 10, 100, true, "the range asked for"},
		{"bytes 0-99/100", 100, 0, 100, 100, true, "the whole blob as a range"},
		{"", 100, 0, 100, 100, true, "the whole blob as 200"},
		{"", 100, 10, 10, 100, false, "Range ignored"},
		{"bytes 10-19/120", 10, 10, 10, 100, false, "the blob grew"},
		{"bytes 11-20/100", 10, 10, 10, 100, false, "another range"},
		{"bytes 10-19/100", 9, 10, 10, 100, false, "fewer bytes"},
	}
	for _, tc := range tests {
		if err := checkRange(tc.cr, tc.length, tc.off, tc.n, tc.size); (err == nil) != tc.ok {
			t.Errorf("%s: %v", tc.description, err)
		}
	}
}

// TestStallTransport: a server that stops sending mid-body, or never
// answers, fails the request after the timeout with a reason that says
// so; a slow server that keeps sending does not.
func TestStallTransport(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/hang":
			<-release
		case "/cut":
			w.Header().Set("Content-Length", "100")
			w.Write([]byte("some"))
			w.(http.Flusher).Flush()
			<-release
		case "/slow":
			for range 6 {
				w.Write([]byte("x"))
				w.(http.Flusher).Flush()
				time.Sleep(60 * time.Millisecond)
			}
		}
	}))
	defer srv.Close()
	defer close(release) // before Close, which waits for the handlers
	const timeout = 200 * time.Millisecond
	cl := &http.Client{Transport: &stallTransport{base: http.DefaultTransport, timeout: timeout}}
	for _, path := range []string{"/hang", "/cut"} {
		start := time.Now()
		res, err := cl.Get(srv.URL + path)
		if err == nil {
			_, err = io.ReadAll(res.Body)
			res.Body.Close()
		}
		var stalled errStalled
		if !errors.As(err, &stalled) || !strings.Contains(err.Error(), "no progress for 200ms") {
			t.Errorf("%s: %v, want the stall named", path, err)
		}
		if took := time.Since(start); took > 10*timeout {
			t.Errorf("%s: took %s", path, took)
		}
	}
	res, err := cl.Get(srv.URL + "/slow")
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil || string(b) != "xxxxxx" {
		t.Errorf("a slow body that keeps moving: %q, %v", b, err)
	}
}
