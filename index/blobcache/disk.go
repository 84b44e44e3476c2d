package blobcache

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/google/uuid"
	"golang.org/x/sys/unix"
)

const (
	lockFile   = "LOCK"
	blobsDir   = "blobs"
	partialDir = "partial"
	tmpDir     = "tmp"
	dataExt    = ".data"
	mapExt     = ".map"
	// mapMagic starts a block map; the blob's size and the block size
	// follow as little-endian uint64s, then one byte per block.
	mapMagic     = "clipfs blobcache map 1\n"
	mapHeaderLen = int64(len(mapMagic) + 16)
)

func mapHeader(size, blockSize int64) []byte {
	b := []byte(mapMagic)
	b = binary.LittleEndian.AppendUint64(b, uint64(size))
	return binary.LittleEndian.AppendUint64(b, uint64(blockSize))
}

// completePath is where blob name's complete file lives.
func (c *Cache) completePath(name string) string {
	if len(name) < 2 {
		return filepath.Join(c.dir, blobsDir, "__", name)
	}
	return filepath.Join(c.dir, blobsDir, name[:2], name)
}

func (c *Cache) partialPath(name, ext string) string {
	return filepath.Join(c.dir, partialDir, name+ext)
}

func checkName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
		return fmt.Errorf("blobcache: %q is not a blob name", name)
	}
	return nil
}

// bootID names the running kernel's boot; "" where it cannot be read.
func bootID() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// openDir takes the folder: locks it, discards it whole after an unclean
// session of another boot, sweeps tmp/ and loads what it holds.
func (c *Cache) openDir() error {
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return fmt.Errorf("blobcache: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(c.dir, lockFile), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("blobcache: %w", err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		return fmt.Errorf("blobcache: %s is in use by another cache: %w", c.dir, err)
	}
	if err := c.startSession(lock); err != nil {
		lock.Close()
		return fmt.Errorf("blobcache: %s: %w", c.dir, err)
	}
	c.lock = lock
	if err := c.load(); err != nil {
		c.closeDir()
		return fmt.Errorf("blobcache: %s: %w", c.dir, err)
	}
	return nil
}

// startSession reads the mark of the last session (the boot id it began
// under, left there unless it closed cleanly) and writes this one's. Files
// of an unclean session of another boot may have lost writes to a crash of
// the machine: they are all deleted.
func (c *Cache) startSession(lock *os.File) error {
	prev, err := io.ReadAll(lock)
	if err != nil {
		return err
	}
	boot := bootID()
	if len(prev) > 0 && (boot == "" || string(prev) != boot) {
		c.log.Warn("blobcache: the last session ended uncleanly under another boot; discarding the cache", "dir", c.dir)
		for _, d := range []string{blobsDir, partialDir} {
			if err := os.RemoveAll(filepath.Join(c.dir, d)); err != nil {
				return err
			}
		}
	}
	if err := os.RemoveAll(filepath.Join(c.dir, tmpDir)); err != nil {
		return err
	}
	if boot == "" {
		boot = "unknown"
	}
	if err := lock.Truncate(0); err != nil {
		return err
	}
	if _, err := lock.WriteAt([]byte(boot), 0); err != nil {
		return err
	}
	return lock.Sync()
}

// closeDir flushes the folder's filesystem, clears the session's mark and
// unlocks.
func (c *Cache) closeDir() error {
	err := unix.Syncfs(int(c.lock.Fd()))
	if err == nil {
		err = c.lock.Truncate(0)
	}
	if err == nil {
		err = c.lock.Sync()
	}
	if cerr := c.lock.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("blobcache: closing %s: %w", c.dir, err)
	}
	return nil
}

// load makes entries of the complete files (least recently modified
// last in the LRU list) and of the partial ones whose maps hold; anything
// else is deleted.
func (c *Cache) load() error {
	type found struct {
		name  string
		size  int64
		mtime int64
	}
	var complete []found
	root := filepath.Join(c.dir, blobsDir)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p == root {
				return nil
			}
			return err
		}
		if d.IsDir() {
			return nil
		}
		st, err := d.Info()
		if err != nil {
			return err
		}
		if !st.Mode().IsRegular() || checkName(d.Name()) != nil || c.completePath(d.Name()) != p {
			return os.Remove(p)
		}
		complete = append(complete, found{d.Name(), st.Size(), st.ModTime().UnixNano()})
		return nil
	})
	if err != nil {
		return err
	}
	slices.SortFunc(complete, func(a, b found) int { return cmp.Compare(a.mtime, b.mtime) })
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, f := range complete {
		e := c.newEntry(f.name, f.size)
		e.complete, e.present, e.disk = true, nil, f.size
		c.used += f.size
	}
	return c.loadPartials()
}

