package mount

import (
	"context"
	"errors"
	"strings"

	"github.com/clipfs/clipfs/fs/tree"
	"github.com/clipfs/clipfs/index"
)

// follow keeps a live mount's kernel caches true to the index: after each
// batch of commits it invalidates exactly the entries and folders that
// changed, until ctx is done.
func (s *Server) follow(ctx context.Context, db *index.DB) {
	err := db.WatchTree(ctx, s.fs.invalidate)
	if err != nil && ctx.Err() == nil {
		s.log.Warn("mount stopped following the index; new clips show after a remount", "err", err)
	}
}

// invalidate tells the kernel that changes happened in the index. For each
// changed name: a node the kernel holds drops its cached bytes and
// attributes (files open on it keep what they opened); a name the kernel
// does not hold loses any cached negative lookup. A folder whose names came
// or went loses its cached listing. Nodes the kernel never looked up need
// nothing.
//
// No lock is held while the kernel is told: a notice may wait for requests
// in flight on the same folder, and those take the mount's locks.
func (fs *rawFS) invalidate(changes []index.Change) {
	if fs.server == nil {
		return
	}
	fs.render.epoch.Add(1) // renders begun before these commits are not kept
	byDir := map[string]map[string]bool{}
	for _, c := range changes {
		if byDir[c.Dir] == nil {
			byDir[c.Dir] = map[string]bool{}
		}
		byDir[c.Dir][c.Name] = true
	}
	for dir, names := range byDir {
		d := fs.heldDir(dir)
		if d == 0 {
			continue
		}
		listing := false
		for name := range names {
			_, err := fs.t.Lookup(dir, name)
			gone := errors.Is(err, index.ErrNotFound)
			if err != nil && !gone {
				fs.t.log.Warn("live mount: reading a changed entry", "path", tree.ChildPath(dir, name), "err", err)
				continue
			}
			child := fs.nodes.heldChild(dir, name)
			switch {
			case child == 0:
				listing = true
				fs.server.EntryNotify(d, name)
			case gone:
				listing = true
				if !fs.server.DeleteNotify(d, child, name).Ok() {
					fs.server.EntryNotify(d, name) // ENOTEMPTY: a folder still in use
				}
			default:
				fs.refreshRendered(child)
				fs.server.InodeNotify(child, 0, 0)
			}
		}
		if listing {
			fs.server.InodeNotify(d, 0, 0)
		}
	}
}

// heldDir is the node ID of folder dir if the kernel holds it. Where it
// stops at an ancestor, the missing child may be new: the ancestor drops
// its negative lookup and listing for it, and 0 is returned. The kernel's
// answers are dropped: ENOENT means it held nothing to invalidate, and any
// other failure leaves an entry that expires by its timeout.
func (fs *rawFS) heldDir(dir string) uint64 {
	cur := uint64(rootID)
	if dir == "" {
		return cur
	}
	path := ""
	for _, name := range strings.Split(dir, "/") {
		path = tree.ChildPath(path, name)
		next := fs.nodes.heldFolder(path)
		if next == 0 {
			fs.server.EntryNotify(cur, name)
			fs.server.InodeNotify(cur, 0, 0)
			return 0
		}
		cur = next
	}
	return cur
}
