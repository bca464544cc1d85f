package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/straitproxy/strait/registry"
	"github.com/straitproxy/strait/upstream/etcd"
)

// registerFlags are the options of `strait register`.
type registerFlags struct {
	etcd       etcd.Config
	hosts      string
	addr       string
	advertise  string
	ttl        time.Duration
	health     string
	service    string
	interval   time.Duration
	failures   int
	passFile   string
	tlsCA      string
	tlsCert    string
	tlsKey     string
	logLevel   string
	registered string // the address put in etcd: advertise, else addr
}

// registerMain keeps a backend registered in etcd (go-zero's layout) until
// ctx ends, then revokes its lease. With --health grpc the backend is
// registered only while it answers grpc.health.v1 SERVING.
func registerMain(ctx context.Context, args []string, _, stderr io.Writer) int {
	f, err := parseRegisterFlags(args, stderr)
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stderr, "strait register:", err)
		}
		return 2
	}
	level := slog.LevelInfo
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		fmt.Fprintln(stderr, "strait register: --log-level:", err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	ccfg, err := f.etcd.ClientConfig()
	if err != nil {
		fmt.Fprintln(stderr, "strait register: etcd", err)
		return 2
	}
	cli, err := clientv3.New(ccfg)
	if err != nil {
		fmt.Fprintln(stderr, "strait register: etcd:", err)
		return 1
	}
	defer cli.Close()
	opts := []registry.Option{registry.WithTTL(f.ttl), registry.WithLogger(log), registry.WithTimeout(f.etcd.DialTimeout)}
	reg := func() (*registry.Registrar, error) {
		return registry.Register(context.WithoutCancel(ctx), cli, f.etcd.Key, f.registered, opts...)
	}
	if f.health == "" {
		return holdRegistration(ctx, reg, stderr)
	}
	return healthGate(ctx, f, reg, log, stderr)
}

// holdRegistration registers once and keeps it until ctx ends.
func holdRegistration(ctx context.Context, reg func() (*registry.Registrar, error), stderr io.Writer) int {
	r, err := reg()
	if err != nil {
		fmt.Fprintln(stderr, "strait register:", err)
		return 2
	}
	<-ctx.Done()
	r.Close()
	return 0
}

func parseRegisterFlags(args []string, stderr io.Writer) (*registerFlags, error) {
	f := &registerFlags{}
	fs := flag.NewFlagSet("strait register", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.hosts, "etcd", "", "etcd hosts, comma-separated host:port (required)")
	fs.StringVar(&f.etcd.Key, "key", "", "registration key, e.g. user.rpc: the instance is put under key/<lease ID> (required)")
	fs.StringVar(&f.addr, "addr", "", "the backend's host:port; health checks go here (required)")
	fs.StringVar(&f.advertise, "advertise", "", "host:port callers should dial, when it differs from --addr")
	fs.DurationVar(&f.ttl, "ttl", registry.DefaultTTL, "lease TTL: a killed instance disappears after at most this")
	fs.StringVar(&f.health, "health", "", `"grpc": register only while the backend answers grpc.health.v1 SERVING`)
	fs.StringVar(&f.service, "health-service", "", "service name to check (empty: the whole server)")
	fs.DurationVar(&f.interval, "health-interval", time.Second, "time between health checks")
	fs.IntVar(&f.failures, "health-failures", 3, "failed checks in a row before deregistering")
	fs.StringVar(&f.etcd.User, "etcd-user", "", "etcd user name")
	fs.StringVar(&f.passFile, "etcd-password-file", "", "file holding the etcd password")
	fs.StringVar(&f.tlsCA, "etcd-ca", "", "CA file to verify etcd over TLS")
	fs.StringVar(&f.tlsCert, "etcd-cert", "", "client certificate file for etcd")
	fs.StringVar(&f.tlsKey, "etcd-key", "", "client key file for etcd")
	fs.DurationVar(&f.etcd.DialTimeout, "dial-timeout", etcd.DefaultDialTimeout, "bound on each request to etcd")
	fs.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return f, f.complete()
}

// complete checks the flags and derives the etcd config and the address
// to register.
func (f *registerFlags) complete() error {
	if f.hosts == "" || f.etcd.Key == "" || f.addr == "" {
		return errors.New("--etcd, --key and --addr are required")
	}
	for _, h := range strings.Split(f.hosts, ",") {
		f.etcd.Hosts = append(f.etcd.Hosts, strings.TrimSpace(h))
	}
	if _, _, err := net.SplitHostPort(f.addr); err != nil {
		return fmt.Errorf("--addr %q is not host:port", f.addr)
	}
	f.registered = f.addr
	if f.advertise != "" {
		f.registered = f.advertise
	}
	if err := registry.CheckAddr(f.registered); err != nil {
		if f.advertise == "" {
			return fmt.Errorf("--addr: %w (pass --advertise HOST:PORT)", err)
		}
		return fmt.Errorf("--advertise: %w", err)
	}
	if f.health != "" && f.health != "grpc" {
		return fmt.Errorf("--health %q: only grpc is supported", f.health)
	}
	if f.failures < 1 || f.interval <= 0 || f.ttl < time.Second {
		return errors.New("--health-failures must be ≥ 1, --health-interval > 0 and --ttl ≥ 1s")
	}
	if f.passFile != "" {
		pass, err := os.ReadFile(f.passFile)
		if err != nil {
			return fmt.Errorf("--etcd-password-file: %w", err)
		}
		f.etcd.Pass = strings.TrimSpace(string(pass))
	}
	if f.tlsCA != "" || f.tlsCert != "" || f.tlsKey != "" {
		f.etcd.TLS = &etcd.TLS{CA: f.tlsCA, Cert: f.tlsCert, Key: f.tlsKey}
	}
	return nil
}
