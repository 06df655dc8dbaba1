package charts

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestKindUpTarget runs `make kind-up` (hack/mk/kind.mk) with docker, kind,
// helm and kubectl replaced by scripts that log their arguments and answer
// as each case says, and checks what the target runs and when it fails:
// the images are loaded through `docker save --platform | kind load
// image-archive` with Docker's containerd image store (kind#3795), with
// `kind load docker-image` otherwise; helm waits with the 10 m timeout;
// every workload's rollout is waited for; a failed or empty kubectl get
// fails the target instead of waiting for nothing.
func TestKindUpTarget(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("no make")
	}
	images := "localhost/weather/producer:t localhost/weather/consumer:t localhost/weather/controller:t"
	for _, c := range []struct {
		name             string
		clusters         string // what kind get clusters prints
		driverStatus     string // docker info -f {{ .DriverStatus }}
		workloads, getRC string // kubectl get deployment,statefulset: its output and exit code
		wantErr          string // in make's output; "" = success
		want, notWant    []string
	}{
		{
			name: "new cluster, classic image store", driverStatus: "[[Backing Filesystem extfs]]",
			workloads: "deployment.apps/weather-producer\nstatefulset.apps/weather-kafka", getRC: "0",
			want: []string{
				"kind create cluster --name weather --config manifests/kind-config.yaml --wait 120s",
				"docker build -f Dockerfile.producer -t localhost/weather/producer:t .",
				"docker build -f Dockerfile.consumer -t localhost/weather/consumer:t .",
				"docker build -f Dockerfile.controller -t localhost/weather/controller:t .",
				"kind load docker-image --name weather " + images,
				"--wait --timeout 10m",
				"kubectl --context kind-weather -n weather rollout status deployment.apps/weather-producer --timeout=10m",
				"kubectl --context kind-weather -n weather rollout status statefulset.apps/weather-kafka --timeout=10m",
			},
			notWant: []string{"image-archive", "docker save"},
		},
		{
			name: "existing cluster, containerd image store", clusters: "weather", driverStatus: "[[driver-type io.containerd.snapshotter.v1]]",
			workloads: "statefulset.apps/weather-kafka", getRC: "0",
			want: []string{
				"docker save --platform linux/amd64 -o ARCHIVE " + images,
				"kind load image-archive --name weather ARCHIVE (the archive docker saved)",
				"kubectl --context kind-weather -n weather rollout status statefulset.apps/weather-kafka --timeout=10m",
			},
			notWant: []string{"kind create cluster", "kind load docker-image"},
		},
		{
			name: "kubectl get fails", clusters: "weather", driverStatus: "[]", getRC: "1",
			wantErr: "kubectl: the server is unreachable",
			notWant: []string{"rollout status"},
		},
		{
			name: "nothing to wait for", clusters: "weather", driverStatus: "[]", getRC: "0",
			wantErr: "rollout: no Deployment or StatefulSet of release weather in namespace weather",
			notWant: []string{"rollout status"},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			log := filepath.Join(dir, "log")
			stub := func(name, body string) string {
				file := filepath.Join(dir, name)
				script := "#!/bin/sh\nprintf '%s\\n' \"" + name + " $*\" >>" + log + "\n" + body + "\n"
				if err := os.WriteFile(file, []byte(script), 0o755); err != nil {
					t.Fatal(err)
				}
				return file
			}
			env := map[string]string{"CLUSTERS": c.clusters, "DRIVER_STATUS": c.driverStatus, "WORKLOADS": c.workloads, "GET_RC": c.getRC}
			args := []string{"--no-print-directory", "-C", "..", "kind-up", "VERSION=t",
				"DOCKER=" + stub("docker", `case "$1" in
info) printf '%s\n' "$DRIVER_STATUS" ;;
version) echo linux/amd64 ;;
save) while [ $# -gt 0 ]; do [ "$1" = -o ] && echo saved >"$2" && echo "$2" >`+dir+`/archive; shift; done ;;
esac`),
				"KIND=" + stub("kind", `case "$1 $2" in
"get clusters") printf '%s\n' "$CLUSTERS" ;;
"load image-archive") [ "$(cat "$5")" = saved ] && echo "kind: read the archive docker saved" >>`+log+` ;;
esac`),
				"HELM=" + stub("helm", ""),
				"KUBECTL=" + stub("kubectl", `case "$*" in
*"get deployment,statefulset"*) [ "$GET_RC" = 0 ] || { echo "kubectl: the server is unreachable" >&2; exit 1; }; printf '%s' "$WORKLOADS" ;;
esac`),
			}
			cmd := exec.Command("make", args...)
			cmd.Env = os.Environ()
			for k, v := range env {
				cmd.Env = append(cmd.Env, k+"="+v)
			}
			out, err := cmd.CombinedOutput()
			data, _ := os.ReadFile(log)
			calls := string(data)
			if archive, _ := os.ReadFile(filepath.Join(dir, "archive")); len(archive) > 0 {
				a := strings.TrimSpace(string(archive))
				calls = strings.ReplaceAll(calls, a, "ARCHIVE")
				calls = strings.ReplaceAll(calls, "kind: read the archive docker saved", "(the archive docker saved)")
				if _, err := os.Stat(a); err == nil {
					t.Errorf("the archive %s is left behind", a)
				}
			}
			calls = strings.ReplaceAll(calls, "ARCHIVE\n(the archive docker saved)", "ARCHIVE (the archive docker saved)")
			switch {
			case c.wantErr == "" && err != nil:
				t.Fatalf("make kind-up: %v\n%s", err, out)
			case c.wantErr != "" && (err == nil || !strings.Contains(string(out), c.wantErr)):
				t.Fatalf("make kind-up: err %v, want it to fail with %q:\n%s", err, c.wantErr, out)
			}
			for _, w := range c.want {
				if !strings.Contains(calls, w) {
					t.Errorf("no %q in the calls:\n%s", w, calls)
				}
			}
			for _, w := range c.notWant {
				if strings.Contains(calls, w) {
					t.Errorf("%q in the calls:\n%s", w, calls)
				}
			}
			if c.wantErr == "" && !slices.ContainsFunc(strings.Split(calls, "\n"), func(l string) bool {
				return strings.HasPrefix(l, "helm upgrade --install weather charts/weather --kube-context kind-weather")
			}) {
				t.Errorf("no helm upgrade --install into kind-weather:\n%s", calls)
			}
		})
	}
}