// loadPartials makes entries of partial files from their block maps; a
// map that does not hold (another block size, a data file of another
// size, a blob complete already) is deleted with its data. c.mu held.
func (c *Cache) loadPartials() error {
	ents, err := os.ReadDir(filepath.Join(c.dir, partialDir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	for _, d := range ents {
		name, isMap := strings.CutSuffix(d.Name(), mapExt)
		if !isMap {
			if n, isData := strings.CutSuffix(d.Name(), dataExt); !isData || !c.hasMap(n) {
				os.Remove(filepath.Join(c.dir, partialDir, d.Name()))
			}
			continue
		}
		if err := c.loadPartial(name); err != nil {
			c.log.Debug("blobcache: partial file discarded", "blob", name, "why", err)
			os.Remove(c.partialPath(name, mapExt))
			os.Remove(c.partialPath(name, dataExt))
		}
	}
	return nil
}

func (c *Cache) hasMap(name string) bool {
	_, err := os.Lstat(c.partialPath(name, mapExt))
	return err == nil
}

func (c *Cache) loadPartial(name string) error {
	if checkName(name) != nil {
		return errors.New("not a blob name")
	}
	if c.entries[name] != nil {
		return errors.New("complete already")
	}
	m, err := os.ReadFile(c.partialPath(name, mapExt))
	if err != nil {
		return err
	}
	if int64(len(m)) < mapHeaderLen || !bytes.HasPrefix(m, []byte(mapMagic)) {
		return errors.New("not a block map")
	}
	size := int64(binary.LittleEndian.Uint64(m[len(mapMagic):]))
	bs := int64(binary.LittleEndian.Uint64(m[len(mapMagic)+8:]))
	if bs != c.opt.BlockSize || size < 0 || size > 1<<50 {
		return fmt.Errorf("block size %d, size %d", bs, size)
	}
	st, err := os.Lstat(c.partialPath(name, dataExt))
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() || st.Size() != size {
		return fmt.Errorf("data file of %d bytes, blob of %d", st.Size(), size)
	}
	e := c.newEntry(name, size)
	if int64(len(m)) != mapHeaderLen+int64(e.nblocks) {
		c.unlist(e)
		return errors.New("block map of the wrong length")
	}
	e.created = true
	for b, v := range m[mapHeaderLen:] {
		if v == 1 {
			e.present[b] = true
			e.npresent++
			e.disk += e.blockLen(b, bs)
		}
	}
	c.used += e.disk
	c.lru.MoveToBack(e.elem) // older than any complete file
	return nil
}

// linkTmp hard-links src into tmp/ (Put's copy); "" where it cannot.
func (c *Cache) linkTmp(src string) string {
	dir := filepath.Join(c.dir, tmpDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return ""
	}
	p := filepath.Join(dir, uuid.NewString())
	if err := os.Link(src, p); err != nil {
		return ""
	}
	return p
}

// adoptLink makes a put blob's link its complete file, if the cache holds
// nothing of it yet and has room; otherwise the link is deleted.
func (c *Cache) adoptLink(name, link string) {
	st, err := os.Stat(link)
	c.mu.Lock()
	defer c.mu.Unlock()
	kept := false
	defer func() {
		if !kept {
			os.Remove(link)
		}
	}()
	if err != nil || c.closed || c.entries[name] != nil || st.Size() > c.max {
		return
	}
	c.evictFor(st.Size(), nil)
	if c.used+st.Size() > c.max {
		return
	}
	dst := c.completePath(name)
	if os.MkdirAll(filepath.Dir(dst), 0o755) != nil || os.Rename(link, dst) != nil {
		return
	}
	kept = true
	e := c.newEntry(name, st.Size())
	e.complete, e.present, e.disk = true, nil, st.Size()
	c.used += e.disk
}
