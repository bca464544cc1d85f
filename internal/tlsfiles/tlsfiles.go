// Package tlsfiles builds TLS configurations from PEM files and reloads
// them when the files change, so certificates can be rotated without a
// restart.
package tlsfiles

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
)

// recheck bounds how often the files are stat'ed: at most once per
// interval, on a handshake.
const recheck = time.Second

// ServerFiles names a listener's certificate, key and optional client CA.
type ServerFiles struct {
	Cert, Key string
	// ClientCA, when set, verifies client certificates against it.
	ClientCA string
	// RequireClientCert refuses clients without a valid certificate.
	RequireClientCert bool
}

// ServerConfig returns a TLS config that serves Cert/Key and re-reads all
// files after they change. It fails now if the files cannot be loaded.
func ServerConfig(f ServerFiles) (*tls.Config, error) {
	r := &reloader{files: f}
	if err := r.load(); err != nil {
		return nil, err
	}
	return &tls.Config{
		MinVersion:         tls.VersionTLS12,
		NextProtos:         []string{"h2"},
		GetConfigForClient: r.configForClient,
	}, nil
}

type reloader struct {
	files ServerFiles

	mu      sync.Mutex
	checked time.Time
	stamp   string
	conf    *tls.Config
}

func (r *reloader) configForClient(*tls.ClientHelloInfo) (*tls.Config, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if time.Since(r.checked) >= recheck {
		r.checked = time.Now()
		if stamp, err := r.stampLocked(); err == nil && stamp != r.stamp {
			// A half-written rotation fails to load: keep serving the old
			// pair and try again on a later handshake.
			_ = r.loadLocked()
		}
	}
	return r.conf, nil
}

func (r *reloader) load() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.loadLocked()
}

// stampLocked summarises the files' sizes and times, to notice a change.
func (r *reloader) stampLocked() (string, error) {
	var s string
	for _, p := range []string{r.files.Cert, r.files.Key, r.files.ClientCA} {
		if p == "" {
			continue
		}
		fi, err := os.Stat(p)
		if err != nil {
			return "", err
		}
		s += fmt.Sprintf("%s:%d:%d;", p, fi.Size(), fi.ModTime().UnixNano())
	}
	return s, nil
}

func (r *reloader) loadLocked() error {
	stamp, err := r.stampLocked()
	if err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	cert, err := tls.LoadX509KeyPair(r.files.Cert, r.files.Key)
	if err != nil {
		return fmt.Errorf("tls: %s, %s: %w", r.files.Cert, r.files.Key, err)
	}
	conf := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"h2"},
		Certificates: []tls.Certificate{cert},
	}
	if r.files.ClientCA != "" {
		pool, err := loadPool(r.files.ClientCA)
		if err != nil {
			return err
		}
		conf.ClientCAs = pool
		conf.ClientAuth = tls.VerifyClientCertIfGiven
		if r.files.RequireClientCert {
			conf.ClientAuth = tls.RequireAndVerifyClientCert
		}
	}
	r.conf, r.stamp = conf, stamp
	return nil
}

// ClientFiles names what a client needs to reach TLS upstreams.
type ClientFiles struct {
	// CA verifies the upstream; empty uses the system roots.
	CA string
	// Cert and Key, when set, are presented to the upstream (mTLS).
	Cert, Key string
	// ServerName overrides the name checked in the upstream certificate.
	ServerName string
}

// ClientConfig returns a TLS config for dialing upstreams.
func ClientConfig(f ClientFiles) (*tls.Config, error) {
	conf := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: f.ServerName}
	if f.CA != "" {
		pool, err := loadPool(f.CA)
		if err != nil {
			return nil, err
		}
		conf.RootCAs = pool
	}
	if (f.Cert == "") != (f.Key == "") {
		return nil, errors.New("tls: cert and key go together")
	}
	if f.Cert != "" {
		cert, err := tls.LoadX509KeyPair(f.Cert, f.Key)
		if err != nil {
			return nil, fmt.Errorf("tls: %s, %s: %w", f.Cert, f.Key, err)
		}
		conf.Certificates = []tls.Certificate{cert}
	}
	return conf, nil
}

func loadPool(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("tls: %s holds no PEM certificate", path)
	}
	return pool, nil
}
