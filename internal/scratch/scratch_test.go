package scratch

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

func TestClean(t *testing.T) {
	dir := t.TempDir()
	future := time.Now().Add(time.Hour)

	live, err := CreateTemp(dir, "up-*.zip")
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	liveDir, release, err := MkdirTemp(dir, "stage-*")
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	os.WriteFile(filepath.Join(liveDir, "m0"), []byte("x"), 0o644)

	// Leftovers: a file and a directory nobody holds (as after kill -9),
	// and a file held by another process.
	dead := filepath.Join(dir, "up-dead.zip")
	os.WriteFile(dead, make([]byte, 1000), 0o644)
	deadDir := filepath.Join(dir, "stage-dead")
	os.MkdirAll(filepath.Join(deadDir, "sub"), 0o755)
	os.WriteFile(filepath.Join(deadDir, "sub", "m1"), make([]byte, 24), 0o644)
	other := filepath.Join(dir, "up-other.zip")
	os.WriteFile(other, nil, 0o644)
	cmd := exec.Command("flock", "--exclusive", other, "sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatalf("flock(1) from util-linux is needed: %v", err)
	}
	defer cmd.Process.Kill()
	for i := 0; ; i++ { // wait until the child holds the lock
		f, _ := os.Open(other)
		err := lock(f)
		f.Close()
		if err != nil {
			break
		}
		if i > 200 {
			t.Fatal("child never locked the file")
		}
		time.Sleep(10 * time.Millisecond)
	}
	keep := filepath.Join(dir, "unrelated")
	os.WriteFile(keep, nil, 0o644)

	// Nothing is older than a cutoff in the past.
	if removed, _, err := Clean(dir, "up-*", time.Now().Add(-time.Hour)); err != nil || len(removed) != 0 {
		t.Fatalf("Clean with an old cutoff removed %v, %v", removed, err)
	}
	removed, freed, err := Clean(dir, "up-*", future)
	if err != nil || len(removed) != 1 || removed[0] != dead || freed != 1000 {
		t.Fatalf("Clean(up-*) = %v, %d, %v; want only %s, 1000 bytes", removed, freed, err, dead)
	}
	removed, freed, err = Clean(dir, "stage-*", future)
	if err != nil || len(removed) != 1 || removed[0] != deadDir || freed != 24 {
		t.Fatalf("Clean(stage-*) = %v, %d, %v; want only %s, 24 bytes", removed, freed, err, deadDir)
	}
	for _, p := range []string{live.Name(), liveDir, other, keep} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s was removed", p)
		}
	}
}
