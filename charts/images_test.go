package charts

import (
	"bytes"
	"encoding/json"
	"maps"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// The images the project runs but does not build, and the stand-ins it
// builds of them where no registry is reachable:
//
//	hack/images/upstream/NAME.json  the official image's facts, pinned from
//	                                its Dockerfile (each file names its sources)
//	hack/images/standin/NAME.json   what our stand-in of it declares and holds
//
// The e2e sees what kind sees only if the stand-ins declare what the
// official images declare: TestStandInImages compares them, and
// TestKafkaImageVolumes holds the chart to the official Kafka image's
// volumes.
const (
	upstreamDir = "../hack/images/upstream"
	standinDir  = "../hack/images/standin"
)

// imageFacts is one file of hack/images/upstream or hack/images/standin.
type imageFacts struct {
	Image     string `json:"image"`
	What      string `json:"what"`
	StandsFor string `json:"stands_for"` // stand-ins: the upstream file, relative
	Sources   []struct {
		URL  string `json:"url"`
		Read string `json:"read"`
	} `json:"sources"` // upstream: where each fact was read
	Config imageConfig `json:"config"`
	// Varies: upstream ENV names whose value depends on the build, not on
	// the Dockerfile (the stand-in must set them, to its own value).
	Varies map[string]string    `json:"varies"`
	Users  map[string]imageUser `json:"users"`
	Paths  map[string]imagePath `json:"paths"`
	Files  []string             `json:"files"`
}

// imageConfig is the "config" object of an OCI image config: the fields a
// Dockerfile sets that a container runtime acts on.
type imageConfig struct {
	User         string              `json:"User"`
	WorkingDir   string              `json:"WorkingDir"`
	Env          []string            `json:"Env"`
	Entrypoint   []string            `json:"Entrypoint"`
	Cmd          []string            `json:"Cmd"`
	Volumes      map[string]struct{} `json:"Volumes"`
	ExposedPorts map[string]struct{} `json:"ExposedPorts"`
}

type imageUser struct {
	UID  int    `json:"uid"`
	GID  int    `json:"gid"`
	Home string `json:"home"`
}

type imagePath struct {
	UID  int    `json:"uid"`
	GID  int    `json:"gid"`
	Mode string `json:"mode"`
}

func readImageFacts(t *testing.T, file string) imageFacts {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f imageFacts
	if err := dec.Decode(&f); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return f
}

func envMap(env []string) map[string]string {
	m := map[string]string{}
	for _, e := range env {
		k, v, _ := strings.Cut(e, "=")
		m[k] = v
	}
	return m
}

// The stand-ins, the official image each stands for, and the script that
// builds it from the stand-in's file.
var standIns = []struct {
	name, upstream, standin, builtBy string
}{
	{"kafka", "apache-kafka.json", "kafka.json", "../hack/images/build.sh"},
	{"distroless", "distroless-static.json", "distroless-static.json", "../hack/images/docker-check.sh"},
	{"golang", "golang.json", "golang.json", "../hack/images/docker-check.sh"},
}

// TestStandInImages: each stand-in declares what its official image
// declares (user, working directory, entrypoint, command, volumes, ports,
// every ENV name with its value but those that vary by build), has its
// users and the owners and modes of its directories, holds the files
// listed, and is built from its file.
func TestStandInImages(t *testing.T) {
	for _, c := range standIns {
		t.Run(c.name, func(t *testing.T) {
			up := readImageFacts(t, filepath.Join(upstreamDir, c.upstream))
			in := readImageFacts(t, filepath.Join(standinDir, c.standin))
			if len(up.Sources) == 0 || slices.ContainsFunc(up.Sources, func(s struct {
				URL  string `json:"url"`
				Read string `json:"read"`
			}) bool {
				return !strings.HasPrefix(s.URL, "https://") || s.Read == ""
			}) {
				t.Errorf("%s: every fact needs its source (url, what was read where): %+v", c.upstream, up.Sources)
			}
			if in.StandsFor != "../upstream/"+c.upstream {
				t.Errorf("%s stands_for %q, want ../upstream/%s", c.standin, in.StandsFor, c.upstream)
			}
			u, s := up.Config, in.Config
			for _, f := range []struct {
				name      string
				up, stand any
			}{
				{"User", u.User, s.User},
				{"WorkingDir", u.WorkingDir, s.WorkingDir},
				{"Entrypoint", u.Entrypoint, s.Entrypoint},
				{"Cmd", u.Cmd, s.Cmd},
				{"Volumes", slices.Sorted(maps.Keys(u.Volumes)), slices.Sorted(maps.Keys(s.Volumes))},
				{"ExposedPorts", slices.Sorted(maps.Keys(u.ExposedPorts)), slices.Sorted(maps.Keys(s.ExposedPorts))},
			} {
				if !jsonEqual(f.up, f.stand) {
					t.Errorf("%s: the stand-in's %s is %v, the official image's %v", c.name, f.name, f.stand, f.up)
				}
			}
			ue, se := envMap(u.Env), envMap(s.Env)
			for _, k := range slices.Sorted(maps.Keys(ue)) {
				v, ok := se[k]
				switch _, varies := up.Varies[k]; {
				case !ok:
					t.Errorf("%s: the stand-in lacks ENV %s (the official image's: %q)", c.name, k, ue[k])
				case varies && v == "":
					t.Errorf("%s: the stand-in's ENV %s is empty; the official image's varies by build (%s), the stand-in's must say its own", c.name, k, up.Varies[k])
				case !varies && v != ue[k]:
					t.Errorf("%s: the stand-in's ENV %s=%q, the official image's %q", c.name, k, v, ue[k])
				}
			}
			for _, k := range slices.Sorted(maps.Keys(se)) {
				if _, ok := ue[k]; !ok {
					t.Errorf("%s: the stand-in sets ENV %s, which the official image does not", c.name, k)
				}
			}
			for name, want := range up.Users {
				if got, ok := in.Users[name]; !ok || got != want {
					t.Errorf("%s: user %s is %+v in the stand-in, %+v in the official image", c.name, name, got, want)
				}
			}
			for p, want := range up.Paths {
				if got, ok := in.Paths[p]; !ok || got != want {
					t.Errorf("%s: %s is %+v in the stand-in, %+v in the official image", c.name, p, got, want)
				}
			}
			for _, f := range up.Files {
				if !slices.Contains(in.Files, f) {
					t.Errorf("%s: the stand-in does not hold %s", c.name, f)
				}
			}
			script, err := os.ReadFile(c.builtBy)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(script, []byte("standin/"+c.standin)) {
				t.Errorf("%s does not build the %s stand-in from standin/%s", c.builtBy, c.name, c.standin)
			}
		})
	}
}

func jsonEqual(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	// nil and empty lists and maps are the same to a container runtime.
	norm := func(j []byte) string {
		if s := string(j); s != "null" && s != "[]" && s != "{}" && s != `""` {
			return s
		}
		return ""
	}
	return norm(ja) == norm(jb)
}

// TestOfficialImageVersions: the official images the facts describe are
// the ones the project uses: the chart's Kafka image (the Kafka version
// hack/kafka/pom.xml tests), and the Dockerfiles' build and final stages.
func TestOfficialImageVersions(t *testing.T) {
	values := coalescedValues(t, scenario{name: "defaults"})
	kafka := readImageFacts(t, filepath.Join(upstreamDir, "apache-kafka.json"))
	if want := values.stringAt(t, "kafka.image.repository") + ":" + values.stringAt(t, "kafka.image.tag"); kafka.Image != want {
		t.Errorf("upstream/apache-kafka.json describes %s, the chart runs %s", kafka.Image, want)
	}
	pom, err := os.ReadFile("../hack/kafka/pom.xml")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`<kafka.version>([^<]+)</kafka.version>`).FindSubmatch(pom)
	if m == nil || "apache/kafka:"+string(m[1]) != kafka.Image {
		t.Errorf("hack/kafka/pom.xml's kafka.version %q, upstream/apache-kafka.json %s", m, kafka.Image)
	}

	golang := readImageFacts(t, filepath.Join(upstreamDir, "golang.json"))
	distroless := readImageFacts(t, filepath.Join(upstreamDir, "distroless-static.json"))
	goTag := strings.TrimPrefix(golang.Image, "golang:")
	if v := envMap(golang.Config.Env)["GOLANG_VERSION"]; v != goTag {
		t.Errorf("upstream/golang.json: image %s, GOLANG_VERSION %s", golang.Image, v)
	}
	for image := range images {
		file := "Dockerfile." + image
		lines := dockerfileLines(t, filepath.Join("..", file))
		if !slices.Contains(lines, "ARG GO_VERSION="+goTag) || !slices.Contains(lines, "FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build") {
			t.Errorf("%s: want ARG GO_VERSION=%s and FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build (upstream/golang.json)", file, goTag)
		}
		var from []string
		for _, l := range lines {
			if strings.HasPrefix(l, "FROM ") {
				from = append(from, l)
			}
		}
		if len(from) == 0 || from[len(from)-1] != "FROM "+distroless.Image {
			t.Errorf("%s: final stage %q, want FROM %s (upstream/distroless-static.json)", file, from, distroless.Image)
		}
	}
}

