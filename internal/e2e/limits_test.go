package e2e

import (
	"bufio"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modferry/modferry/internal/testupstream"
)

// TestServeDropsSlowClients runs `modferry serve` with small transfer
// limits: a client that asks for a 24 MB zip and never reads it and a
// client that sends a body a byte at a time are cut off within seconds,
// while the go command downloads the same zip and /healthz keeps answering
// fast.
func TestServeDropsSlowClients(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	os.MkdirAll(src, 0o755)
	os.WriteFile(filepath.Join(src, "go.mod"), []byte("module corp.example/big\n\ngo 1.22\n"), 0o644)
	os.WriteFile(filepath.Join(src, "big.go"), []byte("package big\n"), 0o644)
	data := make([]byte, 24<<20)
	rand.Read(data)
	os.WriteFile(filepath.Join(src, "data.bin"), data, 0o644)
	store := filepath.Join(dir, "store")
	mf(t, "publish", "--store", store, "corp.example/big@v1.0.0", src)
	token := addToken(t, store, "w", "read,write")
	url := serve(t, store, "--min-rate", "1MiB", "--stall-timeout", "500ms", "--allow-anonymous-read")
	addr := strings.TrimPrefix(url, "http://")

	// The slow reader.
	reader, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	fmt.Fprintf(reader, "GET /corp.example/big/@v/v1.0.0.zip HTTP/1.1\r\nHost: x\r\n\r\n")

	// The slow writer: a publish body, a byte every 20 ms.
	writer, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Close()
	fmt.Fprintf(writer, "PUT /api/v1/modules/corp.example/slow/@v/v1.0.0 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: multipart/form-data; boundary=B\r\nContent-Length: 100000\r\n\r\n", token)
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		for range 1000 {
			if _, err := writer.Write([]byte("x")); err != nil {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()

	// Normal clients meanwhile: /healthz latency, and the go command.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		var worst time.Duration
		n := 0
		for ; ; n++ {
			select {
			case <-stop:
				t.Logf("/healthz: %d requests, worst %v", n, worst)
				return
			case <-time.After(20 * time.Millisecond):
			}
			start := time.Now()
			resp, err := client.Get(url + "/healthz")
			if err != nil {
				t.Errorf("/healthz: %v", err)
				return
			}
			resp.Body.Close()
			if d := time.Since(start); d > worst {
				worst = d
			}
			if worst > time.Second {
				t.Errorf("/healthz took %v", worst)
				return
			}
		}
	}()
	env := append(testupstream.GoEnv(t, url), "GONOSUMDB=corp.example")
	testupstream.RunGo(t, dir, env, "mod", "download", "corp.example/big@v1.0.0")

	// The server has cut both slow clients off: reading what the slow
	// reader's socket holds ends early, and the writer's next write or
	// read fails.
	time.Sleep(2 * time.Second)
	reader.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err := io.Copy(io.Discard, reader)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the slow reader's connection is still open after %d bytes", n)
	}
	if n >= int64(len(data)) {
		t.Fatalf("the slow reader got %d bytes, the whole zip", n)
	}
	t.Logf("slow reader: connection closed after %d bytes (%v)", n, err)
	writer.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(writer), nil)
	if err == nil {
		t.Logf("slow writer answered %d", resp.StatusCode)
		if resp.StatusCode != http.StatusRequestTimeout && resp.StatusCode != http.StatusBadRequest {
			t.Errorf("slow writer: %d, want 408 (or 400)", resp.StatusCode)
		}
		_, err = io.Copy(io.Discard, resp.Body)
	}
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the slow writer's connection is still open")
	}
	writer.Close()
	<-writerDone
	close(stop)
	wg.Wait()
}
