package accesslog

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/straitproxy/strait/internal/testutil"
	"google.golang.org/grpc/codes"
)

// parseText reads a text line back: key=value pairs, values quoted when
// they need it.
func parseText(t *testing.T, line string) map[string]string {
	t.Helper()
	out := map[string]string{}
	rest := strings.TrimSuffix(line, "\n")
	for rest != "" {
		key, after, ok := strings.Cut(rest, "=")
		if !ok {
			t.Fatalf("no '=' in %q", rest)
		}
		var val string
		if strings.HasPrefix(after, `"`) {
			q, err := strconv.QuotedPrefix(after)
			if err != nil {
				t.Fatalf("bad quoted value in %q: %v", after, err)
			}
			val, _ = strconv.Unquote(q)
			after = after[len(q):]
		} else {
			val, after, _ = strings.Cut(after, " ")
			after = " " + after
		}
		out[key] = val
		rest = strings.TrimPrefix(after, " ")
	}
	return out
}

// parseJSON reads a JSON line back, every value as the text it would
// have in a text line.
func parseJSON(t *testing.T, line string) map[string]string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		t.Fatalf("not JSON: %q: %v", line, err)
	}
	out := map[string]string{}
	for k, v := range m {
		switch v := v.(type) {
		case string:
			out[k] = v
		case float64:
			out[k] = strconv.FormatFloat(v, 'f', -1, 64)
		default:
			t.Fatalf("%s: unexpected %T", k, v)
		}
	}
	return out
}

var sampleCall = Call{
	Time:     time.Date(2026, 12, 2, 6, 30, 1, 234_000_000, time.UTC),
	Listener: "edge", Client: "127.0.0.1:50432", Authority: "api.example:443",
	Method: "/helloworld.Greeter/SayHello", Cluster: "greeter", Endpoint: "10.0.0.7:8080",
	Attempts: 2, Code: codes.Unavailable, Message: `upstream "b" said: no = yes`,
	Duration: 12345 * time.Microsecond, FirstByte: 2500 * time.Microsecond,
	RequestBytes: 8, ResponseBytes: 0,
	TraceParent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
}

var sampleWant = map[string]string{
	"time": "2026-12-02T06:30:01.234Z", "listener": "edge", "client": "127.0.0.1:50432",
	"authority": "api.example:443", "method": "/helloworld.Greeter/SayHello", "cluster": "greeter",
	"endpoint": "10.0.0.7:8080", "attempts": "2", "grpc_status": "Unavailable",
	"grpc_message": `upstream "b" said: no = yes`, "duration_ms": "12.345", "ttfb_ms": "2.5",
	"request_bytes": "8", "response_bytes": "0", "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
}

// Both formats carry every field, and read back to the same values.
func TestFormatsRoundTrip(t *testing.T) {
	c := sampleCall
	text := appendText(nil, c.fields())
	js := appendJSON(nil, c.fields())
	gotText, gotJSON := parseText(t, string(text)), parseJSON(t, string(js))
	for k, want := range sampleWant {
		if k == "ttfb_ms" {
			// The text keeps the fixed three decimals.
			if gotText[k] != "2.500" || gotJSON[k] != want {
				t.Errorf("%s: text %q, json %q", k, gotText[k], gotJSON[k])
			}
			continue
		}
		if gotText[k] != want {
			t.Errorf("text %s = %q, want %q", k, gotText[k], want)
		}
		if gotJSON[k] != want {
			t.Errorf("json %s = %q, want %q", k, gotJSON[k], want)
		}
	}
	if len(gotText) != len(sampleWant) || len(gotJSON) != len(sampleWant) {
		t.Errorf("%d text and %d json fields, want %d:\n%s%s", len(gotText), len(gotJSON), len(sampleWant), text, js)
	}
}

