package s3store

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/modferry/modferry/internal/store"
)

// Store is a store.Store in an S3 bucket. It implements
// store.CompareAndSwapper. Its methods are safe for concurrent use.
type Store struct {
	client   *s3.Client
	bucket   string
	prefix   string // "" or a key prefix without the trailing slash
	region   string
	endpoint string // for messages
	tempDir  string
}

// maxIdleConns is how many idle connections to the endpoint are kept.
const maxIdleConns = 128

// Options tune New. The zero value is the default.
type Options struct {
	// CreateBucket creates the bucket if it does not exist; otherwise
	// New fails with an error matching ErrNoBucket.
	CreateBucket bool
	// TempDir is where Put spools an object larger than a few MiB before
	// uploading it; "" means os.TempDir().
	TempDir string
	// Observe, if set, is called with every HTTP request the store sends
	// to the endpoint (each retry too), for tests and request counts.
	Observe func(*http.Request)
}

// observed is an HTTP client that shows each request to a function first.
type observed struct {
	c aws.HTTPClient
	f func(*http.Request)
}

func (o observed) Do(r *http.Request) (*http.Response, error) {
	o.f(r)
	return o.c.Do(r)
}

// ParseURL splits s3://BUCKET[/PREFIX] into the bucket and the key
// prefix ("" or a valid store directory name, without slashes at either
// end).
func ParseURL(raw string) (bucket, prefix string, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", "", fmt.Errorf("s3 store URL %q: %w", raw, err)
	}
	if u.Scheme != "s3" || u.Host == "" || u.Opaque != "" || u.User != nil || u.Port() != "" || u.RawQuery != "" || u.Fragment != "" {
		return "", "", fmt.Errorf("s3 store URL %q: want s3://BUCKET[/PREFIX]", raw)
	}
	prefix, err = store.CheckDir(strings.TrimPrefix(u.Path, "/"))
	if err != nil {
		return "", "", fmt.Errorf("s3 store URL %q: prefix: %w", raw, err)
	}
	return u.Host, prefix, nil
}

// New returns the store at rawURL (s3://BUCKET[/PREFIX]), configured from
// the environment and the shared AWS files (see the package
// documentation). It makes one request to check that the endpoint answers,
// the credentials are accepted and the bucket exists (or, with
// opts.CreateBucket, creates it).
func New(ctx context.Context, rawURL string, opts Options) (*Store, error) {
	bucket, prefix, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("s3 store %s: loading the AWS configuration: %w", rawURL, err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if c, ok := cfg.HTTPClient.(*awshttp.BuildableClient); ok {
		// One endpoint serves every request: keep as many idle
		// connections to it as a busy server has requests in flight,
		// not the SDK's default of 10.
		cfg.HTTPClient = c.WithTransportOptions(func(t *http.Transport) {
			t.MaxIdleConnsPerHost = maxIdleConns
			if t.MaxIdleConns < maxIdleConns {
				t.MaxIdleConns = maxIdleConns
			}
		})
	}
	if opts.Observe != nil {
		cfg.HTTPClient = observed{cfg.HTTPClient, opts.Observe}
	}
	s := &Store{bucket: bucket, prefix: prefix, region: cfg.Region, tempDir: opts.TempDir}
	s.client = s3.NewFromConfig(cfg, func(o *s3.Options) {
		// Ranged GETs carry no whole-object checksum; the SDK would
		// log each one to stderr.
		o.DisableLogOutputChecksumValidationSkipped = true
		if o.BaseEndpoint != nil {
			o.UsePathStyle = true
			s.endpoint = *o.BaseEndpoint
		} else {
			s.endpoint = "AWS S3 (" + o.Region + ")"
		}
	})
	err = s.Check(ctx)
	if errors.Is(err, ErrNoBucket) && opts.CreateBucket {
		err = s.CreateBucket(ctx)
	}
	if err == nil {
		err = s.checkConditional(ctx)
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

// ErrNoConditionalWrites is matched by the error of New when the endpoint
// ignores conditional writes.
var ErrNoConditionalWrites = errors.New("the S3 endpoint ignores conditional writes")

// conditionalMarker is the object that records that the store's
// endpoint refused a second conditional create of one key
// (checkConditional). Its name, like the probe's, is reserved
// (store.TempPrefix), so that no listing of the store shows it.
const conditionalMarker = store.TempPrefix + "conditional-writes"

// checkConditional makes sure the endpoint honours If-None-Match: *, on
// which the audit journal, the import lease, publishes and the tokens
// rely for exclusion: an endpoint that ignores it (some S3-compatible
// servers) would let two writers both win, silently. A store whose
// marker exists was checked before: one HEAD. Otherwise it creates a
// probe object twice (the second must fail), removes it and writes the
// marker. Credentials that may not write skip the check: such a process
// writes nothing that needs exclusion.
func (s *Store) checkConditional(ctx context.Context) error {
	_, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.bucket, Key: aws.String(s.key(conditionalMarker))})
	if err == nil {
		return nil
	}
	switch err := s.wrap("stat", conditionalMarker, err); {
	case errors.Is(err, ErrAccessDenied):
		return nil // may not even look (S3 answers 403 for a missing key without ListBucket): may not write either
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	probe := store.TempPrefix + "conditional-probe-" + strings.ToLower(rand.Text())
	create := func(data string) error {
		_, err := s.putKey(ctx, "create", probe, strings.NewReader(data), nil, aws.String("*"))
		if isPrecondition(err) {
			return &Error{Op: "create", Name: probe, Bucket: s.bucket, Endpoint: s.endpoint, Kind: fs.ErrExist, Err: err}
		}
		return err
	}
	err = create("1")
	if errors.Is(err, ErrAccessDenied) {
		return nil
	}
	if err != nil {
		return err
	}
	second := create("2")
	if _, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.bucket, Key: aws.String(s.key(probe))}); err != nil {
		return s.wrap("delete", probe, err)
	}
	switch {
	case second == nil:
		return fmt.Errorf("s3 store %s: %w: a second create of one key with If-None-Match: * succeeded at %s. modferry needs conditional writes to keep two writers from both appending the same audit entry, taking the import lock or publishing the same version; use AWS S3, MinIO, or another endpoint that supports them", s, ErrNoConditionalWrites, s.endpoint)
	case !errors.Is(second, fs.ErrExist):
		return second
	}
	_, err = s.putKey(ctx, "put", conditionalMarker, strings.NewReader("If-None-Match: * refused a second create at "+time.Now().UTC().Format(time.RFC3339)+"\n"), nil, nil)
	if errors.Is(err, ErrAccessDenied) {
		return nil
	}
	return err
}

