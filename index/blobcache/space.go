package blobcache

import "os"

// The bytes counted in Cache.used are each entry's disk (its stored blocks,
// or its whole file) plus the reservations of Fetch calls in flight. They
// stay at or under Cache.max: room is made by evicting whole files, least
// recently used first, of entries nothing pins.

// admit counts n more stored bytes for e, from its reservation first, else
// making room; false when there is none (the bytes are then served but not
// kept). c.mu held.
func (c *Cache) admit(e *entry, n int64) bool {
	if e.gone {
		return false
	}
	fromReserve := min(n, e.reserved)
	rest := n - fromReserve
	if rest > 0 {
		c.evictFor(rest, e)
		if c.used+rest > c.max {
			return false
		}
		c.used += rest
	}
	e.reserved -= fromReserve
	e.disk += n
	return true
}

// unadmit takes back bytes admitted for a write that failed; c.mu held.
func (c *Cache) unadmit(e *entry, n int64) {
	e.disk -= n
	c.used -= n
}

// reserve holds room for the bytes e lacks, for a Fetch; false when there
// is none. Concurrent Fetch calls of one blob share the reservation.
// c.mu held.
func (c *Cache) reserve(e *entry) bool {
	var stored int64
	for b := range e.nblocks {
		if e.has(b) {
			stored += e.blockLen(b, c.opt.BlockSize)
		}
	}
	need := e.size - stored - e.reserved
	if e.gone {
		return false
	}
	if need > 0 {
		c.evictFor(need, e)
		if c.used+need > c.max {
			return false
		}
		c.used += need
		e.reserved += need
	}
	e.fetchers++
	return true
}

// unreserve ends a Fetch's reservation: the last one gives back what its
// fetches did not use. c.mu held.
func (c *Cache) unreserve(e *entry) {
	if e.fetchers--; e.fetchers == 0 {
		c.used -= e.reserved
		e.reserved = 0
	}
}

// evictFor evicts least recently used files until n more bytes fit, sparing
// keep and every entry pinned or reserved; c.mu held.
func (c *Cache) evictFor(n int64, keep *entry) {
	for el := c.lru.Back(); el != nil && c.used+n > c.max; {
		e := el.Value.(*entry)
		el = el.Prev()
		if e != keep && e.pins == 0 && e.reserved == 0 && e.onDisk() {
			c.drop(e)
			c.stats.Evictions++
		}
	}
}

// drop deletes an entry's files: an unpinned one's bytes are given back at
// once (its readers, if any, fetch again); a pinned one's (its blob was
// removed while read) once the last read or fetch of it ends. c.mu held.
func (c *Cache) drop(e *entry) {
	c.unlink(e)
	c.idle(e)
}

// unlink takes e out of the table and deletes its files (open ones stay
// readable until closed); c.mu held.
func (c *Cache) unlink(e *entry) {
	c.unlist(e)
	if e.complete {
		os.Remove(c.completePath(e.name))
	} else if e.created {
		os.Remove(c.partialPath(e.name, dataExt))
		os.Remove(c.partialPath(e.name, mapExt))
	}
}
