package charts

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// apiServer starts a real kube-apiserver and etcd (envtest, from
// KUBEBUILDER_ASSETS: make test sets it from hack/k8s/bins.sh envtest) with
// the CRD manifests at crds installed, stopped when t ends; it returns a
// client of sch whose API warnings are collected in the returned warnings.
// Without KUBEBUILDER_ASSETS the test fails; it never skips.
func apiServer(t *testing.T, sch *runtime.Scheme, crds ...string) (client.Client, *warnings) {
	t.Helper()
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		t.Fatal("KUBEBUILDER_ASSETS is not set: the chart's server-side validation needs a kube-apiserver and etcd. " +
			"Run `make test` (it sets KUBEBUILDER_ASSETS from hack/k8s/bins.sh envtest), or " +
			"KUBEBUILDER_ASSETS=$(hack/k8s/bins.sh envtest) go test ./charts/...")
	}
	for _, bin := range []string{"kube-apiserver", "etcd"} {
		if _, err := os.Stat(filepath.Join(assets, bin)); err != nil {
			t.Fatalf("KUBEBUILDER_ASSETS=%s: %v", assets, err)
		}
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		ErrorIfCRDPathMissing: true,
		CRDInstallOptions:     envtest.CRDInstallOptions{Paths: crds, ErrorIfPathMissing: true},
	}
	start := time.Now()
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("start kube-apiserver and etcd from %s with %d CRD manifests: %v", assets, len(crds), err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("stop envtest: %v", err)
		}
	})
	t.Logf("kube-apiserver and etcd up with %d CRDs in %s", len(env.CRDs), time.Since(start).Round(time.Millisecond))
	warns := &warnings{}
	cfg.WarningHandlerWithContext = warns
	c, err := client.New(cfg, client.Options{Scheme: sch})
	if err != nil {
		t.Fatal(err)
	}
	return c, warns
}

// moduleDir downloads module@version from the Go module proxy (cached;
// verified against the checksum database) and returns its directory. A
// non-empty sum pins the zip's h1: checksum as well. It runs outside any
// module (a temporary directory): nothing here changes a go.sum.
func moduleDir(t *testing.T, module, version, sum string) string {
	t.Helper()
	cmd := exec.Command("go", "mod", "download", "-json", module+"@"+version)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go mod download %s@%s: %v\n%s", module, version, err, out)
	}
	var mod struct{ Dir, Sum, Error string }
	if err := json.Unmarshal(out, &mod); err != nil || mod.Error != "" || mod.Dir == "" {
		t.Fatalf("go mod download %s@%s: %v %s\n%s", module, version, err, mod.Error, out)
	}
	if sum != "" && mod.Sum != sum {
		t.Fatalf("%s@%s has checksum %s, want %s", module, version, mod.Sum, sum)
	}
	return mod.Dir
}
