package h2relay

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"golang.org/x/net/http/httpguts"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/grpc/codes"
)

type hpackField = hpack.HeaderField

var errHeaderListSize = errors.New("header list too large")

// headerReader assembles and decodes header blocks for one connection
// (its hpack decoder keeps the connection's dynamic table). Owned by the
// connection's reader goroutine.
type headerReader struct {
	dec    *hpack.Decoder
	fields []hpackField
	size   uint32
	max    uint32
	tooBig bool
	memo   blockMemo
}

func newHeaderReader(max uint32) *headerReader {
	h := &headerReader{max: max}
	h.dec = hpack.NewDecoder(4096, h.emit)
	return h
}

func (h *headerReader) emit(f hpackField) {
	h.size += f.Size()
	if h.size > h.max {
		h.tooBig = true
		return
	}
	h.fields = append(h.fields, f)
}

// read decodes the block that f starts, reading its CONTINUATION frames.
// The fields it returns are valid until the next read: a caller that
// keeps them past that copies them (see chunk.borrowed).
// The whole block is always decoded, to keep the table in step; a list
// over the size limit yields errHeaderListSize (a stream error). Too many
// fragments, or too many bytes, end the connection.
func (h *headerReader) read(fr *http2.Framer, f *http2.HeadersFrame, maxCont int) ([]hpackField, error) {
	if cap(h.fields) > 64 {
		h.fields = nil // a big block once; do not keep its memory
	}
	h.fields, h.size, h.tooBig = h.fields[:0], 0, false
	frag, ended := f.HeaderBlockFragment(), f.HeadersEnded()
	if ended {
		if e := h.memo.lookup(frag); e != nil {
			h.fields, h.size = append(h.fields, e.fields...), e.size
			return h.fields, nil
		}
	}
	block, whole := frag, ended // whole: the block is this one fragment
	total := 0
	for n := 0; ; n++ {
		if total += len(frag); total > 2*int(h.max)+4096 {
			return nil, http2.ConnectionError(http2.ErrCodeEnhanceYourCalm)
		}
		if _, err := h.dec.Write(frag); err != nil {
			return nil, http2.ConnectionError(http2.ErrCodeCompression)
		}
		if ended {
			break
		}
		if n >= maxCont {
			return nil, http2.ConnectionError(http2.ErrCodeEnhanceYourCalm)
		}
		next, err := fr.ReadFrame()
		if err != nil {
			return nil, err
		}
		cf, ok := next.(*http2.ContinuationFrame)
		if !ok {
			return nil, http2.ConnectionError(http2.ErrCodeProtocol)
		}
		frag, ended = cf.HeaderBlockFragment(), cf.HeadersEnded()
	}
	if err := h.dec.Close(); err != nil {
		return nil, http2.ConnectionError(http2.ErrCodeCompression)
	}
	if h.tooBig {
		h.memo.reset()
		return nil, errHeaderListSize
	}
	if whole {
		h.memo.decoded(block, h.fields, h.size)
	} else {
		h.memo.reset()
	}
	return h.fields, nil
}

// connSpecific says whether a header describes one HTTP/1 connection,
// which is malformed in HTTP/2 (RFC 9113 §8.2.2). A switch, not a map:
// it runs for every field of every block.
func connSpecific(name string) bool {
	switch name {
	case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade":
		return true
	}
	return false
}

// checkFields applies RFC 9113 §8.2 and §8.3 to a request (or, with
// trailers, a trailer block) and returns its :path and :method.
func checkFields(fields []hpackField, trailers bool) (path, method string, err error) {
	var scheme string
	var seen uint8 // one bit per pseudo-header
	regular := false
	for _, f := range fields {
		if !validValue(f.Value) {
			return "", "", fmt.Errorf("invalid value of %q", f.Name)
		}
		if f.Name != "" && f.Name[0] == ':' {
			var bit uint8
			switch f.Name {
			case ":method":
				bit, method = 1, f.Value
			case ":scheme":
				bit, scheme = 2, f.Value
			case ":path":
				bit, path = 4, f.Value
			case ":authority":
				bit = 8
			default:
				return "", "", fmt.Errorf("pseudo-header %q", f.Name)
			}
			if regular || trailers || seen&bit != 0 {
				return "", "", fmt.Errorf("misplaced pseudo-header %q", f.Name)
			}
			seen |= bit
			continue
		}
		regular = true
		if err := checkRegular(f); err != nil {
			return "", "", err
		}
	}
	if !trailers && (method == "" || scheme == "" || path == "") {
		return "", "", errors.New("missing :method, :scheme or :path")
	}
	return path, method, nil
}

// checkRegular applies RFC 9113 §8.2 to a field that is not a
// pseudo-header.
func checkRegular(f hpackField) error {
	if !validName(f.Name) {
		return fmt.Errorf("invalid header name %q", f.Name)
	}
	if connSpecific(f.Name) || (f.Name == "te" && f.Value != "trailers") {
		return fmt.Errorf("connection-specific header %q", f.Name)
	}
	return nil
}

