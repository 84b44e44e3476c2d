package index

import (
	"bytes"
	"os"
	"strings"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/pb"
)

// What a replica tells WatchTree: the watched keys an increment wrote or
// deleted, or those that differ between the store a rebuild replaced and
// the new one.

// watchedPrefixes are the keys whose changes WatchTree reports (changesOf).
var watchedPrefixes = []string{"k/", "n/", "S/"}

// changedKeys reads the watched keys an increment writes or deletes, each
// with its newest value (nil when deleted).
func changedKeys(path string) (map[string][]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string][]byte{}
	version := map[string]uint64{}
	err = scanBackup(f, func(kv *pb.KV) error {
		k := string(kv.Key)
		if !watched(k) {
			return nil
		}
		if v, ok := version[k]; ok && v >= kv.Version {
			return nil
		}
		version[k] = kv.Version
		out[k] = kv.Value
		return nil
	})
	return out, err
}

func watched(key string) bool {
	for _, p := range watchedPrefixes {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}

// diff is the watched keys whose value differs between the store served
// and cur, with their value in cur (nil when cur has none).
func (r *Replica) diff(cur *badger.DB) (map[string][]byte, error) {
	out := map[string][]byte{}
	err := r.db.view(func(ot *badger.Txn) error { // through the gate: a Close waits for it
		return cur.View(func(ct *badger.Txn) error {
			for _, p := range watchedPrefixes {
				if err := diffPrefix(ot, ct, []byte(p), out); err != nil {
					return err
				}
			}
			return nil
		})
	})
	return out, err
}

func diffPrefix(ot, ct *badger.Txn, prefix []byte, out map[string][]byte) error {
	opts := badger.DefaultIteratorOptions
	opts.Prefix = prefix
	oi, ci := ot.NewIterator(opts), ct.NewIterator(opts)
	defer oi.Close()
	defer ci.Close()
	oi.Rewind()
	ci.Rewind()
	for oi.Valid() || ci.Valid() {
		c := 0
		switch {
		case !ci.Valid():
			c = -1
		case !oi.Valid():
			c = 1
		default:
			c = bytes.Compare(oi.Item().Key(), ci.Item().Key())
		}
		if c < 0 { // gone
			out[string(oi.Item().Key())] = nil
			oi.Next()
			continue
		}
		cv, err := ci.Item().ValueCopy(nil)
		if err != nil {
			return err
		}
		if c == 0 {
			ov, err := oi.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			oi.Next()
			if bytes.Equal(ov, cv) {
				ci.Next()
				continue
			}
		}
		out[string(ci.Item().Key())] = cv
		ci.Next()
	}
	return nil
}

// announce hands the tree entries of the changed keys to WatchTree, now
// that readers see them.
func (r *Replica) announce(changed map[string][]byte, st *PollStats) {
	var cs []Change
	for k, v := range changed {
		cs = append(cs, r.db.changesOf([]byte(k), v)...)
	}
	st.Changes += len(cs)
	r.db.feed.publish(cs)
}
