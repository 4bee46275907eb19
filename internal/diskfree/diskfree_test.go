package diskfree

import "testing"

func TestAvailable(t *testing.T) {
	n, err := Available(t.TempDir())
	if err != nil || n <= 0 {
		t.Fatalf("Available = %d, %v; want a positive number of bytes", n, err)
	}
	if _, err := Available(t.TempDir() + "/missing"); err == nil {
		t.Error("Available of a missing path: no error")
	}
}
