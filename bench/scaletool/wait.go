package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// wait polls URL every millisecond until it answers 200 (with -ready, a
// JSON body without "partial": true: the catalog index is complete) and
// prints the milliseconds since T0 (Unix nanoseconds, taken just before
// the server was started).
func wait(args []string) error {
	fs := flag.NewFlagSet("wait", flag.ExitOnError)
	ready := fs.Bool("ready", false, "wait for a complete catalog index")
	timeout := fs.Duration("timeout", 10*time.Minute, "give up after")
	fs.Parse(args)
	if fs.NArg() != 2 {
		usage()
	}
	t0, err := strconv.ParseInt(fs.Arg(0), 10, 64)
	if err != nil {
		return fmt.Errorf("the start time (Unix ns): %v", err)
	}
	start := time.Unix(0, t0)
	client := &http.Client{Timeout: 5 * time.Second}
	for {
		if ok := try(client, fs.Arg(1), *ready); ok {
			fmt.Printf("%.1f\n", float64(time.Since(start).Microseconds())/1000)
			return nil
		}
		if time.Since(start) > *timeout {
			return fmt.Errorf("%s: no answer after %v", fs.Arg(1), *timeout)
		}
		if *ready {
			time.Sleep(10 * time.Millisecond)
		} else {
			time.Sleep(time.Millisecond)
		}
	}
}

func try(client *http.Client, url string, ready bool) bool {
	resp, err := client.Get(url)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return false
	}
	if !ready {
		return true
	}
	var v struct {
		Partial bool `json:"partial"`
	}
	return json.Unmarshal(body, &v) == nil && !v.Partial
}
