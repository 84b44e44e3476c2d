package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "seq":
		err = seq(os.Args[2:])
	case "ttfb":
		err = ttfb(os.Args[2:])
	case "ready":
		err = ready(os.Args[2:])
	case "ports":
		err = ports(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "s3get:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: s3get seq [-range BYTES] s3://BUCKET/PREFIX BLOB... | ttfb s3://BUCKET/PREFIX BLOB | ready s3://BUCKET/PREFIX | ports N")
	os.Exit(2)
}

// location splits s3://BUCKET/PREFIX into the bucket and the key prefix
// of its blobs folder.
func location(uri string) (bucket, blobs string, err error) {
	rest, ok := strings.CutPrefix(uri, "s3://")
	if !ok || rest == "" {
		return "", "", fmt.Errorf("%q is not s3://BUCKET/PREFIX", uri)
	}
	bucket, prefix, _ := strings.Cut(rest, "/")
	prefix = strings.Trim(prefix, "/")
	if prefix == "" {
		return bucket, "blobs/", nil
	}
	return bucket, prefix + "/blobs/", nil
}

// client is a minio client for the server the environment names.
func client() (*minio.Client, error) {
	ep := os.Getenv("AWS_ENDPOINT_URL")
	u, err := url.Parse(ep)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("AWS_ENDPOINT_URL %q is not a URL", ep)
	}
	region := os.Getenv("AWS_REGION")
	if region == "" {
		region = "us-east-1"
	}
	return minio.New(u.Host, &minio.Options{
		Creds:        credentials.NewStaticV4(os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY"), ""),
		Secure:       u.Scheme == "https",
		Region:       region,
		BucketLookup: minio.BucketLookupPath,
		MaxRetries:   1,
	})
}

func seq(args []string) error {
	fs := flag.NewFlagSet("seq", flag.ExitOnError)
	rng := fs.Int64("range", 16<<20, "bytes per ranged GET")
	fs.Parse(args)
	if fs.NArg() < 2 || *rng <= 0 {
		usage()
	}
	bucket, dir, err := location(fs.Arg(0))
	if err != nil {
		return err
	}
	cl, err := client()
	if err != nil {
		return err
	}
	ctx := context.Background()
	buf := make([]byte, 1<<20)
	var total int64
	start := time.Now()
	for _, name := range fs.Args()[1:] {
		key := dir + name
		info, err := cl.StatObject(ctx, bucket, key, minio.StatObjectOptions{})
		if err != nil {
			return fmt.Errorf("stat %s: %w", key, err)
		}
		for off := int64(0); off < info.Size; off += *rng {
			end := min(off+*rng, info.Size) - 1
			var o minio.GetObjectOptions
			if err := o.SetRange(off, end); err != nil {
				return err
			}
			obj, err := cl.GetObject(ctx, bucket, key, o)
			if err != nil {
				return fmt.Errorf("get %s: %w", key, err)
			}
			n, err := io.CopyBuffer(io.Discard, onlyReader{obj}, buf)
			obj.Close()
			if err != nil {
				return fmt.Errorf("get %s [%d, %d]: %w", key, off, end, err)
			}
			if n != end-off+1 {
				return fmt.Errorf("get %s [%d, %d]: %d bytes", key, off, end, n)
			}
			total += n
		}
	}
	fmt.Printf("%.1f\n", float64(total)/(1<<20)/time.Since(start).Seconds())
	return nil
}

// onlyReader hides everything but Read (io.Copy would use WriteTo).
type onlyReader struct{ io.Reader }

func ttfb(args []string) error {
	if len(args) != 2 {
		usage()
	}
	bucket, dir, err := location(args[0])
	if err != nil {
		return err
	}
	cl, err := client()
	if err != nil {
		return err
	}
	start := time.Now()
	obj, err := cl.GetObject(context.Background(), bucket, dir+args[1], minio.GetObjectOptions{})
	if err != nil {
		return err
	}
	defer obj.Close()
	var b [1]byte
	if _, err := io.ReadFull(obj, b[:]); err != nil {
		return fmt.Errorf("get %s: %w", dir+args[1], err)
	}
	fmt.Printf("%.6f\n", time.Since(start).Seconds())
	return nil
}

func ready(args []string) error {
	if len(args) != 1 {
		usage()
	}
	bucket, _, err := location(args[0])
	if err != nil {
		return err
	}
	cl, err := client()
	if err != nil {
		return err
	}
	deadline := time.Now().Add(60 * time.Second)
	last := errors.New("no answer")
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		ok, err := cl.BucketExists(ctx, bucket)
		cancel()
		if ok {
			return nil
		}
		if last = err; err == nil {
			last = fmt.Errorf("bucket %s not there yet", bucket)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("the server did not answer in 60 s: %v", last)
}

func ports(args []string) error {
	if len(args) != 1 {
		usage()
	}
	n, err := strconv.Atoi(args[0])
	if err != nil || n <= 0 {
		usage()
	}
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		ls = append(ls, l)
		fmt.Println(l.Addr().(*net.TCPAddr).Port)
	}
	return nil
}
