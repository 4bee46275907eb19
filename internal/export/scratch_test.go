package export

import "testing"

// TestRunDir checks where resolution's throw-away files go: nowhere of
// their own without a work directory (it is scratch already), and to
// $MODFERRY_SCRATCH with one.
func TestRunDir(t *testing.T) {
	d := t.TempDir()
	t.Setenv("MODFERRY_SCRATCH", d)
	if got := runDir(""); got != "" {
		t.Errorf("runDir(\"\") = %q, want \"\"", got)
	}
	if got := runDir("/var/cache/modferry-work"); got != d {
		t.Errorf("runDir(work) = %q, want $MODFERRY_SCRATCH %q", got, d)
	}
	if got := ScratchDir(); got != d {
		t.Errorf("ScratchDir() = %q, want $MODFERRY_SCRATCH %q", got, d)
	}
}
