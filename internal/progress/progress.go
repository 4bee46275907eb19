// Package progress draws a one-line progress bar on a terminal and stays
// silent otherwise, so that scripts and CI logs get only results.
package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"
)

// Bar is a progress line for work counted in items and, optionally, bytes.
// A nil *Bar is valid and does nothing.
type Bar struct {
	mu       sync.Mutex
	w        io.Writer
	label    string
	total    int
	done     int
	bytes    int64
	start    time.Time
	lastDraw time.Time
}

// New returns a bar writing to stderr if stderr is a terminal, else nil.
func New(label string, total int) *Bar {
	if !term.IsTerminal(int(os.Stderr.Fd())) {
		return nil
	}
	return &Bar{w: os.Stderr, label: label, total: total, start: time.Now()}
}

// SetTotal changes the number of items expected.
func (b *Bar) SetTotal(n int) {
	if b == nil {
		return
	}
	b.mu.Lock()
	b.total = n
	b.mu.Unlock()
}

// Add records n more items done and bytes more bytes handled.
func (b *Bar) Add(n int, bytes int64) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.done += n
	b.bytes += bytes
	if now := time.Now(); now.Sub(b.lastDraw) > 100*time.Millisecond || b.done == b.total {
		b.lastDraw = now
		b.draw()
	}
}

// Set sets the items done.
func (b *Bar) Set(done int) {
	if b == nil {
		return
	}
	b.mu.Lock()
	delta := done - b.done
	b.mu.Unlock()
	b.Add(delta, 0)
}

func (b *Bar) draw() {
	el := time.Since(b.start).Seconds()
	rate := ""
	if b.bytes > 0 && el > 0 {
		rate = fmt.Sprintf("  %s  %s/s", Bytes(b.bytes), Bytes(int64(float64(b.bytes)/el)))
	}
	const width = 24
	filled := 0
	if b.total > 0 {
		filled = min(width, b.done*width/b.total)
	}
	fmt.Fprintf(b.w, "\r\033[K%s [%s%s] %d/%d%s", b.label, strings.Repeat("=", filled), strings.Repeat(" ", width-filled), b.done, b.total, rate)
}

// Done ends the line.
func (b *Bar) Done() {
	if b == nil {
		return
	}
	b.mu.Lock()
	b.draw()
	fmt.Fprintln(b.w)
	b.mu.Unlock()
}

// Bytes formats a byte count for people.
func Bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
