package s3store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Options configure Open. The zero value takes everything from the
// environment and the shared AWS files, as the AWS SDKs do; a field set
// here wins over its environment variable.
type Options struct {
	// Endpoint is the S3 server's URL, http:// or https://, with no path:
	// "" takes AWS_ENDPOINT_URL_S3, then AWS_ENDPOINT_URL, then AWS's own
	// endpoint for the region (https://s3.REGION.amazonaws.com).
	Endpoint string
	// Region signs the requests: "" takes AWS_REGION, then
	// AWS_DEFAULT_REGION, then us-east-1.
	Region string
	// AccessKeyID and SecretAccessKey (and SessionToken for temporary
	// keys) are the credentials. Without them: AWS_ACCESS_KEY_ID,
	// AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN when both keys are set,
	// else the profile.
	AccessKeyID, SecretAccessKey, SessionToken string
	// Profile is the profile of the shared files to take credentials
	// from: "" takes AWS_PROFILE, then "default".
	Profile string
	// CredentialsFile is the one file holding the profile. "" reads the
	// shared files as the SDKs do: AWS_CONFIG_FILE (or ~/.aws/config)
	// overridden by AWS_SHARED_CREDENTIALS_FILE (or ~/.aws/credentials).
	CredentialsFile string
	// PathStyle addresses buckets as http://HOST/BUCKET/KEY on AWS too;
	// every other endpoint is always addressed so.
	PathStyle bool
	// PartSize is the size of a multipart upload's parts: a file larger
	// than one part goes up in parts, four at a time. 0 is
	// DefaultPartSize; the least is S3's 5 MiB.
	PartSize int64
	// RequestTimeout fails a request that makes no progress for this
	// long (no connection, no response, no byte sent or received); it is
	// then retried. 0 is DefaultRequestTimeout.
	RequestTimeout time.Duration
	// Attempts is how many times a request is tried before its error is
	// returned, with exponential backoff (0.2 s doubling, at most 1 s,
	// jittered) between tries, on network errors, timeouts, 5xx, 429 and
	// SlowDown. 0 is DefaultAttempts; 1 tries once.
	Attempts int
	// Logger receives a Debug line per operation and a Warn per read
	// retried; nil is silent.
	Logger *slog.Logger
}

const (
	DefaultPartSize       = 16 << 20
	DefaultRequestTimeout = 30 * time.Second
	DefaultAttempts       = 10
	defaultRegion         = "us-east-1"
	minPartSize           = 5 << 20
)

// config is Options resolved against the environment.
type config struct {
	endpoint  *url.URL
	region    string
	creds     *credentials.Credentials
	lookup    minio.BucketLookupType
	partSize  int64
	timeout   time.Duration
	attempts  int
	log       *slog.Logger
	credsFrom string // where the credentials came from, for error messages
}

func firstSet(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

func (o Options) resolve(ctx context.Context) (config, error) {
	c := config{
		region:   firstSet(o.Region, os.Getenv("AWS_REGION"), os.Getenv("AWS_DEFAULT_REGION"), defaultRegion),
		partSize: o.PartSize,
		timeout:  o.RequestTimeout,
		attempts: o.Attempts,
		log:      o.Logger,
	}
	if c.partSize == 0 {
		c.partSize = DefaultPartSize
	}
	if c.partSize < minPartSize {
		return config{}, fmt.Errorf("s3store: part size %d is below S3's least, %d (5 MiB)", c.partSize, minPartSize)
	}
	if c.timeout <= 0 {
		c.timeout = DefaultRequestTimeout
	}
	if c.attempts <= 0 {
		c.attempts = DefaultAttempts
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	var err error
	if c.endpoint, err = o.endpoint(c.region); err != nil {
		return config{}, err
	}
	c.lookup = minio.BucketLookupPath
	if isAWS(c.endpoint.Hostname()) && !o.PathStyle {
		c.lookup = minio.BucketLookupAuto
	}
	if c.creds, c.credsFrom, err = o.credentials(ctx); err != nil {
		return config{}, err
	}
	return c, nil
}

// endpoint is the server's URL: scheme and host only.
func (o Options) endpoint(region string) (*url.URL, error) {
	raw, from := o.Endpoint, "the endpoint"
	if raw == "" {
		raw, from = os.Getenv("AWS_ENDPOINT_URL_S3"), "AWS_ENDPOINT_URL_S3"
	}
	if raw == "" {
		raw, from = os.Getenv("AWS_ENDPOINT_URL"), "AWS_ENDPOINT_URL"
	}
	if raw == "" {
		return &url.URL{Scheme: "https", Host: "s3." + region + ".amazonaws.com"}, nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("s3store: %s %q is not an http:// or https:// URL of a server (HOST[:PORT], no path)", from, raw)
	}
	return &url.URL{Scheme: u.Scheme, Host: u.Host}, nil
}

func isAWS(host string) bool {
	return strings.HasSuffix(host, ".amazonaws.com") || strings.HasSuffix(host, ".amazonaws.com.cn")
}

// credentials picks the first complete source: Options, the environment,
// the profile. It retrieves them once here, so that a missing or broken
// source is an error of Open rather than of the first request; a profile
// whose keys expire (credential_process, SSO) is refreshed as they do.
func (o Options) credentials(ctx context.Context) (*credentials.Credentials, string, error) {
	if o.AccessKeyID != "" || o.SecretAccessKey != "" {
		if o.AccessKeyID == "" || o.SecretAccessKey == "" {
			return nil, "", errors.New("s3store: an access key ID needs its secret access key, and the other way round")
		}
		return credentials.NewStaticV4(o.AccessKeyID, o.SecretAccessKey, o.SessionToken), "the options", nil
	}
	id, secret := os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY")
	if id != "" || secret != "" {
		if id == "" || secret == "" {
			return nil, "", errors.New("s3store: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together (one of them is empty)")
		}
		return credentials.NewStaticV4(id, secret, os.Getenv("AWS_SESSION_TOKEN")), "the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)", nil
	}
	profile := firstSet(o.Profile, os.Getenv("AWS_PROFILE"), "default")
	files := o.CredentialsFile
	if files == "" {
		files = firstSet(os.Getenv("AWS_SHARED_CREDENTIALS_FILE"), "~/.aws/credentials") + " and " +
			firstSet(os.Getenv("AWS_CONFIG_FILE"), "~/.aws/config")
	}
	from := fmt.Sprintf("profile %q of %s", profile, files)
	creds := credentials.New(&credentials.FileAWSCredentials{Filename: o.CredentialsFile, Profile: profile})
	v, err := creds.GetWithContext(&credentials.CredContext{Context: ctx, Client: &http.Client{Timeout: time.Minute}})
	if err == nil && (v.AccessKeyID == "" || v.SecretAccessKey == "") {
		err = errors.New("it holds no aws_access_key_id and aws_secret_access_key")
	}
	if err != nil {
		if profile == "default" && o.Profile == "" && os.Getenv("AWS_PROFILE") == "" && errors.Is(err, os.ErrNotExist) {
			return nil, "", fmt.Errorf("s3store: no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE and a profile in ~/.aws/credentials")
		}
		return nil, "", fmt.Errorf("s3store: no credentials from %s: %s", from, oneLine(err))
	}
	return creds, from, nil
}

// oneLine is err's text with line breaks folded, for one-line messages.
func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}
