package proxy_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modferry/modferry/internal/modules"
	"github.com/modferry/modferry/internal/proxy"
	"github.com/modferry/modferry/internal/store/s3store"
	"github.com/modferry/modferry/internal/store/s3store/miniotest"
)

// s3Requests counts the HTTP requests an S3 store sends, by method.
type s3Requests struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *s3Requests) observe(r *http.Request) {
	c.mu.Lock()
	c.n[r.Method]++
	c.mu.Unlock()
}

func (c *s3Requests) take() (int, map[string]int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, total := c.n, 0
	for _, k := range n {
		total += k
	}
	c.n = map[string]int{}
	return total, n
}

// TestS3Replicas runs three Handlers (replicas, two with a zip cache) on
// one store in a real MinIO and counts the S3 requests each client
// request costs: once the files are confirmed, none but one HEAD of the
// removal stamp per second and replica, where each request cost one or
// two GETs before. A version deleted by another process (another store
// client, as `modferry delete` or prune would) answers 410 on all three
// within the recheck interval.
func TestS3Replicas(t *testing.T) {
	mio := miniotest.Start(t)
	mio.SetEnv(t)
	ctx := context.Background()
	url := "s3://" + miniotest.Bucket + "/replicas"
	writer, err := s3store.New(ctx, url, s3store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	addRemote(t, &modules.Repo{Store: writer})

	counts := &s3Requests{n: map[string]int{}}
	st, err := s3store.New(ctx, url, s3store.Options{Observe: counts.observe})
	if err != nil {
		t.Fatal(err)
	}
	recheck := 300 * time.Millisecond
	var reps []*replica
	for i := range 3 {
		reps = append(reps, startReplica(t, st, proxy.Options{Recheck: recheck}, i != 2))
	}
	round := func() int {
		n := 0
		for _, r := range reps {
			for _, v := range remoteVersions {
				for _, u := range fileURLs(v) {
					code, b := get(t, r.url+u)
					if code != 200 {
						t.Fatalf("%s%s: %d", r.url, u, code)
					}
					if strings.HasSuffix(u, ".zip") && !bytes.Equal(b, zipOf(v)) {
						t.Fatalf("%s%s: wrong bytes", r.url, u)
					}
					n++
				}
			}
		}
		return n
	}
	counts.take()
	n := round()
	first, byMethod := counts.take()
	t.Logf("first round: %d S3 requests for %d client requests %v", first, n, byMethod)

	const rounds = 4
	n = 0
	for range rounds {
		time.Sleep(recheck + 20*time.Millisecond)
		n += round()
	}
	total, byMethod := counts.take()
	// Zips are streamed from the store by the replica without a zip
	// cache: one GET per zip request there.
	streamed := rounds * len(remoteVersions)
	t.Logf("%d more rounds: %d S3 requests for %d client requests %v (%d zips streamed by the replica without a cache)", rounds, total, n, byMethod, streamed)
	if max := streamed + 3*(rounds+1); total > max || byMethod["GET"] > streamed {
		t.Errorf("%d S3 requests %v for %d client requests; want at most %d: the zips the uncached replica streams, and one look at the stamp per interval and replica", total, byMethod, n, max)
	}

	gone := remoteVersions[1]
	if err := (&modules.Repo{Store: writer}).Delete(ctx, gone, modules.GoneRecord{Time: time.Now(), Reason: "licence"}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(recheck + 20*time.Millisecond)
	for _, r := range reps {
		for _, u := range fileURLs(gone) {
			if code, b := get(t, r.url+u); code != http.StatusGone || !strings.Contains(string(b), "licence") {
				t.Errorf("%s%s after the deletion: %d (%d bytes), want 410 with the reason", r.url, u, code, len(b))
			}
		}
	}
}
