package testutil

import (
	"io"
	"net"
	"net/http"
	"sync"
	"testing"

	"golang.org/x/net/http2"
)

// StartNoTrailers serves h2c on a loopback port, answering every request
// with one empty gRPC message and then ending the stream with DATA, no
// trailers: an endpoint that breaks the gRPC protocol. A request to a
// path ending in "/Reset" has its stream reset instead. It stops when
// stop is called or the test ends.
func StartNoTrailers(t testing.TB) (addr string, stop func()) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns = map[net.Conn]struct{}{}
	)
	h2 := &http2.Server{}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if len(r.URL.Path) >= 6 && r.URL.Path[len(r.URL.Path)-6:] == "/Reset" {
			panic(http.ErrAbortHandler) // RST_STREAM(INTERNAL_ERROR)
		}
		w.Header().Set("content-type", "application/grpc")
		w.WriteHeader(http.StatusOK)
		w.Write([]byte{0, 0, 0, 0, 0})
	})
	wg.Go(func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns[c] = struct{}{}
			mu.Unlock()
			wg.Go(func() { h2.ServeConn(c, &http2.ServeConnOpts{Handler: handler}) })
		}
	})
	stop = sync.OnceFunc(func() {
		lis.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	t.Cleanup(stop)
	return lis.Addr().String(), stop
}
