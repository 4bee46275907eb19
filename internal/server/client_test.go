package server

import (
	"context"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/module"

	"github.com/modferry/modferry/internal/api"
	"github.com/modferry/modferry/internal/auth"
	"github.com/modferry/modferry/internal/publish"
)

// TestClient runs api.Client against the server: the two sides of the
// wire contract agree on paths, bodies and errors.
func TestClient(t *testing.T) {
	f := newFixture(t, Config{})
	ts := httptest.NewServer(f.srv)
	t.Cleanup(ts.Close)
	ctx := context.Background()
	w := f.add(t, "w", auth.ScopeWrite)
	c := &api.Client{URL: ts.URL, Token: w, HTTP: ts.Client()}

	v := module.Version{Path: "corp.example/Client", Version: "v1.0.0"}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module "+v.Path+"\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "c.go"), []byte("package client\n"), 0o644)
	when := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	m, err := publish.FromDir(v, dir, when)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	upload := func() (api.Result, error) {
		z, err := os.Open(m.ZipPath)
		if err != nil {
			t.Fatal(err)
		}
		defer z.Close()
		return c.Publish(ctx, m.Version, m.Mod, z, m.Time)
	}
	res, err := upload()
	if err != nil {
		t.Fatal(err)
	}
	if res != publish.ResultOf(m) {
		t.Fatalf("Publish: %+v, want %+v", res, publish.ResultOf(m))
	}
	var ae *api.Error
	if _, err := upload(); !errors.As(err, &ae) || ae.Status != 409 {
		t.Fatalf("publish again: %v", err)
	}
	if _, err := c.Delete(ctx, v, "wrong"); !errors.As(err, &ae) || ae.Status != 403 {
		t.Fatalf("delete with the write scope: %v", err)
	}
	c.Token = f.add(t, "d", auth.ScopeDelete)
	d, err := c.Delete(ctx, v, "CVE-2025-1 & co")
	if err != nil || d.Reason != "CVE-2025-1 & co" || d.Actor != "token:d" || d.Path != v.Path {
		t.Fatalf("Delete: %+v, %v", d, err)
	}
	if _, err := c.Delete(ctx, v, "again"); !errors.As(err, &ae) || ae.Status != 404 {
		t.Fatalf("delete again: %v", err)
	}
	c.Token = w
	var out map[string]any
	if err := c.PostBundle(ctx, strings.NewReader("not a bundle"), &out); !errors.As(err, &ae) || ae.Status != 403 || !strings.Contains(ae.Message, "--pubkey") {
		t.Fatalf("bundle upload without --pubkey: %v", err)
	}
}
