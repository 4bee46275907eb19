package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/modferry/modferry/internal/server"
	"github.com/modferry/modferry/internal/store"
)

// unreachableStore is a store.Mem whose listings fail as those of an
// object store out of reach do.
type unreachableStore struct{ *store.Mem }

func (unreachableStore) List(context.Context, string) ([]string, error) {
	return nil, errors.New("s3 list: endpoint http://127.0.0.1:1 unavailable: connection refused")
}

// TestHealthcheckGivesReason: against a server whose store cannot be
// reached, healthcheck fails with the server's one-line reason, and env
// says the server is modferry but cannot serve (not "not a modferry
// server").
func TestHealthcheckGivesReason(t *testing.T) {
	srv := httptest.NewServer(server.New(server.Config{Store: unreachableStore{store.NewMem()}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}))
	defer srv.Close()
	err := healthcheck(context.Background(), healthcheckOptions{url: srv.URL + "/healthz", timeout: 5 * time.Second})
	if err == nil || !strings.Contains(err.Error(), "503") || !strings.Contains(err.Error(), "the store cannot be reached") {
		t.Errorf("healthcheck of a server without its store: %v", err)
	}
	// The server's address alone means its /healthz (its root, the web
	// catalog, answers 200 whatever the store).
	err = healthcheck(context.Background(), healthcheckOptions{url: srv.URL, timeout: 5 * time.Second})
	if err == nil || !strings.Contains(err.Error(), "/healthz") {
		t.Errorf("healthcheck --url of the server's address: %v; want its /healthz's 503", err)
	}
	p := &envProbe{base: srv.URL, client: http.DefaultClient}
	err = p.checkModferry(context.Background())
	if err == nil || errors.Is(err, errNotModferry) || !strings.Contains(err.Error(), "cannot be reached") {
		t.Errorf("env against a server without its store: %v", err)
	}
}
