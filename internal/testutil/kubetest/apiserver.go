package kubetest

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// APIServer is one kube-apiserver of a Cluster. It keeps its port across
// Stop and Start, so clients pointed at it see an outage and a recovery.
type APIServer struct {
	c    *Cluster
	name string
	port int
	args []string

	mu   sync.Mutex
	proc *process
}

func (c *Cluster) newAPIServer(name string) (*APIServer, error) {
	a := &APIServer{c: c, name: name, port: freePort()}
	certDir := filepath.Join(c.dir, name+"-certs")
	if err := os.MkdirAll(certDir, 0o700); err != nil {
		return nil, fmt.Errorf("%s cert dir: %w", name, err)
	}
	a.args = []string{
		"--etcd-servers=" + c.etcdURL,
		"--bind-address=127.0.0.1", "--secure-port=" + strconv.Itoa(a.port),
		// A loopback advertise address is refused unless the API server
		// stops reconciling the kubernetes Service's endpoints.
		"--advertise-address=127.0.0.1", "--endpoint-reconciler-type=none",
		"--cert-dir=" + certDir,
		"--tls-cert-file=" + c.pki.servingCert, "--tls-private-key-file=" + c.pki.servingKey,
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file=" + c.pki.saPub,
		"--service-account-signing-key-file=" + c.pki.saKey,
		"--token-auth-file=" + c.tokens,
		"--authorization-mode=RBAC",
		"--service-cluster-ip-range=10.96.0.0/16",
	}
	return a, nil
}

// AddAPIServer starts another API server on the cluster's etcd: tests
// change objects through it while API is stopped.
func (c *Cluster) AddAPIServer() (*APIServer, error) {
	a, err := c.newAPIServer(fmt.Sprintf("apiserver-%d", len(c.extra)+2))
	if err != nil {
		return nil, err
	}
	c.extra = append(c.extra, a)
	return a, a.Start()
}

// Start runs the API server and waits for /readyz.
func (a *APIServer) Start() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.proc != nil && !a.proc.exited() {
		return fmt.Errorf("%s already running", a.name)
	}
	p, err := startProcess(a.name, filepath.Join(a.c.dir, a.name+".log"), a.c.bin, a.args...)
	if err != nil {
		return err
	}
	a.proc = p
	client, err := rest.HTTPClientFor(a.Config())
	if err != nil {
		return fmt.Errorf("%s client: %w", a.name, err)
	}
	defer client.CloseIdleConnections()
	return waitReady(p, client, a.URL()+"/readyz")
}

// Stop ends the API server (its port stays reserved for Start).
func (a *APIServer) Stop() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.proc != nil {
		a.proc.stop(15 * time.Second)
	}
}

// Kill ends the API server at once, as a crash would; Start brings it back.
func (a *APIServer) Kill() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.proc != nil {
		a.proc.stop(0)
	}
}

// URL is the API server's https address.
func (a *APIServer) URL() string { return "https://127.0.0.1:" + strconv.Itoa(a.port) }

// Config returns an admin client configuration.
func (a *APIServer) Config() *rest.Config { return a.ConfigFor(AdminToken) }

// ConfigFor returns a client configuration that authenticates with token.
func (a *APIServer) ConfigFor(token string) *rest.Config {
	return &rest.Config{
		Host:            a.URL(),
		BearerToken:     token,
		TLSClientConfig: rest.TLSClientConfig{CAData: a.c.pki.caPEM},
	}
}

// WriteKubeconfig writes a kubeconfig file for token into the cluster's
// directory and returns its path.
func (a *APIServer) WriteKubeconfig(name, token string) (string, error) {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["test"] = &clientcmdapi.Cluster{Server: a.URL(), CertificateAuthorityData: a.c.pki.caPEM}
	cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts["test"] = &clientcmdapi.Context{Cluster: "test", AuthInfo: name}
	cfg.CurrentContext = "test"
	path := filepath.Join(a.c.dir, a.name+"-"+name+".kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return "", fmt.Errorf("kubeconfig %s: %w", path, err)
	}
	return path, nil
}
