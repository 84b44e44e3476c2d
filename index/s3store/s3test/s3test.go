package s3test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Version is the SeaweedFS build the tests run: the version
// scripts/install.sh builds (a test checks that the two agree).
const Version = "v0.0.0-20261109003541-7506e5f91cd6"

const (
	readyTimeout = 60 * time.Second // a cold start on a busy 2-core machine
	stopTimeout  = 15 * time.Second // SIGTERM, then SIGKILL
	startTries   = 3                // fresh ports after a start that fails
)

// Server is a running `weed mini` with authentication on: one bucket,
// one pair of keys, every port on 127.0.0.1 and chosen free at Start.
type Server struct {
	Endpoint  string // http://127.0.0.1:PORT, the S3 API
	AccessKey string
	SecretKey string
	Bucket    string
	Region    string

	t    testing.TB
	bin  string
	dir  string // data, the server's HOME and its log
	args []string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has been waited for
}

// Start starts a server with an empty bucket and waits until the S3 API
// answers for it; t.Cleanup stops it. Without the weed binary (Binary) the
// test fails when $CI is set and is skipped otherwise.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("s3test: %v (CI must have it: scripts/install.sh test builds it)", err)
		}
		t.Skipf("s3test: %v; run scripts/install.sh test to build it", err)
	}
	s := &Server{
		AccessKey: "clipfs" + randomHex(6),
		SecretKey: randomHex(20),
		Bucket:    "clipfs-test",
		Region:    "us-east-1",
		t:         t,
		bin:       bin,
		dir:       t.TempDir(),
	}
	t.Cleanup(s.Stop)
	var last error
	for range startTries {
		ports, err := freePorts(11)
		if err != nil {
			t.Fatalf("s3test: %v", err)
		}
		s.args = s.mkArgs(ports)
		s.Endpoint = "http://127.0.0.1:" + strconv.Itoa(ports[0])
		if last = s.start(); last == nil {
			return s
		}
		s.Kill()
		if !strings.Contains(last.Error(), "not available") && !strings.Contains(last.Error(), "address already in use") {
			break
		}
	}
	t.Fatalf("s3test: %v", last)
	return nil
}

// Binary is the weed binary: $CLIPFS_WEED, else seaweedfs-VERSION/weed in
// the first cache that holds it: $CLIPFS_CACHE, /var/cache/clipfs, then
// the user's cache folder's clipfs (where scripts/install.sh builds it).
func Binary() (string, error) {
	if p := os.Getenv("CLIPFS_WEED"); p != "" {
		if err := isExecutable(p); err != nil {
			return "", fmt.Errorf("CLIPFS_WEED: %w", err)
		}
		return p, nil
	}
	var caches []string
	if c := os.Getenv("CLIPFS_CACHE"); c != "" {
		caches = append(caches, c)
	}
	caches = append(caches, "/var/cache/clipfs")
	if c, err := os.UserCacheDir(); err == nil {
		caches = append(caches, filepath.Join(c, "clipfs"))
	}
	var looked []string
	for _, c := range caches {
		p := filepath.Join(c, "seaweedfs-"+Version, "weed")
		if isExecutable(p) == nil {
			return p, nil
		}
		looked = append(looked, p)
	}
	return "", fmt.Errorf("no SeaweedFS weed binary (looked at %s; $CLIPFS_WEED names one)", strings.Join(looked, ", "))
}

func isExecutable(p string) error {
	st, err := os.Stat(p)
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() || st.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%s is not an executable file", p)
	}
	return nil
}

// mkArgs lays the ports out: S3 first, then every other listener weed
// mini opens (master, volume, filer, S3's and the admin's gRPC, the admin
// and WebDAV ports it checks even when off), so that parallel servers
// never collide. Iceberg, Lance, WebDAV and the admin UI are off.
func (s *Server) mkArgs(p []int) []string {
	return []string{"mini",
		"-dir=" + filepath.Join(s.dir, "data"),
		"-ip=127.0.0.1", "-ip.bind=127.0.0.1",
		"-s3.port=" + strconv.Itoa(p[0]), "-s3.port.grpc=" + strconv.Itoa(p[1]),
		"-master.port=" + strconv.Itoa(p[2]), "-master.port.grpc=" + strconv.Itoa(p[3]),
		"-volume.port=" + strconv.Itoa(p[4]), "-volume.port.grpc=" + strconv.Itoa(p[5]),
		"-filer.port=" + strconv.Itoa(p[6]), "-filer.port.grpc=" + strconv.Itoa(p[7]),
		"-admin.port=" + strconv.Itoa(p[8]), "-admin.port.grpc=" + strconv.Itoa(p[9]),
		"-webdav.port=" + strconv.Itoa(p[10]),
		"-admin.port.legacy=0", "-s3.port.iceberg=0", "-s3.port.lance=0",
		"-webdav=false", "-admin.ui=false",
		"-filer.localSocket=" + filepath.Join(os.TempDir(), fmt.Sprintf("clipfs-weed-filer-%d.sock", p[6])),
		"-s3.localSocket=" + filepath.Join(os.TempDir(), fmt.Sprintf("clipfs-weed-s3-%d.sock", p[0])),
		"-master.telemetry=false",
		"-bucket=" + s.Bucket,
	}
}