// String returns the store's URL.
func (s *Store) String() string {
	if s.prefix == "" {
		return "s3://" + s.bucket
	}
	return "s3://" + s.bucket + "/" + s.prefix
}

// Endpoint returns the S3 endpoint the store talks to, for messages.
func (s *Store) Endpoint() string { return s.endpoint }

// Check makes one cheap request (a listing of at most one key) that fails
// if the endpoint is unavailable, the credentials are refused or the
// bucket does not exist.
func (s *Store) Check(ctx context.Context) error {
	_, err := s.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{
		Bucket:  &s.bucket,
		Prefix:  aws.String(s.dirPrefix("")),
		MaxKeys: aws.Int32(1),
	})
	err = s.wrap("check", "", err)
	// A listing has no missing object: a bare 404 is an endpoint that
	// is no S3 API (a wrong URL, another service).
	var e *Error
	if errors.As(err, &e) && e.Kind == fs.ErrNotExist {
		e.Kind = nil
		e.hint = "is it an S3 endpoint?"
	}
	return err
}

// CreateBucket creates the store's bucket; a bucket that exists already
// and is owned by the caller is not an error.
func (s *Store) CreateBucket(ctx context.Context) error {
	in := &s3.CreateBucketInput{Bucket: &s.bucket}
	if s.region != "us-east-1" {
		in.CreateBucketConfiguration = &types.CreateBucketConfiguration{
			LocationConstraint: types.BucketLocationConstraint(s.region),
		}
	}
	_, err := s.client.CreateBucket(ctx, in)
	if code := apiCode(err); code == "BucketAlreadyOwnedByYou" {
		err = nil
	}
	return s.wrap("create-bucket", "", err)
}

// key returns the S3 key of the object name.
func (s *Store) key(name string) string {
	if s.prefix == "" {
		return name
	}
	return s.prefix + "/" + name
}

// dirPrefix returns the key prefix of the directory dir ("" for the root).
func (s *Store) dirPrefix(dir string) string {
	switch {
	case dir == "" && s.prefix == "":
		return ""
	case dir == "":
		return s.prefix + "/"
	default:
		return s.key(dir) + "/"
	}
}

// Put implements store.Store.
func (s *Store) Put(ctx context.Context, name string, r io.Reader) error {
	_, err := s.put(ctx, "put", name, r, nil, nil)
	return err
}

// Create implements store.Store with a conditional write (If-None-Match: *).
func (s *Store) Create(ctx context.Context, name string, r io.Reader) error {
	_, err := s.put(ctx, "create", name, r, nil, aws.String("*"))
	if isPrecondition(err) {
		return &Error{Op: "create", Name: name, Bucket: s.bucket, Endpoint: s.endpoint, Kind: fs.ErrExist, Err: err}
	}
	return err
}

// conflictRetries bounds the retries of a conditional write that S3
// answered with 409 ConditionalRequestConflict (another conditional write
// of the same key in flight).
const conflictRetries = 5

