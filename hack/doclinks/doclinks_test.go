package doclinks

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The repository's own documentation: no dead link, no dead anchor, no
// error message or runbook naming a docs page or heading that is not there.
func TestRepositoryHasNoDeadLinks(t *testing.T) {
	r, err := Check("../..")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range r.Problems {
		t.Error(p)
	}
	// Not vacuous: the pages are found, and their links are.
	for _, want := range []string{"README.md", "docs/configuration.md", "docs/security.md", "hack/README.md", "hack/cluster/README.md"} {
		if !slices.Contains(r.Pages, filepath.FromSlash(want)) {
			t.Errorf("%s was not checked (pages: %v)", want, r.Pages)
		}
	}
	if r.Links < 50 || r.Named < 10 {
		t.Errorf("only %d links in Markdown and %d docs pages named elsewhere were found: is the walk broken?", r.Links, r.Named)
	}
}

// Every kind of dead link is caught, and nothing else.
func TestCheckFindsEveryDeadLink(t *testing.T) {
	root := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		path := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("README.md", strings.Join([]string{
		"# Front door",
		"[ok](docs/page.md) [ok](docs/page.md#the-acls-each-service-needs) [ok](#front-door) ![ok](img.png)",
		"[ok](docs/page.md#again-1) [ok](https://example.com/nowhere) [ok](docs/)",
		"[gone](docs/gone.md)",
		"[dead anchor](docs/page.md#not-a-heading)",
		"[dead here](#nowhere)",
		"[heading in code](docs/page.md#producer)",
		"[anchor in an image](img.png#x)",
		"`[in code](nowhere.md)`",
		"```sh",
		"[in a fence](nowhere.md)",
		"```",
	}, "\n"))
	write("img.png", "")
	write("docs/page.md", strings.Join([]string{
		"# Page",
		"## The ACLs each service needs",
		"## Again", "## Again",
		"```sh", "# producer", "```",
		"[up](../README.md#front-door) [up, dead](../README.md#back-door) [out](../../outside.md)",
	}, "\n"))
	write("services/x/connect.go", `errors.New("it lacks an ACL (docs/page.md: The ACLs each service needs); see docs/page.md#again")`+"\n"+
		`errors.New("(docs/page.md: No such heading) docs/gone.md")`)
	write("charts/alerts.yaml", "runbook_url: https://github.com/weatherstream/weather/blob/main/docs/page.md#again-2\n"+
		"see: https://kubernetes.io/docs/gone.md, hack/docs/gone.md\n")
	write(".cache/old/README.md", "[ignored](nowhere.md)")

	r, err := Check(root)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range r.Problems {
		got = append(got, filepath.ToSlash(p.File)+":"+strings.SplitN(p.What, ":", 2)[0])
	}
	want := []string{
		`README.md:"docs/gone.md"`,
		`README.md:"docs/page.md#not-a-heading"`,
		`README.md:"README.md#nowhere"`,
		`README.md:"docs/page.md#producer"`,
		`README.md:"img.png#x"`,
		`docs/page.md:"../README.md#back-door"`,
		`docs/page.md:"../../outside.md"`,
		`services/x/connect.go:"docs/page.md#no-such-heading"`,
		`services/x/connect.go:"docs/gone.md"`,
		`charts/alerts.yaml:"docs/page.md#again-2"`,
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// GitHub's anchors for headings of this repository's kinds.
func TestSlugIsGitHubs(t *testing.T) {
	for heading, want := range map[string]string{
		"The fault campaign: `make chaos`":               "the-fault-campaign-make-chaos",
		"Three brokers: `--set kafka.replicas=3`":        "three-brokers---set-kafkareplicas3",
		"Is it behind? The metrics":                      "is-it-behind-the-metrics",
		"Kafka's log and the official image's volumes":   "kafkas-log-and-the-official-images-volumes",
		"SASL/SCRAM over TLS, one principal per service": "saslscram-over-tls-one-principal-per-service",
		"`helm test`":               "helm-test",
		"WeatherConsumerLagGrowing": "weatherconsumerlaggrowing",
		"The partition controller: `kubectl scale` just works": "the-partition-controller-kubectl-scale-just-works",
		"See [the page](docs/x.md) now":                        "see-the-page-now",
		"Größe × 2":                                            "größe--2",
	} {
		if got := Slug(heading); got != want {
			t.Errorf("Slug(%q) = %q, want %q", heading, got, want)
		}
	}
}
