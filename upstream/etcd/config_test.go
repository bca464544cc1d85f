package etcd

import (
	"errors"
	"testing"
	"time"
)

func TestConfigValidateNamesTheField(t *testing.T) {
	good := Config{Hosts: []string{"127.0.0.1:2379", "https://etcd-1:2379"}, Key: "user.rpc"}
	if err := good.Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	for _, tc := range []struct {
		field string
		edit  func(*Config)
	}{
		{"hosts", func(c *Config) { c.Hosts = nil }},
		{"hosts[1]", func(c *Config) { c.Hosts[1] = "etcd-1" }},
		{"hosts[0]", func(c *Config) { c.Hosts[0] = "ftp://etcd:21" }},
		{"key", func(c *Config) { c.Key = " " }},
		{"key", func(c *Config) { c.Key = "user.rpc/" }},
		{"pass", func(c *Config) { c.User = "root" }},
		{"tls", func(c *Config) { c.TLS = &TLS{Cert: "c.pem"} }},
		{"dial_timeout", func(c *Config) { c.DialTimeout = -time.Second }},
	} {
		c := good
		c.Hosts = append([]string(nil), good.Hosts...)
		tc.edit(&c)
		var fe *FieldError
		if err := c.Validate(); !errors.As(err, &fe) || fe.Field != tc.field {
			t.Errorf("%s: Validate() = %v, want an error about %s", tc.field, err, tc.field)
		}
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	if _, err := New(Config{Key: "user.rpc"}, nil); err == nil {
		t.Error("New accepted a config without hosts")
	}
	if _, err := New(Config{Hosts: []string{"127.0.0.1:2379"}, Key: "k", TLS: &TLS{CA: "/nonexistent/ca.pem"}}, nil); err == nil {
		t.Error("New accepted a missing CA file")
	}
}

func TestParseValue(t *testing.T) {
	for _, tc := range []struct {
		in, addr string
		md       map[string]string
		bad      bool
	}{
		{in: "10.0.0.1:8080", addr: "10.0.0.1:8080"},
		{in: " user-1.svc:80\n", addr: "user-1.svc:80"},
		{in: "[::1]:80", addr: "[::1]:80"},
		{in: `{"addr":"10.0.0.1:80","zone":"b","weight":3,"tags":["x"]}`, addr: "10.0.0.1:80",
			md: map[string]string{"zone": "b", "weight": "3", "tags": `["x"]`}},
		{in: "", bad: true},
		{in: "10.0.0.1", bad: true},
		{in: ":80", bad: true},
		{in: "0.0.0.0:80", bad: true},
		{in: "[::]:80", bad: true},
		{in: "10.0.0.1:0", bad: true},
		{in: "10.0.0.1:http", bad: true},
		{in: "10.0.0.1:70000", bad: true},
		{in: `{"addr": 5}`, bad: true},
		{in: `{"host": "10.0.0.1:80"}`, bad: true},
		{in: `{"addr": "10.0.0.1:80"`, bad: true},
	} {
		ep, err := parseValue([]byte(tc.in))
		if tc.bad {
			if err == nil {
				t.Errorf("parseValue(%q) = %+v, want an error", tc.in, ep)
			}
			continue
		}
		if err != nil || ep.Addr != tc.addr || len(ep.Metadata) != len(tc.md) {
			t.Errorf("parseValue(%q) = %+v, %v; want %s %v", tc.in, ep, err, tc.addr, tc.md)
			continue
		}
		for k, v := range tc.md {
			if ep.Metadata[k] != v {
				t.Errorf("parseValue(%q) metadata %s = %q, want %q", tc.in, k, ep.Metadata[k], v)
			}
		}
	}
}
