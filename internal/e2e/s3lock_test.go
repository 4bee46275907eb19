package e2e

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/modferry/modferry/internal/bundle/bundletest"
	"github.com/modferry/modferry/internal/store/s3store/miniotest"
)

// TestS3ImportAndPublish: an import process and publish processes at
// once on one bucket, adding other versions of the same modules. All
// succeed (a publish that waited too long for the import lock says so and
// is run again, as its message asks), and every module's @v/list holds
// both versions: publish takes the import lock (a lease on S3) for its
// commit and list, so neither writer drops the other's version.
func TestS3ImportAndPublish(t *testing.T) {
	m := startMinIO(t)
	const prefix = "lockpub"
	st := "s3://" + miniotest.Bucket + "/" + prefix
	key, pub := bundletest.NewKey(t)
	pubText, _ := pub.MarshalText()
	pubFile := filepath.Join(t.TempDir(), "ferry.pub")
	if err := os.WriteFile(pubFile, pubText, 0o644); err != nil {
		t.Fatal(err)
	}
	const n = 6
	path := func(i int) string { return fmt.Sprintf("modferry.test/lockpub/m%02d", i) }
	var mods []bundletest.Module
	for i := range n {
		mods = append(mods, bundletest.Module{Path: path(i), Version: "v1.0.0",
			Files: map[string][]byte{"a.go": []byte("package m\n")}})
	}
	b := filepath.Join(t.TempDir(), "b.tar.zst")
	bundletest.Write(t, b, mods, key)
	mf(t, "inventory", "--store", st) // the prefix exists before they start

	var wg sync.WaitGroup
	errs := make([]error, n+1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		if out, err := mfErr(t, "import", "--pubkey", pubFile, "--store", st, b); err != nil {
			errs[n] = fmt.Errorf("import: %v\n%s", err, out)
		}
	}()
	for i := range n {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module "+path(i)+"\n"), 0o644)
		os.WriteFile(filepath.Join(dir, "a.go"), []byte("package m // v1.1.0\n"), 0o644)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for try := 0; ; try++ {
				out, err := mfErr(t, "publish", "--store", st, path(i)+"@v1.1.0", dir)
				if err == nil {
					return
				}
				if !strings.Contains(out, "an import is running") || try == 5 {
					errs[i] = fmt.Errorf("publish %s: %v\n%s", path(i), err, out)
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	c := m.Client()
	for i := range n {
		k := prefix + "/download/" + path(i) + "/@v/list"
		out, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(miniotest.Bucket), Key: aws.String(k)})
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		data, _ := io.ReadAll(out.Body)
		out.Body.Close()
		if got := strings.Fields(string(data)); !slices.Equal(got, []string{"v1.0.0", "v1.1.0"}) {
			t.Errorf("%s = %q, want both versions", k, got)
		}
	}
}
