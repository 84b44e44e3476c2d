package s3store_test

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/clipfs/clipfs/index/s3store"
	"github.com/clipfs/clipfs/index/s3store/s3test"
)

var awsVars = []string{
	"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
	"AWS_SESSION_TOKEN", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE",
	"AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE", "AWS_ACCESS_KEY", "AWS_SECRET_KEY",
}

// bareEnv empties every AWS variable and gives the test a HOME of its own
// (no ~/.aws), returning that HOME.
func bareEnv(t *testing.T) string {
	for _, k := range awsVars {
		t.Setenv(k, "")
	}
	home := t.TempDir()
	t.Setenv("HOME", home)
	return home
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// roundTrip puts a blob and reads it back through s.
func roundTrip(t *testing.T, s *s3store.Store) {
	t.Helper()
	ctx := context.Background()
	if err := s.Put(ctx, "rt.json", writeTemp(t, "rt.json", []byte(`{"ok":true}`))); err != nil {
		t.Fatal(err)
	}
	r, err := s.Open(ctx, "rt.json")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b := make([]byte, r.Size())
	if _, err := r.ReadAt(b, 0); err != nil || string(b) != `{"ok":true}` {
		t.Fatalf("read back %q, %v", b, err)
	}
}

// openErr is Open's error, which must be one line naming want's parts.
func openErr(t *testing.T, uri string, opts s3store.Options, want ...string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := s3store.Open(ctx, uri, opts)
	if err == nil {
		t.Fatalf("open %s with %+v: no error (store %s)", uri, opts, s.URI())
	}
	t.Logf("the error: %v", err)
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("error of more than one line: %q", err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not say %q", err, w)
		}
	}
	return err
}

