package mount

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/clipfs/clipfs/fs/tree"
	"github.com/clipfs/clipfs/index"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// Options configure Mount.
type Options struct {
	// Out is the output root written into clip_location; default the mountpoint.
	Out string
	// Debug logs every FUSE request (go-fuse's debug output).
	Debug bool
	// NoPassthrough serves blobs by pread even where FUSE passthrough works.
	NoPassthrough bool
	// NoSplice copies blob data into replies (pread, then writev) even
	// where splicing it to the kernel works: for comparison, and for a
	// kernel whose splice misbehaves.
	NoSplice bool
	// AllowOther lets users other than the one who mounted read the tree
	// (FUSE's allow_other; the files are world-readable). Without it the
	// kernel refuses every other user, root included. A mount by a user
	// other than root needs user_allow_other in /etc/fuse.conf for it.
	AllowOther bool
	// Logger receives data problems (Warn) and mount events (Info); nil is silent.
	Logger *slog.Logger
	// Live follows commits made while mounted (clipfs serve): new clips,
	// metas and shards show at once, through the kernel's invalidation
	// notices. Without it the tree is taken as immutable.
	Live bool
	// Observe, if set, is told of every FUSE operation: its name ("lookup",
	// "read", ...) and how long serving it took.
	Observe func(op string, d time.Duration)
}

// cacheTimeout is how long the kernel may keep entries and attributes: the
// tree does not change while mounted.
const cacheTimeout = time.Hour

// readAheadKB is the kernel readahead set on the mount's backing device.
const readAheadKB = 1024

// maxBackground is how many asynchronous requests (readahead) the kernel
// keeps in flight to the mount; it starts throttling at three quarters of
// it. go-fuse's default is 12.
const maxBackground = 64

// servedTree is the tree a mount serves and how it serves it; every node
// holds it.
type servedTree struct {
	*tree.Tree
	log *slog.Logger
	// passthrough serves blobs with FUSE passthrough (set by Mount).
	passthrough bool
	// live: the index changes while mounted (Options.Live).
	live bool
	// splice: blob data goes to the kernel by splice (fileResult).
	splice bool
}

func newServedTree(t *tree.Tree, log *slog.Logger) *servedTree {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &servedTree{Tree: t, log: log}
}

// Server is a mount being served.
type Server struct {
	srv        *fuse.Server
	Mountpoint string // absolute
	tree       *tree.Tree
	fs         *rawFS
	log        *slog.Logger
	stop       context.CancelFunc
}

// Wait returns once the mount is gone (Unmount, or `umount` from outside).
func (s *Server) Wait() {
	s.srv.Wait()
	s.stop()
}

// Unmount detaches the mount; it fails while files are open on it.
func (s *Server) Unmount() error { return s.srv.Unmount() }

// Mount serves db read-only at mountpoint until the returned server is
// unmounted (Server.Unmount, or `umount` from outside).
func Mount(db *index.DB, mountpoint string, o Options) (*Server, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	mnt, err := checkMountpoint(mountpoint, o.Logger)
	if err != nil {
		return nil, err
	}
	if o.Out == "" {
		o.Out = mnt
	}
	root := os.Geteuid() == 0
	if !root {
		if _, err := exec.LookPath("fusermount3"); err != nil {
			return nil, fmt.Errorf("mount %s: a user other than root mounts through fusermount3, which is not on PATH (apt-get install fuse3)", mnt)
		}
		if o.AllowOther && !fuseConfAllowsOther() {
			return nil, fmt.Errorf("mount %s: --allow-other by a user other than root needs a line user_allow_other in /etc/fuse.conf", mnt)
		}
		// Passthrough needs CAP_SYS_ADMIN (the kernel's backing-file ioctl).
		o.NoPassthrough = true
	}
	spliceWrite, canSplice := spliceMaxWrite()
	canSplice = canSplice && !o.NoSplice
	write := maxWrite
	if canSplice {
		write = spliceWrite
	}
	opts := &fuse.MountOptions{
		FsName:     "clipfs",
		Name:       "clipfs",
		Options:    []string{"ro", "default_permissions"},
		AllowOther: o.AllowOther,
		// root mounts with mount(2) itself; others through fusermount3
		DirectMount:   root,
		DisableXAttrs: true,
		DisableSplice: !canSplice,
		MaxWrite:      write,
		MaxReadAhead:  write,
		MaxBackground: maxBackground,
		Debug:         o.Debug,
	}
	served := newServedTree(tree.New(db, o.Out), o.Logger)
	served.passthrough, served.live, served.splice = !o.NoPassthrough, o.Live, canSplice
	fs := newFS(served, fsTimeouts{entry: cacheTimeout, attr: cacheTimeout, negative: time.Second}, time.Now().Unix())
	var raw fuse.RawFileSystem = fs
	if o.Observe != nil {
		raw = &timedFS{RawFileSystem: raw, observe: o.Observe}
	}
	srv, err := fuse.NewServer(raw, mnt, opts)
	if err != nil {
		return nil, fmt.Errorf("mount %s: %w", mnt, err)
	}
	go srv.Serve()
	if err := srv.WaitMount(); err != nil {
		return nil, fmt.Errorf("mount %s: %w", mnt, err)
	}
	if root { // the backing device's readahead is root's to set
		if err := raiseReadAhead(mnt); err != nil {
			o.Logger.Info("kernel readahead left at its default", "mountpoint", mnt, "reason", err)
		}
	}
	ctx, stop := context.WithCancel(context.Background())
	s := &Server{srv: srv, Mountpoint: mnt, tree: served.Tree, fs: fs, log: o.Logger, stop: stop}
	if o.Live {
		go s.follow(ctx, db)
	}
	return s, nil
}

