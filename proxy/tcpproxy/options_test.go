package tcpproxy

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

func TestValidateNamesTheField(t *testing.T) {
	for _, tc := range []struct {
		o    Options
		want string
	}{
		{Options{ProxyProtocol: "v3"}, "l.proxy_protocol"},
		{Options{Drain: DrainOptions{Mode: "linger"}}, "l.drain.mode"},
		{Options{Drain: DrainOptions{Grace: -time.Second}}, "l.drain.grace"},
		{Options{IdleTimeout: -1}, "l.idle_timeout"},
		{Options{MaxConnections: -1}, "l.max_connections"},
		{Options{DialAttempts: -1}, "l.dial_attempts"},
	} {
		err := tc.o.Validate("l")
		if err == nil || !strings.HasPrefix(err.Error(), tc.want+":") {
			t.Errorf("Validate(%+v) = %v, want an error about %s", tc.o, err, tc.want)
		}
	}
	if err := (Options{ProxyProtocol: "v2", Drain: DrainOptions{Mode: DrainClose}}).Validate("l"); err != nil {
		t.Errorf("valid options refused: %v", err)
	}
}

func TestIdleWindowsNeedBothDirectionsSilent(t *testing.T) {
	w := newIdleWindows(4*time.Second, time.Now())
	for range windowsPerTimeout - 1 {
		if w.report(up, false) || w.report(down, false) {
			t.Fatal("idle before the timeout")
		}
	}
	// Upstream moved a byte in the last window: not idle yet.
	if w.report(down, false) || w.report(up, true) {
		t.Fatal("idle although a byte moved")
	}
	for i := range windowsPerTimeout {
		idleDown := w.report(down, false)
		idleUp := w.report(up, false)
		if last := i == windowsPerTimeout-1; idleUp != last || idleDown {
			t.Fatalf("window %d after the byte: idle up=%v down=%v", i, idleUp, idleDown)
		}
	}
}

func TestIdleWindowsWaitForTheSlowerDirection(t *testing.T) {
	w := newIdleWindows(4*time.Second, time.Now())
	for range windowsPerTimeout {
		if w.report(up, false) {
			t.Fatal("idle judged before the other direction reported its windows")
		}
	}
	for i := range windowsPerTimeout {
		if got := w.report(down, false); got != (i == windowsPerTimeout-1) {
			t.Fatalf("down window %d: idle=%v", i, got)
		}
	}
	// A finished direction counts as silent.
	w2 := newIdleWindows(4*time.Second, time.Now())
	w2.finish(down)
	for i := range windowsPerTimeout {
		if got := w2.report(up, false); got != (i == windowsPerTimeout-1) {
			t.Fatalf("half-closed window %d: idle=%v", i, got)
		}
	}
}

// The keys of a `protocol: tcp` listener, as the configuration example
// documents them.
func TestOptionsDecodeFromListenerYAML(t *testing.T) {
	const doc = `
dial_timeout: 2s
dial_attempts: 4
max_connections: 10000
idle_timeout: 10m
max_lifetime: 24h
proxy_protocol: v2
drain: {mode: close, grace: 30s}
`
	var o Options
	dec := yaml.NewDecoder(strings.NewReader(doc))
	dec.KnownFields(true)
	if err := dec.Decode(&o); err != nil {
		t.Fatal(err)
	}
	want := Options{DialTimeout: 2 * time.Second, DialAttempts: 4, MaxConnections: 10000,
		IdleTimeout: 10 * time.Minute, MaxLifetime: 24 * time.Hour, ProxyProtocol: "v2",
		Drain: DrainOptions{Mode: DrainClose, Grace: 30 * time.Second}}
	if !reflect.DeepEqual(o, want) {
		t.Fatalf("decoded %+v, want %+v", o, want)
	}
	if err := o.Validate("listeners[0]"); err != nil {
		t.Fatal(err)
	}
}
