package charts

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"log"
	"maps"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"testing"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/lint/support"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// How every test of this package renders, decodes and lints the chart.

const (
	chartDir  = "weather"
	namespace = "weather-test"
)

// The Kubernetes the chart is rendered for (the version hack/k8s builds and
// kind's node image runs).
var kubeVersion = chartutil.KubeVersion{Version: "v1.34.4", Major: "1", Minor: "34"}

// notesFile is NOTES.txt's name in a rendering.
var notesFile = path.Join(chartDir, "templates", "NOTES.txt")

var (
	chartOnce   sync.Once
	loadedChart *chart.Chart
	chartErr    error
)

func loadWeatherChart(t testing.TB) *chart.Chart {
	t.Helper()
	chartOnce.Do(func() { loadedChart, chartErr = loader.Load(chartDir) })
	if chartErr != nil {
		t.Fatalf("load chart %s: %v", chartDir, chartErr)
	}
	return loadedChart
}

// renderChart renders the chart as `helm install --dry-run` would (values
// coalesced with values.yaml and checked against values.schema.json), in
// strict mode: a template using a value that does not exist fails.
func renderChart(t testing.TB, release, valuesYAML string) (map[string]string, error) {
	t.Helper()
	return renderRelease(t, loadWeatherChart(t), valuesYAML,
		chartutil.ReleaseOptions{Name: release, Namespace: namespace, Revision: 1, IsInstall: true}, nil)
}

// renderRelease renders ch with values for release. Without a cluster it is
// helm template in strict mode (every lookup empty); with one, lookup is
// answered by it (Helm renders that way only in its lax mode).
func renderRelease(t testing.TB, ch *chart.Chart, valuesYAML string, release chartutil.ReleaseOptions, cluster engine.ClientProvider) (map[string]string, error) {
	t.Helper()
	vals, err := chartutil.ReadValues([]byte(valuesYAML))
	if err != nil {
		t.Fatalf("test values: %v", err)
	}
	caps := chartutil.DefaultCapabilities.Copy()
	caps.KubeVersion = kubeVersion
	top, err := chartutil.ToRenderValues(ch, vals, release, caps)
	if err != nil {
		return nil, err
	}
	if cluster == nil {
		return engine.Engine{Strict: true}.Render(ch, top)
	}
	return engine.RenderWithClientProvider(ch, top, cluster)
}

// renderWith is renderRelease, its objects decoded strictly.
func renderWith(t *testing.T, ch *chart.Chart, valuesYAML string, release chartutil.ReleaseOptions, cluster engine.ClientProvider) *manifest {
	t.Helper()
	files, err := renderRelease(t, ch, valuesYAML, release, cluster)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	return decodeManifest(t, files)
}

// fakeCluster answers the chart's lookups (PersistentVolumeClaims and
// StatefulSets) from objects.
type fakeClusterProvider struct {
	client *dynamicfake.FakeDynamicClient
}

func fakeCluster(objects ...runtime.Object) engine.ClientProvider {
	return fakeClusterProvider{dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{
		{Version: "v1", Resource: "persistentvolumeclaims"}:      "PersistentVolumeClaimList",
		{Group: "apps", Version: "v1", Resource: "statefulsets"}: "StatefulSetList",
	}, objects...)}
}

func (f fakeClusterProvider) GetClientFor(apiVersion, kind string) (dynamic.NamespaceableResourceInterface, bool, error) {
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return nil, false, err
	}
	return f.client.Resource(gv.WithResource(strings.ToLower(kind) + "s")), true, nil
}

// renderedDoc is one object of a rendering, as YAML, and its template.
type renderedDoc struct {
	file string
	yaml []byte
}

// objectDocs splits a rendering into its objects, template by template in
// name order; NOTES.txt and the helpers (_*.tpl) hold none.
func objectDocs(t *testing.T, files map[string]string) []renderedDoc {
	t.Helper()
	var docs []renderedDoc
	for _, name := range slices.Sorted(maps.Keys(files)) {
		if name == notesFile || strings.HasPrefix(path.Base(name), "_") {
			continue
		}
		for _, doc := range yamlDocs(t, name, files[name]) {
			docs = append(docs, renderedDoc{file: name, yaml: doc})
		}
	}
	return docs
}

