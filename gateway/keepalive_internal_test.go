package gateway

import (
	"testing"
	"time"

	"github.com/straitproxy/strait/config"
	"github.com/straitproxy/strait/proxy/h2relay"
)

func TestKeepaliveOptionsFromConfig(t *testing.T) {
	k := config.Keepalive{Interval: time.Second, Timeout: 2 * time.Second, MinTime: time.Minute}
	var o h2relay.Options
	keepalive(&o, k)
	if o.KeepaliveInterval != time.Second || o.KeepaliveTimeout != 2*time.Second || o.KeepaliveMinTime != time.Minute {
		t.Fatalf("options = %v %v %v", o.KeepaliveInterval, o.KeepaliveTimeout, o.KeepaliveMinTime)
	}
	k.Disabled = true
	keepalive(&o, k)
	if o.KeepaliveInterval >= 0 {
		t.Fatalf("disabled keep-alive: interval %v, want negative (off)", o.KeepaliveInterval)
	}
}
