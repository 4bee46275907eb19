package main

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestGlobalsPerRoot checks that the shared flags belong to the root
// command that parsed them: a --log-level set on one root leaves another
// root's serve alone.
func TestGlobalsPerRoot(t *testing.T) {
	bad, good := newRoot(), newRoot()
	if err := bad.PersistentFlags().Set("log-level", "bogus"); err != nil {
		t.Fatal(err)
	}
	// --max-uploads 0 makes serve fail before it opens the store.
	args := []string{"serve", "--store", t.TempDir(), "--max-uploads", "0"}
	for _, tc := range []struct {
		root *cobra.Command
		want string
	}{
		{bad, `--log-level "bogus"`},
		{good, "--max-uploads and --max-bundle-size must be positive"},
	} {
		tc.root.SetArgs(args)
		tc.root.SetOut(io.Discard)
		tc.root.SetErr(io.Discard)
		if err := tc.root.Execute(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("serve: %v, want an error containing %q", err, tc.want)
		}
	}
}

func TestNewLogger(t *testing.T) {
	var buf bytes.Buffer
	l, err := (&globals{logFormat: "json", logLevel: "debug"}).newLogger(&buf)
	if err != nil {
		t.Fatal(err)
	}
	l.Debug("hello", "k", 1)
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil || rec["msg"] != "hello" || rec["level"] != "DEBUG" {
		t.Errorf("json debug logger wrote %q (%v)", buf.String(), err)
	}

	buf.Reset()
	if l, err = (&globals{logFormat: "text", logLevel: "warn"}).newLogger(&buf); err != nil {
		t.Fatal(err)
	}
	l.Info("dropped")
	l.Warn("kept")
	if got := buf.String(); strings.Contains(got, "dropped") || !strings.Contains(got, "level=WARN msg=kept") {
		t.Errorf("text warn logger wrote %q", got)
	}

	for _, g := range []globals{{logFormat: "xml", logLevel: "info"}, {logFormat: "text", logLevel: "loud"}} {
		if _, err := g.newLogger(io.Discard); exitCode(err) != 2 {
			t.Errorf("%+v: err %v, exit code %d, want a usage error (2)", g, err, exitCode(err))
		}
	}
}
