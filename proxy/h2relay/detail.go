package h2relay

import (
	"slices"
	"strings"
	"sync/atomic"
	"time"
)

// callDetail is what Options.Detail gathers of a call beyond the
// Observation's basics, for access logs and spans. A call has one only
// when Detail or a Tracer is set, so calls without pay one nil check at
// each point below.
//
// The strings are set when the call opens, before it is published, and
// never change. The counters are written by the goroutines that relay
// each direction and read when the call is observed, which may happen on
// another goroutine (a client reset ends the call while a response is in
// flight): hence atomics. message is written and read under the client
// connection's mu, as stream.code is.
type callDetail struct {
	client, authority, traceparent string
	message                        string
	span                           any // Options.Tracer's; set before the call is published
	attempts                       atomic.Int32
	firstByte                      atomic.Int64 // on the relay's clock; 0 until the first response headers
	reqBytes, respBytes            atomic.Int64
}

// newCallDetail copies what the access log needs from the request
// headers: the decoder's strings may point into its buffers.
func newCallDetail(client string, fields []hpackField) *callDetail {
	d := &callDetail{client: client}
	for _, f := range fields {
		switch f.Name {
		case ":authority":
			d.authority = strings.Clone(f.Value)
		case "traceparent":
			d.traceparent = strings.Clone(f.Value)
		}
	}
	return d
}

// fill copies the detail into o; st.start anchors the first byte.
func (d *callDetail) fill(o *Observation, start time.Duration) {
	o.Client, o.Authority, o.TraceParent, o.Message = d.client, d.authority, d.traceparent, d.message
	o.Span = d.span
	o.Attempts = int(d.attempts.Load())
	if fb := d.firstByte.Load(); fb != 0 {
		o.FirstByte = time.Duration(fb) - start
	}
	o.RequestBytes, o.ResponseBytes = d.reqBytes.Load(), d.respBytes.Load()
}

// startSpan opens s's span, kept in its detail, as the child of the request's traceparent
// and returns the span's. Header values may point into the decoder's
// buffers, so the request's is copied for the tracer.
func (s *stream) startSpan(t CallTracer, fields []hpackField) string {
	var parent string
	if i := slices.IndexFunc(fields, func(f hpackField) bool { return f.Name == "traceparent" }); i >= 0 {
		parent = strings.Clone(fields[i].Value)
	}
	out, span := t.Start(s.method, s.cluster, parent)
	s.detail.span = span
	return out
}

// withTraceparent puts traceparent in place of the request's, or adds it.
func withTraceparent(hdrs []hpackField, traceparent string) []hpackField {
	if i := slices.IndexFunc(hdrs, func(f hpackField) bool { return f.Name == "traceparent" }); i >= 0 {
		hdrs[i].Value = traceparent
		return hdrs
	}
	return append(hdrs, hpackField{Name: "traceparent", Value: traceparent})
}
