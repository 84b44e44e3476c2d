package index

import "time"

// uploads reports each unfinished upload the store keeps (UploadLister):
// what a writer killed during a Put left, stored and billed though no
// object shows it. The next writable open aborts them (sweep). Check runs
// on a database no writer holds, so none is a Put in progress.
func (c *checker) uploads() error {
	l, ok := c.db.blobs.(UploadLister)
	if !ok {
		return nil
	}
	return l.Uploads(c.ctx, func(name string, began time.Time) error {
		c.problem("upload "+name, "unfinished since %s, left by a writer killed during its put (the next writable open aborts it)",
			began.UTC().Format(time.RFC3339))
		return nil
	})
}
