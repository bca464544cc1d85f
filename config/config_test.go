package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/straitproxy/strait/config"
	"github.com/straitproxy/strait/internal/testutil/certs"
)

const good = `
admin: {address: 127.0.0.1:9901}
listeners:
  - name: edge
    address: 127.0.0.1:9000
    routes:
      - {service: helloworld.Greeter, cluster: greeter}
      - {prefix: /grpc.testing., cluster: testing}
    default_cluster: greeter
clusters:
  greeter: {endpoints: [127.0.0.1:10000, "[::1]:10001"]}
  testing: {endpoints: [localhost:10002]}
limits: {max_message_size: 16MiB}
timeouts: {connect: 2s, drain: 30s}
`

func TestParseGood(t *testing.T) {
	c, err := config.Parse([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if c.Limits.MaxMessageSize != 16<<20 || c.Timeouts.Connect != 2*time.Second || c.Timeouts.Drain != 30*time.Second {
		t.Fatalf("limits/timeouts = %+v %+v", c.Limits, c.Timeouts)
	}
	if l := c.Listeners[0]; l.Protocol != "grpc" || l.Dataplane != "relay" || len(l.Routes) != 2 || l.DefaultCluster != "greeter" {
		t.Fatalf("listener = %+v", l)
	}
	if got := c.Clusters["greeter"].Endpoints; len(got) != 2 || got[1] != "[::1]:10001" {
		t.Fatalf("endpoints = %v", got)
	}
}

func TestParseEtcdCluster(t *testing.T) {
	c, err := config.Parse([]byte(`
listeners: [{address: 127.0.0.1:9000, default_cluster: user}]
clusters:
  user:
    etcd:
      hosts: [127.0.0.1:2379, "https://etcd-1:2379"]
      key: user.rpc
      user: strait
      pass: secret
      tls: {ca: ca.pem, cert: c.pem, key: k.pem}
      dial_timeout: 1500ms
`))
	if err != nil {
		t.Fatal(err)
	}
	e := c.Clusters["user"].Etcd
	if e == nil || len(e.Hosts) != 2 || e.Key != "user.rpc" || e.User != "strait" || e.Pass != "secret" ||
		e.TLS == nil || e.TLS.Key != "k.pem" || e.DialTimeout != 1500*time.Millisecond {
		t.Fatalf("etcd = %+v", e)
	}
}

func TestDefaults(t *testing.T) {
	c, err := config.Parse([]byte("listeners: [{address: ':9000', default_cluster: a}]\nclusters: {a: {endpoints: ['h:1']}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Limits.MaxMessageSize != 4<<20 || c.Timeouts.Connect != 5*time.Second || c.Timeouts.Drain != 15*time.Second {
		t.Fatalf("defaults = %+v %+v", c.Limits, c.Timeouts)
	}
	if c.Admin.HistoryInterval != 5*time.Second {
		t.Fatalf("admin.history_interval default = %s, want 5s", c.Admin.HistoryInterval)
	}
	want := config.Keepalive{Interval: 10 * time.Second, Timeout: 10 * time.Second, MinTime: 5 * time.Minute}
	if c.Timeouts.Keepalive != want {
		t.Fatalf("keepalive defaults = %+v, want %+v", c.Timeouts.Keepalive, want)
	}
}

func TestParseCallTimeouts(t *testing.T) {
	c, err := config.Parse([]byte("listeners: [{address: ':9000', default_cluster: a}]\nclusters: {a: {endpoints: ['h:1']}}\n" +
		"timeouts: {handshake: 3s, idle: 1m, ignore_grpc_timeout: true, max_stream_duration: 1h, stream_idle: 0s, queue: 2s}\n"))
	if err != nil {
		t.Fatal(err)
	}
	to := c.Timeouts
	if to.Handshake != 3*time.Second || to.Idle != time.Minute || !to.IgnoreGRPCTimeout || to.MaxStreamDuration != time.Hour ||
		to.StreamIdle == nil || *to.StreamIdle != 0 || to.Queue == nil || *to.Queue != 2*time.Second {
		t.Fatalf("timeouts = %+v", to)
	}
	c, err = config.Parse([]byte("listeners: [{address: ':9000', default_cluster: a}]\nclusters: {a: {endpoints: ['h:1']}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if to := c.Timeouts; to.Handshake != 10*time.Second || to.Idle != 5*time.Minute || to.IgnoreGRPCTimeout ||
		to.MaxStreamDuration != 0 || to.StreamIdle != nil || to.Queue != nil {
		t.Fatalf("timeout defaults = %+v", to)
	}
}

func TestParseKeepalive(t *testing.T) {
	c, err := config.Parse([]byte("listeners: [{address: ':9000', default_cluster: a}]\nclusters: {a: {endpoints: ['h:1']}}\n" +
		"timeouts: {keepalive: {interval: 30s, timeout: 5s, min_time: 1m, disabled: true}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := config.Keepalive{Interval: 30 * time.Second, Timeout: 5 * time.Second, MinTime: time.Minute, Disabled: true}
	if c.Timeouts.Keepalive != want {
		t.Fatalf("keepalive = %+v, want %+v", c.Timeouts.Keepalive, want)
	}
}

// Each bad file stops start-up with exactly this one line.
func TestParseBad(t *testing.T) {
	base := "clusters: {user: {endpoints: [127.0.0.1:1]}}\n"
	lis := "listeners: [{address: 127.0.0.1:9000, default_cluster: user}]\n"
	cases := []struct{ name, yaml, want string }{
		{"no port", lis + "clusters: {user: {endpoints: [127.0.0.1:1, 10.0.0.1]}}",
			`config: clusters.user.endpoints[1]: "10.0.0.1" has no port`},
		{"bad port", lis + "clusters: {user: {endpoints: ['h:99999']}}",
			`config: clusters.user.endpoints[0]: "h:99999" has a bad port "99999"`},
		{"unknown top key", lis + base + "listner: []",
			`config: listner: unknown field (line 3; known: admin, listeners, clusters, limits, timeouts, tracing, state_dir)`},
		{"unknown nested key", "listeners: [{address: 127.0.0.1:9000, default_cluster: user, routes: [{servce: a.B, cluster: user}]}]\n" + base,
			`config: listeners[0].routes[0].servce: unknown field (line 1; known: service, prefix, cluster, retry, idempotent, hedge)`},
		{"unknown cluster key", lis + "clusters: {user: {endpoints: ['h:1'], endpionts: []}}",
			`config: clusters.user.endpionts: unknown field (line 2; known: endpoints, etcd, target, kubeconfig, tls, balancer, retry_budget)`},
		{"no listeners", base, `config: listeners: at least one listener is required`},
		{"policy on the relay", lis + "clusters: {user: {endpoints: ['h:1'], balancer: {policy: round_robin}}}",
			`config: clusters.user.balancer.policy: "round_robin" needs dataplane "grpc"; listeners[0] reaches this cluster with dataplane relay, which runs p2c_ewma only`},
		{"policy on L4", "listeners: [{name: db, address: 127.0.0.1:9000, protocol: tcp, cluster: user}]\nclusters: {user: {endpoints: ['h:1'], balancer: {policy: least_request}}}",
			`config: clusters.user.balancer.policy: "least_request" needs dataplane "grpc"; listeners[0] (db) reaches this cluster with protocol tcp, which runs p2c_ewma only`},
		{"no clusters", lis, `config: clusters: at least one cluster is required`},
		{"cluster without source", lis + "clusters: {user: {}}", `config: clusters.user: needs a source: endpoints, etcd or target`},
		{"etcd host without port", lis + "clusters: {user: {etcd: {hosts: [etcd-1], key: user.rpc}}}",
			`config: clusters.user.etcd.hosts[0]: "etcd-1" is not host:port`},
		{"etcd without key", lis + "clusters: {user: {etcd: {hosts: ['etcd-1:2379']}}}",
			`config: clusters.user.etcd.key: is required (the registration prefix, e.g. user.rpc)`},
		{"etcd and endpoints", lis + "clusters: {user: {endpoints: ['h:1'], etcd: {hosts: ['etcd-1:2379'], key: user.rpc}}}",
			`config: clusters.user: has more than one source: keep one of endpoints, etcd and target`},
		{"etcd unknown key", lis + "clusters: {user: {etcd: {hosts: ['etcd-1:2379'], key: user.rpc, password: x}}}",
			`config: clusters.user.etcd.password: unknown field (line 2; known: hosts, key, user, pass, tls, dial_timeout)`},
		{"etcd bad timeout", lis + "clusters: {user: {etcd: {hosts: ['etcd-1:2379'], key: user.rpc, dial_timeout: soon}}}",
			`config: clusters.user.etcd.dial_timeout: "soon" is not a duration (like 500ms, 5s, 1m)`},
		{"route to missing cluster", "listeners: [{address: 127.0.0.1:9000, routes: [{service: a.B, cluster: nope}]}]\n" + base,
			`config: listeners[0].routes[0].cluster: "nope" is not a defined cluster`},
		{"default to missing cluster", "listeners: [{address: 127.0.0.1:9000, default_cluster: nope}]\n" + base,
			`config: listeners[0].default_cluster: "nope" is not a defined cluster`},
		{"route with both", "listeners: [{address: 127.0.0.1:9000, routes: [{service: a.B, prefix: /a., cluster: user}]}]\n" + base,
			`config: listeners[0].routes[0]: set service or prefix, not both`},
		{"route with neither", "listeners: [{address: 127.0.0.1:9000, routes: [{cluster: user}]}]\n" + base,
			`config: listeners[0].routes[0]: set service or prefix`},
		{"service with slash", "listeners: [{address: 127.0.0.1:9000, routes: [{service: /a.B/C, cluster: user}]}]\n" + base,
			`config: listeners[0].routes[0].service: "/a.B/C" is not a full service name like pkg.Service`},
		{"prefix without slash", "listeners: [{address: 127.0.0.1:9000, routes: [{prefix: a., cluster: user}]}]\n" + base,
			`config: listeners[0].routes[0].prefix: "a." must start with /`},
		{"listener without routes", "listeners: [{address: 127.0.0.1:9000}]\n" + base,
			`config: listeners[0].routes: a listener needs routes or a default_cluster`},
		{"listener without address", "listeners: [{default_cluster: user}]\n" + base,
			`config: listeners[0].address: is required`},
		{"bad protocol", "listeners: [{address: 127.0.0.1:9000, protocol: http, default_cluster: user}]\n" + base,
			`config: listeners[0].protocol: "http" is not supported (use "grpc" or "tcp")`},
		{"duplicate listener name", "listeners: [{name: a, address: 127.0.0.1:9000, default_cluster: user}, {name: a, address: 127.0.0.1:9001, default_cluster: user}]\n" + base,
			`config: listeners[1].name: "a" is used by another listener`},
		{"bad admin address", lis + base + "admin: {address: localhost}",
			`config: admin.address: "localhost" has no port`},
		{"history interval too short", lis + base + "admin: {address: 127.0.0.1:9901, history_interval: 10ms}",
			`config: admin.history_interval: 10ms is not between 100ms and 1m`},
		{"history interval too long", lis + base + "admin: {history_interval: 5m}",
			`config: admin.history_interval: 5m0s is not between 100ms and 1m`},
		{"bad size", lis + base + "limits: {max_message_size: lots}",
			`config: limits.max_message_size: "lots" is not a size (use bytes or a unit: 4MiB, 512KiB)`},
		{"huge size", lis + base + "limits: {max_message_size: 3GiB}",
			`config: limits.max_message_size: 3221225472 is over the 2 GiB a gRPC message can have`},
		{"bad duration", lis + base + "timeouts: {connect: soon}",
			`config: timeouts.connect: "soon" is not a duration (like 500ms, 5s, 1m)`},
		{"string for list", lis + "clusters: {user: {endpoints: 127.0.0.1:1}}",
			`config: clusters.user.endpoints: "127.0.0.1:1" is not a list`},
		{"list for string", "listeners: [{address: [a], default_cluster: user}]\n" + base,
			`config: listeners[0].address: got a list, want a string`},
		{"list for mapping", lis + "clusters: [a]",
			`config: clusters: got a list, want a mapping`},
		{"stream window too small", lis + base + "limits: {stream_window: 100}",
			`config: limits.stream_window: 100 is outside 1024..2147483647`},
		{"socket unsent too small", lis + base + "limits: {socket_unsent: 1KiB}",
			`config: limits.socket_unsent: 1024 is outside 16384..1073741824`},
		{"gc headroom too small", lis + base + "limits: {gc_headroom: 1KiB}",
			`config: limits.gc_headroom: 1024 is outside 1048576..1099511627776`},
		{"flood burst under one", lis + base + "limits: {flood: {pings: {per_second: 10, burst: 0.5}}}",
			`config: limits.flood.pings: per_second must not be negative and burst must be at least 1`},
		{"relay limit on grpc dataplane", "listeners: [{address: 127.0.0.1:9000, dataplane: grpc, default_cluster: user}]\n" + base + "limits: {write_buffer: 64KiB}",
			`config: limits.write_buffer: is not supported by dataplane grpc (listeners[0]); it applies to the relay only`},
		{"budget without relay", "listeners: [{address: 127.0.0.1:9000, dataplane: grpc, default_cluster: user}]\n" + base + "limits: {buffer_budget: 64MiB}",
			`config: limits.buffer_budget: applies to relay listeners, and there is none`},
		{"retry buffer without relay", "listeners: [{address: 127.0.0.1:9000, dataplane: grpc, default_cluster: user}]\n" + base + "limits: {retry_buffer: 1MiB}",
			`config: limits.retry_buffer: applies to relay listeners, and there is none`},
		{"relay limit with only L4 listeners", "listeners: [{address: 127.0.0.1:9000, protocol: tcp, cluster: user}]\n" + base + "limits: {socket_unsent: 64KiB}",
			`config: limits.socket_unsent: applies to relay listeners, and there is none`},
		{"flood limit with only L4 listeners", "listeners: [{address: 127.0.0.1:9000, protocol: tcp, cluster: user}]\n" + base + "limits: {flood: {pings: {per_second: 10, burst: 5}}}",
			`config: limits.flood: applies to relay listeners, and there is none`},
		{"gRPC limit with only L4 listeners", "listeners: [{address: 127.0.0.1:9000, protocol: tcp, cluster: user}]\n" + base + "limits: {max_concurrent_streams: 10}",
			`config: limits.max_concurrent_streams: applies to gRPC listeners, and there is none`},
		{"retry budget without relay", "listeners: [{address: 127.0.0.1:9000, dataplane: grpc, default_cluster: user}]\nclusters: {user: {endpoints: [127.0.0.1:1], retry_budget: {ratio: 0.1}}}",
			`config: clusters.user.retry_budget: only the relay retries, and no relay listener reaches this cluster`},
		{"health check interval on the grpc-go path alone", "listeners: [{address: 127.0.0.1:9000, dataplane: grpc, default_cluster: user}]\nclusters: {user: {endpoints: [127.0.0.1:1], balancer: {health_check: {enabled: true, interval: 2s}}}}",
			`config: clusters.user.balancer.health_check.interval: only the relay and L4 poll health; the grpc-go path that reaches this cluster watches it (grpc.health.v1 Watch) and has no interval`},
		{"health check timeout on the grpc-go path alone", "listeners: [{address: 127.0.0.1:9000, dataplane: grpc, default_cluster: user}]\nclusters: {user: {endpoints: [127.0.0.1:1], balancer: {health_check: {enabled: true, timeout: 2s}}}}",
			`config: clusters.user.balancer.health_check.timeout: only the relay and L4 poll health; the grpc-go path that reaches this cluster watches it (grpc.health.v1 Watch) and has no timeout`},
		{"tcp key on grpc listener", "listeners: [{address: 127.0.0.1:9000, default_cluster: user, idle_timeout: 1m}]\n" + base,
			`config: listeners[0].idle_timeout: is for tcp listeners; a grpc listener does not use it`},
		{"drain on grpc listener", "listeners: [{address: 127.0.0.1:9000, default_cluster: user, drain: {mode: close}}]\n" + base,
			`config: listeners[0].drain: is for tcp listeners; a grpc listener does not use it`},
		{"negative write stall", lis + base + "timeouts: {write_stall: -1s}",
			`config: timeouts.write_stall: -1s is negative`},
		{"negative max connections", "listeners: [{address: 127.0.0.1:9000, default_cluster: user, max_connections: -1}]\n" + base,
			`config: listeners[0].max_connections: -1 is negative`},
		{"negative duration", lis + base + "timeouts: {drain: -1s}",
			`config: timeouts.drain: -1s is negative`},
		{"negative keepalive", lis + base + "timeouts: {keepalive: {min_time: -1m}}",
			`config: timeouts.keepalive.min_time: -1m0s is negative`},
		{"negative stream idle", lis + base + "timeouts: {stream_idle: -5s}",
			`config: timeouts.stream_idle: -5s is negative`},
		{"relay-only timeout on grpc-go", "listeners: [{address: 127.0.0.1:9000, default_cluster: user, dataplane: grpc}]\n" + base + "timeouts: {max_stream_duration: 1m}",
			`config: timeouts.max_stream_duration: is relay only: listeners[0] uses dataplane "grpc"`},
		{"queue on grpc-go", "listeners: [{address: 127.0.0.1:9000, default_cluster: user, dataplane: grpc}]\n" + base + "timeouts: {queue: 0s}",
			`config: timeouts.queue: is relay only: listeners[0] uses dataplane "grpc"`},
		{"unknown keepalive key", lis + base + "timeouts: {keepalive: {time: 1s}}",
			`config: timeouts.keepalive.time: unknown field (line 3; known: interval, timeout, min_time, disabled)`},
		{"tls without key", "listeners: [{address: 127.0.0.1:9000, default_cluster: user, tls: {cert: a.pem}}]\n" + base,
			`config: listeners[0].tls: cert and key are both required`},
		{"tls missing file", "listeners: [{address: 127.0.0.1:9000, default_cluster: user, tls: {cert: /nonexistent/a.pem, key: /nonexistent/a.key}}]\n" + base,
			`config: listeners[0].tls.cert: open /nonexistent/a.pem: no such file or directory`},
		{"mtls without ca", "listeners: [{address: 127.0.0.1:9000, default_cluster: user, tls: {cert: a, key: b, require_client_cert: true}}]\n" + base,
			`config: listeners[0].tls.require_client_cert: needs client_ca`},
		{"upstream tls half pair", lis + "clusters: {user: {endpoints: ['h:1'], tls: {cert: a.pem}}}",
			`config: clusters.user.tls: cert and key go together`},
		{"bad balancer policy", lis + "clusters: {user: {endpoints: ['h:1'], balancer: {policy: random}}}",
			`config: clusters.user.balancer.policy: "random" is not one of p2c_ewma, round_robin, least_request`},
		{"bad panic threshold", lis + "clusters: {user: {endpoints: ['h:1'], balancer: {panic_threshold: 150}}}",
			`config: clusters.user.balancer.panic_threshold: 150 is not a percentage between 0 and 100`},
		{"unknown balancer key", lis + "clusters: {user: {endpoints: ['h:1'], balancer: {tua: 1s}}}",
			`config: clusters.user.balancer.tua: unknown field (line 2; known: policy, tau, rise, prior, penalty, slow_start, grace, panic_threshold, breaker, health_check)`},
		{"tcp without cluster", "listeners: [{address: 127.0.0.1:9000, protocol: tcp}]\n" + base,
			`config: listeners[0].cluster: is required for a tcp listener`},
		{"tcp with routes", "listeners: [{address: 127.0.0.1:9000, protocol: tcp, cluster: user, default_cluster: user}]\n" + base,
			`config: listeners[0]: a tcp listener takes one cluster, not routes or default_cluster`},
		{"tcp bad drain", "listeners: [{address: 127.0.0.1:9000, protocol: tcp, cluster: user, drain: {mode: never}}]\n" + base,
			`config: listeners[0].drain.mode: "never" is not one of keep, close`},
		{"tcp unknown key", "listeners: [{address: 127.0.0.1:9000, protocol: tcp, cluster: user, idle: 1s}]\n" + base,
			`config: listeners[0].idle: unknown field (line 1; known: name, address, protocol, dataplane, routes, cluster, dial_timeout, dial_attempts, max_connections, idle_timeout, max_lifetime, proxy_protocol, drain, default_cluster, tls, access_log)`},
		{"cluster on grpc listener", "listeners: [{address: 127.0.0.1:9000, cluster: user, default_cluster: user}]\n" + base,
			`config: listeners[0].cluster: is for tcp listeners; a grpc listener uses routes and default_cluster`},
		{"bad dataplane", "listeners: [{address: 127.0.0.1:9000, default_cluster: user, dataplane: fast}]\n" + base,
			`config: listeners[0].dataplane: "fast" is not "relay" or "grpc"`},
		{"access log on grpc-go", "listeners: [{address: 127.0.0.1:9000, default_cluster: user, dataplane: grpc, access_log: {path: stdout}}]\n" + base,
			`config: listeners[0].access_log: is not supported with dataplane "grpc" (use "relay")`},
		{"access log format", "listeners: [{address: 127.0.0.1:9000, default_cluster: user, access_log: {path: stdout, format: xml}}]\n" + base,
			`config: listeners[0].access_log.format: "xml" is not "text" or "json"`},
		{"access log path", "listeners: [{address: 127.0.0.1:9000, default_cluster: user, access_log: {format: json}}]\n" + base,
			`config: listeners[0].access_log.path: is required (stdout, stderr or a file)`},
		{"access log sample", "listeners: [{address: 127.0.0.1:9000, protocol: tcp, cluster: user, access_log: {path: stdout, sample: 1.5}}]\n" + base,
			`config: listeners[0].access_log.sample: 1.5 is not a fraction in (0, 1]`},
		{"access log queue", "listeners: [{address: 127.0.0.1:9000, default_cluster: user, access_log: {path: stdout, queue: -1}}]\n" + base,
			`config: listeners[0].access_log.queue: -1 is not between 1 and 1048576`},
		{"access log unknown key", "listeners: [{address: 127.0.0.1:9000, default_cluster: user, access_log: {path: stdout, sampel: 0.5}}]\n" + base,
			`config: listeners[0].access_log.sampel: unknown field (line 1; known: format, path, sample, errors_always, queue)`},
		{"retry on grpc path", "listeners: [{address: 127.0.0.1:9000, dataplane: grpc, routes: [{service: a.B, cluster: user, retry: {}}]}]\n" + base,
			`config: listeners[0].routes[0].retry: retries run on the relay only (dataplane: relay)`},
		{"retry attempts", "listeners: [{address: 127.0.0.1:9000, routes: [{service: a.B, cluster: user, retry: {max_attempts: 9}}]}]\n" + base,
			`config: listeners[0].routes[0].retry.max_attempts: 9 is not between 2 and 5`},
		{"retry code", "listeners: [{address: 127.0.0.1:9000, routes: [{service: a.B, cluster: user, retry: {retryable_status_codes: [UNAVAILABLE, nope]}}]}]\n" + base,
			`config: listeners[0].routes[0].retry.retryable_status_codes: "nope" (item 1) is not a gRPC error code`},
		{"retry backoff", "listeners: [{address: 127.0.0.1:9000, routes: [{service: a.B, cluster: user, retry: {initial_backoff: 2s, max_backoff: 1s}}]}]\n" + base,
			`config: listeners[0].routes[0].retry.max_backoff: 1s is below initial_backoff`},
		{"hedge on grpc path", "listeners: [{address: 127.0.0.1:9000, dataplane: grpc, routes: [{service: a.B, cluster: user, hedge: {}}]}]\n" + base,
			`config: listeners[0].routes[0].hedge: hedging runs on the relay only (dataplane: relay)`},
		{"idempotent on grpc path", "listeners: [{address: 127.0.0.1:9000, dataplane: grpc, routes: [{service: a.B, cluster: user, idempotent: true}]}]\n" + base,
			`config: listeners[0].routes[0].idempotent: marks a route for hedging, which runs on the relay only (dataplane: relay)`},
		{"hedge not idempotent", "listeners: [{address: 127.0.0.1:9000, routes: [{service: a.B, cluster: user, hedge: {}}]}]\n" + base,
			`config: listeners[0].routes[0].hedge: hedging runs a call more than once: set idempotent: true on the route if it is safe`},
		{"hedge with retry", "listeners: [{address: 127.0.0.1:9000, routes: [{service: a.B, cluster: user, idempotent: true, retry: {}, hedge: {}}]}]\n" + base,
			`config: listeners[0].routes[0].hedge: a route retries or hedges, not both (remove retry or hedge)`},
		{"hedge attempts", "listeners: [{address: 127.0.0.1:9000, routes: [{service: a.B, cluster: user, idempotent: true, hedge: {max_attempts: 6}}]}]\n" + base,
			`config: listeners[0].routes[0].hedge.max_attempts: 6 is not between 2 and 5`},
		{"hedge delay", "listeners: [{address: 127.0.0.1:9000, routes: [{service: a.B, cluster: user, idempotent: true, hedge: {delay: -1s}}]}]\n" + base,
			`config: listeners[0].routes[0].hedge.delay: -1s is below 1ms`},
		{"hedge delay factor", "listeners: [{address: 127.0.0.1:9000, routes: [{service: a.B, cluster: user, idempotent: true, hedge: {delay_factor: -2}}]}]\n" + base,
			`config: listeners[0].routes[0].hedge.delay_factor: -2 is not between 0 (a fixed delay) and 100`},
		{"hedge code", "listeners: [{address: 127.0.0.1:9000, routes: [{service: a.B, cluster: user, idempotent: true, hedge: {non_fatal_status_codes: [nope]}}]}]\n" + base,
			`config: listeners[0].routes[0].hedge.non_fatal_status_codes: "nope" (item 0) is not a gRPC error code`},
		{"retry budget ratio", lis + "clusters: {user: {endpoints: ['h:1'], retry_budget: {ratio: 2}}}",
			`config: clusters.user.retry_budget.ratio: 2 is not between 0 and 1`},
		{"retry buffer total", lis + base + "limits: {retry_buffer: 1MiB, retry_buffer_total: 512KiB}",
			`config: limits.retry_buffer_total: 524288 is below retry_buffer (1048576)`},
		{"tracing on grpc-go", "listeners: [{address: 127.0.0.1:9000, default_cluster: user, dataplane: grpc}]\n" + base + "tracing: {endpoint: 127.0.0.1:4317}\n",
			`config: tracing: listeners[0] uses dataplane "grpc", which makes no spans (use "relay")`},
		{"tracing endpoint", lis + base + "tracing: {endpoint: collector}\n",
			`config: tracing.endpoint: "collector" is not host:port`},
		{"tracing sample", lis + base + "tracing: {endpoint: 127.0.0.1:4317, sample: -1}\n",
			`config: tracing.sample: -1 is not a fraction in (0, 1]`},
		{"not yaml", "listeners: [", `config: line 1: did not find expected node content`},
		{"empty", "", `config: empty file`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.Parse([]byte(tc.yaml))
			if err == nil {
				t.Fatalf("no error, want %s", tc.want)
			}
			if err.Error() != tc.want {
				t.Fatalf("error\n got: %s\nwant: %s", err, tc.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error is not one line: %q", err)
			}
		})
	}
}

func TestEnvironmentReferences(t *testing.T) {
	t.Setenv("STRAIT_TEST_PORT", "10007")
	c, err := config.Parse([]byte("listeners: [{address: ':9000', default_cluster: a}]\nclusters: {a: {endpoints: ['h:${STRAIT_TEST_PORT}']}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Clusters["a"].Endpoints[0]; got != "h:10007" {
		t.Fatalf("endpoint = %q", got)
	}
	_, err = config.Parse([]byte("clusters: {a: {endpoints: ['h:${STRAIT_TEST_UNSET_VARIABLE}']}}\n"))
	if err == nil || err.Error() != "config: ${STRAIT_TEST_UNSET_VARIABLE}: environment variable is not set" {
		t.Fatalf("unset variable: %v", err)
	}
}

// The examples may refer to ${STRAIT_TLS_DIR}; the test fills it with
// freshly made certificates.
func TestExampleConfigsLoad(t *testing.T) {
	ca := certs.NewCA(t, "examples")
	cert, key := ca.Issue(t, "server")
	dir := filepath.Dir(cert)
	for from, to := range map[string]string{cert: "server.pem", key: "server-key.pem", ca.CertFile: "ca.pem"} {
		data, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, to), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("STRAIT_TLS_DIR", dir)
	files, err := filepath.Glob("../configs/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no example configs found: %v", err)
	}
	for _, f := range files {
		if _, err := config.LoadFile(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}
