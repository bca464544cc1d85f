package accesslog

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/grpc/codes"
)

// Call is one finished gRPC call.
type Call struct {
	// Time is when the request headers arrived.
	Time     time.Time
	Listener string
	// Client is the client's address, host:port.
	Client string
	// Authority is the request's :authority.
	Authority string
	// Method is the request's :path, /pkg.Service/Method.
	Method  string
	Cluster string
	// Endpoint served the call ("" when none was picked).
	Endpoint string
	// Attempts is how many endpoints the call was sent to.
	Attempts int
	// Code and Message are the grpc-status and grpc-message the client got.
	Code    codes.Code
	Message string
	// Duration runs from the request headers to the end of the call;
	// FirstByte to the first response headers (0 when none came).
	Duration, FirstByte time.Duration
	// RequestBytes and ResponseBytes count DATA payload (gRPC messages
	// with their 5-byte prefixes) each way.
	RequestBytes, ResponseBytes int64
	// TraceParent is the request's traceparent header, as sent.
	TraceParent string
}

// Conn is one finished L4 connection.
type Conn struct {
	// Time is when the connection was accepted.
	Time     time.Time
	Listener string
	Client   string
	// Endpoint is the backend it was relayed to ("" when none answered).
	Endpoint string
	// FromClient and FromEndpoint count the bytes relayed each way.
	FromClient, FromEndpoint int64
	Duration                 time.Duration
	// End says how it ended: "closed" (by the peers), "idle",
	// "lifetime", "drain", "shutdown", "unserved" (no endpoint).
	End string
}

// field is one key and its value, already formatted; quoted marks
// strings (quoted in text when needed, always in JSON).
type field struct {
	key, val string
	quoted   bool
}

func str(k, v string) field       { return field{k, v, true} }
func num(k string, v int64) field { return field{k, strconv.FormatInt(v, 10), false} }
func ms(k string, d time.Duration) field {
	return field{k, strconv.FormatFloat(float64(d)/1e6, 'f', 3, 64), false}
}

// timeFormat is RFC 3339 in UTC with milliseconds.
const timeFormat = "2006-01-02T15:04:05.000Z07:00"

func (c *Call) fields() []field {
	return []field{
		str("time", c.Time.UTC().Format(timeFormat)),
		str("listener", c.Listener),
		str("client", c.Client),
		str("authority", c.Authority),
		str("method", c.Method),
		str("cluster", c.Cluster),
		str("endpoint", c.Endpoint),
		num("attempts", int64(c.Attempts)),
		str("grpc_status", c.Code.String()),
		str("grpc_message", c.Message),
		ms("duration_ms", c.Duration),
		ms("ttfb_ms", c.FirstByte),
		num("request_bytes", c.RequestBytes),
		num("response_bytes", c.ResponseBytes),
		str("trace_id", TraceID(c.TraceParent)),
	}
}

func (c *Conn) fields() []field {
	return []field{
		str("time", c.Time.UTC().Format(timeFormat)),
		str("listener", c.Listener),
		str("client", c.Client),
		str("endpoint", c.Endpoint),
		num("client_bytes", c.FromClient),
		num("endpoint_bytes", c.FromEndpoint),
		ms("duration_ms", c.Duration),
		str("end", c.End),
	}
}

// TraceID is the trace id of a W3C traceparent header
// ("00-<32 hex trace id>-<16 hex span id>-<2 hex flags>"), or "" when the
// header is absent or malformed.
func TraceID(traceparent string) string {
	if len(traceparent) < 55 || traceparent[2] != '-' || traceparent[35] != '-' {
		return ""
	}
	id := traceparent[3:35]
	for i := range len(id) {
		c := id[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return ""
		}
	}
	if id == "00000000000000000000000000000000" {
		return ""
	}
	return id
}

// appendText writes key=value pairs; a string value is quoted when it is
// empty or holds a space, a quote, '=' or anything not printable.
func appendText(b []byte, fs []field) []byte {
	for i, f := range fs {
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, f.key...)
		b = append(b, '=')
		if f.quoted && needsQuote(f.val) {
			b = strconv.AppendQuote(b, f.val)
		} else {
			b = append(b, f.val...)
		}
	}
	return append(b, '\n')
}

func needsQuote(s string) bool {
	if s == "" || !utf8.ValidString(s) {
		return true
	}
	return strings.ContainsFunc(s, func(r rune) bool {
		return r <= ' ' || r == '"' || r == '=' || r == '\\' || r == 0x7f || !strconv.IsPrint(r)
	})
}

// appendJSON writes one JSON object.
func appendJSON(b []byte, fs []field) []byte {
	b = append(b, '{')
	for i, f := range fs {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendQuote(b, f.key) // keys are plain ASCII
		b = append(b, ':')
		if f.quoted {
			v, _ := json.Marshal(f.val) // a string always marshals
			b = append(b, v...)
		} else {
			b = append(b, f.val...)
		}
	}
	return append(b, '}', '\n')
}
