package bundle

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"syscall"
	"testing"
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
