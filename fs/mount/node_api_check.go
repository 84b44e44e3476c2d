package mount

import fusefs "github.com/hanwen/go-fuse/v2/fs"

// The interfaces each node implements. Left out on purpose, because the tree
// is read-only (and mounted `ro`, so the kernel answers EROFS first):
// NodeSetattrer, NodeCreater, NodeMkdirer, NodeMknoder, NodeLinker,
// NodeSymlinker, NodeUnlinker, NodeRmdirer, NodeRenamer, NodeSetxattrer,
// NodeRemovexattrer, FileWriter, FileAllocater, FileFlusher.
var (
	_ = (fusefs.NodeGetattrer)((*dirNode)(nil))
	_ = (fusefs.NodeLookuper)((*dirNode)(nil))
	_ = (fusefs.NodeOpendirHandler)((*dirNode)(nil))
	_ = (fusefs.FileReaddirenter)((*dirHandle)(nil))
	_ = (fusefs.FileLookuper)((*dirHandle)(nil))
	_ = (fusefs.FileSeekdirer)((*dirHandle)(nil))
	_ = (fusefs.FileReleasedirer)((*dirHandle)(nil))

	_ = (fusefs.NodeGetattrer)((*blobNode)(nil))
	_ = (fusefs.NodeOpener)((*blobNode)(nil))
	_ = (fusefs.FileReader)((*blobHandle)(nil))
	_ = (fusefs.FilePassthroughFder)((*passthroughHandle)(nil))
	_ = (fusefs.FileReleaser)((*blobHandle)(nil))
	_ = (fusefs.FileReader)((*storeHandle)(nil))
	_ = (fusefs.FileReleaser)((*storeHandle)(nil))

	_ = (fusefs.NodeGetattrer)((*shardNode)(nil))
	_ = (fusefs.NodeOpener)((*shardNode)(nil))
	_ = (fusefs.NodeReader)((*shardNode)(nil))
	_ = (fusefs.NodeOnForgetter)((*shardNode)(nil))

	_ = (fusefs.NodeGetattrer)((*renderedNode)(nil))
	_ = (fusefs.NodeOpener)((*renderedNode)(nil))
	_ = (fusefs.NodeReader)((*renderedNode)(nil))
	_ = (fusefs.FileReleaser)((*renderedHandle)(nil))
)
