package bundle

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

	"golang.org/x/mod/module"

	"github.com/modferry/modferry/internal/modfiles"
)

func TestErrInvalid(t *testing.T) {
	sentinels := []error{
		ErrUnsigned, ErrBadSignature, ErrBadManifest, ErrManifestFirst, ErrHashMismatch,
		ErrNotInManifest, ErrMissingMember, ErrUnsafePath, ErrNotRegular, ErrDuplicate,
		ErrTooLarge, ErrSizeMismatch, ErrNonCanonical, ErrCorrupt, ErrBadZip, ErrBadInfo, ErrBadVulnDB,
	}
	for i, s := range sentinels {
		wrapped := memberErr("download/x/@v/v1.0.0.zip", fmt.Errorf("%w: detail", s))
		if !errors.Is(s, ErrInvalid) || !errors.Is(wrapped, ErrInvalid) {
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
		if errors.Is(ErrInvalid, s) {
			t.Errorf("ErrInvalid matches %q", s)
		}
	}
	// Any member error says the bundle is bad, and still matches what it wraps.
	me := fmt.Errorf("b.tar.zst: %w", memberErr("vulndb/", fs.ErrNotExist))
	if !errors.Is(me, ErrInvalid) || !errors.Is(me, fs.ErrNotExist) {
		t.Errorf("%q: matches ErrInvalid %v, fs.ErrNotExist %v; want both", me, errors.Is(me, ErrInvalid), errors.Is(me, fs.ErrNotExist))
	}
	if errors.Is(errors.New("disk full"), ErrInvalid) || errors.Is(fmt.Errorf("staging x: %w", fs.ErrPermission), ErrInvalid) {
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
	_, err := Read(context.Background(), bytes.NewReader(b), ReadOptions{Verify: k.verify, Stage: failStage{}})
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Read into a full stage: %v, want ENOSPC", err)
	}
	if errors.Is(err, ErrInvalid) {
		t.Errorf("a full stage is not a bad bundle, but %q matches ErrInvalid", err)
	}
}

// TestManifestModuleErrors: a manifest error about one module version is
// a *module.ModuleError naming it, inside ErrBadManifest.
func TestManifestModuleErrors(t *testing.T) {
	s := sampleSource(t)
	for _, tc := range []struct {
		desc string
		edit func(*Module)
		want error // nil: only ErrBadManifest
		text string
	}{
		{"bad modHash", func(m *Module) { m.ModHash = "h1:x" }, nil, "is not an h1: hash"},
		{"other modHash", func(m *Module) { m.ModHash = modfiles.HashMod([]byte("module other\n")) }, ErrHashMismatch, "but the go.mod listed hashes to"},
		{"non-canonical version", func(m *Module) { m.Version = "v1.0" }, nil, "version is not canonical"},
	} {
		m := *s.m
		m.Modules = slices.Clone(s.m.Modules)
		tc.edit(&m.Modules[0])
		mv := m.Modules[0].ModuleVersion()
		err := m.Validate()
		var me *module.ModuleError
		switch {
		case !errors.Is(err, ErrBadManifest) || !errors.Is(err, ErrInvalid):
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