// freePorts are n distinct loopback ports free a moment ago.
func freePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("finding a free port: %w", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Restart starts the server again, on the same ports and data, after Stop
// or Kill (or stops it first), and waits until it answers.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	if err := s.start(); err != nil {
		s.t.Fatalf("s3test: restart: %v", err)
	}
}

// start runs weed and waits until the bucket answers a signed request.
func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return errors.New("already running")
	}
	logPath := filepath.Join(s.dir, "weed.log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	fmt.Fprintf(logf, "--- %s %s\n", time.Now().Format(time.RFC3339), strings.Join(s.args, " "))
	cmd := exec.Command(s.bin, s.args...)
	cmd.Dir = s.dir
	cmd.Env = append(environWithout("AWS_", "HOME=", "WEED_"),
		"HOME="+s.dir,
		"AWS_ACCESS_KEY_ID="+s.AccessKey,
		"AWS_SECRET_ACCESS_KEY="+s.SecretKey)
	cmd.Stdout, cmd.Stderr = logf, logf
	// its own process group, and killed if the test process dies
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", s.bin, err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	s.cmd, s.exited = cmd, exited
	if err := s.waitReady(exited); err != nil {
		return fmt.Errorf("weed mini on %s: %w; the end of its log (%s):\n%s", s.Endpoint, err, logPath, tail(logPath, 40))
	}
	return nil
}

// waitReady polls until the bucket exists for the server's keys, the
// server exits, or readyTimeout passes.
func (s *Server) waitReady(exited <-chan struct{}) error {
	cl, err := s.client()
	if err != nil {
		return err
	}
	deadline := time.Now().Add(readyTimeout)
	var last error
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		ok, err := cl.BucketExists(ctx, s.Bucket)
		cancel()
		if ok {
			return nil
		}
		if last = err; err == nil {
			last = fmt.Errorf("bucket %s not there yet", s.Bucket)
		}
		select {
		case <-exited:
			return fmt.Errorf("it exited (%v) before answering", s.cmd.ProcessState)
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("no answer in %s (last: %v)", readyTimeout, last)
}

// Client is a minio client for the server that tries each request once:
// for a test to look at the bucket as clipfs left it.
func (s *Server) Client() (*minio.Client, error) { return s.client() }

// client is a minio client for the server that tries each request once.
func (s *Server) client() (*minio.Client, error) {
	return minio.New(strings.TrimPrefix(s.Endpoint, "http://"), &minio.Options{
		Creds:        credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""),
		Region:       s.Region,
		BucketLookup: minio.BucketLookupPath,
		MaxRetries:   1,
	})
}

// Stop ends the server with SIGTERM (SIGKILL after stopTimeout) and waits
// for it; stopping a stopped server does nothing.
func (s *Server) Stop() { s.signal(syscall.SIGTERM) }

// Kill ends the server with SIGKILL at once, as a crash would, and waits.
func (s *Server) Kill() { s.signal(syscall.SIGKILL) }

func (s *Server) signal(sig syscall.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	pgid := s.cmd.Process.Pid
	syscall.Kill(-pgid, sig)
	select {
	case <-s.exited:
	case <-time.After(stopTimeout):
		syscall.Kill(-pgid, syscall.SIGKILL)
		<-s.exited
	}
	syscall.Kill(-pgid, syscall.SIGKILL) // anything it left in its group
	s.cmd, s.exited = nil, nil
}

// Env is the environment that points an AWS client (or clipfs) at the
// server: endpoint, keys and region, for a child process.
func (s *Server) Env() []string {
	return []string{
		"AWS_ENDPOINT_URL=" + s.Endpoint,
		"AWS_ACCESS_KEY_ID=" + s.AccessKey,
		"AWS_SECRET_ACCESS_KEY=" + s.SecretKey,
		"AWS_REGION=" + s.Region,
	}
}

// URI is s3://BUCKET/prefix on the server's bucket.
func (s *Server) URI(prefix string) string {
	if prefix == "" {
		return "s3://" + s.Bucket
	}
	return "s3://" + s.Bucket + "/" + strings.Trim(prefix, "/")
}

// environWithout is the process's environment less the variables starting
// with any of prefixes.
func environWithout(prefixes ...string) []string {
	var env []string
next:
	for _, kv := range os.Environ() {
		for _, p := range prefixes {
			if strings.HasPrefix(kv, p) {
				continue next
			}
		}
		env = append(env, kv)
	}
	return env
}

// tail is the last n lines of file.
func tail(file string, n int) string {
	b, err := os.ReadFile(file)
	if err != nil {
		return err.Error()
	}
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}
