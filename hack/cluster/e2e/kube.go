package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// Tools runs kubectl and helm against the e2e cluster.
type Tools struct {
	Kubectl    string
	Helm       string
	Kubeconfig string
	Namespace  string
	Log        func(format string, args ...any)
}

// KubectlOut runs kubectl in the test namespace and returns its stdout.
func (t Tools) KubectlOut(ctx context.Context, args ...string) (string, error) {
	return t.run(ctx, t.Kubectl, append([]string{"--namespace", t.Namespace}, args...)...)
}

// HelmOut runs helm in the test namespace and returns its stdout.
func (t Tools) HelmOut(ctx context.Context, args ...string) (string, error) {
	return t.run(ctx, t.Helm, append([]string{"--namespace", t.Namespace}, args...)...)
}

// ServiceGet GETs path from port (a number or name) of the Service name in
// the test namespace over plain HTTP, through the API server's service
// proxy (kubectl get --raw): the way a person reaches a ClusterIP Service
// without a port-forward. It returns the response body; a status other than
// 2xx is an error.
func (t Tools) ServiceGet(ctx context.Context, name, port, path string) ([]byte, error) {
	out, err := t.run(ctx, t.Kubectl, "get", "--raw",
		"/api/v1/namespaces/"+t.Namespace+"/services/http:"+name+":"+port+"/proxy"+path)
	return []byte(out), err
}

// PodGet GETs path from port of the pod name in the test namespace over
// plain HTTP, through the API server's pod proxy (kubectl get --raw): the
// pod's own /metrics, as a scraper reads it, without a port-forward.
func (t Tools) PodGet(ctx context.Context, name, port, path string) ([]byte, error) {
	out, err := t.run(ctx, t.Kubectl, "get", "--raw",
		"/api/v1/namespaces/"+t.Namespace+"/pods/"+name+":"+port+"/proxy"+path)
	return []byte(out), err
}

func (t Tools) run(ctx context.Context, bin string, args ...string) (string, error) {
	t.Log("$ %s %s", shortName(bin), strings.Join(args, " "))
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+t.Kubeconfig)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		return stdout.String(), fmt.Errorf("%s %s: %w\n%s%s", shortName(bin), strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String(), nil
}

func shortName(bin string) string {
	if i := strings.LastIndexByte(bin, '/'); i >= 0 {
		return bin[i+1:]
	}
	return bin
}

// Eventually calls f every interval until it returns nil or timeout passes;
// then it returns f's last error.
func Eventually(ctx context.Context, timeout, interval time.Duration, f func() error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		err := f()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("after %s: %w", timeout, err)
		case <-time.After(interval):
		}
	}
}
