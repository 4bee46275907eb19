// Package s3store is a store.Store on S3-compatible object storage (AWS
// S3, MinIO and the like), named by a URL s3://BUCKET[/PREFIX]: object
// "a/b" is the key PREFIX/a/b of BUCKET.
//
// # Configuration
//
// Everything but the URL comes from the AWS conventions, through the AWS
// SDK's own loader (config.LoadDefaultConfig), so that a setup that works
// for the aws command works unchanged: AWS_ENDPOINT_URL or
// AWS_ENDPOINT_URL_S3 (or endpoint_url in the shared config file) for a
// non-AWS endpoint such as MinIO, AWS_REGION, AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY, AWS_PROFILE with the shared config and
// credentials files, SSO, web identity and instance roles. With a custom
// endpoint, requests use path-style addressing (http://HOST/BUCKET/KEY),
// which MinIO needs unless it is set up for virtual hosts. Without any
// region, us-east-1 is used, which MinIO accepts.
//
// The client is github.com/aws/aws-sdk-go-v2 rather than
// github.com/minio/minio-go/v7: only the AWS SDK implements all of the
// conventions above (minio-go reads the environment and the credentials
// file, but not the config file's profiles, endpoint_url, SSO or
// assume-role settings), and both support the conditional writes this
// package relies on.
//
// # Semantics
//
//   - Put is one PutObject: S3 makes an object visible whole or not at
//     all. The reader is first spooled (in memory when small, else to a
//     temporary file) so that the request has a length and can be retried,
//     and so that a failing reader uploads nothing.
//   - Create is a conditional PutObject with If-None-Match: *; S3's 412
//     Precondition Failed becomes an error matching fs.ErrExist.
//   - List uses ListObjectsV2 with the delimiter "/", page by page.
//   - Open streams: it issues one GetObject and reads its body; a Seek
//     only moves the offset, and the next Read after a jump issues a
//     ranged GET from there, with If-Match on the ETag so that a file
//     never mixes two versions of an object. Stat needs no request, so
//     http.ServeContent (seek to the end for the size, back to the start)
//     costs nothing extra. Objects are served through modferry rather
//     than by redirecting clients to presigned URLs: the object store
//     stays private to the serving network and clients need no route to
//     it, at the cost of one more hop for every byte (which a server
//     saves with its zip cache, package proxy). Stat describes an object
//     with one HEAD, and StatVersion gives its ETag, for callers that
//     check without reading.
//   - CompareAndSwapper: the version is the ETag; PutIf sends If-Match
//     (or If-None-Match: * for version "").
//   - Locker: a lease (store.LeaseLock) in the object NAME.lock, created
//     with If-None-Match: * and renewed with If-Match, so that the import
//     lock holds across every machine sharing the bucket; a crashed
//     holder's lease is taken over a minute after its last renewal.
//     LockLease (store.LeaseLocker) hands the lease itself out: an
//     importer checks it before each commit step and stops once 40 s
//     have passed without a successful renewal (store.Lease.Check).
//
// # Errors
//
// Failures are *Error values naming the endpoint and bucket, and they
// match, with errors.Is: fs.ErrNotExist for a missing object, fs.ErrExist
// for Create of an existing one, store.ErrChanged for a refused PutIf,
// ErrUnavailable when the endpoint cannot be reached or answers 5xx,
// ErrAccessDenied for wrong credentials or missing permissions, and
// ErrNoBucket for a missing bucket. Messages are one line and never
// contain a secret.
package s3store