// put spools r and uploads it as name, with the given conditions. A
// refused condition is returned as the SDK's error (see isPrecondition),
// other failures wrapped. It returns the new object's ETag.
func (s *Store) put(ctx context.Context, op, name string, r io.Reader, ifMatch, ifNoneMatch *string) (string, error) {
	if err := store.CheckName(name); err != nil {
		return "", err
	}
	return s.putKey(ctx, op, name, r, ifMatch, ifNoneMatch)
}

// putKey is put for any name, also one outside the store's names (the
// objects of checkConditional).
func (s *Store) putKey(ctx context.Context, op, name string, r io.Reader, ifMatch, ifNoneMatch *string) (string, error) {
	body, size, cleanup, err := spool(ctx, r, s.tempDir)
	if err != nil {
		return "", fmt.Errorf("s3 %s %s: %w", op, name, err)
	}
	defer cleanup()
	conditional := ifMatch != nil || ifNoneMatch != nil
	var meta map[string]string
	var token string
	if conditional {
		token = rand.Text()
		meta = map[string]string{writerMeta: token}
	}
	for try := 0; ; try++ {
		if _, err := body.Seek(0, io.SeekStart); err != nil {
			return "", err
		}
		out, err := s.client.PutObject(ctx, &s3.PutObjectInput{
			Bucket:        &s.bucket,
			Key:           aws.String(s.key(name)),
			Body:          body,
			ContentLength: aws.Int64(size),
			IfMatch:       ifMatch,
			IfNoneMatch:   ifNoneMatch,
			Metadata:      meta,
		})
		switch {
		case err == nil:
			return aws.ToString(out.ETag), nil
		case conditional && isPrecondition(err):
			if etag, ok := s.ownWrite(ctx, name, token); ok {
				return etag, nil
			}
			return "", err
		case (ifMatch != nil || ifNoneMatch != nil) && isConflict(err) && try < conflictRetries:
			select {
			case <-time.After(time.Duration(try+1) * 20 * time.Millisecond):
				continue
			case <-ctx.Done():
				return "", s.wrap(op, name, ctx.Err())
			}
		}
		return "", s.wrap(op, name, err)
	}
}

// writerMeta is the user metadata key (x-amz-meta-modferry-put) of the
// token each conditional write carries, so that the writer can tell its
// own object from another's (ownWrite).
const writerMeta = "modferry-put"

// ownWrite reports whether the object name is the one a conditional write
// carrying token wrote, and returns its ETag. A conditional write can
// land while its response is lost (a reset connection, a 5xx from a
// proxy in front of the endpoint); the SDK then sends it again, and the
// second attempt finds the first's object: 412. Without this check,
// Create would report fs.ErrExist for its own write: an audit entry
// appended twice, a publish that committed reported as failed (and its
// files removed), a lease taken reported as lost.
func (s *Store) ownWrite(ctx context.Context, name, token string) (string, bool) {
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.bucket, Key: aws.String(s.key(name))})
	if err != nil {
		return "", false
	}
	for k, v := range out.Metadata {
		if strings.EqualFold(k, writerMeta) && v == token {
			return aws.ToString(out.ETag), true
		}
	}
	return "", false
}

// Delete implements store.Store.
func (s *Store) Delete(ctx context.Context, name string) error {
	if err := store.CheckName(name); err != nil {
		return err
	}
	_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.bucket, Key: aws.String(s.key(name))})
	if err != nil {
		if err := s.wrap("delete", name, err); !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// List implements store.Store.
func (s *Store) List(ctx context.Context, dir string) ([]string, error) {
	return s.list(ctx, dir, "", 0)
}

// ListAfter implements store.AfterLister: the listing starts after the
// key of after (ListObjectsV2's StartAfter), so its cost is that of what
// it returns, not of the whole directory.
func (s *Store) ListAfter(ctx context.Context, dir, after string, limit int) ([]string, error) {
	return s.list(ctx, dir, after, limit)
}

// list returns the children of dir that sort after after (all of them
// for ""), at most limit of them if limit > 0. Each page holds keys and
// common prefixes in key order, so the pages up to the one where limit
// is reached hold the first limit names.
func (s *Store) list(ctx context.Context, dir, after string, limit int) ([]string, error) {
	dir, err := store.CheckDir(dir)
	if err != nil {
		return nil, err
	}
	prefix := s.dirPrefix(dir)
	in := &s3.ListObjectsV2Input{
		Bucket:    &s.bucket,
		Prefix:    aws.String(prefix),
		Delimiter: aws.String("/"),
	}
	if after != "" {
		in.StartAfter = aws.String(prefix + after)
	}
	if limit > 0 && limit < 1000 {
		in.MaxKeys = aws.Int32(int32(limit))
	}
	var names []string
	p := s3.NewListObjectsV2Paginator(s.client, in)
	for p.HasMorePages() && (limit <= 0 || len(names) < limit) {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, s.wrap("list", dir, err)
		}
		for _, o := range page.Contents {
			// Keys that are no valid object name (a console's
			// "folder/" marker, "a//b") are not part of the store.
			if n := strings.TrimPrefix(aws.ToString(o.Key), prefix); store.CheckName(n) == nil && !strings.Contains(n, "/") && n > after {
				names = append(names, n)
			}
		}
		for _, cp := range page.CommonPrefixes {
			if n := strings.TrimPrefix(aws.ToString(cp.Prefix), prefix); store.CheckName(strings.TrimSuffix(n, "/")) == nil && strings.Count(n, "/") == 1 && n > after {
				names = append(names, n)
			}
		}
	}
	slices.Sort(names)
	names = slices.Compact(names)
	if limit > 0 && len(names) > limit {
		names = names[:limit]
	}
	return names, nil
}

