package etcd

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"strconv"

	"github.com/straitproxy/strait/upstream"
)

// parseValue reads one registration: go-zero's plain "host:port", or a JSON
// object whose "addr" is host:port and whose other fields become metadata.
func parseValue(v []byte) (upstream.Endpoint, error) {
	v = bytes.TrimSpace(v)
	if len(v) > 0 && v[0] == '{' {
		return parseJSON(v)
	}
	addr := string(v)
	if err := checkAddr(addr); err != nil {
		return upstream.Endpoint{}, err
	}
	return upstream.Endpoint{Addr: addr}, nil
}

func parseJSON(v []byte) (upstream.Endpoint, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(v, &fields); err != nil {
		return upstream.Endpoint{}, fmt.Errorf("invalid JSON: %w", err)
	}
	var addr string
	if err := json.Unmarshal(fields["addr"], &addr); err != nil {
		return upstream.Endpoint{}, fmt.Errorf(`JSON value needs a string "addr"`)
	}
	if err := checkAddr(addr); err != nil {
		return upstream.Endpoint{}, err
	}
	delete(fields, "addr")
	ep := upstream.Endpoint{Addr: addr}
	if len(fields) > 0 {
		ep.Metadata = make(map[string]string, len(fields))
	}
	for k, raw := range fields {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			ep.Metadata[k] = s
		} else {
			ep.Metadata[k] = string(raw)
		}
	}
	return ep, nil
}

// checkAddr accepts host:port with a non-empty host that is not an
// unspecified IP (0.0.0.0 would send traffic to strait's own host) and a
// port in 1-65535.
func checkAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port", addr)
	}
	if host == "" {
		return fmt.Errorf("%q has no host", addr)
	}
	if ip, err := netip.ParseAddr(host); err == nil && ip.IsUnspecified() {
		return fmt.Errorf("%q has an unspecified host", addr)
	}
	if p, err := strconv.ParseUint(port, 10, 16); err != nil || p == 0 {
		return fmt.Errorf("%q has an invalid port", addr)
	}
	return nil
}
