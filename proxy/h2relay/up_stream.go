package h2relay

import (
	"errors"
	"fmt"

	"golang.org/x/net/http2"
	"google.golang.org/grpc/codes"
)

var errLost = errors.New("connection lost")

// onHeaders relays response headers or trailers to the client.
func (uc *upConn) onHeaders(f *http2.HeadersFrame) error {
	fields, err := uc.hr.read(uc.rfr, f, uc.o.MaxContinuations)
	if errors.Is(err, errHeaderListSize) {
		return http2.StreamError{StreamID: f.StreamID, Code: http2.ErrCodeProtocol, Cause: err}
	}
	if err != nil {
		return err
	}
	end := f.StreamEnded()
	uc.mu.Lock()
	l := uc.streams[f.StreamID]
	if l == nil || l.recvEnd {
		uc.mu.Unlock()
		return nil
	}
	if err := checkResponse(fields, l.gotHeaders); err != nil || (l.gotHeaders && !end) {
		uc.mu.Unlock()
		if err == nil {
			err = errors.New("trailers without END_STREAM")
		}
		// Malformed (RFC 9113 §8.1.1): a stream error; the call fails.
		return http2.StreamError{StreamID: f.StreamID, Code: http2.ErrCodeProtocol, Cause: fmt.Errorf("malformed response: %w", err)}
	}
	if !l.gotHeaders && l.hedged() {
		if l = uc.hedgeFirstLocked(l, fields, end); l == nil {
			return nil
		}
	}
	fields = forwardable(fields)
	if limit := l.s.down.conn.Load().peerMaxHeaders.Load(); limit != 0 && listSize(fields) > limit {
		uc.mu.Unlock()
		// The client said it would not take a list this large
		// (SETTINGS_MAX_HEADER_LIST_SIZE): it gets an error status
		// instead, and the endpoint's stream is cancelled.
		uc.abort(f.StreamID, http2.ErrCodeCancel, nil)
		failDown(&l.s.down, codes.Internal, fmt.Sprintf("strait: response header list larger than the client's limit (%d bytes)", limit))
		return nil
	}
	first := !l.gotHeaders
	var notRetried RetryEvent // counted before the client can see the call end
	if first && end {
		if code, _ := grpcStatus(fields); code != codes.OK {
			wait, ok, event := l.s.policyRetryLocked(code, fields)
			if ok {
				back := uc.detachLocked(l, true)
				uc.mu.Unlock()
				s, msg := l.s, grpcMessage(fields)
				s.retry(back, Outcome{Code: code, Message: msg}, RetryStatus, true, wait, func() {
					failDown(&s.down, code, msg)
				})
				return nil
			}
			notRetried = event
		}
	}
	l.gotHeaders = true
	if first {
		l.s.rp.drop(l.s.srv) // committed: never sent elsewhere now
	}
	if end {
		l.recvEndLocked()
	}
	uc.mu.Unlock()
	s := l.s
	if notRetried != "" {
		s.srv.retried(s.cluster, notRetried)
	}
	if d := s.detail; d != nil && first {
		d.firstByte.Store(int64(sinceStart())) // a trailers-only response is a first byte too
	}
	if first && !end {
		s.call.FirstResponse()
	}
	if end {
		code, _ := grpcStatus(fields)
		o := Outcome{Code: code}
		if code != codes.OK {
			o.Message = grpcMessage(fields)
		}
		s.end(o)
	}
	forwardHeaders(&s.down, fields, end, &uc.rb)
	return nil
}

func (uc *upConn) onReset(f *http2.RSTStreamFrame) {
	uc.mu.Lock()
	l := uc.streams[f.StreamID]
	if l == nil {
		uc.mu.Unlock()
		return
	}
	if !l.gotHeaders && l.hedged() {
		o := Outcome{Err: fmt.Errorf("upstream %s reset the stream: %v", uc.p.addr, f.ErrCode), reset: true}
		if post, ok := uc.hedgeFailedLocked(l, o, f.ErrCode == http2.ErrCodeRefusedStream, false); ok {
			uc.mu.Unlock()
			post()
			return
		}
	}
	var notRetried RetryEvent // counted before the client can see the call end
	if f.ErrCode == http2.ErrCodeRefusedStream {
		ok, event := l.s.replayableLocked()
		if ok {
			back := uc.detachLocked(l, false)
			uc.mu.Unlock()
			s := l.s
			s.retry(back, Outcome{Err: fmt.Errorf("upstream %s refused the stream", uc.p.addr)}, RetryRefused, false, 0, func() {
				resetLeg(&s.down, http2.ErrCodeRefusedStream)
			})
			return
		}
		notRetried = event
	}
	complete := l.recvEnd
	l.finishLocked()
	uc.mu.Unlock()
	if notRetried != "" {
		l.s.srv.retried(l.s.cluster, notRetried)
	}
	if !complete {
		l.s.end(Outcome{Err: fmt.Errorf("upstream %s reset the stream: %v", uc.p.addr, f.ErrCode), reset: true})
	}
	resetLeg(&l.s.down, f.ErrCode)
}