// Get implements store.CompareAndSwapper: the version is the ETag.
func (s *Store) Get(ctx context.Context, name string) ([]byte, string, error) {
	if err := store.CheckName(name); err != nil {
		return nil, "", err
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: aws.String(s.key(name))})
	if err != nil {
		return nil, "", s.wrap("get", name, err)
	}
	defer out.Body.Close()
	data, err := io.ReadAll(out.Body)
	if err != nil {
		return nil, "", s.wrap("get", name, err)
	}
	return data, aws.ToString(out.ETag), nil
}

// PutIf implements store.CompareAndSwapper with If-Match on the ETag, or
// If-None-Match: * for version "".
func (s *Store) PutIf(ctx context.Context, name string, r io.Reader, version string) (string, error) {
	var ifMatch, ifNoneMatch *string
	if version == "" {
		ifNoneMatch = aws.String("*")
	} else {
		ifMatch = aws.String(version)
	}
	etag, err := s.put(ctx, "putif", name, r, ifMatch, ifNoneMatch)
	// If-Match on a missing object is answered 404.
	if isPrecondition(err) || version != "" && errors.Is(err, fs.ErrNotExist) {
		return "", &Error{Op: "putif", Name: name, Bucket: s.bucket, Endpoint: s.endpoint, Kind: store.ErrChanged, Err: err}
	}
	return etag, err
}

// StatVersion returns the version (ETag) Get would return for the
// object, without reading it: one HeadObject request, for callers that
// poll a small object for changes (auth.StoreDoc). A missing object
// matches fs.ErrNotExist.
func (s *Store) StatVersion(ctx context.Context, name string) (string, error) {
	if err := store.CheckName(name); err != nil {
		return "", err
	}
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.bucket, Key: aws.String(s.key(name))})
	if err != nil {
		return "", s.wrap("stat", name, err)
	}
	return aws.ToString(out.ETag), nil
}

// leaseTTL is how long the lease behind Lock outlives its last renewal.
const leaseTTL = time.Minute

// Lock implements store.Locker with a lease (store.LeaseLock) in the
// object NAME.lock: created with If-None-Match: *, renewed with If-Match
// every 20 s, taken over once a minute has passed without renewal (a
// crashed holder). It holds across every machine sharing the bucket, so
// that two importers never interleave their commits.
func (s *Store) Lock(ctx context.Context, name string) (func(), error) {
	if err := store.CheckName(name); err != nil || strings.Contains(name, "/") {
		return nil, fmt.Errorf("s3 lock %q: invalid name", name)
	}
	return store.LeaseLock(ctx, s, name+".lock", leaseTTL)
}

// LockLease implements store.LeaseLocker: Lock's lease, which its holder
// checks (store.Lease.Check) before each write that must not race another
// holder's.
func (s *Store) LockLease(ctx context.Context, name string) (*store.Lease, error) {
	if err := store.CheckName(name); err != nil || strings.Contains(name, "/") {
		return nil, fmt.Errorf("s3 lock %q: invalid name", name)
	}
	return store.TakeLease(ctx, s, name+".lock", leaseTTL)
}

// Stat describes the object without reading it: one HeadObject request,
// for a server that keeps copies of objects elsewhere (the zip cache of
// package proxy) and needs to know only that the object is still there,
// and which version of it. A missing object matches fs.ErrNotExist.
func (s *Store) Stat(ctx context.Context, name string) (fs.FileInfo, error) {
	if err := store.CheckName(name); err != nil {
		return nil, err
	}
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.bucket, Key: aws.String(s.key(name))})
	if err != nil {
		return nil, s.wrap("stat", name, err)
	}
	return fileInfo{name: path.Base(name), size: aws.ToInt64(out.ContentLength), modTime: aws.ToTime(out.LastModified)}, nil
}
