// Package attack is a harness of HTTP/2 attacks on a gRPC proxy, written
// frame by frame, each bounded in count and time and aimed at loopback
// listeners only. The tests run them against strait while a legitimate
// load flows (attack_test.go); bench/attackbench runs the same attacks on
// strait beside HAProxy and reports memory side by side.
//
// The attacks call grpc.testing.TestService, which the test backend
// (internal/testutil/backend) serves; HoldHeader asks it to send its response
// headers and then hold the call open until it is cancelled.
package attack

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/net/http2"
)

// Target is a proxy under attack: two listeners with the same routes.
type Target struct {
	// Addr is the h2c listener.
	Addr string
	// TLSAddr is the TLS (ALPN h2) listener.
	TLSAddr string
}

// Methods and metadata of the test backend the attacks call.
const (
	// duplexMethod's handler runs before any request message, so a
	// held call is answered with headers at once.
	duplexMethod    = "/grpc.testing.TestService/FullDuplexCall"
	emptyMethod     = "/grpc.testing.TestService/EmptyCall"
	streamingMethod = "/grpc.testing.TestService/StreamingOutputCall"
	// HoldHeader, sent with any value, makes the test backend answer
	// with headers and hold the call until it is cancelled.
	HoldHeader = "x-test-hold"
)

// Scale bounds the attacks. Zero fields take the defaults noted.
type Scale struct {
	// Frames bounds each flood (100,000 frames).
	Frames int
	// Streams bounds each reset attack (20,000 streams).
	Streams int
	// IdleConns is how many idle connections one attack holds (2,000).
	IdleConns int
	// IdleStreams is how many idle streams one attack holds (10,000),
	// 100 to a connection.
	IdleStreams int
	// HalfOpen is how many half-open TLS handshakes one attack holds
	// (1,000).
	HalfOpen int
	// Hold is how long the slow readers (zero window, not reading) and
	// the half-open handshakes are held once in place (5 s): longer than
	// a legitimate call's timeout, so that calls they stall fail.
	Hold time.Duration
	// Settle is how long idle connections and streams are held once
	// all are in place, before memory is read (1 s).
	Settle time.Duration
}

func (s Scale) withDefaults() Scale {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&s.Frames, 100_000)
	def(&s.Streams, 20_000)
	def(&s.IdleConns, 2_000)
	def(&s.IdleStreams, 10_000)
	def(&s.HalfOpen, 1_000)
	if s.Hold <= 0 {
		s.Hold = 5 * time.Second
	}
	if s.Settle <= 0 {
		s.Settle = time.Second
	}
	return s
}

// Outcome is what one attack saw of the proxy.
type Outcome struct {
	// Sent counts what the attack sent: frames of a flood, streams of
	// a reset attack, requests of a churn.
	Sent int
	// Conns is how many connections the attack opened; Ended how many
	// of them the proxy ended (GOAWAY or close) before the attack did.
	Conns, Ended int
	// GoAways counts the GOAWAY frames received, by error code.
	GoAways map[http2.ErrCode]int
	// Resets counts RST_STREAM frames received.
	Resets int
	// Held is how many connections or streams were in place at once,
	// for the attacks that hold them.
	Held int
}

// StoppedWith reports whether every connection of the attack was ended
// with a GOAWAY carrying code.
func (o Outcome) StoppedWith(code http2.ErrCode) bool {
	return o.Conns > 0 && o.GoAways[code] == o.Conns
}

// String is a one-line summary for logs and tables.
func (o Outcome) String() string {
	s := fmt.Sprintf("sent %d, conns %d ended %d, resets %d", o.Sent, o.Conns, o.Ended, o.Resets)
	for code, n := range o.GoAways {
		s += fmt.Sprintf(", GOAWAY %v ×%d", code, n)
	}
	if o.Held > 0 {
		s += fmt.Sprintf(", held %d", o.Held)
	}
	return s
}

// add folds one connection's ending into o.
func (o *Outcome) add(c *conn) {
	o.Conns++
	if c.ended() {
		o.Ended++
	}
	if code, ok := c.code(); ok {
		if o.GoAways == nil {
			o.GoAways = map[http2.ErrCode]int{}
		}
		o.GoAways[code]++
	}
	o.Resets += int(c.resets.Load())
}

// Attack is one kind of abuse.
type Attack struct {
	// Name is short and unique, for test and table rows.
	Name string
	// Stop is the GOAWAY code a proxy that defends itself ends every
	// attacking connection with; 0 (NO_ERROR) for the attacks that only
	// hold resources, where the proof is in memory and in the
	// legitimate load.
	Stop http2.ErrCode
	// TLS: the attack aims at the TLS listener (legitimate load should
	// too).
	TLS bool
	// Unit names what the attack holds when the memory each one costs
	// is a figure worth reporting (Outcome.Held of them); "" otherwise.
	Unit string
	// Run runs the attack until it is done, stopped, or ctx ends.
	// held, when not nil, is called once while what the attack holds is
	// in place (to read the proxy's memory then).
	Run func(ctx context.Context, t Target, held func()) (Outcome, error)
}

// All is every attack, bounded by s.
func All(s Scale) []Attack {
	s = s.withDefaults()
	return []Attack{
		{Name: "rapid-reset", Stop: http2.ErrCodeEnhanceYourCalm, Run: s.resets(rapidReset)},
		{Name: "reset-window-update-0", Stop: http2.ErrCodeEnhanceYourCalm, Run: s.resets(windowUpdateZero)},
		{Name: "reset-data-after-end", Stop: http2.ErrCodeEnhanceYourCalm, Run: s.resets(dataAfterEnd)},
		{Name: "reset-self-dependency", Stop: http2.ErrCodeEnhanceYourCalm, Run: s.resets(selfDependency)},
		{Name: "reset-trailers-no-end", Stop: http2.ErrCodeEnhanceYourCalm, Run: s.resets(trailersNoEnd)},
		{Name: "reset-content-length", Stop: http2.ErrCodeEnhanceYourCalm, Run: s.resets(contentLength)},
		{Name: "continuation-flood", Stop: http2.ErrCodeEnhanceYourCalm, Run: s.flood(continuationFlood)},
		{Name: "continuation-bomb", Stop: http2.ErrCodeEnhanceYourCalm, Run: s.flood(continuationBomb)},
		{Name: "settings-flood", Stop: http2.ErrCodeEnhanceYourCalm, Run: s.flood(settingsFlood)},
		{Name: "ping-flood", Stop: http2.ErrCodeEnhanceYourCalm, Run: s.flood(pingFlood)},
		{Name: "empty-data-flood", Stop: http2.ErrCodeEnhanceYourCalm, Run: s.flood(emptyDataFlood)},
		{Name: "padded-data-flood", Stop: http2.ErrCodeEnhanceYourCalm, Run: s.flood(paddedDataFlood)},
		{Name: "zero-window", Run: s.zeroWindow},
		{Name: "non-reading", Run: s.nonReading},
		{Name: "idle-conns", Unit: "idle connection", Run: s.idleConns},
		{Name: "idle-streams", Unit: "idle stream", Run: s.idleStreams},
		{Name: "header-churn", Run: s.headerChurn},
		{Name: "tls-half-open", TLS: true, Unit: "half-open handshake", Run: s.halfOpenTLS},
	}
}

// pause waits d or until ctx ends.
func pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