// abort resets an upstream stream the relay gives up on; the client
// gets an error status unless it already has its response.
func (uc *upConn) abort(id uint32, code http2.ErrCode, cause error) {
	uc.mu.Lock()
	l := uc.streams[id]
	if l != nil {
		l.finishLocked()
	}
	uc.wfr.WriteRSTStream(id, code)
	uc.kick()
	uc.mu.Unlock()
	if l == nil {
		return
	}
	if cause == nil {
		l.s.end(Outcome{Local: true})
		return
	}
	l.s.end(Outcome{Err: cause})
	failDown(&l.s.down, codes.Internal, fmt.Sprintf("strait: upstream %s broke the stream: %v", uc.p.addr, cause))
}

// onGoAway stops new streams here; streams the endpoint never processed
// are refused to the client, whose gRPC library retries them.
func (uc *upConn) onGoAway(f *http2.GoAwayFrame) {
	uc.p.mu.Lock()
	uc.draining.Store(true)
	refunds := uc.p.dispatchLocked()
	uc.p.mu.Unlock()
	applyRefunds(refunds, nil)
	uc.mu.Lock()
	var refused []*leg
	var again []detachedLeg
	var posts []func()
	for id, l := range uc.streams {
		if id > f.LastStreamID {
			if l.hedged() {
				if post, ok := uc.hedgeFailedLocked(l, Outcome{Local: true}, true, false); ok {
					posts = append(posts, post)
					continue
				}
			}
			if d, ok := uc.detachIfReplayableLocked(l); ok {
				again = append(again, d)
				continue
			}
			l.finishLocked()
			refused = append(refused, l)
		}
	}
	if uc.active.Load() == 0 {
		uc.closeLocked()
	}
	uc.mu.Unlock()
	runAll(posts)
	for _, l := range refused {
		// Refused unprocessed: the endpoint is going away, not failing.
		l.s.end(Outcome{Local: true})
		resetLeg(&l.s.down, http2.ErrCodeRefusedStream)
	}
	for _, d := range again {
		s := d.s
		s.retry(d.back, Outcome{Local: true}, RetryGoAway, false, 0, func() { resetLeg(&s.down, http2.ErrCodeRefusedStream) })
	}
}

// teardown closes the connection and fails the calls still on it.
func (uc *upConn) teardown(err error) {
	uc.o.Logger.Debug("h2relay: upstream connection ended", "endpoint", uc.p.addr, "err", err)
	uc.mu.Lock()
	// What the flusher has not taken will never go out: the calls whose
	// headers are all in it were not sent, and go elsewhere.
	uc.wbuf = uc.wbuf[:0]
	var again, sent []detachedLeg
	var posts []func()
	for _, l := range uc.streams {
		if !l.gotHeaders && !l.closed && l.hedged() {
			o := Outcome{Err: fmt.Errorf("upstream %s: %w", uc.p.addr, errLost)}
			if post, ok := uc.hedgeFailedLocked(l, o, l.s.upAt >= uc.handed, false); ok {
				posts = append(posts, post)
				continue
			}
		}
		if l.s.upAt >= uc.handed {
			if d, ok := uc.detachIfReplayableLocked(l); ok {
				again = append(again, d)
			}
			continue
		}
		if l.gotHeaders || l.closed {
			continue
		}
		// Sent, perhaps processed: retried only as the route's policy
		// retries Unavailable.
		wait, ok, event := l.s.policyRetryLocked(codes.Unavailable, nil)
		if ok {
			sent = append(sent, detachedLeg{l.s, uc.detachLocked(l, false), wait})
		} else if event != "" {
			l.s.srv.retried(l.s.cluster, event)
		}
	}
	legs := uc.endLocked(err, 0)
	uc.mu.Unlock()

	p := uc.p
	p.mu.Lock()
	for i, c := range p.conns {
		if c == uc {
			p.conns = append(p.conns[:i], p.conns[i+1:]...)
			break
		}
	}
	var failed []*stream
	if !uc.ready {
		p.dialing = false
	}
	if !uc.ready || !uc.draining.Load() {
		// Lost, not drained: the endpoint is likely down. Calls go
		// elsewhere until a dial probes it again.
		failed = p.failedLocked()
	}
	refunds := p.dispatchLocked()
	// A pool strait closed (shutdown, endpoint pruned) cut the calls
	// itself: that says nothing about the endpoint.
	lost := Outcome{Local: p.closed}
	p.mu.Unlock()
	applyRefunds(refunds, nil)
	runAll(posts)
	p.repick(failed, fmt.Errorf("%s: %w", p.addr, errLost))
	if !lost.Local {
		lost.Err = fmt.Errorf("upstream %s: %w", p.addr, errLost)
	}
	for _, d := range again {
		s := d.s
		s.retry(d.back, lost, RetryUnsent, false, 0, func() {
			failDown(&s.down, codes.Unavailable, "strait: upstream "+p.addr+" connection lost")
		})
	}
	for _, d := range sent {
		s := d.s
		s.retry(d.back, lost, RetryLost, true, d.wait, func() {
			failDown(&s.down, codes.Unavailable, "strait: upstream "+p.addr+" connection lost")
		})
	}
	for _, l := range legs {
		l.s.end(lost)
		failDown(&l.s.down, codes.Unavailable, "strait: upstream "+p.addr+" connection lost")
	}
}