// TestConfig: the store takes its server and credentials as the AWS SDKs
// do, and says in one line what is wrong with them.
func TestConfig(t *testing.T) {
	srv := s3test.Start(t)
	uri := srv.URI("config")
	serverEnv := func(t *testing.T) {
		t.Setenv("AWS_ENDPOINT_URL", srv.Endpoint)
		t.Setenv("AWS_REGION", srv.Region)
	}
	keys := "aws_access_key_id = " + srv.AccessKey + "\naws_secret_access_key = " + srv.SecretKey + "\n"
	wrongKeys := "aws_access_key_id = " + srv.AccessKey + "\naws_secret_access_key = wrong\n"

	t.Run("Env", func(t *testing.T) {
		bareEnv(t)
		serverEnv(t)
		t.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKey)
		t.Setenv("AWS_SECRET_ACCESS_KEY", srv.SecretKey)
		s := open(t, uri, s3store.Options{})
		if s.Endpoint() != srv.Endpoint {
			t.Errorf("endpoint %s, want %s", s.Endpoint(), srv.Endpoint)
		}
		roundTrip(t, s)
	})
	t.Run("EndpointS3BeforeEndpoint", func(t *testing.T) {
		bareEnv(t)
		t.Setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
		t.Setenv("AWS_ENDPOINT_URL_S3", srv.Endpoint)
		t.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKey)
		t.Setenv("AWS_SECRET_ACCESS_KEY", srv.SecretKey)
		roundTrip(t, open(t, uri, s3store.Options{}))
	})
	t.Run("ProfileInHome", func(t *testing.T) {
		home := bareEnv(t)
		serverEnv(t)
		writeFile(t, filepath.Join(home, ".aws", "credentials"), "[default]\n"+wrongKeys+"[clipfs]\n"+keys)
		t.Setenv("AWS_PROFILE", "clipfs")
		roundTrip(t, open(t, uri, s3store.Options{}))
	})
	t.Run("DefaultProfile", func(t *testing.T) {
		home := bareEnv(t)
		serverEnv(t)
		writeFile(t, filepath.Join(home, ".aws", "credentials"), "[default]\n"+keys)
		roundTrip(t, open(t, uri, s3store.Options{}))
	})
	t.Run("ProfileInConfigFile", func(t *testing.T) {
		home := bareEnv(t)
		serverEnv(t)
		writeFile(t, filepath.Join(home, ".aws", "config"), "[profile cfg]\n"+keys)
		roundTrip(t, open(t, uri, s3store.Options{Profile: "cfg"}))
	})
	t.Run("SharedCredentialsFile", func(t *testing.T) {
		home := bareEnv(t)
		serverEnv(t)
		writeFile(t, filepath.Join(home, ".aws", "credentials"), "[team]\n"+wrongKeys)
		other := filepath.Join(t.TempDir(), "creds")
		writeFile(t, other, "[team]\n"+keys)
		t.Setenv("AWS_SHARED_CREDENTIALS_FILE", other)
		t.Setenv("AWS_PROFILE", "team")
		roundTrip(t, open(t, uri, s3store.Options{}))
	})
	t.Run("EnvBeforeProfile", func(t *testing.T) {
		home := bareEnv(t)
		serverEnv(t)
		writeFile(t, filepath.Join(home, ".aws", "credentials"), "[default]\n"+wrongKeys)
		t.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKey)
		t.Setenv("AWS_SECRET_ACCESS_KEY", srv.SecretKey)
		roundTrip(t, open(t, uri, s3store.Options{}))
	})
	t.Run("MissingProfile", func(t *testing.T) {
		home := bareEnv(t)
		serverEnv(t)
		writeFile(t, filepath.Join(home, ".aws", "credentials"), "[default]\n"+keys)
		t.Setenv("AWS_PROFILE", "nope")
		openErr(t, uri, s3store.Options{}, `profile "nope"`, "credentials")
	})
	t.Run("NoCredentials", func(t *testing.T) {
		bareEnv(t)
		serverEnv(t)
		openErr(t, uri, s3store.Options{}, "no credentials", "AWS_ACCESS_KEY_ID")
	})
	t.Run("HalfTheKeys", func(t *testing.T) {
		bareEnv(t)
		serverEnv(t)
		t.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKey)
		openErr(t, uri, s3store.Options{}, "AWS_SECRET_ACCESS_KEY")
	})
	t.Run("WrongSecret", func(t *testing.T) {
		bareEnv(t)
		serverEnv(t)
		t.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKey)
		t.Setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
		openErr(t, uri, s3store.Options{}, uri, "secret access key from the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)", "does not match", "SignatureDoesNotMatch")
	})
	t.Run("WrongSecretInProfile", func(t *testing.T) {
		home := bareEnv(t)
		serverEnv(t)
		writeFile(t, filepath.Join(home, ".aws", "credentials"), "[default]\n"+wrongKeys)
		openErr(t, uri, s3store.Options{}, `profile "default"`, "does not match")
	})
	t.Run("UnknownAccessKey", func(t *testing.T) {
		opts := options(srv)
		opts.AccessKeyID = "nobody"
		openErr(t, uri, opts, uri, "does not know the access key ID", "InvalidAccessKeyId")
	})
	t.Run("MissingBucket", func(t *testing.T) {
		err := openErr(t, "s3://no-such-bucket/x", options(srv), "s3://no-such-bucket/x/blobs/", `bucket "no-such-bucket" does not exist`)
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("a missing bucket: %v does not match fs.ErrNotExist", err)
		}
	})
	t.Run("ServerDown", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		opts := options(srv)
		opts.Endpoint = "http://127.0.0.1:" + strconv.Itoa(port)
		opts.Attempts = 2
		err = openErr(t, uri, opts, "connection refused", opts.Endpoint)
		if errors.Is(err, fs.ErrNotExist) {
			t.Errorf("a server that is down reads as a missing blob: %v", err)
		}
	})
	t.Run("BadEndpoint", func(t *testing.T) {
		bareEnv(t)
		t.Setenv("AWS_ENDPOINT_URL", "127.0.0.1:8333")
		openErr(t, uri, s3store.Options{AccessKeyID: "a", SecretAccessKey: "b"}, "AWS_ENDPOINT_URL", "http://")
	})
}