func TestConnFields(t *testing.T) {
	c := Conn{Time: sampleCall.Time, Listener: "redis", Client: "127.0.0.1:1", Endpoint: "127.0.0.1:7000",
		FromClient: 10, FromEndpoint: 2000, Duration: time.Second, End: "idle"}
	got := parseText(t, string(appendText(nil, c.fields())))
	want := map[string]string{"time": "2026-12-02T06:30:01.234Z", "listener": "redis", "client": "127.0.0.1:1",
		"endpoint": "127.0.0.1:7000", "client_bytes": "10", "endpoint_bytes": "2000", "duration_ms": "1000.000", "end": "idle"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
}

func TestTraceID(t *testing.T) {
	for in, want := range map[string]string{
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01": "4bf92f3577b34da6a3ce929d0e0e4736",
		"": "", "garbage": "",
		"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01": "", // upper case is invalid
		"00-00000000000000000000000000000000-00f067aa0ba902b7-01": "", // all zero is invalid
	} {
		if got := TraceID(in); got != want {
			t.Errorf("TraceID(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSampling(t *testing.T) {
	l := &Logger{o: Options{Sample: 1e-12, ErrorsAlways: true}}
	for range 1000 {
		if l.Sampled(false) {
			t.Fatal("a successful call was logged at a sample rate of 1e-12")
		}
		if !l.Sampled(true) {
			t.Fatal("a failed call was not logged with errors_always")
		}
	}
	l.o.ErrorsAlways = false
	for range 1000 {
		if l.Sampled(true) {
			t.Fatal("a failed call was logged at 1e-12 without errors_always")
		}
	}
	l.o.Sample = 1
	if !l.Sampled(false) {
		t.Fatal("sample 1 skipped a call")
	}
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")[:strings.Count(string(data), "\n")]
}

func logTo(t *testing.T, path string) *Logger {
	t.Helper()
	l, err := Open(Options{Path: path, Format: FormatJSON})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	return l
}

func logOne(l *Logger, listener string) {
	c := sampleCall
	c.Listener = listener
	l.Call(&c)
}

// Reopen (SIGHUP) after a rename writes to a new file at the path.
func TestReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "access.log")
	l := logTo(t, path)
	logOne(l, "before")
	testutil.WaitFor(t, 10*time.Second, "the first line", func() bool { return len(readLines(t, path)) == 1 })
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	l.Reopen()
	logOne(l, "after")
	testutil.WaitFor(t, 10*time.Second, "a line in the new file", func() bool { return len(readLines(t, path)) == 1 })
	if got := parseJSON(t, readLines(t, path)[0])["listener"]; got != "after" {
		t.Fatalf("new file holds %q's line", got)
	}
	if got := readLines(t, path+".1"); len(got) != 1 || parseJSON(t, got[0])["listener"] != "before" {
		t.Fatalf("rotated file holds %q", got)
	}
}

// A file removed under the logger (rotation by a tool that does not
// signal) is noticed and recreated.
func TestFollowsRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "access.log")
	l := logTo(t, path)
	logOne(l, "before")
	testutil.WaitFor(t, 10*time.Second, "the first line", func() bool { return len(readLines(t, path)) == 1 })
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	// Until a line logged after the removal is in a new file at the path:
	// the file can appear (reopened) before any line reaches it, and a
	// line logged just before the reopen went to the removed file.
	testutil.WaitFor(t, 20*time.Second, "a line in a new file at the path", func() bool {
		logOne(l, "after")
		return len(readLines(t, path)) > 0
	})
	l.Close()
	lines := readLines(t, path)
	if len(lines) == 0 || parseJSON(t, lines[len(lines)-1])["listener"] != "after" {
		t.Fatalf("new file holds %q", lines)
	}
}

// Close writes every queued line.
func TestCloseFlushes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "access.log")
	l, err := Open(Options{Path: path, Queue: 100})
	if err != nil {
		t.Fatal(err)
	}
	for range 50 {
		logOne(l, "edge")
	}
	l.Close()
	if got := len(readLines(t, path)); got != 50 || l.Written() != 50 || l.Dropped() != 0 {
		t.Fatalf("%d lines in the file, %d written, %d dropped; want 50, 50, 0", got, l.Written(), l.Dropped())
	}
}

func TestOpenRefusesBadOptions(t *testing.T) {
	if _, err := Open(Options{Path: "stdout", Format: "xml"}); err == nil || !strings.Contains(err.Error(), "access_log.format") {
		t.Fatalf("err = %v", err)
	}
	if _, err := Open(Options{Path: filepath.Join(t.TempDir(), "no", "such", "dir")}); err == nil {
		t.Fatal("opened a file in a missing directory")
	}
}
