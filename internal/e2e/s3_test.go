package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/modferry/modferry/internal/audit"
	"github.com/modferry/modferry/internal/store/s3store/miniotest"
	"github.com/modferry/modferry/internal/testupstream"
)

// startMinIO runs a real MinIO for the test (skipping it without a minio
// binary unless MODFERRY_REQUIRE_MINIO=1) and points the AWS environment
// of the modferry processes the test starts at it.
func startMinIO(t *testing.T) *miniotest.Server {
	t.Helper()
	m := miniotest.Start(t)
	m.SetEnv(t)
	return m
}

// TestS3StoreOpenErrors checks the errors of --store s3://: an endpoint
// that does not answer is named, wrong credentials give one line without
// the secret, and a missing bucket says so and suggests --create-bucket,
// which then creates it.
func TestS3StoreOpenErrors(t *testing.T) {
	startMinIO(t)
	store := "s3://" + miniotest.Bucket + "/errs"

	t.Run("unreachable", func(t *testing.T) {
		down := "http://" + freeAddr(t)
		t.Setenv("AWS_ENDPOINT_URL", down)
		out, err := mfErr(t, "inventory", "--store", store)
		if err == nil || !strings.Contains(out, down) || !strings.Contains(out, "unavailable") {
			t.Errorf("inventory on an endpoint that does not answer: %v, want an error naming %s:\n%s", err, down, out)
		}
	})

	t.Run("wrong credentials", func(t *testing.T) {
		const secret = "not-the-secret-4f2a9c"
		t.Setenv("AWS_SECRET_ACCESS_KEY", secret)
		out, err := mfErr(t, "inventory", "--store", store)
		if err == nil || !strings.Contains(out, "denied") {
			t.Errorf("inventory with a wrong secret key: %v, want access denied:\n%s", err, out)
		}
		if strings.Contains(out, secret) || strings.Contains(out, miniotest.SecretKey) {
			t.Errorf("the error shows a secret key:\n%s", out)
		}
		if n := strings.Count(strings.TrimSpace(out), "\n"); n != 0 {
			t.Errorf("the error has %d lines, want one:\n%s", n+1, out)
		}
	})

	t.Run("missing bucket", func(t *testing.T) {
		nb := "s3://no-such-bucket-modferry"
		out, err := mfErr(t, "inventory", "--store", nb)
		if err == nil || !strings.Contains(out, "does not exist") || !strings.Contains(out, "--create-bucket") {
			t.Errorf("inventory on a missing bucket: %v, want an error suggesting --create-bucket:\n%s", err, out)
		}
		mf(t, "inventory", "--create-bucket", "--store", nb)
		mf(t, "inventory", "--store", nb) // it exists now
	})

}

// TestS3TokensAndAudit: on an s3:// store, token add, list and revoke keep
// the tokens in the bucket, and every change (token add, import, revoke)
// lands in the audit log there, one object per entry, which audit verify,
// show and head read.
func TestS3TokensAndAudit(t *testing.T) {
	startMinIO(t)
	up := testupstream.New(t)
	store := "s3://" + miniotest.Bucket + "/tok"
	addToken(t, store, "ci", "read")
	mf(t, "import", "--store", store, "--cache-dir", up.Dir)
	if out := mf(t, "token", "list", "--store", store, "--json"); !strings.Contains(out, `"name": "ci"`) {
		t.Fatalf("token list does not show ci:\n%s", out)
	}
	mf(t, "token", "revoke", "--store", store, "ci")
	if out := mf(t, "token", "list", "--store", store, "--json"); strings.TrimSpace(out) != "[]" {
		t.Fatalf("token list after the revoke:\n%s", out)
	}
	out := mf(t, "audit", "verify", "--store", store)
	if !strings.Contains(out, "ok: "+store+"/audit/entries holds 6 entries, chain intact") {
		t.Fatalf("audit verify: %s", out)
	}
	var entries []audit.Entry
	if err := json.Unmarshal([]byte(mf(t, "audit", "show", "--store", store, "--json")), &entries); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Action+":"+e.Result)
	}
	want := "[token.add:pending token.add:ok import:pending import:ok token.revoke:pending token.revoke:ok]"
	if fmt.Sprint(got) != want {
		t.Fatalf("audit show = %v, want %s", got, want)
	}
	head := strings.TrimSpace(mf(t, "audit", "head", "--store", store))
	if !strings.HasPrefix(head, "6:") {
		t.Fatalf("audit head = %q", head)
	}
	mf(t, "audit", "verify", "--store", store, "--head", head)
}
