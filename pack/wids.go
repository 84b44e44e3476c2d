package pack

// WidsShard is one entry of a wids shard index: the shard's URL relative to
// the index file's folder, its exact sample count, its size in bytes and
// the hex MD5 of its bytes ("" when not computed, written as null).
type WidsShard struct {
	URL      string
	NSamples int
	FileSize int64
	MD5      string
}

// widsKind and widsVersion identify the index format wids reads
// (wids.wids_specs, docs/formats.md §7).
const (
	widsKind    = "wids-shard-index-v1"
	widsVersion = 1
)

// WidsIndex returns the wids shard index for shards as JSON in this
// package's Python json.dumps(indent=4) style:
//
//	{"__kind__": "wids-shard-index-v1", "wids_version": 1, "name": name,
//	 "shardlist": [{Key: "url", Value: "nsamples", "filesize", "md5sum"}, ...]}
//
// in that key order, with no trailing newline.
func WidsIndex(name string, shards []WidsShard) []byte {
	list := make([]Object, len(shards))
	for i, s := range shards {
		var md5 any // null when unknown
		if s.MD5 != "" {
			md5 = s.MD5
		}
		list[i] = Object{
			{Key: "url", Value: s.URL},
			{Key: "nsamples", Value: s.NSamples},
			{Key: "filesize", Value: s.FileSize},
			{Key: "md5sum", Value: md5},
		}
	}
	return JSON(Object{
		{Key: "__kind__", Value: widsKind},
		{Key: "wids_version", Value: widsVersion},
		{Key: "name", Value: name},
		{Key: "shardlist", Value: list},
	})
}