// checkResponse applies RFC 9113 §8.2 and §8.3 to an endpoint's
// response headers (one :status of three digits, first; interim 1xx
// responses are not relayed, so they count as malformed) or, with
// trailers, its trailers (no pseudo-header).
func checkResponse(fields []hpackField, trailers bool) error {
	status := false
	for i, f := range fields {
		if !validValue(f.Value) {
			return fmt.Errorf("invalid value of %q", f.Name)
		}
		if f.Name == ":status" && i == 0 && !trailers {
			if len(f.Value) != 3 || f.Value[0] < '2' || f.Value[0] > '5' || f.Value[1] < '0' || f.Value[1] > '9' || f.Value[2] < '0' || f.Value[2] > '9' {
				return fmt.Errorf("malformed :status %q", f.Value)
			}
			status = true
			continue
		}
		if strings.HasPrefix(f.Name, ":") {
			return fmt.Errorf("misplaced pseudo-header %q", f.Name)
		}
		if err := checkRegular(f); err != nil {
			return err
		}
	}
	if !trailers && !status {
		return errors.New("no :status")
	}
	return nil
}

// nameByte says which bytes a header name may hold: HTTP token
// characters, lower case.
var nameByte = func() (t [256]bool) {
	for c := range t {
		t[c] = httpguts.IsTokenRune(rune(c)) && (c < 'A' || c > 'Z')
	}
	return t
}()

// validName accepts a lower-case HTTP token. It and validValue run for
// every field of every request: one table look-up per byte.
func validName(name string) bool {
	for i := 0; i < len(name); i++ {
		if !nameByte[name[i]] {
			return false
		}
	}
	return name != ""
}

// validValue is httpguts.ValidHeaderFieldValue (no control characters
// but tab), eight bytes at a time: a word with no byte under 0x20 and
// none equal to 0x7f passes whole, the rest byte by byte. It ran a byte
// at a time for a fifth of a request's header handling.
func validValue(v string) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	i := 0
	for ; i+8 <= len(v); i += 8 {
		w := uint64(v[i]) | uint64(v[i+1])<<8 | uint64(v[i+2])<<16 | uint64(v[i+3])<<24 |
			uint64(v[i+4])<<32 | uint64(v[i+5])<<40 | uint64(v[i+6])<<48 | uint64(v[i+7])<<56
		del := w ^ (0x7f * ones)
		if ((w-0x20*ones)&^w|(del-ones)&^del)&highs != 0 {
			break
		}
	}
	for ; i < len(v); i++ {
		if c := v[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// forwardable drops connection-specific fields (and host, which
// :authority carries) from a block the relay passes on.
// It filters in place: fields is the relay's own, fresh from decoding.
func forwardable(fields []hpackField) []hpackField {
	out := fields[:0]
	for _, f := range fields {
		if !connSpecific(f.Name) && f.Name != "host" {
			out = append(out, f)
		}
	}
	return out
}

// listSize is the size of a header list as SETTINGS_MAX_HEADER_LIST_SIZE
// counts it (RFC 9113 §6.5.2).
func listSize(fields []hpackField) uint32 {
	var n uint32
	for _, f := range fields {
		n += f.Size()
	}
	return n
}

// grpcStatus reads grpc-status from a trailer block.
func grpcStatus(fields []hpackField) (codes.Code, bool) {
	for _, f := range fields {
		if f.Name == "grpc-status" {
			n, err := strconv.ParseUint(f.Value, 10, 32)
			if err != nil {
				return codes.Unknown, true
			}
			return codes.Code(n), true
		}
	}
	return codes.OK, false
}

// grpcMessage reads grpc-message from a trailer block, percent-decoded
// and copied (the block's strings may share a reused buffer).
func grpcMessage(fields []hpackField) string {
	for _, f := range fields {
		if f.Name == "grpc-message" {
			if m, err := url.PathUnescape(f.Value); err == nil {
				return strings.Clone(m)
			}
			return strings.Clone(f.Value)
		}
	}
	return ""
}

// statusFields is the relay's own status: a trailers-only response, or
// trailers after headers already sent.
func statusFields(trailersOnly bool, code codes.Code, msg string) []hpackField {
	f := make([]hpackField, 0, 4)
	if trailersOnly {
		f = append(f, hpackField{Name: ":status", Value: "200"}, hpackField{Name: "content-type", Value: "application/grpc"})
	}
	return append(f, hpackField{Name: "grpc-status", Value: strconv.Itoa(int(code))},
		hpackField{Name: "grpc-message", Value: encodeGRPCMessage(msg)})
}

// encodeGRPCMessage percent-encodes what the gRPC spec requires.
func encodeGRPCMessage(msg string) string {
	var b strings.Builder
	for i := 0; i < len(msg); i++ {
		c := msg[i]
		if c >= ' ' && c <= '~' && c != '%' {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}
