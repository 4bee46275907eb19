package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modferry/modferry/internal/checksumdb/checksumdbtest"
	"github.com/modferry/modferry/internal/store/s3store/miniotest"
	"github.com/modferry/modferry/internal/testupstream"
)

// TestGuideScenarios runs every scenario script of the user guide
// (docs/guide/*.sh) as it is, against a local upstream proxy and checksum
// database: the guide's commands are the ones that are tested.
func TestGuideScenarios(t *testing.T) {
	slow(t)
	scripts, err := filepath.Glob(repoFile("docs", "guide", "*.sh"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, script := range scripts {
		if filepath.Base(script) == "common.sh" {
			continue
		}
		n++
		t.Run(strings.TrimSuffix(filepath.Base(script), ".sh"), func(t *testing.T) {
			up := testupstream.New(t)
			db := checksumdbtest.New(t, "sum.modferry.test", up.Dir, 300)
			// The upstream serves the checksum database under /sumdb/, as
			// proxy.golang.org does (a team proxy checks through it).
			front := sumdbFront(t, up, db)
			project := filepath.Join(t.TempDir(), "app")
			testupstream.WriteProject(t, "app", project)
			abs, err := filepath.Abs(script)
			if err != nil {
				t.Fatal(err)
			}
			env := append(testupstream.GoEnv(t, up.URL),
				"PATH="+filepath.Dir(modferryBin)+string(os.PathListSeparator)+os.Getenv("PATH"),
				"UPSTREAM="+front,
				"UPSTREAM_SUMDB="+db.Key,
				"GOSUMDB="+db.GOSUMDB(),
				"CLIENT_GOSUMDB="+db.Key,
				"GONOSUMDB=", "GOPRIVATE=", "GOFLAGS=",
				"PROJECT="+project,
				"WORK="+t.TempDir(),
				"PORT="+strings.TrimPrefix(freeAddr(t), "127.0.0.1:"),
				"NEW_DEPENDENCY=modferry.test/major@v1.0.0",
				"NEW_IMPORT=modferry.test/major",
			)
			if filepath.Base(script) == "move-to-s3.sh" {
				env = withMinIO(t, env, "s3://"+miniotest.Bucket+"/guide")
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, "bash", abs)
			cmd.Env = env
			cmd.Dir = t.TempDir()
			out, err := cmd.CombinedOutput()
			t.Logf("%s\n%s", filepath.Base(script), out)
			if err != nil {
				t.Fatalf("%s failed: %v", filepath.Base(script), err)
			}
		})
	}
	if n < 4 {
		t.Fatalf("found %d scenario scripts in docs/guide, want at least 4", n)
	}
}

// withMinIO starts a MinIO for the scenario (skipping it without a minio
// binary, unless MODFERRY_REQUIRE_MINIO=1) and returns env with the AWS
// variables that reach it, and S3_STORE set to store.
func withMinIO(t *testing.T, env []string, store string) []string {
	t.Helper()
	m := miniotest.Start(t)
	out := make([]string, 0, len(env)+12)
	for _, kv := range env {
		if !strings.HasPrefix(kv, "AWS_") {
			out = append(out, kv)
		}
	}
	for k, v := range m.Env() {
		if v != "" {
			out = append(out, k+"="+v)
		}
	}
	return append(out, "S3_STORE="+store)
}
