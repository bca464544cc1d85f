package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/straitproxy/strait/internal/testutil/certs"
)

// tlsDir makes the files configs/tls.yaml names under ${STRAIT_TLS_DIR}
// and points the variable at them.
func tlsDir(t *testing.T) string {
	t.Helper()
	ca := certs.NewCA(t, "check")
	cert, _ := ca.Issue(t, "server")
	dir := filepath.Dir(cert)
	pem, err := os.ReadFile(ca.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ca.pem"), pem, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("STRAIT_TLS_DIR", dir)
	return dir
}

func runCheck(path string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = run(context.Background(), []string{"check", "-config", path}, &out, &errOut)
	return code, out.String(), errOut.String()
}

// Every shipped example passes `strait check` and is summarised: each
// listener's address and each cluster's name appear.
func TestCheckShippedConfigs(t *testing.T) {
	tlsDir(t)
	files, err := filepath.Glob("../../configs/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no configs found: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			code, out, errOut := runCheck(f)
			if code != 0 || errOut != "" {
				t.Fatalf("exit %d, stderr %q", code, errOut)
			}
			if !strings.HasPrefix(out, f+": ok\n") {
				t.Fatalf("summary does not start with the ok line:\n%s", out)
			}
			data, _ := os.ReadFile(f)
			for _, want := range []string{"listeners: ", "clusters: "} {
				if !strings.Contains(out, want) {
					t.Errorf("summary lacks %q:\n%s", want, out)
				}
			}
			// Each address in the file is listed (the addresses are what
			// an operator checks first).
			for _, line := range strings.Split(string(data), "\n") {
				if a, ok := strings.CutPrefix(strings.TrimSpace(line), "address: "); ok && !strings.Contains(line, "{") {
					if !strings.Contains(out, " "+a+" ") {
						t.Errorf("summary lacks listener address %s:\n%s", a, out)
					}
				}
			}
		})
	}
}

func TestCheckSummary(t *testing.T) {
	path := writeConfig(t, `
listeners:
  - name: edge
    address: 127.0.0.1:9000
    routes:
      - {service: helloworld.Greeter, cluster: greeter}
      - {prefix: /grpc.testing., cluster: greeter}
    default_cluster: greeter
  - {name: redis, address: 127.0.0.1:6380, protocol: tcp, cluster: redis}
clusters:
  greeter: {endpoints: [127.0.0.1:10000, 127.0.0.1:10001]}
  redis: {endpoints: [127.0.0.1:7000], balancer: {tau: 1s}}
`)
	code, out, errOut := runCheck(path)
	want := path + `: ok
listeners: 2
  edge 127.0.0.1:9000 grpc/relay
    route service helloworld.Greeter -> greeter
    route prefix /grpc.testing. -> greeter
    default -> greeter
  redis 127.0.0.1:6380 tcp
    -> redis
clusters: 2
  greeter endpoints 127.0.0.1:10000,127.0.0.1:10001 balancer p2c_ewma
  redis endpoints 127.0.0.1:7000 balancer p2c_ewma
`
	if code != 0 || errOut != "" || out != want {
		t.Fatalf("exit %d, stderr %q, stdout:\n%s\nwant:\n%s", code, errOut, out, want)
	}
}

// A bad file exits 2 with exactly the one line start-up would print, and
// nothing on stdout.
func TestCheckBadFiles(t *testing.T) {
	dir := tlsDir(t)
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("STRAIT_CHECK_NOT_PEM", notPEM)
	cases := []struct{ name, body, want string }{
		{"unknown field", "listeners: [{address: 127.0.0.1:9000, default_cluster: c}]\nclusters: {c: {endpionts: [127.0.0.1:1]}}\n",
			`config: clusters.c.endpionts: unknown field (line 2; known: endpoints, etcd, target, kubeconfig, tls, balancer…`},
		{"unset variable", "listeners: [{address: '${STRAIT_CHECK_UNSET}', default_cluster: c}]\nclusters: {c: {endpoints: [127.0.0.1:1]}}\n",
			`config: ${STRAIT_CHECK_UNSET}: environment variable is not set`},
		{"certificate not PEM", "listeners: [{address: 127.0.0.1:9443, default_cluster: c, tls: {cert: '${STRAIT_CHECK_NOT_PEM}', key: '${STRAIT_TLS_DIR}/server-key.pem'}}]\nclusters: {c: {endpoints: [127.0.0.1:1]}}\n",
			`config: listeners[0].tls: tls: ` + notPEM + `, ` + dir + `/server-key.pem: tls: failed to find any PEM data in certificate input`},
		{"CA not PEM", "listeners: [{address: 127.0.0.1:9000, default_cluster: c}]\nclusters: {c: {endpoints: [127.0.0.1:1], tls: {ca: '${STRAIT_CHECK_NOT_PEM}'}}}\n",
			`config: clusters.c.tls: tls: ` + notPEM + ` holds no PEM certificate`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, out, errOut := runCheck(writeConfig(t, c.body))
			// A want ending in … is the start of the line (lists of
			// known keys grow with the configuration).
			want, prefix := strings.CutSuffix(c.want, "…")
			if !prefix {
				want += "\n"
			}
			if code != 2 || out != "" || !strings.HasPrefix(errOut, want) || prefix == (errOut == want) || strings.Count(errOut, "\n") != 1 {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit 2 and\n%s", code, out, errOut, c.want)
			}
		})
	}
	if code, _, errOut := runCheck(filepath.Join(dir, "missing.yaml")); code != 2 || strings.Count(errOut, "\n") != 1 {
		t.Fatalf("missing file: exit %d, stderr %q", code, errOut)
	}
}
