package kubetest

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/straitproxy/strait/internal/testutil"
)

// Cluster is one etcd and one or more kube-apiservers on loopback, with an
// admin token. Start it once per test package, in TestMain.
type Cluster struct {
	dir     string
	pki     *pki
	tokens  string
	etcd    *process
	etcdURL string
	bin     string

	// API is the API server tests talk to; tests may stop and restart it.
	API *APIServer
	// extra API servers on the same etcd, started by AddAPIServer.
	extra []*APIServer
}

// AdminToken authenticates as a member of system:masters.
const AdminToken = "strait-test-admin-token"

// readyTimeout bounds the wait for etcd or an API server to be ready; a
// cold API server is ready in about 3 s on the build machines.
const readyTimeout = 90 * time.Second

// Start runs etcd and an API server and waits until the API server is
// ready. Stop it when done.
func Start() (c *Cluster, err error) {
	etcdBin, err := binary("STRAIT_ETCD", "etcd", EtcdVersion)
	if err != nil {
		return nil, err
	}
	apiBin, err := binary("STRAIT_KUBE_APISERVER", "kube-apiserver", KubeVersion)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "kubetest-")
	if err != nil {
		return nil, fmt.Errorf("kubetest dir: %w", err)
	}
	c = &Cluster{dir: dir, bin: apiBin}
	defer func() {
		if err != nil {
			c.Stop()
		}
	}()
	if c.pki, err = newPKI(dir); err != nil {
		return nil, err
	}
	c.tokens = filepath.Join(dir, "tokens.csv")
	if err := os.WriteFile(c.tokens, []byte(AdminToken+",admin,admin-uid,system:masters\n"), 0o600); err != nil {
		return nil, fmt.Errorf("token file: %w", err)
	}
	if err := c.startEtcd(etcdBin); err != nil {
		return nil, err
	}
	c.API, err = c.newAPIServer("apiserver")
	if err != nil {
		return nil, err
	}
	return c, c.API.Start()
}

func (c *Cluster) startEtcd(bin string) error {
	c.etcdURL = "http://127.0.0.1:" + strconv.Itoa(freePort())
	peerURL := "http://127.0.0.1:" + strconv.Itoa(freePort())
	var err error
	c.etcd, err = startProcess("etcd", filepath.Join(c.dir, "etcd.log"), bin,
		"--name=test", "--data-dir="+filepath.Join(c.dir, "etcd"),
		"--listen-client-urls="+c.etcdURL, "--advertise-client-urls="+c.etcdURL,
		"--listen-peer-urls="+peerURL, "--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=test="+peerURL, "--log-level=warn",
		// The data is thrown away after the test run.
		"--unsafe-no-fsync=true")
	if err != nil {
		return err
	}
	return waitReady(c.etcd, http.DefaultClient, c.etcdURL+"/health")
}

// Stop ends every server and removes the cluster's files.
func (c *Cluster) Stop() {
	for _, a := range append([]*APIServer{c.API}, c.extra...) {
		if a != nil {
			a.Stop()
		}
	}
	if c.etcd != nil {
		c.etcd.stop(10 * time.Second)
	}
	_ = os.RemoveAll(c.dir)
}

// freePort returns a loopback port that was free a moment ago.
func freePort() int {
	p, err := testutil.FreePort()
	if err != nil {
		panic("kubetest: " + err.Error())
	}
	return p
}

// waitReady polls url until it answers 200, p exits, or readyTimeout.
func waitReady(p *process, client *http.Client, url string) error {
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		if p.exited() {
			return fmt.Errorf("%s exited before ready; log:\n%s", p.name, p.tail())
		}
		if last = get(ctx, client, url); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready after %s (%v); log:\n%s", p.name, readyTimeout, last, p.tail())
		case <-tick.C:
		}
	}
}

func get(ctx context.Context, client *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	return nil
}

// StopAfter wraps a test binary's m so the cluster stops once the tests
// have run, before a leak check such as goleak.VerifyTestMain looks.
func StopAfter(m interface{ Run() int }, c *Cluster) interface{ Run() int } {
	return stopAfter{m, c}
}

type stopAfter struct {
	m interface{ Run() int }
	c *Cluster
}

func (s stopAfter) Run() int {
	defer s.c.Stop()
	return s.m.Run()
}
