package charts

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/semver"
)

// images are the project's images: the Dockerfile of each, and the binaries
// it holds (services/<name>, at /<name>), the entrypoint first. The chart runs
// the consumer image's others with command: ["/debug"], ["/dashboard"].
var images = map[string][]string{
	"producer":   {"producer"},
	"consumer":   {"consumer", "debug", "dashboard"},
	"controller": {"controller"},
}

// TestDockerfiles checks what can be checked of the images without Docker:
// each Dockerfile copies the go.mod/go.sum of every module its services need
// (the service and, transitively, the modules its go.mod replaces with local
// directories) before `go mod download`, then their sources, and builds
// static binaries with GOWORK=off onto distroless (the image of
// hack/images/upstream/distroless-static.json) as uid 65532.
func TestDockerfiles(t *testing.T) {
	for image, services := range images {
		file := "Dockerfile." + image
		t.Run(file, func(t *testing.T) {
			lines := dockerfileLines(t, filepath.Join("..", file))
			download := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, "RUN ") && strings.Contains(l, "go mod download") })
			build := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, "RUN ") && strings.Contains(l, "go build") })
			if download < 0 || build < download {
				t.Fatalf("want a RUN go mod download, then a RUN go build")
			}
			has := func(from, to int, want string) bool { return slices.Contains(lines[from:to], want) }
			goVersion := regexp.MustCompile(`^ARG GO_VERSION=([0-9.]+)$`)
			var imageGo string
			for _, l := range lines {
				if m := goVersion.FindStringSubmatch(l); m != nil {
					imageGo = "v" + m[1]
				}
			}
			modules := map[string]bool{}
			for _, svc := range services {
				localModules(t, filepath.Join("services", svc), modules)
				if !strings.Contains(lines[build], "cd /src/services/"+svc+" && go build -trimpath ") {
					t.Errorf("the build step does not build services/%s: %s", svc, lines[build])
				}
				if !has(build, len(lines), "COPY --from=build /out/"+svc+" /"+svc) {
					t.Errorf("the final image lacks /%s", svc)
				}
			}
			for dir := range modules {
				mod := "COPY " + dir + "/go.mod " + dir + "/go.sum " + dir + "/"
				if !has(0, download, mod) {
					t.Errorf("no %q before go mod download", mod)
				}
				if src := "COPY " + dir + "/ " + dir + "/"; !has(download, build, src) {
					t.Errorf("no %q between go mod download and go build", src)
				}
				gomod := readModfile(t, dir)
				if gomod.Go != nil && imageGo != "" && semver.Compare(imageGo, "v"+gomod.Go.Version) < 0 {
					t.Errorf("GO_VERSION %s is older than %s/go.mod's go %s", imageGo, dir, gomod.Go.Version)
				}
			}
			for _, want := range []string{"CGO_ENABLED=0", "GOWORK=off", "-trimpath"} {
				if !strings.Contains(strings.Join(lines[:build+1], "\n"), want) {
					t.Errorf("no %s in the build stage", want)
				}
			}
			base := "FROM " + readImageFacts(t, filepath.Join(upstreamDir, "distroless-static.json")).Image
			final := slices.IndexFunc(lines, func(l string) bool { return l == base })
			if final < build {
				t.Fatalf("the final stage is not %s after the build (upstream/distroless-static.json)", base)
			}
			if !has(final, len(lines), "USER 65532:65532") {
				t.Errorf("the final stage does not run as USER 65532:65532 (numeric, for runAsNonRoot)")
			}
			if want := `ENTRYPOINT ["/` + services[0] + `"]`; lines[len(lines)-1] != want {
				t.Errorf("last line %q, want %q", lines[len(lines)-1], want)
			}
		})
	}
}

// TestImageBuildScript: hack/images/build.sh (the e2e cluster's images, built
// without Docker) puts the same binaries into each image as its Dockerfile,
// the entrypoint first.
func TestImageBuildScript(t *testing.T) {
	data, err := os.ReadFile("../hack/images/build.sh")
	if err != nil {
		t.Fatal(err)
	}
	// e.g.	consumer) build_service consumer "$IMG_CONSUMER_REPO:$IMAGE_TAG" consumer debug dashboard ;;
	line := regexp.MustCompile(`(?m)^\s*([a-z-]+)\) build_service ([a-z-]+) "[^"]*" ([a-z -]+?) ;;$`)
	built := map[string][]string{}
	for _, m := range line.FindAllStringSubmatch(string(data), -1) {
		if m[1] != m[2] {
			t.Errorf("build.sh: %q builds the image %q", m[1], m[2])
		}
		built[m[2]] = strings.Fields(m[3])
	}
	for image, bins := range images {
		if !slices.Equal(built[image], bins) {
			t.Errorf("build.sh builds the %s image with %q, Dockerfile.%s with %q", image, built[image], image, bins)
		}
	}
	if len(built) != len(images) {
		t.Errorf("build.sh builds the service images %v, want %v", built, images)
	}
}

// dockerfileLines returns the instructions of a Dockerfile, continuation
// lines joined, comments and blank lines dropped, whitespace collapsed.
func dockerfileLines(t *testing.T, file string) []string {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	var cur strings.Builder
	for _, l := range strings.Split(string(data), "\n") {
		trimmed := strings.TrimSpace(l)
		if strings.HasPrefix(trimmed, "#") || (trimmed == "" && cur.Len() == 0) {
			continue
		}
		cont := strings.HasSuffix(trimmed, "\\")
		cur.WriteString(strings.TrimSuffix(trimmed, "\\") + " ")
		if !cont {
			lines = append(lines, strings.Join(strings.Fields(cur.String()), " "))
			cur.Reset()
		}
	}
	return lines
}

// localModules adds dir (relative to the repository root) and every module
// its go.mod replaces with a local directory, transitively.
func localModules(t *testing.T, dir string, seen map[string]bool) {
	t.Helper()
	dir = filepath.ToSlash(filepath.Clean(dir))
	if seen[dir] {
		return
	}
	seen[dir] = true
	for _, r := range readModfile(t, dir).Replace {
		if modfile.IsDirectoryPath(r.New.Path) {
			localModules(t, filepath.Join(dir, r.New.Path), seen)
		}
	}
}

func readModfile(t *testing.T, dir string) *modfile.File {
	t.Helper()
	name := filepath.Join("..", dir, "go.mod")
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	f, err := modfile.Parse(name, data, nil)
	if err != nil {
		t.Fatal(err)
	}
	return f
}