// yamlDocs splits a rendered file into its YAML documents, empty ones left out.
func yamlDocs(t *testing.T, name, file string) [][]byte {
	t.Helper()
	var docs [][]byte
	r := utilyaml.NewYAMLReader(bufio.NewReader(strings.NewReader(file)))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			t.Fatalf("%s: split YAML: %v", name, err)
		}
		if !isEmptyYAML(doc) {
			docs = append(docs, doc)
		}
	}
}

func isEmptyYAML(doc []byte) bool {
	for _, line := range bytes.Split(doc, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) > 0 && line[0] != '#' && string(line) != "---" {
			return false
		}
	}
	return true
}

// object is one rendered Kubernetes object.
type object struct {
	file string
	obj  client.Object
}

type manifest struct {
	objects []object
	notes   string
}

// strictDecoder decodes YAML into the registered Go type of its
// apiVersion/kind and fails on unknown and duplicate fields.
var strictDecoder = kjson.NewSerializerWithOptions(kjson.DefaultMetaFactory, scheme.Scheme, scheme.Scheme,
	kjson.SerializerOptions{Yaml: true, Strict: true})

// decodeObjects decodes every document strictly with decoder.
func decodeObjects(t *testing.T, decoder runtime.Decoder, docs []renderedDoc) []object {
	t.Helper()
	var objs []object
	for _, d := range docs {
		obj, gvk, err := decoder.Decode(d.yaml, nil, nil)
		if err != nil {
			t.Fatalf("%s: strict decode: %v\n%s", d.file, err, d.yaml)
		}
		cobj, ok := obj.(client.Object)
		if !ok {
			t.Fatalf("%s: %v is not an object", d.file, gvk)
		}
		objs = append(objs, object{file: d.file, obj: cobj})
	}
	return objs
}

// decodeManifest decodes every rendered object strictly, and keeps NOTES.txt.
func decodeManifest(t *testing.T, files map[string]string) *manifest {
	t.Helper()
	m := &manifest{objects: decodeObjects(t, strictDecoder, objectDocs(t, files)), notes: files[notesFile]}
	if m.notes == "" {
		t.Errorf("NOTES.txt rendered empty")
	}
	return m
}

// lintChart is `helm lint --strict` (warnings fail too) with values.
func lintChart(t *testing.T, values string) {
	t.Helper()
	vals, err := chartutil.ReadValues([]byte(values))
	if err != nil {
		t.Fatal(err)
	}
	lint := action.NewLint()
	lint.Strict = true
	lint.Namespace = namespace
	lint.KubeVersion = &kubeVersion
	result := lint.Run([]string{chartDir}, vals)
	if result.TotalChartsLinted != 1 {
		t.Errorf("linted %d charts", result.TotalChartsLinted)
	}
	for _, err := range result.Errors {
		t.Errorf("helm lint --strict: %v", err)
	}
	for _, msg := range result.Messages {
		if msg.Severity >= support.WarningSev {
			t.Errorf("helm lint: %v", msg)
		} else {
			t.Logf("helm lint: %v", msg)
		}
	}
}

// badValue is values the chart must refuse, with a part of the error.
// schema: true means values.schema.json must be what refuses them.
type badValue struct {
	name, values, wantErr string
	schema                bool
}

// checkBadValues: each bad value is refused, by the schema or by the
// template as it says, with an error that has its part.
func checkBadValues(t *testing.T, bad []badValue) {
	// Helm logs some value problems (a table replaced by a scalar) with the
	// standard logger as it coalesces: into the test's log, not stderr.
	log.SetOutput(testLogWriter{t})
	t.Cleanup(func() { log.SetOutput(os.Stderr) })
	for _, bv := range bad {
		t.Run(bv.name, func(t *testing.T) {
			_, err := renderChart(t, "weather", bv.values)
			if err == nil {
				t.Fatalf("values %s rendered; want an error with %q", bv.values, bv.wantErr)
			}
			isSchema := strings.Contains(err.Error(), "values don't meet the specifications of the schema")
			if isSchema != bv.schema {
				t.Errorf("schema error = %v, want %v: %v", isSchema, bv.schema, err)
			}
			if !strings.Contains(err.Error(), bv.wantErr) {
				t.Errorf("error does not mention %q: %v", bv.wantErr, err)
			}
		})
	}
}

type testLogWriter struct{ t *testing.T }

func (w testLogWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