// checkMountpoint returns mountpoint as an absolute path if it is an
// existing folder with nothing mounted on it.
func checkMountpoint(mountpoint string, log *slog.Logger) (string, error) {
	mnt, err := filepath.Abs(mountpoint)
	if err != nil {
		return "", fmt.Errorf("mountpoint %s: %w", mountpoint, err)
	}
	fstype, err := mountedType(mnt)
	if err != nil {
		return "", err
	}
	if fstype == "fuse.clipfs" && isDeadMount(mnt) {
		// Left by a clipfs killed with SIGKILL: nothing serves it any more.
		if err := Detach(mnt); err != nil {
			return "", fmt.Errorf("mountpoint %s holds a dead clipfs mount (its server was killed) that cannot be detached: %w (try: fusermount3 -u -z %s)", mnt, err, mnt)
		}
		log.Info("detached a dead clipfs mount left by a killed server", "mountpoint", mnt)
		fstype = ""
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
	if fstype != "" {
		return "", fmt.Errorf("mountpoint %s is already mounted (unmount it first: umount %s)", mnt, mnt)
	}
	return mnt, nil
}

// Detach unmounts mnt lazily (MNT_DETACH): it goes from the namespace now
// and from the kernel once its last file is closed. A user other than root
// goes through fusermount3 -u -z.
func Detach(mnt string) error {
	err := syscall.Unmount(mnt, syscall.MNT_DETACH)
	if err == nil || !errors.Is(err, syscall.EPERM) {
		return err
	}
	out, ferr := exec.Command("fusermount3", "-u", "-z", mnt).CombinedOutput()
	if ferr != nil {
		return fmt.Errorf("fusermount3 -u -z: %v: %s", ferr, strings.TrimSpace(string(out)))
	}
	return nil
}

// fuseConfAllowsOther reports whether /etc/fuse.conf has user_allow_other,
// which fusermount3 needs to pass allow_other for a user other than root.
func fuseConfAllowsOther() bool {
	b, err := os.ReadFile("/etc/fuse.conf")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.TrimSpace(line) == "user_allow_other" {
			return true
		}
	}
	return false
}

// isDeadMount reports whether the FUSE mount at mnt has lost its server.
// statfs always asks the server (stat may be answered from the kernel's
// attribute cache); the first request after the server died fails with
// ECONNABORTED, later ones with ENOTCONN.
func isDeadMount(mnt string) bool {
	var st syscall.Statfs_t
	err := syscall.Statfs(mnt, &st)
	return errors.Is(err, syscall.ENOTCONN) || errors.Is(err, syscall.ECONNABORTED)
}

// mountedType is the filesystem type mounted at path ("" for none), from
// /proc/self/mountinfo.
func mountedType(path string) (string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", fmt.Errorf("reading mount table: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	fstype := ""
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 && unescapeMountinfo(fields[4]) == path {
			fstype = "?"
			for i, f := range fields {
				if f == "-" && i+1 < len(fields) {
					fstype = fields[i+1]
				}
			}
			// keep going: the last mount on path is the visible one
		}
	}
	return fstype, sc.Err()
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
