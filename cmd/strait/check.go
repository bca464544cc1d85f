package main

import (
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/straitproxy/strait/config"
	"github.com/straitproxy/strait/internal/tlsfiles"
)

// checkMain is `strait check -config FILE`: it does everything start-up
// does to a file short of opening sockets and reaching registries —
// parses, validates, resolves ${ENV} references and loads every
// certificate — then prints what the file defines. A bad file prints the
// one line start-up would print and exits 2.
func checkMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "strait.yaml", "configuration file")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "strait check: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	cfg, err := config.LoadFile(*path)
	if err == nil {
		err = loadCertificates(cfg)
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	fmt.Fprintf(stdout, "%s: ok\n", *path)
	writeSummary(stdout, cfg)
	return 0
}

// loadCertificates loads every certificate, key and CA the file names the
// way the gateway will, so an unparsable PEM is found before start-up.
func loadCertificates(cfg *config.Config) error {
	for i, l := range cfg.Listeners {
		if t := l.TLS; t != nil {
			_, err := tlsfiles.ServerConfig(tlsfiles.ServerFiles{Cert: t.Cert, Key: t.Key, ClientCA: t.ClientCA, RequireClientCert: t.RequireClientCert})
			if err != nil {
				return &config.Error{Path: fmt.Sprintf("listeners[%d].tls", i), Msg: err.Error()}
			}
		}
	}
	for _, name := range sortedNames(cfg.Clusters) {
		cl := cfg.Clusters[name]
		if t := cl.TLS; t != nil {
			_, err := tlsfiles.ClientConfig(tlsfiles.ClientFiles{CA: t.CA, Cert: t.Cert, Key: t.Key, ServerName: t.ServerName})
			if err != nil {
				return &config.Error{Path: "clusters." + name + ".tls", Msg: err.Error()}
			}
		}
		if cl.Etcd != nil && cl.Etcd.TLS != nil {
			if _, err := cl.Etcd.ClientConfig(); err != nil {
				return &config.Error{Path: "clusters." + name + ".etcd.tls", Msg: err.Error()}
			}
		}
	}
	return nil
}

// writeSummary prints one line per listener, route and cluster.
func writeSummary(w io.Writer, cfg *config.Config) {
	fmt.Fprintf(w, "listeners: %d\n", len(cfg.Listeners))
	for _, l := range cfg.Listeners {
		kind := l.Protocol
		if l.Protocol == config.ProtocolGRPC {
			kind += "/" + l.Dataplane
		}
		if l.TLS != nil {
			kind += " tls"
		}
		fmt.Fprintf(w, "  %s %s %s\n", orDash(l.Name), l.Address, kind)
		for _, r := range l.Routes {
			match := "service " + r.Service
			if r.Prefix != "" {
				match = "prefix " + r.Prefix
			}
			fmt.Fprintf(w, "    route %s -> %s\n", match, r.Cluster)
		}
		if l.DefaultCluster != "" {
			fmt.Fprintf(w, "    default -> %s\n", l.DefaultCluster)
		}
		if l.Cluster != "" {
			fmt.Fprintf(w, "    -> %s\n", l.Cluster)
		}
	}
	fmt.Fprintf(w, "clusters: %d\n", len(cfg.Clusters))
	for _, name := range sortedNames(cfg.Clusters) {
		cl := cfg.Clusters[name]
		policy := cl.Balancer.WithDefaults().Policy
		fmt.Fprintf(w, "  %s %s balancer %s", name, source(cl), policy)
		if cl.TLS != nil {
			fmt.Fprint(w, " tls")
		}
		fmt.Fprintln(w)
	}
}

// source says where a cluster's endpoints come from.
func source(cl config.Cluster) string {
	switch {
	case cl.Etcd != nil:
		return fmt.Sprintf("etcd %s key %s", strings.Join(cl.Etcd.Hosts, ","), cl.Etcd.Key)
	case cl.K8s.Target != "":
		return "k8s " + cl.K8s.Target
	default:
		return "endpoints " + strings.Join(cl.Endpoints, ",")
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// sortedNames returns the clusters' names in order, for stable output.
func sortedNames(m map[string]config.Cluster) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
