package s3store

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/minio/minio-go/v7/pkg/s3utils"
)

// Location is a folder of a bucket, as an s3://BUCKET/PREFIX URI names it.
type Location struct {
	Bucket string
	// Prefix is the folder's key prefix without leading or trailing
	// slashes; "" is the whole bucket.
	Prefix string
}

// ParseURI reads s3://BUCKET[/PREFIX][/]. The prefix is a slash-separated
// path of non-empty parts, none of them "." or ".."; a trailing slash is
// dropped. Queries, fragments, user info and ports are refused.
func ParseURI(uri string) (Location, error) {
	bad := func(why string) (Location, error) {
		return Location{}, fmt.Errorf("s3store: %q is not an s3://BUCKET/PREFIX URI: %s", uri, why)
	}
	u, err := url.Parse(uri)
	if err != nil {
		return bad("it does not parse as a URL")
	}
	switch {
	case u.Scheme != "s3":
		return bad("the scheme must be s3://")
	case u.Opaque != "":
		return bad("the scheme must be followed by //")
	case u.User != nil || u.Port() != "":
		return bad("a bucket has no user or port (the server is AWS_ENDPOINT_URL)")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return bad("no ? or # parts are allowed")
	case u.Host == "":
		return bad("no bucket")
	}
	if err := s3utils.CheckValidBucketNameStrict(u.Host); err != nil {
		return bad(fmt.Sprintf("bucket %q: %v", u.Host, err))
	}
	prefix := strings.TrimSuffix(strings.TrimPrefix(u.Path, "/"), "/")
	if prefix != "" {
		if err := checkFolder(prefix); err != nil {
			return bad(err.Error())
		}
	}
	return Location{Bucket: u.Host, Prefix: prefix}, nil
}

// checkFolder refuses a folder path that would not map to one key
// prefix: empty parts (a//b, a leading or trailing slash), "." and "..".
func checkFolder(dir string) error {
	for part := range strings.SplitSeq(dir, "/") {
		if part == "" || part == "." || part == ".." || strings.ContainsRune(part, 0) {
			return fmt.Errorf("folder %q has an empty, \".\" or \"..\" part", dir)
		}
	}
	return nil
}

// String is the location as a URI: s3://BUCKET/PREFIX.
func (l Location) String() string {
	if l.Prefix == "" {
		return "s3://" + l.Bucket
	}
	return "s3://" + l.Bucket + "/" + l.Prefix
}

// folder is the key prefix of folder dir under the location, ending in a
// slash: PREFIX/dir/.
func (l Location) folder(dir string) string {
	if l.Prefix == "" {
		return dir + "/"
	}
	return l.Prefix + "/" + dir + "/"
}
