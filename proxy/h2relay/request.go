package h2relay

import (
	"crypto/tls"
	"errors"
	"slices"
	"strconv"
	"strings"

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
	if !refuse {
		// Counted open from here, not once open1 publishes the call:
		// the idle reaper must never find the connection empty, send a
		// GOAWAY naming this stream as taken and close under it.
		d.open++
	}
	d.mu.Unlock()
	opened, err := d.openStream(f, fields, err, refuse)
	if !opened && !refuse {
		d.mu.Lock()
		d.srv.downClosed(d.conn)
		d.mu.Unlock()
	}
	return err
}

// openStream validates a request and starts its call; opened is false
// when it was refused or malformed (a stream error) or answered at once.
func (d *downConn) openStream(f *http2.HeadersFrame, fields []hpackField, err error, refuse bool) (opened bool, _ error) {
	id := f.StreamID
	if err != nil {
		return false, http2.StreamError{StreamID: id, Code: http2.ErrCodeProtocol}
	}
	path, method, err := checkFields(fields, false)
	if err != nil {
		return false, http2.StreamError{StreamID: id, Code: http2.ErrCodeProtocol}
	}
	if refuse {
		return false, http2.StreamError{StreamID: id, Code: http2.ErrCodeRefusedStream}
	}
	clen, ctype := scanRequest(fields)
	if clen < -1 || (f.StreamEnded() && clen > 0) {
		return false, http2.StreamError{StreamID: id, Code: http2.ErrCodeProtocol}
	}
	if reply := notGRPC(method, ctype); reply != nil && !d.srv.o.plainHTTP2 {
		d.mu.Lock()
		d.writeHeadersLocked(id, reply, true)
		if !f.StreamEnded() {
			d.writeResetLocked(id, http2.ErrCodeNo)
		}
		d.rb.add(d.conn)
		d.mu.Unlock()
		return false, nil
	}
	d.open1(id, path, fields, f.StreamEnded()).contentLen = clen
	return true, nil
}

// notGRPC is the whole response to a request that is not a gRPC call
// (RFC 9113 §8.1: a server may answer before the request is complete):
// a method other than POST gets 405 (INTERNAL), a content-type other
// than application/grpc[+…|;…] 415 (INVALID_ARGUMENT), as gRPC servers
// answer them. nil for a gRPC call. Such requests never reach a backend.
func notGRPC(method, ctype string) []hpackField {
	switch {
	case method != "POST":
		return []hpackField{{Name: ":status", Value: "405"}, {Name: "allow", Value: "POST"},
			{Name: "grpc-status", Value: strconv.Itoa(int(codes.Internal))},
			{Name: "grpc-message", Value: encodeGRPCMessage("strait: method " + method + " is not POST, as gRPC requires")}}
	case !isGRPCContentType(ctype):
		return []hpackField{{Name: ":status", Value: "415"},
			{Name: "grpc-status", Value: strconv.Itoa(int(codes.InvalidArgument))},
			{Name: "grpc-message", Value: encodeGRPCMessage("strait: content-type " + strconv.Quote(ctype) + " is not application/grpc")}}
	}
	return nil
}

// isGRPCContentType accepts application/grpc, alone or followed by a
// subtype ("+proto") or parameters (";…").
func isGRPCContentType(v string) bool {
	const base = "application/grpc"
	if len(v) < len(base) || !strings.EqualFold(v[:len(base)], base) {
		return false
	}
	return len(v) == len(base) || v[len(base)] == '+' || v[len(base)] == ';'
}

// scanRequest finds the request's declared body length (-1 without
// one, -2 when malformed) and its content-type.
func scanRequest(fields []hpackField) (clen int64, ctype string) {
	clen = -1
	for _, f := range fields {
		switch f.Name {
		case "content-length":
			n, err := strconv.ParseInt(f.Value, 10, 64)
			if err != nil || n < 0 {
				n = -2
			}
			if clen == -1 {
				clen = n
			}
		case "content-type":
			ctype = f.Value
		}
	}
	return clen, ctype
}

func (d *downConn) onTrailers(id uint32, l *leg, fields []hpackField, err error, end bool) error {
	if l == nil {
		return d.onClosedStream(id, true)
	}
	d.mu.Lock()
	recvEnd := l.recvEnd
	l.quiet = 0
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
	if _, _, err := checkFields(fields, true); err != nil {
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
	s.down.quiet = opening // the sweeper leaves it alone until dispatched
	s.up.closed = true     // until a pool takes it
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
	d.streams[id] = &s.down // counted open by onHeaders
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
	var hs *hedging
	if p := d.srv.hedgePolicy(path); p != nil {
		hs = s.prepareHedging(p)
	}
	if d.srv.dispatch(s) && hs != nil {
		hs.start()
	}
	// Time limits apply only now: dispatch sets the call's fields that
	// ending it reads.
	d.mu.Lock()
	s.down.quiet = 0
	if s.expiry() != 0 && !s.down.closed {
		d.scheduleLocked(s, s.start)
	}
	d.mu.Unlock()
	return s
}

// dispatch picks an endpoint for s and queues it on that endpoint's
// pool; with no endpoint left to try, the call fails Unavailable and
// dispatch returns false.
func (srv *Server) dispatch(s *stream) bool {
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
			return true
		}
		s.end(Outcome{Err: errEndpointDown})
	}
	s.failUnavailable("strait: no endpoint available")
	return false
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
