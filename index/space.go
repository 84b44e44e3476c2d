package index

import (
	"fmt"
	"syscall"

	badger "github.com/dgraph-io/badger/v4"
)

// Space is what the filesystem holding the database has room for.
type Space struct {
	Free  uint64 // bytes available to this user (statfs f_bavail)
	Total uint64 // bytes of the filesystem
}

// Space reports the free and total bytes of the database's filesystem,
// where Badger and tmp/ live, and blobs/ with the default FolderStore.
func (db *DB) Space() (Space, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(db.dir, &st); err != nil {
		return Space{}, fmt.Errorf("index: statfs %s: %w", db.dir, err)
	}
	return Space{Free: st.Bavail * uint64(st.Bsize), Total: st.Blocks * uint64(st.Bsize)}, nil
}

// Headroom is the free space Badger is always left, whatever the caller's
// own limit: Badger writes its write-ahead log and value log through mmap,
// and on a full filesystem a write there is a SIGBUS that kills the
// process, not an error it can return. Open (for writing) and every commit
// refuse below it with an error wrapping ENOSPC instead.
const Headroom = 8 << 20

// roomForBadger fails, wrapping syscall.ENOSPC, when the filesystem has
// less than Headroom free.
func (db *DB) roomForBadger() error {
	sp, err := db.Space()
	if err != nil {
		return err
	}
	return headroomError(db.dir, sp)
}

func headroomError(dir string, sp Space) error {
	if sp.Free >= Headroom {
		return nil
	}
	return fmt.Errorf("index: %s: only %d KiB free on its filesystem; Badger needs %d MiB to write safely: %w",
		dir, sp.Free>>10, Headroom>>20, syscall.ENOSPC)
}

// update runs fn in a read-write transaction once there is Headroom.
func (db *DB) update(fn func(txn *badger.Txn) error) error {
	if db.readOnly {
		return ErrReadOnly
	}
	if err := db.roomForBadger(); err != nil {
		return err
	}
	return db.kv.Update(fn)
}
