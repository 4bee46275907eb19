package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func openTestLog(t *testing.T, dir string) *Log {
	t.Helper()
	l, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func appendN(t *testing.T, l *Log, n int) []Entry {
	t.Helper()
	var out []Entry
	for i := 0; i < n; i++ {
		e, err := l.Append(context.Background(), Entry{
			Actor: "token:ci", Action: ActionPublish, Target: fmt.Sprintf("example.com/m@v1.0.%d", i),
			Result: ResultOK, Detail: map[string]string{"i": strconv.Itoa(i)},
		})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

func TestAppendVerify(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "audit")
	l := openTestLog(t, dir)
	if n, err := l.Verify(context.Background()); n != 0 || err != nil {
		t.Fatalf("Verify of empty log = %d, %v", n, err)
	}
	entries := appendN(t, l, 10)
	for i, e := range entries {
		if e.Seq != int64(i+1) {
			t.Errorf("entry %d: seq %d", i, e.Seq)
		}
		if e.Time.IsZero() || e.Time.Location() != time.UTC {
			t.Errorf("entry %d: time %v not set in UTC", i, e.Time)
		}
	}
	if entries[0].Prev != Genesis {
		t.Errorf("first prev = %s", entries[0].Prev)
	}
	data, err := os.ReadFile(l.Path())
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(data), "\n")
	lines = lines[:len(lines)-1]
	for i := 1; i < len(lines); i++ {
		if got, want := entries[i].Prev, hashLine([]byte(strings.TrimSuffix(lines[i-1], "\n"))); got != want {
			t.Errorf("entry %d: prev %s, want %s", i+1, got, want)
		}
	}
	n, err := Verify(bytes.NewReader(data))
	if n != 10 || err != nil {
		t.Fatalf("Verify = %d, %v", n, err)
	}
	if n, err := l.Verify(context.Background()); n != 10 || err != nil {
		t.Fatalf("Log.Verify = %d, %v", n, err)
	}
	head, err := l.Head(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if want := (Head{10, hashLine([]byte(strings.TrimSuffix(lines[9], "\n")))}); head != want {
		t.Errorf("Head = %v, want %v", head, want)
	}
	for name, want := range map[string]os.FileMode{LogFile: 0o600, HeadFile: 0o600, LockFile: 0o600, ".": 0o700 | os.ModeDir} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != want {
			t.Errorf("%s: mode %v, want %v", name, fi.Mode(), want)
		}
	}
}

func TestAppendValidates(t *testing.T) {
	l := openTestLog(t, t.TempDir())
	ctx := context.Background()
	for _, e := range []Entry{
		{Actor: "a", Result: ResultOK},
		{Action: ActionImport, Result: ResultOK},
		{Action: ActionImport, Actor: "a"},
		{Action: ActionImport, Actor: "a", Result: ResultOK, Target: strings.Repeat("x", MaxLineSize)},
	} {
		if _, err := l.Append(ctx, e); err == nil {
			t.Errorf("Append(%+v) succeeded", e)
		}
	}
	// Seq and Prev from the caller are ignored; Detail is copied.
	d := map[string]string{"k": "v"}
	e, err := l.Append(ctx, Entry{Seq: 99, Prev: "x", Action: ActionServerStart, Actor: "server", Result: ResultOK, Detail: d})
	if err != nil {
		t.Fatal(err)
	}
	d["k"] = "changed"
	if e.Seq != 1 || e.Prev != Genesis || e.Detail["k"] != "v" {
		t.Errorf("Append returned %+v", e)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := l.Append(cctx, Entry{Action: ActionImport, Actor: "a", Result: ResultOK}); !errors.Is(err, context.Canceled) {
		t.Errorf("Append with canceled context: %v", err)
	}
}

// TestAppendDoesNotRewrite checks that appending leaves the existing bytes
// and the file itself (inode) alone.
func TestAppendDoesNotRewrite(t *testing.T) {
	l := openTestLog(t, t.TempDir())
	appendN(t, l, 3)
	before, _ := os.ReadFile(l.Path())
	fi1, _ := os.Stat(l.Path())
	appendN(t, l, 1)
	after, _ := os.ReadFile(l.Path())
	fi2, _ := os.Stat(l.Path())
	if !bytes.HasPrefix(after, before) || len(after) <= len(before) {
		t.Error("append changed existing bytes")
	}
	if !os.SameFile(fi1, fi2) {
		t.Error("append replaced the file")
	}
}

// logLines returns a fresh log of n entries as lines without newlines.
func logLines(t *testing.T, n int) ([][]byte, Head) {
	t.Helper()
	l := openTestLog(t, t.TempDir())
	appendN(t, l, n)
	data, err := os.ReadFile(l.Path())
	if err != nil {
		t.Fatal(err)
	}
	head, err := l.Head(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")), head
}

func join(lines [][]byte) []byte {
	var b bytes.Buffer
	for _, l := range lines {
		b.Write(l)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func TestVerifyDetectsTampering(t *testing.T) {
	orig, head := logLines(t, 6)
	cp := func() [][]byte {
		c := make([][]byte, len(orig))
		for i := range orig {
			c[i] = bytes.Clone(orig[i])
		}
		return c
	}
	edit := func(line []byte, from, to string) []byte {
		if !bytes.Contains(line, []byte(from)) {
			t.Fatalf("%q not in %s", from, line)
		}
		return bytes.Replace(line, []byte(from), []byte(to), 1)
	}
	// forged builds a well-formed entry with the given seq and prev.
	forged := func(seq int64, prev string) []byte {
		b, err := encodeLine(Entry{Seq: seq, Time: time.Now().UTC(), Actor: "mallory", Action: ActionDelete, Target: "x", Result: ResultOK, Prev: prev})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name     string
		data     func() []byte
		line     int // line blamed by Verify; 0 if Verify passes
		headLine int // line blamed by VerifyHead
		reason   string
	}{
		{"intact", func() []byte { return join(orig) }, 0, 0, ""},
		{"edit line 3", func() []byte { c := cp(); c[2] = edit(c[2], "token:ci", "token:xx"); return join(c) }, 3, 3, "changed"},
		{"edit line 1", func() []byte { c := cp(); c[0] = edit(c[0], "token:ci", "token:xx"); return join(c) }, 1, 1, "changed"},
		{"edit prev of line 4", func() []byte {
			c := cp()
			i := bytes.Index(c[3], []byte(`"prev":"`)) + len(`"prev":"`)
			if c[3][i] == '0' {
				c[3][i] = '1'
			} else {
				c[3][i] = '0'
			}
			return join(c)
		}, 4, 4, ""},
		{"edit seq of line 4", func() []byte { c := cp(); c[3] = edit(c[3], `"seq":4`, `"seq":40`); return join(c) }, 4, 4, "seq"},
		{"edit last line", func() []byte { c := cp(); c[5] = edit(c[5], "token:ci", "token:xx"); return join(c) }, 0, 6, "head"},
		{"delete line 3", func() []byte { c := cp(); return join(append(c[:2], c[3:]...)) }, 3, 3, "removed"},
		{"delete line 1", func() []byte { c := cp(); return join(c[1:]) }, 1, 1, "removed"},
		{"delete last line", func() []byte { c := cp(); return join(c[:5]) }, 0, 6, "removed from the end"},
		{"delete last two lines", func() []byte { c := cp(); return join(c[:4]) }, 0, 5, "removed from the end"},
		{"insert copy of line 2 at 4", func() []byte {
			c := cp()
			return join(append(c[:3], append([][]byte{orig[1]}, c[3:]...)...))
		}, 4, 4, "inserted"},
		{"insert forged entry at 3", func() []byte {
			c := cp()
			f := forged(3, hashLine(orig[1]))
			return join(append(c[:2], append([][]byte{f}, c[2:]...)...))
		}, 3, 3, "inserted"},
		{"insert forged entry at end", func() []byte {
			c := cp()
			return join(append(c, forged(7, "1111111111111111111111111111111111111111111111111111111111111111")))
		}, 6, 6, "changed"},
		{"swap lines 3 and 4", func() []byte { c := cp(); c[2], c[3] = c[3], c[2]; return join(c) }, 3, 3, "reordered"},
		{"swap lines 1 and 6", func() []byte { c := cp(); c[0], c[5] = c[5], c[0]; return join(c) }, 1, 1, "reordered"},
		{"truncate inside line 5", func() []byte { d := join(orig[:4]); return append(d, orig[4][:20]...) }, 5, 5, "removed from the end"},
		{"no final newline", func() []byte { d := join(orig); return d[:len(d)-1] }, 6, 6, "removed from the end"},
		{"blank line", func() []byte { c := cp(); return join(append(c[:2], append([][]byte{{}}, c[2:]...)...)) }, 3, 3, "empty"},
		{"garbage line", func() []byte { c := cp(); c[1] = []byte("hello"); return join(c) }, 2, 2, "not a valid entry"},
		{"unknown field", func() []byte { c := cp(); c[1] = edit(c[1], `{"seq"`, `{"x":1,"seq"`); return join(c) }, 2, 2, "unknown field"},
		{"crlf", func() []byte { return bytes.ReplaceAll(join(orig), []byte("\n"), []byte("\r\n")) }, 1, 1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := tt.data()
			check := func(fn string, n int, err error, want int) {
				t.Helper()
				if want == 0 {
					if err != nil {
						t.Fatalf("%s: %v", fn, err)
					}
					return
				}
				var ce *ChainError
				if !errors.As(err, &ce) || !errors.Is(err, ErrTampered) {
					t.Fatalf("%s = %d, %v; want *ChainError at line %d, matching ErrTampered", fn, n, err, want)
				}
				if ce.Line != want || ce.Seq != int64(want) || n != want-1 {
					t.Errorf("%s = %d, %v; want line %d", fn, n, err, want)
				}
				if !strings.Contains(ce.Reason, tt.reason) {
					t.Errorf("%s: reason %q does not mention %q", fn, ce.Reason, tt.reason)
				}
			}
			n, err := Verify(bytes.NewReader(data))
			// A torn last line is not tampering on its own; only the head
			// shows whether an acknowledged entry was cut.
			if tt.reason == "removed from the end" && tt.line == tt.headLine {
				var te *TornError
				if !errors.As(err, &te) || te.Line != tt.line || n != tt.line-1 {
					t.Errorf("Verify = %d, %v; want *TornError at line %d", n, err, tt.line)
				}
			} else {
				check("Verify", n, err, tt.line)
			}
			n, err = VerifyHead(bytes.NewReader(data), head)
			check("VerifyHead", n, err, tt.headLine)
		})
	}
}

func TestVerifyHeadOlderAnchor(t *testing.T) {
	dir := t.TempDir()
	l := openTestLog(t, dir)
	appendN(t, l, 3)
	anchor, err := l.Head(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := ParseHead(anchor.String())
	if err != nil || parsed != anchor {
		t.Fatalf("ParseHead(%q) = %v, %v", anchor, parsed, err)
	}
	appendN(t, l, 3)
	data, _ := os.ReadFile(l.Path())
	if n, err := VerifyHead(bytes.NewReader(data), anchor); n != 6 || err != nil {
		t.Fatalf("VerifyHead with an older anchor = %d, %v", n, err)
	}
	// A consistent rewrite of the whole log (new hashes everywhere) passes
	// Verify but not the anchor written down before it.
	rewritten := openTestLog(t, t.TempDir())
	for i := 0; i < 6; i++ {
		rewritten.Append(context.Background(), Entry{Actor: "mallory", Action: ActionImport, Result: ResultOK})
	}
	data, _ = os.ReadFile(rewritten.Path())
	if _, err := Verify(bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	var ce *ChainError
	if _, err := VerifyHead(bytes.NewReader(data), anchor); !errors.As(err, &ce) || ce.Line != 3 {
		t.Errorf("VerifyHead of rewritten log = %v, want line 3", err)
	}
	for _, bad := range []string{"", "3", "x:" + Genesis, "-1:" + Genesis, "3:abc", "0:" + strings.Repeat("1", 64)} {
		if _, err := ParseHead(bad); err == nil {
			t.Errorf("ParseHead(%q) succeeded", bad)
		}
	}
}

func TestAppendRefusesTamperedLog(t *testing.T) {
	ctx := context.Background()
	e := Entry{Actor: "a", Action: ActionImport, Result: ResultOK}
	t.Run("truncated", func(t *testing.T) {
		l := openTestLog(t, t.TempDir())
		appendN(t, l, 3)
		data, _ := os.ReadFile(l.Path())
		lines := bytes.SplitAfter(data, []byte("\n"))
		os.WriteFile(l.Path(), bytes.Join(lines[:2], nil), 0o600)
		if _, err := l.Append(ctx, e); !errors.Is(err, ErrTampered) {
			t.Fatalf("Append after truncation: %v", err)
		}
		var ce *ChainError
		if _, err := l.Verify(ctx); !errors.As(err, &ce) || ce.Line != 3 {
			t.Errorf("Verify = %v", err)
		}
	})
	t.Run("last entry changed", func(t *testing.T) {
		l := openTestLog(t, t.TempDir())
		appendN(t, l, 3)
		data, _ := os.ReadFile(l.Path())
		os.WriteFile(l.Path(), bytes.Replace(data, []byte("v1.0.2"), []byte("v1.0.9"), 1), 0o600)
		if _, err := l.Append(ctx, e); !errors.Is(err, ErrTampered) {
			t.Fatalf("Append after edit: %v", err)
		}
	})
	t.Run("emptied", func(t *testing.T) {
		l := openTestLog(t, t.TempDir())
		appendN(t, l, 2)
		os.WriteFile(l.Path(), nil, 0o600)
		if _, err := l.Append(ctx, e); !errors.Is(err, ErrTampered) {
			t.Fatalf("Append after emptying: %v", err)
		}
	})
}

func TestAppendCutsTornTail(t *testing.T) {
	ctx := context.Background()
	l := openTestLog(t, t.TempDir())
	appendN(t, l, 2)
	f, _ := os.OpenFile(l.Path(), os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString(`{"seq":3,"time":"20`)
	f.Close()
	var te *TornError
	if n, err := l.Verify(ctx); !errors.As(err, &te) || te.Line != 3 || te.Bytes != 19 || n != 2 {
		t.Fatalf("Verify of torn log = %d, %v", n, err)
	}
	e, err := l.Append(ctx, Entry{Actor: "a", Action: ActionImport, Result: ResultOK})
	if err != nil {
		t.Fatal(err)
	}
	if e.Seq != 4 {
		t.Errorf("Append = %+v", e)
	}
	if n, err := l.Verify(ctx); n != 4 || err != nil {
		t.Fatalf("Verify = %d, %v", n, err)
	}
	data, _ := os.ReadFile(l.Path())
	rec, err := Read(bytes.NewReader(data), Filter{Action: ActionRecover})
	if err != nil || len(rec) != 1 || rec[0].Seq != 3 || rec[0].Detail["tornBytes"] != "19" ||
		rec[0].Detail["tornSHA256"] != hashLine([]byte(`{"seq":3,"time":"20`)) || rec[0].Actor != ActorAudit {
		t.Fatalf("recovery entries = %+v, %v", rec, err)
	}

	// A torn line after an entry the head does not record is not cut.
	lines := bytes.SplitAfter(data, []byte("\n"))
	os.WriteFile(l.Path(), append(bytes.Join(lines[:2], nil), "{"...), 0o600)
	if _, err := l.Append(ctx, Entry{Actor: "a", Action: ActionImport, Result: ResultOK}); !errors.Is(err, ErrTampered) {
		t.Fatalf("Append: %v", err)
	}
}

func TestAppendContextWhileLocked(t *testing.T) {
	dir := t.TempDir()
	l1 := openTestLog(t, dir)
	l2 := openTestLog(t, dir) // another open file: flock conflicts as with another process
	unlock, err := l2.lock.Lock(context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = l1.Append(ctx, Entry{Actor: "a", Action: ActionImport, Result: ResultOK})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Append while locked elsewhere: %v", err)
	}
	unlock()
	if _, err := l1.Append(context.Background(), Entry{Actor: "a", Action: ActionImport, Result: ResultOK}); err != nil {
		t.Fatal(err)
	}
}

// checkAll verifies the log in dir and that it holds exactly the targets.
func checkAll(t *testing.T, dir string, targets map[string]bool) {
	t.Helper()
	l := openTestLog(t, dir)
	n, err := l.Verify(context.Background())
	if err != nil || n != len(targets) {
		t.Fatalf("Verify = %d, %v; want %d entries", n, err, len(targets))
	}
	f, err := os.Open(l.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	entries, err := Read(f, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range entries {
		if !targets[e.Target] || seen[e.Target] {
			t.Errorf("unexpected or repeated entry %q", e.Target)
		}
		seen[e.Target] = true
	}
}

func TestConcurrentAppends(t *testing.T) {
	dir := t.TempDir()
	logs := []*Log{openTestLog(t, dir), openTestLog(t, dir), openTestLog(t, dir)}
	const goroutines, each = 12, 20
	var wg sync.WaitGroup
	var mu sync.Mutex
	targets := map[string]bool{}
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := logs[g%len(logs)]
			for i := 0; i < each; i++ {
				target := fmt.Sprintf("g%d-%d", g, i)
				if _, err := l.Append(context.Background(), Entry{Actor: "a", Action: ActionPublish, Target: target, Result: ResultOK}); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				targets[target] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	checkAll(t, dir, targets)
}

const helperEnv = "MODFERRY_AUDIT_HELPER"

// TestHelperProcess appends entries when run as a child by
// TestMultiProcessAppends.
func TestHelperProcess(t *testing.T) {
	spec := os.Getenv(helperEnv)
	if spec == "" {
		t.Skip("only run as a child process")
	}
	dir, rest, _ := strings.Cut(spec, "|")
	name, count, _ := strings.Cut(rest, "|")
	n, _ := strconv.Atoi(count)
	l, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		if _, err := l.Append(context.Background(), Entry{Actor: "proc", Action: ActionPublish, Target: fmt.Sprintf("%s-%d", name, i), Result: ResultOK}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestMultiProcessAppends(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	dir := t.TempDir()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	const procs, each = 4, 40
	targets := map[string]bool{}
	var cmds []*exec.Cmd
	for p := 0; p < procs; p++ {
		name := fmt.Sprintf("p%d", p)
		for i := 0; i < each; i++ {
			targets[fmt.Sprintf("%s-%d", name, i)] = true
		}
		cmd := exec.Command(exe, "-test.run=^TestHelperProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s|%s|%d", helperEnv, dir, name, each))
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("%s output:\n%s", name, out.String())
			}
		})
		cmds = append(cmds, cmd)
	}
	// And this process appends at the same time.
	l := openTestLog(t, dir)
	for i := 0; i < each; i++ {
		target := fmt.Sprintf("parent-%d", i)
		targets[target] = true
		if _, err := l.Append(context.Background(), Entry{Actor: "parent", Action: ActionPublish, Target: target, Result: ResultOK}); err != nil {
			t.Fatal(err)
		}
	}
	for _, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("child: %v", err)
		}
	}
	checkAll(t, dir, targets)
}

func TestRead(t *testing.T) {
	l := openTestLog(t, t.TempDir())
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	add := func(min int, actor, action, target string) {
		if _, err := l.Append(context.Background(), Entry{Time: t0.Add(time.Duration(min) * time.Minute), Actor: actor, Action: action, Target: target, Result: ResultOK}); err != nil {
			t.Fatal(err)
		}
	}
	add(0, "cli:root", ActionImport, "bundle-1.tar.zst")
	add(1, "token:ci", ActionPublish, "example.com/a@v1.0.0")
	add(2, "token:ci", ActionPublish, "example.com/b@v1.0.0")
	add(3, "cli:root", ActionTokenAdd, "ci")
	add(4, "token:admin", ActionDelete, "example.com/a@v1.0.0")
	read := func(f Filter) []int64 {
		fh, err := os.Open(l.Path())
		if err != nil {
			t.Fatal(err)
		}
		defer fh.Close()
		es, err := Read(fh, f)
		if err != nil {
			t.Fatal(err)
		}
		var seqs []int64
		for _, e := range es {
			seqs = append(seqs, e.Seq)
		}
		return seqs
	}
	for _, tt := range []struct {
		f    Filter
		want string
	}{
		{Filter{}, "[1 2 3 4 5]"},
		{Filter{Action: ActionPublish}, "[2 3]"},
		{Filter{Actor: "cli:root"}, "[1 4]"},
		{Filter{Target: "example.com/a"}, "[2 5]"},
		{Filter{Since: t0.Add(2 * time.Minute)}, "[3 4 5]"},
		{Filter{Until: t0.Add(2 * time.Minute)}, "[1 2]"},
		{Filter{Since: t0.Add(time.Minute), Until: t0.Add(4 * time.Minute), Actor: "token:ci", Target: "/b"}, "[3]"},
		{Filter{Action: "nothing"}, "[]"},
	} {
		if got := fmt.Sprint(read(tt.f)); got != tt.want {
			t.Errorf("Read(%+v) = %s, want %s", tt.f, got, tt.want)
		}
	}
	// A final line being written is skipped; a bad line is an error.
	data, _ := os.ReadFile(l.Path())
	if es, err := Read(bytes.NewReader(append(bytes.Clone(data), `{"seq":6`...)), Filter{}); err != nil || len(es) != 5 {
		t.Errorf("Read with partial last line = %d entries, %v", len(es), err)
	}
	if _, err := Read(bytes.NewReader(append(bytes.Clone(data), "junk\n"...)), Filter{}); err == nil {
		t.Error("Read accepted a junk line")
	}
}

func TestReadTailLongLines(t *testing.T) {
	// Lines longer than readTail's chunk, and a log whose first line is the last.
	l := openTestLog(t, t.TempDir())
	big := strings.Repeat("x", 10000)
	for i := 0; i < 3; i++ {
		if _, err := l.Append(context.Background(), Entry{Actor: "a", Action: ActionImport, Target: big, Result: ResultOK}); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := l.Verify(context.Background()); n != 3 || err != nil {
		t.Fatalf("Verify = %d, %v", n, err)
	}
}

func FuzzVerify(f *testing.F) {
	dir := f.TempDir()
	l, err := Open(dir)
	if err != nil {
		f.Fatal(err)
	}
	defer l.Close()
	for i := 0; i < 3; i++ {
		if _, err := l.Append(context.Background(), Entry{Actor: "a", Action: ActionImport, Target: "t", Result: ResultOK, Detail: map[string]string{"k": "v"}}); err != nil {
			f.Fatal(err)
		}
	}
	data, err := os.ReadFile(l.Path())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add(data[:len(data)/2])
	f.Add([]byte{})
	f.Add([]byte("\n\n"))
	f.Add([]byte(`{"seq":1}` + "\n"))
	lines := bytes.SplitAfter(data, []byte("\n"))
	f.Add(bytes.Join([][]byte{lines[0], lines[0], lines[1]}, nil))
	f.Add(bytes.Join([][]byte{lines[1], lines[0]}, nil))
	f.Fuzz(func(t *testing.T, data []byte) {
		n, err := Verify(bytes.NewReader(data))
		var ce *ChainError
		var te *TornError
		if errors.As(err, &te) {
			if te.Line != n+1 {
				t.Fatalf("Verify = %d, %v", n, err)
			}
			data = data[:len(data)-te.Bytes]
			err = nil
		}
		if err != nil && !errors.As(err, &ce) {
			t.Fatalf("Verify returned a %T, not a *ChainError: %v", err, err)
		}
		if err != nil {
			if ce.Line < 1 || n != ce.Line-1 && n != ce.Line {
				t.Fatalf("Verify = %d, %v", n, err)
			}
			return
		}
		// A valid log reads back with one entry per line, seqs 1..n.
		es, err := Read(bytes.NewReader(data), Filter{})
		if err != nil || len(es) != n {
			t.Fatalf("Verify passed with %d entries, but Read = %d entries, %v", n, len(es), err)
		}
		for i, e := range es {
			if e.Seq != int64(i+1) {
				t.Fatalf("entry %d has seq %d", i, e.Seq)
			}
		}
		_, _ = VerifyHead(bytes.NewReader(data), Head{Seq: int64(n), Hash: Genesis})
	})
}

func TestVerifyMissingLog(t *testing.T) {
	l := openTestLog(t, t.TempDir())
	appendN(t, l, 2)
	os.Remove(l.Path())
	var ce *ChainError
	if _, err := l.Verify(context.Background()); !errors.As(err, &ce) || ce.Line != 1 {
		t.Errorf("Verify of a removed log = %v", err)
	}
}

func BenchmarkAppend(b *testing.B) {
	l, err := Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	e := Entry{Actor: "token:ci", Action: ActionPublish, Target: "example.com/m@v1.0.0", Result: ResultOK}
	for b.Loop() {
		if _, err := l.Append(context.Background(), e); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	l, err := Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	e := Entry{Actor: "token:ci", Action: ActionPublish, Target: "example.com/m@v1.0.0", Result: ResultOK}
	for i := 0; i < 1000; i++ {
		if _, err := l.Append(context.Background(), e); err != nil {
			b.Fatal(err)
		}
	}
	data, _ := os.ReadFile(l.Path())
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if n, err := Verify(bytes.NewReader(data)); n != 1000 || err != nil {
			b.Fatal(n, err)
		}
	}
}
