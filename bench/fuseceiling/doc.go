// Command fuseceiling serves one read-only file of -size bytes from memory
// over FUSE, with the mount options clipfs uses (fs/mount/mount.go), for the shard
// benchmark in bench/run.sh: reading it is the fastest a go-fuse file can be
// read on this machine, the ceiling for clipfs's shards.
//
//	fuseceiling -size BYTES [-name file.tar] MOUNTPOINT
//
// Every read is answered with fuse.ReadResultData over one preallocated
// buffer (the same bytes at every offset), so the daemon does no work but
// the FUSE round trip. It serves until unmounted (umount MOUNTPOINT) or
// interrupted.
package main
