package mount

import (
	"context"
	"errors"
	"strings"
	"syscall"

	"github.com/clipfs/clipfs/fs/tree"
	"github.com/clipfs/clipfs/index"
	fusefs "github.com/hanwen/go-fuse/v2/fs"
)

// follow keeps a live mount's kernel caches true to the index: after each
// batch of commits it invalidates exactly the entries and folders that
// changed, until ctx is done.
func (s *Server) follow(ctx context.Context, db *index.DB) {
	err := db.WatchTree(ctx, s.invalidate)
	if err != nil && ctx.Err() == nil {
		s.log.Warn("mount stopped following the index; new clips show after a remount", "err", err)
	}
}

// invalidate tells the kernel that changes happened in the index. For each
// changed name: a node the kernel holds takes the new entry and drops its
// cached bytes and attributes (files open on it keep what they opened); a
// name the kernel does not hold loses any cached negative lookup. A folder
// whose names came or went loses its cached listing. Inodes the kernel never
// looked up need nothing.
func (s *Server) invalidate(changes []index.Change) {
	byDir := map[string]map[string]bool{}
	for _, c := range changes {
		if byDir[c.Dir] == nil {
			byDir[c.Dir] = map[string]bool{}
		}
		byDir[c.Dir][c.Name] = true
	}
	for dir, names := range byDir {
		d := s.loadedDir(dir)
		if d == nil {
			continue
		}
		listing := false
		for name := range names {
			e, err := s.tree.Lookup(dir, name)
			gone := errors.Is(err, index.ErrNotFound)
			if err != nil && !gone {
				s.log.Warn("live mount: reading a changed entry", "path", tree.ChildPath(dir, name), "err", err)
				continue
			}
			child := d.GetChild(name)
			switch {
			case child == nil:
				listing = true
				ignoreENOENT(d.NotifyEntry(name))
			case gone:
				listing = true
				if errno := d.NotifyDelete(name, child); errno != 0 {
					ignoreENOENT(d.NotifyEntry(name)) // ENOTEMPTY: a folder still in use
				}
			default:
				if f, ok := child.Operations().(fileNode); ok {
					f.refresh(e)
				}
				ignoreENOENT(child.NotifyContent(0, 0))
			}
		}
		if listing {
			ignoreENOENT(d.NotifyContent(0, 0))
		}
	}
}

// loadedDir is the inode of folder dir if the kernel holds it. Where it
// stops at an ancestor, the missing child may be new: the ancestor drops
// its negative lookup and listing for it, and nil is returned.
func (s *Server) loadedDir(dir string) *fusefs.Inode {
	cur := s.root.EmbeddedInode()
	if dir == "" {
		return cur
	}
	for _, name := range strings.Split(dir, "/") {
		next := cur.GetChild(name)
		if next == nil {
			ignoreENOENT(cur.NotifyEntry(name))
			ignoreENOENT(cur.NotifyContent(0, 0))
			return nil
		}
		cur = next
	}
	return cur
}

// ignoreENOENT drops the kernel's answer to a notification: ENOENT means
// it held nothing to invalidate, and any other failure leaves an entry that
// expires by its timeout.
func ignoreENOENT(syscall.Errno) {}
