package h2relay

import (
	"crypto/tls"
	"errors"
	"slices"
	"strconv"

	"golang.org/x/net/http2"
	"google.golang.org/grpc/codes"
)

// onHeaders opens a stream, or takes a client's trailers.
func (d *downConn) onHeaders(f *http2.HeadersFrame) error {
	fields, err := d.hr.read(d.rfr, f, d.o.MaxContinuations)
	if err != nil && !errors.Is(err, errHeaderListSize) {
		return err
	}
	id := f.StreamID
	if id%2 == 0 {
		return http2.ConnectionError(http2.ErrCodeProtocol)
	}
	if f.HasPriority() && f.Priority.StreamDep == id {
		return http2.StreamError{StreamID: id, Code: http2.ErrCodeProtocol}
	}
	d.mu.Lock()
	d.moved = true
	if id <= d.lastID {
		l := d.streams[id]
		d.mu.Unlock()
		return d.onTrailers(id, l, fields, err, f.StreamEnded())
	}
	d.lastID = id
	refuse := d.gone || d.open >= int(d.o.MaxConcurrentStreams)
	if !refuse && d.o.Budget.pressed() {
		refuse = true
		d.o.Budget.refused.Add(1)
	}
	d.mu.Unlock()
	if err != nil {
		return http2.StreamError{StreamID: id, Code: http2.ErrCodeProtocol}
	}
	path, err := checkFields(fields, false)
	if err != nil {
		return http2.StreamError{StreamID: id, Code: http2.ErrCodeProtocol}
	}
	if refuse {
		return http2.StreamError{StreamID: id, Code: http2.ErrCodeRefusedStream}
	}
	clen := contentLength(fields)
	if clen < -1 || (f.StreamEnded() && clen > 0) {
		return http2.StreamError{StreamID: id, Code: http2.ErrCodeProtocol}
	}
	d.open1(id, path, fields, f.StreamEnded()).contentLen = clen
	return nil
}

// contentLength is the request's declared body length: -1 without one,
// -2 when malformed.
func contentLength(fields []hpackField) int64 {
	for _, f := range fields {
		if f.Name == "content-length" {
			n, err := strconv.ParseInt(f.Value, 10, 64)
			if err != nil || n < 0 {
				return -2
			}
			return n
		}
	}
	return -1
}

func (d *downConn) onTrailers(id uint32, l *leg, fields []hpackField, err error, end bool) error {
	if l == nil {
		return http2.ConnectionError(http2.ErrCodeStreamClosed)
	}
	d.mu.Lock()
	recvEnd := l.recvEnd
	if !recvEnd && end && err == nil {
		l.recvEndLocked()
	}
	d.mu.Unlock()
	if recvEnd {
		return http2.StreamError{StreamID: id, Code: http2.ErrCodeStreamClosed}
	}
	if err != nil || !end {
		return http2.StreamError{StreamID: id, Code: http2.ErrCodeProtocol}
	}
	if _, err := checkFields(fields, true); err != nil {
		return http2.StreamError{StreamID: id, Code: http2.ErrCodeProtocol}
	}
	forwardHeaders(&l.s.up, fields, true, &d.rb)
	return nil
}

// open1 starts one call: route, pick, queue for an upstream connection.
func (d *downConn) open1(id uint32, path string, fields []hpackField, end bool) *stream {
	s := &stream{srv: d.srv, method: path, start: sinceStart()}
	s.down.s, s.up.s = s, s
	s.down.queue, s.up.queue = s.down.queueBuf[:0], s.up.queueBuf[:0]
	s.down.id = id
	s.down.recvWin = d.o.StreamWindow
	s.down.recvEnd = end
	s.up.closed = true // until a pool takes it
	cluster, bal, ok := d.srv.route(path)
	s.cluster = cluster
	s.deadline = callDeadline(fields, s.start)
	if d.o.Detail || d.o.Tracer != nil {
		s.detail = newCallDetail(d.client, fields)
	}
	if d.o.Begin != nil {
		s.begun = d.o.Begin(path, cluster)
	}
	var traceparent string // the span's, to send upstream
	if t := d.o.Tracer; t != nil && ok {
		traceparent = s.startSpan(t, fields)
	}
	// Published only once begun: from here on an upstream reply, on
	// another goroutine, may end the call and observe it.
	d.mu.Lock()
	s.down.sendWin = d.peerInitWin
	s.down.conn.Store(d.conn)
	d.streams[id] = &s.down
	d.open++
	d.mu.Unlock()

	if !ok {
		failDown(&s.down, codes.Unimplemented, "strait: no route for method "+path)
		return s
	}
	s.bal = bal
	if b := budgetOf(bal); b != nil {
		b.deposit()
	}
	// A copy: the reader's header slice is reused by its next block, and
	// the replay keeps the headers until the call commits.
	s.hdrs = slices.Clone(forwardable(fields))
	if traceparent != "" {
		s.hdrs = withTraceparent(s.hdrs, traceparent)
	}
	s.rp.end = end
	if end {
		s.up.queue = append(s.up.queue, chunk{end: true})
	}
	d.srv.dispatch(s)
	return s
}

// dispatch picks an endpoint for s and queues it on that endpoint's
// pool; with no endpoint left to try, the call fails Unavailable.
func (srv *Server) dispatch(s *stream) {
	for s.attempts < maxAttempts {
		s.attempts++
		call, ok := s.bal.Pick()
		if !ok {
			break
		}
		s.call = call
		if s.detail != nil {
			s.detail.attempts.Store(s.attempts)
		}
		s.ended.Store(false)
		if srv.tr.pool(call.Addr(), srv.upstreamTLS(s.bal)).enqueue(s) {
			return
		}
		s.end(Outcome{Err: errEndpointDown})
	}
	s.failUnavailable("strait: no endpoint available")
}

// upstreamTLS is how bal's endpoints are reached: its own TLS when it
// has one (a TLSBalancer), else Options.UpstreamTLS.
func (srv *Server) upstreamTLS(bal Balancer) *tls.Config {
	if tb, ok := bal.(TLSBalancer); ok {
		if c := tb.UpstreamTLS(); c != nil {
			return c
		}
	}
	return srv.o.UpstreamTLS
}

// errEndpointDown ends a call picked for an endpoint whose last dial
// failed or whose connection was lost; the call is picked again.
var errEndpointDown = errors.New("h2relay: endpoint down, call re-picked")

// failUnavailable ends a call that never reached an endpoint.
func (s *stream) failUnavailable(msg string) {
	failDown(&s.down, codes.Unavailable, msg)
}
