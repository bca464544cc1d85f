package h2relay

import (
	"strings"
	"sync/atomic"
	"time"
)

// callDetail is what Options.Detail gathers of a call beyond the
// Observation's basics, for access logs. A call has one only when Detail
// is set, so calls without it pay one nil check at each point below.
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
	o.Attempts = int(d.attempts.Load())
	if fb := d.firstByte.Load(); fb != 0 {
		o.FirstByte = time.Duration(fb) - start
	}
	o.RequestBytes, o.ResponseBytes = d.reqBytes.Load(), d.respBytes.Load()
}
