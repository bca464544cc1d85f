package h2relay_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/straitproxy/strait/internal/testutil"
	"github.com/straitproxy/strait/proxy/h2relay"
	"github.com/straitproxy/strait/route"
	"github.com/straitproxy/strait/upstream"
	"github.com/straitproxy/strait/upstream/static"
)

// h2specBar is HAProxy 2.6's result here, for the log: the relay must
// pass every check.
const h2specBar = 139

// TestH2Spec runs the h2spec conformance suite against the relay's h2c
// listener. Behind the relay is a plain HTTP/2 backend that reads each
// body and answers with one, so the checks exercise the relay rather than
// a gRPC server's answers to non-gRPC requests; it takes 50 ms per
// request so that streams are still open when h2spec tests the
// concurrency limit. Each check waits up to 5 s for its answer (h2spec's
// -o), so a busy machine slows the run rather than failing a check. h2spec comes from `make test-deps` (bin/tools) or
// $STRAIT_H2SPEC.
func TestH2Spec(t *testing.T) {
	bin := h2specBinary(t)
	blis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var protocols http.Protocols
	protocols.SetUnencryptedHTTP2(true)
	backend := &http.Server{Protocols: &protocols, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		select {
		case <-time.After(50 * time.Millisecond):
		case <-r.Context().Done():
			return
		}
		// One length-prefixed message, as the relay checks response
		// messages against the size limit.
		msg := "hello from the h2spec backend\n"
		w.Write(append([]byte{0, 0, 0, 0, byte(len(msg))}, msg...))
	})}
	go backend.Serve(blis)
	// Cleanups, not defers: the relay (stopped by testutil.Serve's
	// cleanup) stops first, then these in reverse order.
	t.Cleanup(func() { backend.Close() })

	ctx, cancel := context.WithCancel(context.Background())
	guard := upstream.NewGuard("c", static.New([]string{blis.Addr().String()}), slog.New(slog.DiscardHandler))
	done := make(chan struct{})
	go func() { guard.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	<-guard.Ready()
	rr, stop := h2relay.NewRoundRobin(guard)
	t.Cleanup(stop)
	srv := h2relay.NewServer(route.NewTable("c"), map[string]h2relay.Balancer{"c": rr}, h2relay.PlainHTTP2(h2relay.Options{}))
	addr := testutil.Serve(t, srv)

	_, port, _ := net.SplitHostPort(addr)
	runCtx, runCancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer runCancel()
	out, _ := exec.CommandContext(runCtx, bin, "-h", "127.0.0.1", "-p", port, "-o", "5").CombinedOutput()
	total, passed, failed := h2specSummary(t, string(out))
	t.Logf("h2spec: %d of %d passed (HAProxy 2.6: %d)", passed, total, h2specBar)
	if failed > 0 || passed != total {
		t.Fatalf("h2spec: %d of %d passed, %d failed; want all:\n%s", passed, total, failed, out)
	}
}

func h2specBinary(t *testing.T) string {
	if p := os.Getenv("STRAIT_H2SPEC"); p != "" {
		return p
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(root, "bin", "tools", "h2spec")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("h2spec not found at %s: run `make test-deps` (or set STRAIT_H2SPEC)", p)
	}
	return p
}

var summaryLine = regexp.MustCompile(`(\d+) tests, (\d+) passed, (\d+) skipped, (\d+) failed`)

func h2specSummary(t *testing.T, out string) (total, passed, failed int) {
	m := summaryLine.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no summary in h2spec's output:\n%s", strings.TrimSpace(out))
	}
	total, _ = strconv.Atoi(m[1])
	passed, _ = strconv.Atoi(m[2])
	failed, _ = strconv.Atoi(m[4])
	return total, passed, failed
}
