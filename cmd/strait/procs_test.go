package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// The built binary shrinks GOMAXPROCS to one P while idle (it starts
// with one per CPU), unless GOMAXPROCS is set: then it keeps that. The
// count is read from the admin server's go_sched_gomaxprocs_threads. A
// built binary, because the controller runs from main and must not
// change the test process's own Ps.
func TestIdleProcessShrinksToOneP(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "strait")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, c := range []struct {
		env  string
		want string
	}{{"", "1"}, {"GOMAXPROCS=2", "2"}} {
		t.Run("env="+c.env, func(t *testing.T) {
			admin := freeAddr(t)
			path := writeConfig(t, fmt.Sprintf("admin: {address: %s}\nlisteners: [{address: 127.0.0.1:0, default_cluster: g}]\nclusters: {g: {endpoints: [127.0.0.1:1]}}\n", admin))
			cmd := exec.Command(bin, "serve", "-config", path, "-log-level", "warn")
			cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "GOMAXPROCS=") })
			if c.env != "" {
				cmd.Env = append(cmd.Env, c.env)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				cmd.Process.Kill()
				cmd.Wait()
			})
			// Scrapes are spaced out: scraping often keeps the process
			// busy enough to need its Ps.
			tick := time.NewTicker(200 * time.Millisecond)
			defer tick.Stop()
			url := "http://" + admin + "/metrics"
			if c.env == "" {
				seen := ""
				for end := time.Now().Add(10 * time.Second); seen != c.want; <-tick.C {
					if time.Now().After(end) {
						t.Fatalf("GOMAXPROCS still %q after 10 s idle, want %s", seen, c.want)
					}
					seen = gomaxprocs(url)
				}
				return
			}
			// A fixed count stays fixed for longer than the controller
			// takes to shrink an idle process (4 samples of 500 ms).
			for end := time.Now().Add(3 * time.Second); time.Now().Before(end); <-tick.C {
				if got := gomaxprocs(url); got != c.want && got != "" {
					t.Fatalf("GOMAXPROCS %s with %s set, want it kept", got, c.env)
				}
			}
			if got := gomaxprocs(url); got != c.want {
				t.Fatalf("GOMAXPROCS %q with %s set, want %s", got, c.env, c.want)
			}
		})
	}
}

// gomaxprocs scrapes the P count from a metrics page ("" if unreachable).
func gomaxprocs(url string) string {
	resp, err := http.Get(url)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return ""
	}
	for line := range strings.Lines(string(body)) {
		if v, ok := strings.CutPrefix(line, "go_sched_gomaxprocs_threads "); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
