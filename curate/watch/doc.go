// Package watch tells the curation daemon when a file in its input folder is
// ready: it follows a folder tree with inotify and reports each matching
// regular file once it has stopped changing, and again whenever it later
// changes (a new size or mtime) and settles again.
//
// # How a file becomes ready
//
// A file becomes a candidate when an event names it (IN_CREATE or IN_MODIFY:
// being written; IN_CLOSE_WRITE or IN_MOVED_TO: closed; IN_ATTRIB: neither,
// its state is only refreshed) or when a walk of the tree finds it (closed).
// Every event resets the candidate's quiet clock, and so does a change of
// size or mtime seen by the periodic check (every Settle/4, at least 50 ms,
// only while there are candidates). A candidate is reported when two
// successive checks agree on (size, mtime) and it has been quiet for Settle,
// or for OpenWrite when no IN_CLOSE_WRITE has been seen since it was last
// written. A file that settles empty is dropped unreported (its next write
// brings it back), as is one whose (size, mtime) equals what was last
// reported for it. Deleting or moving a file away forgets it, and so does
// renaming another file over it: the file then at that path is new.
//
// # Missed events
//
// A folder created or moved into the tree is watched (with everything below
// it) and walked at once, since files may have appeared in it before its
// watch existed. The periodic rescan, and an immediate one after
// IN_Q_OVERFLOW, walks the whole tree: it watches folders that lack a watch
// (a watch limit reached earlier, for instance), makes a candidate of every
// matching file whose (size, mtime) differs from what was last reported, and
// forgets files and watches of folders that no longer exist.
//
// # Invariants
//
// All state belongs to the goroutine running [Watcher.Run]; only the pending
// count is shared, through an atomic. Run never spins: it sleeps in poll(2)
// on the inotify descriptor and an eventfd that the context's cancellation
// signals, with a timeout only while a check or rescan is due. Symbolic links
// are never followed, except the root itself when it names a folder. The
// package reads the tree and never writes to it, and imports nothing of
// clipfs.
package watch
