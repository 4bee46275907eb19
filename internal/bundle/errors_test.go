package bundle_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/modferry/modferry/internal/bundle"
	"github.com/modferry/modferry/internal/modfiles"
	"golang.org/x/mod/module"
)

func TestErrInvalid(t *testing.T) {
	sentinels := []error{
		bundle.ErrUnsigned, bundle.ErrBadSignature, bundle.ErrBadManifest, bundle.ErrManifestFirst, bundle.ErrHashMismatch,
		bundle.ErrNotInManifest, bundle.ErrMissingMember, bundle.ErrUnsafePath, bundle.ErrNotRegular, bundle.ErrDuplicate,
		bundle.ErrTooLarge, bundle.ErrSizeMismatch, bundle.ErrNonCanonical, bundle.ErrCorrupt, bundle.ErrBadZip, bundle.ErrBadInfo, bundle.ErrBadVulnDB,
	}
	for i, s := range sentinels {
		wrapped := bundle.MemberErr("download/x/@v/v1.0.0.zip", fmt.Errorf("%w: detail", s))
		if !errors.Is(s, bundle.ErrInvalid) || !errors.Is(wrapped, bundle.ErrInvalid) {
			t.Errorf("%q does not match ErrInvalid", s)
		}
		if !errors.Is(wrapped, s) {
			t.Errorf("%q no longer matches its own sentinel", wrapped)
		}
		for j, o := range sentinels {
			if i != j && errors.Is(s, o) {
				t.Errorf("%q matches %q", s, o)
			}
		}
		//lint:ignore SA1032 ErrInvalid is the error under test here, s the target
		if errors.Is(bundle.ErrInvalid, s) {
			t.Errorf("ErrInvalid matches %q", s)
		}
	}
	// Any member error says the bundle is bad, and still matches what it wraps.
	me := fmt.Errorf("b.tar.zst: %w", bundle.MemberErr("vulndb/", fs.ErrNotExist))
	if !errors.Is(me, bundle.ErrInvalid) || !errors.Is(me, fs.ErrNotExist) {
		t.Errorf("%q: matches ErrInvalid %v, fs.ErrNotExist %v; want both", me, errors.Is(me, bundle.ErrInvalid), errors.Is(me, fs.ErrNotExist))
	}
	if errors.Is(errors.New("disk full"), bundle.ErrInvalid) || errors.Is(fmt.Errorf("staging x: %w", fs.ErrPermission), bundle.ErrInvalid) {
		t.Error("an error that is not about the bundle matches ErrInvalid")
	}
}

// failStage is a Stage whose disk is full.
type failStage struct{}

func (failStage) Create(string) (io.WriteCloser, error) { return nil, syscall.ENOSPC }
func (failStage) LocalPath(string) (string, error)      { return "", fs.ErrNotExist }

func TestStageFailureIsNotInvalid(t *testing.T) {
	k := newTestKey(t)
	b := writeBundle(t, sampleSource(t), k)
	_, err := bundle.Read(context.Background(), bytes.NewReader(b), bundle.ReadOptions{Verify: k.verify, Stage: failStage{}})
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Read into a full stage: %v, want ENOSPC", err)
	}
	if errors.Is(err, bundle.ErrInvalid) {
		t.Errorf("a full stage is not a bad bundle, but %q matches ErrInvalid", err)
	}
}

// TestManifestModuleErrors: a manifest error about one module version is
// a *module.ModuleError naming it, inside ErrBadManifest.
func TestManifestModuleErrors(t *testing.T) {
	s := sampleSource(t)
	for _, tc := range []struct {
		desc string
		edit func(*bundle.Module)
		want error // nil: only ErrBadManifest
		text string
	}{
		{"bad modHash", func(m *bundle.Module) { m.ModHash = "h1:x" }, nil, "is not an h1: hash"},
		{"other modHash", func(m *bundle.Module) { m.ModHash = modfiles.HashMod([]byte("module other\n")) }, bundle.ErrHashMismatch, "but the go.mod listed hashes to"},
		{"non-canonical version", func(m *bundle.Module) { m.Version = "v1.0" }, nil, "version is not canonical"},
	} {
		m := *s.Manifest
		m.Modules = slices.Clone(s.Manifest.Modules)
		tc.edit(&m.Modules[0])
		mv := m.Modules[0].ModuleVersion()
		err := m.Validate()
		var me *module.ModuleError
		switch {
		case !errors.Is(err, bundle.ErrBadManifest) || !errors.Is(err, bundle.ErrInvalid):
			t.Errorf("%s: %v, want ErrBadManifest", tc.desc, err)
		case tc.want != nil && !errors.Is(err, tc.want):
			t.Errorf("%s: %v, want %v", tc.desc, err, tc.want)
		case !errors.As(err, &me) || me.Path != mv.Path || me.Version != mv.Version:
			t.Errorf("%s: %v is not a *module.ModuleError for %s", tc.desc, err, mv)
		case !strings.Contains(err.Error(), "modules: "+mv.String()+": ") || !strings.Contains(err.Error(), tc.text):
			t.Errorf("%s: message %q", tc.desc, err)
		}
	}
}
