// Package treetest builds the small clipfs indexes the tests of fs/tree and
// fs/mount serve: one video whose clips (every third filtered) share a few
// blobs, with iv2 embeddings on the passed ones, over the index's own blob
// folder or any other index.BlobStore (RemoteStore: one without local
// files, as an object store would be).
//
// It is not a _test package so that the tests of both fs/tree and fs/mount
// can import it; it imports index only, and only tests import it.
package treetest
