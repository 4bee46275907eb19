package server

import (
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/modferry/modferry/internal/diskfree"
	"github.com/modferry/modferry/internal/publish"
	"github.com/modferry/modferry/internal/store"
)

// Defaults for the upload limits in Config.
const (
	DefaultMaxBundleBytes = 8 << 30
	DefaultMaxUploads     = 4
	DefaultMinFreeBytes   = 1 << 30
)

// UploadsDir is the directory, in a disk store, that holds uploads while
// they are received and checked: on the store's filesystem, so that a
// commit is a rename and the free-space floor applies, and cleaned of
// what crashed uploads leave (see Clean).
const UploadsDir = "uploads"

// ErrNoSpace is matched by the errors of an upload refused or stopped
// because the store's filesystem would fall below its free-space floor.
var ErrNoSpace = errors.New("not enough free space in the store")

// uploadSlot takes one of the concurrent upload slots, or answers 429
// with Retry-After and returns false.
func (s *Server) uploadSlot(w http.ResponseWriter) (release func(), ok bool) {
	select {
	case s.uploads <- struct{}{}:
		end := s.live.begin()
		return func() {
			end()
			<-s.uploads
		}, true
	default:
		retryAfter(w, 5*time.Second)
		apiError(w, http.StatusTooManyRequests, fmt.Sprintf("the server is receiving %d uploads already (serve --max-uploads); try again shortly", cap(s.uploads)))
		return nil, false
	}
}

// uploadDir returns the directory for upload temporary files, creating it.
func (s *Server) uploadDir() (string, error) {
	dir := s.tempDir
	if dir == "" {
		if d, ok := s.store.(store.Local); ok {
			dir = filepath.Join(d.Root(), UploadsDir)
		} else {
			dir = os.TempDir()
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	return dir, nil
}

// spaceWriter writes an upload to a file and stops it, with an error
// matching ErrNoSpace, once the file's filesystem would fall below the
// free-space floor. It looks at the filesystem every checkEvery bytes.
type spaceWriter struct {
	f       *os.File
	floor   int64
	written int64
	next    int64
}

const checkEvery = 8 << 20

func (w *spaceWriter) Write(p []byte) (int, error) {
	if w.floor > 0 && w.written+int64(len(p)) >= w.next {
		if err := checkFree(w.f.Name(), w.floor, checkEvery+int64(len(p))); err != nil {
			return 0, err
		}
		w.next = w.written + int64(len(p)) + checkEvery
	}
	n, err := w.f.Write(p)
	w.written += int64(n)
	if err != nil {
		err = &writeError{err}
	}
	return n, err
}

// writeError marks an error writing to local disk, as opposed to reading
// the request, so that a full disk is not blamed on the client.
type writeError struct{ err error }

func (e *writeError) Error() string { return "writing to the store's disk: " + e.err.Error() }
func (e *writeError) Unwrap() error { return e.err }

// checkFree fails with ErrNoSpace if writing need more bytes to the
// filesystem holding path would leave less than floor bytes free.
func checkFree(path string, floor, need int64) error {
	if floor <= 0 {
		return nil
	}
	free, err := diskfree.Available(path)
	if err != nil {
		return err
	}
	if free-need < floor {
		return fmt.Errorf("%w: %d bytes free in %s, %d needed, and the server keeps %d free (serve --min-free-space)",
			ErrNoSpace, free, filepath.Dir(path), need, floor)
	}
	return nil
}

// isDiskFull reports whether err says the disk (or a quota) is full.
func isDiskFull(err error) bool {
	return errors.Is(err, ErrNoSpace) || errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// uploadStatus maps an error of receiving or checking an upload to an
// HTTP status.
func uploadStatus(err error) int {
	var mbe *http.MaxBytesError
	var we *writeError
	switch {
	case err == nil:
		return http.StatusOK
	case isDiskFull(err):
		return http.StatusInsufficientStorage
	case errors.Is(err, os.ErrDeadlineExceeded):
		return http.StatusRequestTimeout
	case errors.As(err, &mbe), errors.Is(err, publish.ErrTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, store.ErrUnavailable), errors.Is(err, store.ErrLockBusy):
		return http.StatusServiceUnavailable
	case errors.As(err, &we):
		return http.StatusInternalServerError
	case errors.Is(err, fs.ErrExist):
		return http.StatusConflict
	case errors.Is(err, publish.ErrInvalid):
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

func retryAfter(w http.ResponseWriter, d time.Duration) {
	w.Header().Set("Retry-After", strconv.Itoa(int(d/time.Second)))
}