// TestKafkaImageVolumes: a container runtime backs every VOLUME of an image
// that no mount covers at exactly that path with a directory of the
// container's own, which goes with the container (containerd's CRI:
// volumeMounts in its container_create.go, skipped only for a path equal to
// a CRI mount's). A claim mounted at a parent of the log's VOLUME therefore
// keeps nothing: the log lands in the container's directory on top of it.
// So, in every rendering with the chart's Kafka: each of the official
// image's VOLUMEs is a mount of the Kafka container at exactly its path;
// log.dirs is exactly the mount of the broker's claim (a subdirectory of
// it, never the volume's root with its lost+found); the volumes the chart
// does not use are read-only; and no mount of the claim sits above a
// VOLUME path.
func TestKafkaImageVolumes(t *testing.T) {
	kafka := readImageFacts(t, filepath.Join(upstreamDir, "apache-kafka.json"))
	if len(kafka.Config.Volumes) == 0 {
		t.Fatalf("upstream/apache-kafka.json declares no volumes")
	}
	tested := 0
	for _, s := range scenarios {
		values := coalescedValues(t, s)
		if !values.boolAt(t, "kafka.enabled") {
			continue
		}
		tested++
		t.Run(s.name, func(t *testing.T) {
			m := renderObjects(t, s)
			i := slices.IndexFunc(m.workloads(), func(w workload) bool { return w.component == "kafka" })
			if i < 0 {
				t.Fatalf("no Kafka workload rendered: %v", m.names())
			}
			name := m.workloads()[i].name
			sts := m.statefulSet(t, name)
			c := container(t, &sts.Spec.Template.Spec, "kafka")
			if len(sts.Spec.VolumeClaimTemplates) != 1 {
				t.Fatalf("%s: %d volumeClaimTemplates, want the log's", name, len(sts.Spec.VolumeClaimTemplates))
			}
			claim := sts.Spec.VolumeClaimTemplates[0].Name
			logDirs := parseProperties(m.configMap(t, name).Data["server.properties"])["log.dirs"]
			at := map[string]corev1.VolumeMount{}
			for _, vm := range c.VolumeMounts {
				at[path.Clean(vm.MountPath)] = vm
			}
			for _, v := range slices.Sorted(maps.Keys(kafka.Config.Volumes)) {
				vm, ok := at[v]
				switch {
				case !ok:
					t.Errorf("%s: the image's VOLUME %s is not covered by a mount at exactly that path: the container runtime gives it a directory of the container's own (mounts: %v)", name, v, mountPaths(c))
				case v == logDirs && (vm.Name != claim || vm.SubPath == "" || vm.ReadOnly):
					t.Errorf("%s: log.dirs %s is mounted from %+v, want the claim %s's subdirectory, writable", name, v, vm, claim)
				case v != logDirs && !vm.ReadOnly:
					t.Errorf("%s: the image's VOLUME %s, unused by the chart, is mounted writable (%+v): nothing should be written where it may be lost", name, v, vm)
				}
			}
			if vm, ok := at[logDirs]; !ok || vm.Name != claim {
				t.Errorf("%s: log.dirs %q is not exactly the mount of the claim %s (mounts: %v)", name, logDirs, claim, mountPaths(c))
			}
			for _, vm := range c.VolumeMounts {
				for v := range kafka.Config.Volumes {
					if vm.Name == claim && strings.HasPrefix(v, path.Clean(vm.MountPath)+"/") {
						t.Errorf("%s: the claim is mounted at %s, above the image's VOLUME %s: the container's own directory there would cover the claim's", name, vm.MountPath, v)
					}
				}
			}
		})
	}
	if tested == 0 {
		t.Fatal("no scenario renders the chart's Kafka")
	}
}

func mountPaths(c *corev1.Container) []string {
	var paths []string
	for _, vm := range c.VolumeMounts {
		paths = append(paths, vm.MountPath+" ("+vm.Name+")")
	}
	return paths
}
