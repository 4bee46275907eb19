//go:build !unix

package publish

// processGone cannot tell here: the caller falls back on MaxPublishTime.
func processGone(int) (gone, known bool) { return false, false }
