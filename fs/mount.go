package fs

import (
	"bufio"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/clipfs/clipfs/index"
	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// MountOptions configure Mount.
type MountOptions struct {
	// Out is the output root written into clip_location; default the mountpoint.
	Out string
	// Debug logs every FUSE request (go-fuse's debug output).
	Debug bool
	// NoPassthrough serves blobs by pread even where FUSE passthrough works.
	NoPassthrough bool
	// Logger receives data problems (Warn) and mount events (Info); nil is silent.
	Logger *slog.Logger
}

// cacheTimeout is how long the kernel may keep entries and attributes: the
// tree does not change while mounted.
const cacheTimeout = time.Hour

// readAheadKB is the kernel readahead set on the mount's backing device.
const readAheadKB = 1024

// NewRoot returns the root node of db's tree, for Mount or for tests that
// build the tree with fusefs.NewNodeFS without mounting.
func NewRoot(t *Tree) fusefs.InodeEmbedder {
	return &dirNode{t: t, path: "", mtime: time.Now().Unix()}
}

// Server is a live mount.
type Server struct {
	srv        *fuse.Server
	Mountpoint string // absolute
}

// Wait returns once the mount is gone (Unmount, or `umount` from outside).
func (s *Server) Wait() { s.srv.Wait() }

// Unmount detaches the mount; it fails while files are open on it.
func (s *Server) Unmount() error { return s.srv.Unmount() }

// Mount serves db read-only at mountpoint until the returned server is
// unmounted (Server.Unmount, or `umount` from outside).
func Mount(db *index.DB, mountpoint string, o MountOptions) (*Server, error) {
	mnt, err := checkMountpoint(mountpoint)
	if err != nil {
		return nil, err
	}
	if o.Out == "" {
		o.Out = mnt
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	timeout := cacheTimeout
	negative := time.Second
	opts := &fusefs.Options{
		EntryTimeout:    &timeout,
		AttrTimeout:     &timeout,
		NegativeTimeout: &negative,
		MountOptions: fuse.MountOptions{
			FsName:        "clipfs",
			Name:          "clipfs",
			Options:       []string{"ro", "default_permissions"},
			AllowOther:    os.Geteuid() == 0,
			DirectMount:   true,
			DisableXAttrs: true,
			DisableSplice: true, // replies are in-memory data or passthrough; 1 MiB + header overflows a pipe
			MaxWrite:      1 << 20,
			MaxReadAhead:  1 << 20,
			Debug:         o.Debug,
		},
	}
	tree := NewTree(db, o.Out, o.Logger)
	tree.passthrough = !o.NoPassthrough
	srv, err := fusefs.Mount(mnt, NewRoot(tree), opts)
	if err != nil {
		return nil, fmt.Errorf("mount %s: %w", mnt, err)
	}
	if err := raiseReadAhead(mnt); err != nil {
		o.Logger.Info("kernel readahead left at its default", "mountpoint", mnt, "reason", err)
	}
	return &Server{srv: srv, Mountpoint: mnt}, nil
}

// checkMountpoint returns mountpoint as an absolute path if it is an
// existing folder with nothing mounted on it.
func checkMountpoint(mountpoint string) (string, error) {
	mnt, err := filepath.Abs(mountpoint)
	if err != nil {
		return "", fmt.Errorf("mountpoint %s: %w", mountpoint, err)
	}
	st, err := os.Stat(mnt)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return "", fmt.Errorf("mountpoint %s does not exist (create the folder first)", mnt)
	case err != nil:
		return "", fmt.Errorf("mountpoint %s: %w", mnt, err)
	case !st.IsDir():
		return "", fmt.Errorf("mountpoint %s is not a folder", mnt)
	}
	mounted, err := isMountpoint(mnt)
	if err != nil {
		return "", err
	}
	if mounted {
		return "", fmt.Errorf("mountpoint %s is already mounted (unmount it first: umount %s)", mnt, mnt)
	}
	return mnt, nil
}

// isMountpoint reports whether path is listed in /proc/self/mountinfo.
func isMountpoint(path string) (bool, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return false, fmt.Errorf("reading mount table: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 && unescapeMountinfo(fields[4]) == path {
			return true, nil
		}
	}
	return false, sc.Err()
}

// unescapeMountinfo undoes the octal escapes (\040 for space) of mountinfo.
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// raiseReadAhead sets the FUSE connection's readahead (its backing-device
// info, named after the mount's device number) to readAheadKB.
func raiseReadAhead(mnt string) error {
	var st syscall.Stat_t
	if err := syscall.Stat(mnt, &st); err != nil {
		return err
	}
	major, minor := (st.Dev>>8)&0xfff, (st.Dev&0xff)|((st.Dev>>12)&0xfff00)
	p := fmt.Sprintf("/sys/class/bdi/%d:%d/read_ahead_kb", major, minor)
	return os.WriteFile(p, []byte(strconv.Itoa(readAheadKB)), 0o644)
}
