package store

import (
	"testing"
	"time"
)

// TestStableStamp: a listing is trusted for a stamp only once the stamp
// is older than the filesystem's timestamp granularity could hide a
// change in: 100 ms for a stamp with a fraction of a second, 2 s for a
// whole second (ext3, HFS+, FAT record no finer).
func TestStableStamp(t *testing.T) {
	fine := time.Date(2026, 12, 2, 10, 0, 0, 123456789, time.UTC)
	coarse := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		stamp time.Time
		after time.Duration
		want  bool
	}{
		{fine, 50 * time.Millisecond, false},
		{fine, 150 * time.Millisecond, true},
		{coarse, 150 * time.Millisecond, false},
		{coarse, 1500 * time.Millisecond, false},
		{coarse, 2 * time.Second, true},
	} {
		if got := StableStamp(tc.stamp.UnixNano(), tc.stamp.Add(tc.after)); got != tc.want {
			t.Errorf("StableStamp(%v, +%v) = %v, want %v", tc.stamp, tc.after, got, tc.want)
		}
	}
	if StableStamp(0, time.Now()) {
		t.Error("no stamp is never stable")
	}
}
