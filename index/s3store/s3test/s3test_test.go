package s3test

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"
)

// TestVersionIsInstallScripts: the harness looks for the build the
// install script makes.
func TestVersionIsInstallScripts(t *testing.T) {
	b, err := os.ReadFile("../../../scripts/install.sh")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*weed_version=(\S+)$`).FindSubmatch(b)
	if m == nil {
		t.Fatal("scripts/install.sh sets no weed_version")
	}
	if string(m[1]) != Version {
		t.Fatalf("scripts/install.sh builds SeaweedFS %s, s3test.Version is %s", m[1], Version)
	}
}

// TestRestart: data put before a Stop (and a Kill) is there after
// Restart, on the same endpoint.
func TestRestart(t *testing.T) {
	s := Start(t)
	cl, err := s.client()
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if _, err := cl.PutObject(ctx, s.Bucket, "k", strings.NewReader("v"), 1, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, stop := range []func(){s.Stop, s.Kill} {
		endpoint := s.Endpoint
		stop()
		if _, err := cl.StatObject(ctx, s.Bucket, "k", minio.StatObjectOptions{}); err == nil {
			t.Fatal("the object is served by a stopped server")
		}
		s.Restart()
		if s.Endpoint != endpoint {
			t.Fatalf("endpoint %s after restart, was %s", s.Endpoint, endpoint)
		}
		if info, err := cl.StatObject(ctx, s.Bucket, "k", minio.StatObjectOptions{}); err != nil || info.Size != 1 {
			t.Fatalf("after a restart: %v, %v", info.Size, err)
		}
	}
}
