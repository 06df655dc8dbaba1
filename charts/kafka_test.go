package charts

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// How the services reach an external Kafka secured with TLS, mutual TLS and
// SASL, each service as its own principal (externalKafka.principals): every
// rendering's services are checked against the model wantKafkaClient of the
// values (checkKafkaClients, from checkCommon), and these scenarios spell
// out what the model must give.

// The services that connect to Kafka, each with a principal of its own. The
// helm test pod talks HTTP to the dashboard only.
var kafkaComponents = []string{"producer", "consumer", "debug", "dashboard", "controller"}

// secretFile is one key of a Secret, as a container reads it: a file.
type secretFile struct{ secret, key string }

func (f secretFile) String() string { return f.secret + "/" + f.key }

// kafkaClient is how a service reaches Kafka: the TLS and SASL settings
// (KAFKA_TLS, KAFKA_TLS_SERVER_NAME, KAFKA_SASL_MECHANISM and _USERNAME) and
// the Secret keys behind KAFKA_TLS_CA_FILE, KAFKA_TLS_CERT_FILE,
// KAFKA_TLS_KEY_FILE and KAFKA_SASL_PASSWORD_FILE (zero: not set).
type kafkaClient struct {
	tls                       bool
	serverName                string
	ca, cert, key             secretFile
	mechanism, username       string
	password                  secretFile
	passwordEnv, passwordFrom bool // KAFKA_SASL_PASSWORD: must never be rendered
}

// wantKafkaClient is what the values ask for: the chart's own Kafka is
// plaintext; else a principal's empty field is the shared one (username and
// passwordSecret.name and .key sasl's, clientCertSecret.name tls's, whose
// certKey and keyKey always hold), and any TLS setting means TLS.
func wantKafkaClient(t *testing.T, v chartValues, component string) kafkaClient {
	t.Helper()
	if v.boolAt(t, "kafka.enabled") {
		return kafkaClient{}
	}
	shared := func(p string) string { return v.stringAt(t, "externalKafka."+p) }
	own := func(p string) string { return v.stringAt(t, "externalKafka.principals."+component+"."+p) }
	var c kafkaClient
	if name := shared("tls.caSecret.name"); name != "" {
		c.ca = secretFile{name, shared("tls.caSecret.key")}
	}
	if name := cmp.Or(own("clientCertSecret.name"), shared("tls.clientCertSecret.name")); name != "" {
		c.cert = secretFile{name, shared("tls.clientCertSecret.certKey")}
		c.key = secretFile{name, shared("tls.clientCertSecret.keyKey")}
	}
	c.serverName = shared("tls.serverName")
	c.tls = v.boolAt(t, "externalKafka.tls.enabled") || c.ca != (secretFile{}) || c.cert != (secretFile{}) || c.serverName != ""
	if c.mechanism = shared("sasl.mechanism"); c.mechanism != "" {
		c.username = cmp.Or(own("username"), shared("sasl.username"))
		c.password = secretFile{cmp.Or(own("passwordSecret.name"), shared("sasl.passwordSecret.name")),
			cmp.Or(own("passwordSecret.key"), shared("sasl.passwordSecret.key"))}
	}
	return c
}

// The Kafka settings a service may have: the connection, and those of
// kafkaClient. KAFKA_SASL_PASSWORD is none of them.
var kafkaEnv = []string{"KAFKA_BROKERS", "KAFKA_CONNECT_TIMEOUT", "KAFKA_TLS", "KAFKA_TLS_CA_FILE",
	"KAFKA_TLS_CERT_FILE", "KAFKA_TLS_KEY_FILE", "KAFKA_TLS_SERVER_NAME", "KAFKA_SASL_MECHANISM",
	"KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD_FILE"}

// gotKafkaClient reads a service container's Kafka settings, each file
// followed through its mount to the Secret key it is.
func gotKafkaClient(t *testing.T, w workload, c *corev1.Container) kafkaClient {
	t.Helper()
	value := func(name string) string {
		if !hasEnv(c, name) {
			return ""
		}
		return envValue(t, c, name)
	}
	file := func(name string) secretFile {
		if !hasEnv(c, name) {
			return secretFile{}
		}
		return mountedSecretFile(t, w, c, envValue(t, c, name))
	}
	got := kafkaClient{
		tls: hasEnv(c, "KAFKA_TLS"), serverName: value("KAFKA_TLS_SERVER_NAME"),
		ca: file("KAFKA_TLS_CA_FILE"), cert: file("KAFKA_TLS_CERT_FILE"), key: file("KAFKA_TLS_KEY_FILE"),
		mechanism: value("KAFKA_SASL_MECHANISM"), username: value("KAFKA_SASL_USERNAME"),
		password: file("KAFKA_SASL_PASSWORD_FILE"),
	}
	if got.tls {
		if v := value("KAFKA_TLS"); v != "true" {
			t.Errorf("%s/%s: KAFKA_TLS = %q, want true", w.name, c.Name, v)
		}
	}
	for _, e := range c.Env {
		if e.Name == "KAFKA_SASL_PASSWORD" {
			got.passwordEnv, got.passwordFrom = true, e.ValueFrom != nil
		}
	}
	return got
}

// mountedSecretFile is the Secret key a container reads at file: a key of
// the Secret volume mounted (read-only) at the file's directory.
func mountedSecretFile(t *testing.T, w workload, c *corev1.Container, file string) secretFile {
	t.Helper()
	dir, base := path.Split(file)
	for _, vm := range c.VolumeMounts {
		if vm.MountPath != strings.TrimSuffix(dir, "/") {
			continue
		}
		if !vm.ReadOnly || vm.SubPath != "" || vm.SubPathExpr != "" {
			t.Errorf("%s/%s: %s is in mount %+v, want the whole volume read-only", w.name, c.Name, file, vm)
		}
		v := volume(t, w.podSpec, vm.Name)
		if v.Secret == nil {
			t.Errorf("%s/%s: %s is in volume %s, not a Secret's", w.name, c.Name, file, vm.Name)
			return secretFile{"?", file}
		}
		for _, item := range v.Secret.Items {
			if item.Path == base {
				return secretFile{v.Secret.SecretName, item.Key}
			}
		}
		t.Errorf("%s/%s: %s: volume %s has no item with path %s: %+v", w.name, c.Name, file, vm.Name, base, v.Secret.Items)
		return secretFile{"?", file}
	}
	t.Errorf("%s/%s: %s: nothing is mounted at %s", w.name, c.Name, file, dir)
	return secretFile{"?", file}
}

// checkKafkaClients: every service reaches Kafka as the values say, with
// its own principal; has no Kafka setting beyond kafkaEnv (never the
// password itself, KAFKA_SASL_PASSWORD); and its pod mounts exactly the
// Secret keys its settings name, no other principal's.
func checkKafkaClients(t *testing.T, m *manifest, values chartValues) {
	t.Helper()
	for _, w := range m.workloads() {
		if !slices.Contains(kafkaComponents, w.component) {
			continue
		}
		if len(w.podSpec.Containers) != 1 {
			t.Errorf("%s: %d containers, want 1", w.name, len(w.podSpec.Containers))
			continue
		}
		c := &w.podSpec.Containers[0]
		want := wantKafkaClient(t, values, w.component)
		if got := gotKafkaClient(t, w, c); got != want {
			t.Errorf("%s: Kafka client\n got %+v\nwant %+v", w.name, got, want)
		}
		for _, e := range c.Env {
			if strings.HasPrefix(e.Name, "KAFKA_") && !slices.Contains(kafkaEnv, e.Name) {
				t.Errorf("%s/%s: env %s is no Kafka setting of the services", w.name, c.Name, e.Name)
			}
		}
		wantFiles := map[secretFile]bool{}
		for _, f := range []secretFile{want.ca, want.cert, want.key, want.password} {
			if f != (secretFile{}) {
				wantFiles[f] = true
			}
		}
		gotFiles := map[secretFile]bool{}
		for _, v := range w.podSpec.Volumes {
			if v.Secret == nil {
				continue
			}
			if len(v.Secret.Items) == 0 {
				gotFiles[secretFile{v.Secret.SecretName, "*"}] = true
			}
			for _, item := range v.Secret.Items {
				gotFiles[secretFile{v.Secret.SecretName, item.Key}] = true
			}
		}
		if !maps.Equal(gotFiles, wantFiles) {
			t.Errorf("%s: mounts the Secret keys %v, want exactly %v (its own principal's)",
				w.name, slices.Sorted(maps.Keys(stringSet(gotFiles))), slices.Sorted(maps.Keys(stringSet(wantFiles))))
		}
	}
}

func stringSet(files map[secretFile]bool) map[string]bool {
	s := map[string]bool{}
	for f := range files {
		s[f.String()] = true
	}
	return s
}

// checkSecretsAsFiles holds for every pod the chart renders: no container
// takes a Secret into its environment (secretKeyRef, envFrom), and every
// Secret volume is mounted read-only and readable by the pod's group (its
// fsGroup: the files belong to root), by nobody else.
func checkSecretsAsFiles(t *testing.T, name string, spec *corev1.PodSpec) {
	t.Helper()
	for _, c := range slices.Concat(spec.InitContainers, spec.Containers) {
		for _, e := range c.Env {
			if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
				t.Errorf("%s/%s: env %s from Secret %s: mount it as a file", name, c.Name, e.Name, e.ValueFrom.SecretKeyRef.Name)
			}
		}
		for _, ef := range c.EnvFrom {
			if ef.SecretRef != nil {
				t.Errorf("%s/%s: envFrom Secret %s: mount it as a file", name, c.Name, ef.SecretRef.Name)
			}
		}
	}
	for _, v := range spec.Volumes {
		if v.Secret == nil {
			continue
		}
		if spec.SecurityContext == nil || spec.SecurityContext.FSGroup == nil {
			t.Errorf("%s: Secret volume %s but no fsGroup: its files (root's) are unreadable to the non-root user", name, v.Name)
		}
		mode := int32(0o644) // the API's default
		if v.Secret.DefaultMode != nil {
			mode = *v.Secret.DefaultMode
		}
		for _, item := range v.Secret.Items {
			m := mode
			if item.Mode != nil {
				m = *item.Mode
			}
			if m&0o040 == 0 || m&0o007 != 0 {
				t.Errorf("%s: Secret volume %s, key %s: mode %#o, want the group to read and others not (0440)", name, v.Name, item.Key, m)
			}
		}
		if len(v.Secret.Items) == 0 {
			t.Errorf("%s: Secret volume %s mounts the whole Secret; want only the keys needed", name, v.Name)
		}
		for _, c := range spec.Containers {
			for _, vm := range c.VolumeMounts {
				if vm.Name == v.Name && !vm.ReadOnly {
					t.Errorf("%s/%s: mounts Secret volume %s writable", name, c.Name, v.Name)
				}
			}
		}
	}
}

// kafkaScenarios go through every check of chart_test.go (TestRender,
// TestLint) and the server-side dry run (envtest_test.go).
var kafkaScenarios = []scenario{
	// Mutual TLS, one client certificate for all: the kubernetes.io/tls
	// Secret's keys, a private CA, the brokers' name behind a load balancer.
	{name: "external-kafka-mtls", values: `
kafka: {enabled: false}
externalKafka:
  bootstrapServers: 10.0.0.10:9094
  tls:
    caSecret: {name: kafka-ca}
    serverName: kafka.internal.example.com
    clientCertSecret: {name: weather-kafka-client}
`, check: func(t *testing.T, m *manifest) {
		for _, w := range m.workloads() {
			c := &w.podSpec.Containers[0]
			for name, want := range map[string]string{
				"KAFKA_TLS":             "true",
				"KAFKA_TLS_CA_FILE":     "/etc/weather/kafka-ca/ca.crt",
				"KAFKA_TLS_CERT_FILE":   "/etc/weather/kafka-client-cert/tls.crt",
				"KAFKA_TLS_KEY_FILE":    "/etc/weather/kafka-client-cert/tls.key",
				"KAFKA_TLS_SERVER_NAME": "kafka.internal.example.com",
			} {
				if got := envValue(t, c, name); got != want {
					t.Errorf("%s: %s = %q, want %q", w.name, name, got, want)
				}
			}
			for _, name := range []string{"KAFKA_SASL_MECHANISM", "KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD_FILE", "KAFKA_SASL_PASSWORD"} {
				if hasEnv(c, name) {
					t.Errorf("%s: %s without SASL", w.name, name)
				}
			}
			if vm := volumeMount(t, c, "kafka-client-cert"); vm.MountPath != "/etc/weather/kafka-client-cert" || !vm.ReadOnly {
				t.Errorf("%s: client certificate mount %+v", w.name, vm)
			}
			v := volume(t, w.podSpec, "kafka-client-cert")
			if v.Secret == nil || v.Secret.SecretName != "weather-kafka-client" || v.Secret.DefaultMode == nil || *v.Secret.DefaultMode != 0o440 ||
				!slices.Equal(v.Secret.Items, []corev1.KeyToPath{{Key: "tls.crt", Path: "tls.crt"}, {Key: "tls.key", Path: "tls.key"}}) {
				t.Errorf("%s: client certificate volume %+v", w.name, v.Secret)
			}
		}
	}},
	// A certificate and its key in one PEM (one key, one file for both).
	{name: "external-kafka-mtls-one-pem", values: `
kafka: {enabled: false}
externalKafka:
  bootstrapServers: kafka.example.com:9094
  tls: {clientCertSecret: {name: weather-kafka-client, certKey: client.pem, keyKey: client.pem}}
`, check: func(t *testing.T, m *manifest) {
		for _, w := range m.workloads() {
			c := &w.podSpec.Containers[0]
			if envValue(t, c, "KAFKA_TLS") != "true" || hasEnv(c, "KAFKA_TLS_CA_FILE") ||
				envValue(t, c, "KAFKA_TLS_CERT_FILE") != "/etc/weather/kafka-client-cert/client.pem" ||
				envValue(t, c, "KAFKA_TLS_KEY_FILE") != "/etc/weather/kafka-client-cert/client.pem" {
				t.Errorf("%s: env %+v, want TLS (system roots) with client.pem for certificate and key", w.name, c.Env)
			}
			if v := volume(t, w.podSpec, "kafka-client-cert"); !slices.Equal(v.Secret.Items, []corev1.KeyToPath{{Key: "client.pem", Path: "client.pem"}}) {
				t.Errorf("%s: items %+v, want client.pem once", w.name, v.Secret.Items)
			}
		}
	}},
	// SCRAM over TLS, a principal per service, each falling back field by
	// field: the debug consumer is the shared principal.
	{name: "external-kafka-principals", values: `
kafka: {enabled: false}
externalKafka:
  bootstrapServers: b-1.kafka.example.com:9096
  tls:
    enabled: true
    clientCertSecret: {name: weather-client}
  sasl:
    mechanism: SCRAM-SHA-256
    username: weather
    passwordSecret: {name: kafka-passwords, key: shared}
  principals:
    producer:
      username: weather-producer
      passwordSecret: {name: producer-kafka, key: pw}
      clientCertSecret: {name: producer-client}
    consumer:
      username: weather-consumer
      passwordSecret: {key: consumer}
    dashboard:
      username: weather-dashboard
    controller:
      username: weather-controller
      passwordSecret: {name: controller-kafka}
`, check: func(t *testing.T, m *manifest) {
		for component, want := range map[string]struct {
			user, password, cert string
		}{
			"producer":   {"weather-producer", "producer-kafka/pw", "producer-client"},
			"consumer":   {"weather-consumer", "kafka-passwords/consumer", "weather-client"},
			"debug":      {"weather", "kafka-passwords/shared", "weather-client"},
			"dashboard":  {"weather-dashboard", "kafka-passwords/shared", "weather-client"},
			"controller": {"weather-controller", "controller-kafka/shared", "weather-client"},
		} {
			var spec *corev1.PodSpec
			if component == "consumer" {
				spec = &m.statefulSet(t, "weather-stats").Spec.Template.Spec
			} else {
				spec = &m.deployment(t, "weather-"+component).Spec.Template.Spec
			}
			c := &spec.Containers[0]
			name, key, _ := strings.Cut(want.password, "/")
			for env, value := range map[string]string{
				"KAFKA_TLS": "true", "KAFKA_SASL_MECHANISM": "SCRAM-SHA-256", "KAFKA_SASL_USERNAME": want.user,
				"KAFKA_SASL_PASSWORD_FILE": "/etc/weather/kafka-sasl/" + key,
				"KAFKA_TLS_CERT_FILE":      "/etc/weather/kafka-client-cert/tls.crt",
			} {
				if got := envValue(t, c, env); got != value {
					t.Errorf("%s: %s = %q, want %q", component, env, got, value)
				}
			}
			if hasEnv(c, "KAFKA_SASL_PASSWORD") {
				t.Errorf("%s: KAFKA_SASL_PASSWORD is set: the password is a file", component)
			}
			if vm := volumeMount(t, c, "kafka-sasl"); vm.MountPath != "/etc/weather/kafka-sasl" || !vm.ReadOnly {
				t.Errorf("%s: password mount %+v", component, vm)
			}
			v := volume(t, spec, "kafka-sasl")
			if v.Secret == nil || v.Secret.SecretName != name || v.Secret.DefaultMode == nil || *v.Secret.DefaultMode != 0o440 ||
				!slices.Equal(v.Secret.Items, []corev1.KeyToPath{{Key: key, Path: key}}) {
				t.Errorf("%s: password volume %+v, want Secret %s, key %s, mode 0440", component, v.Secret, name, key)
			}
			if v := volume(t, spec, "kafka-client-cert"); v.Secret == nil || v.Secret.SecretName != want.cert {
				t.Errorf("%s: client certificate volume %+v, want Secret %s", component, v.Secret, want.cert)
			}
		}
		// The helm test pod needs no Kafka: nothing of any principal's.
		for _, p := range m.pods() {
			if len(p.Spec.Volumes) != 0 || len(p.Spec.Containers[0].Env) != 0 {
				t.Errorf("%s: volumes %+v env %+v, want none (it talks HTTP to the dashboard)", p.Name, p.Spec.Volumes, p.Spec.Containers[0].Env)
			}
		}
	}},
	// The shared principal with SASL only, disabled services' principals
	// ignored: PLAIN over TLS with the system roots.
	{name: "external-kafka-sasl-shared", values: `
kafka: {enabled: false}
debug: {enabled: false}
externalKafka:
  bootstrapServers: kafka.example.com:9096
  tls: {enabled: true}
  sasl:
    mechanism: PLAIN
    username: weather
    passwordSecret: {name: kafka-credentials}
  principals:
    debug: {username: not-rendered}
`, check: func(t *testing.T, m *manifest) {
		for _, w := range m.workloads() {
			c := &w.podSpec.Containers[0]
			if envValue(t, c, "KAFKA_SASL_USERNAME") != "weather" || envValue(t, c, "KAFKA_SASL_PASSWORD_FILE") != "/etc/weather/kafka-sasl/password" ||
				hasEnv(c, "KAFKA_TLS_CA_FILE") || hasEnv(c, "KAFKA_TLS_CERT_FILE") {
				t.Errorf("%s: env %+v, want the shared user weather, password file kafka-sasl/password, no CA or certificate", w.name, c.Env)
			}
		}
	}},
}

func init() { scenarios = append(scenarios, kafkaScenarios...) }

// The external Kafka's values the chart must refuse (run by TestBadValues).
var kafkaBadValues = []badValue{
	{"SASL without user", `{kafka: {enabled: false}, externalKafka: {bootstrapServers: "k:9092", sasl: {mechanism: PLAIN, passwordSecret: {name: pw}}}}`,
		"username or externalKafka.sasl.username is required", false},
	{"SASL without secret", `{kafka: {enabled: false}, externalKafka: {bootstrapServers: "k:9092", sasl: {mechanism: PLAIN, username: u}}}`,
		"passwordSecret.name or externalKafka.sasl.passwordSecret.name (an existing Secret with the password) is required", false},
	{"a principal without user", `
kafka: {enabled: false}
externalKafka:
  bootstrapServers: "k:9092"
  sasl: {mechanism: SCRAM-SHA-512, passwordSecret: {name: pw}}
  principals: {producer: {username: p}, consumer: {username: c}, debug: {username: d}, controller: {username: k}}
`, "externalKafka.sasl.mechanism is SCRAM-SHA-512: externalKafka.principals.dashboard.username or externalKafka.sasl.username is required", false},
	// A key without a name is a key of the shared Secret: there is none.
	{"a principal's password key without a Secret", `
kafka: {enabled: false}
externalKafka:
  bootstrapServers: "k:9092"
  sasl: {mechanism: PLAIN, username: u}
  principals:
    producer: {passwordSecret: {name: p}}
    consumer: {passwordSecret: {name: c}}
    debug: {passwordSecret: {key: debug}}
    dashboard: {passwordSecret: {name: d}}
    controller: {passwordSecret: {name: k}}
`, "externalKafka.principals.debug.passwordSecret.name or externalKafka.sasl.passwordSecret.name", false},
	{"a principal's user without SASL", `{kafka: {enabled: false}, externalKafka: {bootstrapServers: "k:9092", principals: {producer: {username: p}}}}`,
		"externalKafka.principals.producer.username is set but externalKafka.sasl.mechanism is empty", false},
	{"a principal's password without SASL", `{kafka: {enabled: false}, externalKafka: {bootstrapServers: "k:9092", principals: {consumer: {passwordSecret: {name: pw}}}}}`,
		"externalKafka.principals.consumer.passwordSecret.name is set but externalKafka.sasl.mechanism is empty", false},
	{"a user without SASL", `{kafka: {enabled: false}, externalKafka: {bootstrapServers: "k:9092", sasl: {username: u}}}`,
		"externalKafka.sasl.username is set but externalKafka.sasl.mechanism is empty", false},
	{"a principal for the test pod", `externalKafka: {principals: {test: {username: t}}}`, "additional properties 'test' not allowed", true},
	{"a principal's own certificate keys", `externalKafka: {principals: {producer: {clientCertSecret: {name: c, certKey: a.pem}}}}`, "certKey", true},
	{"empty certKey", `externalKafka: {tls: {clientCertSecret: {name: c, certKey: ""}}}`, "certKey", true},
	{"serverName with a space", `externalKafka: {tls: {serverName: "kafka example"}}`, "serverName", true},
	{"principal username not a string", `externalKafka: {principals: {debug: {username: [a]}}}`, "username", true},
}

// The chart's own Kafka with more than one broker (kafka.replicas): a KRaft
// quorum of every broker, every topic replicated.

// wantKafkaProperties is what server.properties must say for brokers nodes
// of release fullname: one node is its own quorum on localhost with every
// replication factor 1; three or more are voters at their pods' DNS names
// (node id = ordinal + 1) with every topic at replication factor 3 and min
// ISR 2, and no unclean leader election.
func wantKafkaProperties(brokers int, fullname, clusterDomain string) map[string]string {
	props := map[string]string{
		"process.roles":                    "broker,controller",
		"listeners":                        "PLAINTEXT://:9092,CONTROLLER://:9093",
		"controller.listener.names":        "CONTROLLER",
		"inter.broker.listener.name":       "PLAINTEXT",
		"group.initial.rebalance.delay.ms": "0",
		"auto.create.topics.enable":        "false",
	}
	rf, isr := "1", "1"
	if brokers == 1 {
		props["controller.quorum.voters"] = "1@localhost:9093"
	} else {
		rf, isr = "3", "2"
		var voters []string
		for i := range brokers {
			voters = append(voters, fmt.Sprintf("%d@%s-kafka-%d.%s-kafka-headless.%s.svc.%s:9093", i+1, fullname, i, fullname, namespace, clusterDomain))
		}
		props["controller.quorum.voters"] = strings.Join(voters, ",")
		props["unclean.leader.election.enable"] = "false"
	}
	for _, key := range []string{"default", "offsets.topic", "transaction.state.log", "share.coordinator.state.topic"} {
		props[key+".replication.factor"] = rf
	}
	props["min.insync.replicas"] = isr
	props["transaction.state.log.min.isr"] = isr
	props["share.coordinator.state.topic.min.isr"] = isr
	return props
}

// The three-broker release goes through every check of chart_test.go (with
// checkKafka's server.properties for three), helm lint and the server-side
// dry run.
var threeBrokers = scenario{name: "kafka-three-brokers", values: `kafka: {replicas: 3}`, check: func(t *testing.T, m *manifest) {
	if got := *m.statefulSet(t, "weather-kafka").Spec.Replicas; got != 3 {
		t.Errorf("kafka replicas %d, want 3", got)
	}
	p := container(t, &m.deployment(t, "weather-producer").Spec.Template.Spec, "producer")
	if got := envValue(t, p, "TOPIC_REPLICATION_FACTOR"); got != "3" {
		t.Errorf("TOPIC_REPLICATION_FACTOR = %q, want 3 (the default follows the brokers)", got)
	}
	for _, want := range []string{
		"statefulset/weather-kafka, 3 broker(s), topic replication factor 3",
		"kubectl -n weather-test delete pod weather-kafka-1",
		"and Kafka's log (the reports, and the snapshots in temperatures-snapshots):\n  persistentvolumeclaim/data-weather-kafka-0\n  persistentvolumeclaim/data-weather-kafka-1\n  persistentvolumeclaim/data-weather-kafka-2\n",
	} {
		if !strings.Contains(m.notes, want) {
			t.Errorf("NOTES.txt lacks %q:\n%s", want, m.notes)
		}
	}
}}

func init() { scenarios = append(scenarios, threeBrokers) }

// TestKafkaNodes runs each broker pod's start script (the container's
// command, with its paths moved into a temporary directory and Kafka's two
// scripts replaced by ones that record their arguments) with the
// environment the pod gets, and checks what each node would run as: node id
// = ordinal + 1, the voter of that id is this pod's advertised name (or
// localhost alone), every node formats with the same cluster id, and the
// voters are exactly nodes 1..replicas.
func TestKafkaNodes(t *testing.T) {
	for _, brokers := range []int{1, 3, 5} {
		t.Run(fmt.Sprintf("replicas-%d", brokers), func(t *testing.T) {
			m := renderObjects(t, scenario{name: "kafka-nodes", values: fmt.Sprintf("kafka: {replicas: %d}", brokers)})
			sts := m.statefulSet(t, "weather-kafka")
			c := container(t, &sts.Spec.Template.Spec, "kafka")
			config := m.configMap(t, "weather-kafka").Data["server.properties"]
			voters := map[string]string{} // node id -> host:port
			for _, v := range strings.Split(parseProperties(config)["controller.quorum.voters"], ",") {
				id, addr, _ := strings.Cut(v, "@")
				voters[id] = addr
			}
			if len(voters) != brokers {
				t.Fatalf("voters %v, want %d", voters, brokers)
			}
			clusterIDs := map[string]bool{}
			for i := range brokers {
				pod := fmt.Sprintf("weather-kafka-%d", i)
				node := startNode(t, c, config, map[string]string{
					"POD_INDEX": strconv.Itoa(i), "POD_NAME": pod, "POD_NAMESPACE": namespace,
					"KAFKA_CLUSTER_ID": envValue(t, c, "KAFKA_CLUSTER_ID"),
				})
				if node.err != nil {
					t.Fatalf("%s: start script: %v\n%s", pod, node.err, node.output)
				}
				id := node.formatted["node.id"]
				if id != strconv.Itoa(i+1) || node.started["node.id"] != id {
					t.Errorf("%s: formatted as node %q, started as %q, want %d", pod, id, node.started["node.id"], i+1)
				}
				advertised := strings.TrimPrefix(node.started["advertised.listeners"], "PLAINTEXT://")
				host, _, _ := strings.Cut(advertised, ":")
				want := host + ":9093"
				if brokers == 1 {
					want = "localhost:9093"
				}
				if host != pod+".weather-kafka-headless."+namespace+".svc.cluster.local" || voters[id] != want {
					t.Errorf("%s: advertises %q; node %s's voter is %q, want %q", pod, advertised, id, voters[id], want)
				}
				clusterIDs[node.clusterID] = true
				delete(voters, id)
			}
			if len(voters) != 0 {
				t.Errorf("voters no pod is: %v", voters)
			}
			if len(clusterIDs) != 1 || clusterIDs[""] {
				t.Errorf("cluster ids %v, want one for every node", clusterIDs)
			}
		})
	}
	// Without its ordinal the script stops, naming why, before Kafka runs.
	m := renderObjects(t, scenario{name: "kafka-nodes"})
	c := container(t, &m.statefulSet(t, "weather-kafka").Spec.Template.Spec, "kafka")
	for _, index := range []string{"", "x", "-1"} {
		node := startNode(t, c, m.configMap(t, "weather-kafka").Data["server.properties"],
			map[string]string{"POD_INDEX": index, "POD_NAME": "weather-kafka-0", "POD_NAMESPACE": namespace, "KAFKA_CLUSTER_ID": "c"})
		if node.err == nil || node.formatted != nil || node.started != nil ||
			!strings.Contains(node.output, "POD_INDEX="+index+": not a StatefulSet ordinal") {
			t.Errorf("POD_INDEX=%q: err %v, formatted %v, started %v, output %q; want it to stop with the reason", index, node.err, node.formatted, node.started, node.output)
		}
	}
}

// TestKafkaLogDirNotWritable: a log directory the broker cannot write (the
// claim's data/ that the container runtime made, as root, while an earlier
// chart let the image's VOLUME cover it) stops the start script before
// Kafka runs, saying what happened and what to do.
func TestKafkaLogDirNotWritable(t *testing.T) {
	m := renderObjects(t, scenario{name: "kafka-log-dir"})
	c := container(t, &m.statefulSet(t, "weather-kafka").Spec.Template.Spec, "kafka")
	config := m.configMap(t, "weather-kafka").Data["server.properties"]
	env := map[string]string{"POD_INDEX": "0", "POD_NAME": "weather-kafka-0", "POD_NAMESPACE": namespace, "KAFKA_CLUSTER_ID": "c"}
	for _, tc := range []struct {
		name   string
		logDir func(t *testing.T) func(string)
		cred   *syscall.Credential // the pod's user, 1000 (root may write anywhere)
	}{
		{"missing", func(*testing.T) func(string) { return func(string) {} }, nil},
		{"root's, the broker uid 1000", func(t *testing.T) func(string) {
			if os.Geteuid() != 0 {
				t.Skip("needs root, to run the script as uid 1000 on a directory of root's")
			}
			return func(dir string) {
				if err := os.Mkdir(dir, 0o755); err != nil {
					t.Fatal(err)
				}
			}
		}, &syscall.Credential{Uid: 1000, Gid: 1000}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			node := startNodeAs(t, c, config, env, tc.logDir(t), tc.cred)
			if node.err == nil || node.formatted != nil || node.started != nil ||
				!strings.Contains(node.output, "/data, the log directory (the claim's data/), is not writable by uid") ||
				!strings.Contains(node.output, "Delete this pod's PersistentVolumeClaim and the pod") {
				t.Errorf("err %v, formatted %v, started %v, output %q; want it to stop before Kafka, saying why", node.err, node.formatted, node.started, node.output)
			}
		})
	}
	// The same as the pod's user on a directory it may write (the kubelet
	// makes a missing subPath with the mode of the volume's root: 0777 on
	// local-path) starts the broker.
	if os.Geteuid() == 0 {
		node := startNodeAs(t, c, config, env, nil, &syscall.Credential{Uid: 1000, Gid: 1000})
		if node.err != nil || node.started == nil {
			t.Errorf("uid 1000 on a writable log directory: err %v, output %q; want the broker started", node.err, node.output)
		}
	}
}

// startedNode is what one run of the broker's start script did.
type startedNode struct {
	err       error
	output    string
	clusterID string            // kafka-storage.sh format -t
	formatted map[string]string // the configuration format read (nil: not run)
	started   map[string]string // the broker's, its --override applied (nil: not run)
}

// startNode runs the container's command with env, the ConfigMap's
// server.properties at its mount, an empty log directory and stand-ins for
// Kafka's scripts.
func startNode(t *testing.T, c *corev1.Container, serverProperties string, env map[string]string) startedNode {
	t.Helper()
	return startNodeAs(t, c, serverProperties, env, nil, nil)
}

// startNodeAs is startNode with the log directory as logDir makes it (nil:
// an empty one), run as cred (nil: this process's user).
func startNodeAs(t *testing.T, c *corev1.Container, serverProperties string, env map[string]string,
	logDir func(dir string), cred *syscall.Credential) startedNode {
	t.Helper()
	dir := t.TempDir()
	bin, cfg, tmp, data := filepath.Join(dir, "bin"), filepath.Join(dir, "config"), filepath.Join(dir, "tmp"), filepath.Join(dir, "data")
	for _, d := range []string{bin, cfg, tmp} {
		if err := os.Mkdir(d, 0o777); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(d, 0o777); err != nil { // whoever runs it may write
			t.Fatal(err)
		}
	}
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if logDir == nil {
		logDir = func(dir string) {
			if err := os.Mkdir(dir, 0o777); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(dir, 0o777); err != nil { // as local-path makes a volume
				t.Fatal(err)
			}
		}
	}
	logDir(data)
	if err := os.WriteFile(filepath.Join(cfg, "server.properties"), []byte(serverProperties), 0o644); err != nil {
		t.Fatal(err)
	}
	// Each stand-in records its arguments, one per line, and the file it
	// was given (-c, or the first argument) as it was then.
	for script, cfgArg := range map[string]string{"kafka-storage.sh": `while [ $# -gt 0 ]; do [ "$1" = -c ] && cp "$2" "$0.config"; shift; done`,
		"kafka-server-start.sh": `cp "$1" "$0.config"`} {
		body := "#!/bin/sh\nprintf '%s\\n' \"$@\" >\"$0.args\"\n" + cfgArg + "\n"
		if err := os.WriteFile(filepath.Join(bin, script), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	volumeDir := volumeMount(t, c, "config").MountPath
	if len(c.Command) != 3 || c.Command[0] != "/bin/sh" || c.Command[1] != "-ec" || len(c.Args) != 0 {
		t.Fatalf("kafka command %q args %q, want /bin/sh -ec SCRIPT", c.Command, c.Args)
	}
	logMount := volumeMount(t, c, "data").MountPath
	script := strings.NewReplacer("/opt/kafka/bin/", bin+"/", volumeDir+"/", cfg+"/", "/tmp/", tmp+"/", logMount, data).Replace(c.Command[2])
	cmd := exec.Command(c.Command[0], c.Command[1], script)
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	node := startedNode{err: err, output: string(out)}
	read := func(script string) (args []string, props map[string]string) {
		data, err := os.ReadFile(filepath.Join(bin, script+".args"))
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		if err != nil {
			t.Fatal(err)
		}
		config, err := os.ReadFile(filepath.Join(bin, script+".config"))
		if err != nil {
			t.Fatalf("%s ran without a configuration file: %v", script, err)
		}
		return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n"), parseProperties(string(config))
	}
	args, formatted := read("kafka-storage.sh")
	if formatted != nil {
		node.formatted = formatted
		for i, a := range args {
			if a == "-t" && i+1 < len(args) {
				node.clusterID = args[i+1]
			}
		}
		if !slices.Contains(args, "format") || !slices.Contains(args, "--ignore-formatted") {
			t.Errorf("kafka-storage.sh %q: want format --ignore-formatted", args)
		}
	}
	args, started := read("kafka-server-start.sh")
	if started != nil {
		for i, a := range args {
			if a == "--override" && i+1 < len(args) {
				k, v, _ := strings.Cut(args[i+1], "=")
				started[k] = v
			}
		}
		node.started = started
	}
	return node
}

// TestTopicReplicationFactor: the topic's replication factor the producer
// is given (TOPIC_REPLICATION_FACTOR): topic.replicationFactor when set,
// else it follows the chart's brokers (at most 3), or 1 on an external
// Kafka.
func TestTopicReplicationFactor(t *testing.T) {
	for _, c := range []struct {
		values string
		want   string
	}{
		{``, "1"},
		{`kafka: {replicas: 3}`, "3"},
		{`kafka: {replicas: 5}`, "3"},
		{`{kafka: {replicas: 3}, topic: {replicationFactor: 2}}`, "2"},
		{`{kafka: {replicas: 3}, topic: {replicationFactor: 1}}`, "1"},
		{`{kafka: {replicas: 5}, topic: {replicationFactor: 5}}`, "5"},
		{`{kafka: {enabled: false}, externalKafka: {bootstrapServers: "k:9092"}}`, "1"},
		{`{kafka: {enabled: false, replicas: 1}, externalKafka: {bootstrapServers: "k:9092"}, topic: {replicationFactor: 5}}`, "5"},
	} {
		t.Run(c.values, func(t *testing.T) {
			m := renderObjects(t, scenario{name: "topic-rf", values: c.values})
			p := container(t, &m.deployment(t, "weather-producer").Spec.Template.Spec, "producer")
			if got := envValue(t, p, "TOPIC_REPLICATION_FACTOR"); got != c.want {
				t.Errorf("TOPIC_REPLICATION_FACTOR = %q, want %s", got, c.want)
			}
		})
	}
}

// The broker counts and replication factors the chart must refuse (run by
// TestBadValues).
var brokersBadValues = []badValue{
	{"two brokers", `kafka: {replicas: 2}`, "kafka.replicas is 2: use 1, or 3 or more (two brokers cannot keep min.insync.replicas 2 through the loss of one", false},
	{"no brokers", `kafka: {replicas: 0}`, "/kafka/replicas", true},
	{"brokers not a number", `kafka: {replicas: three}`, "/kafka/replicas", true},
	{"replication factor above the brokers", `{kafka: {replicas: 3}, topic: {replicationFactor: 4}}`,
		"topic.replicationFactor is 4, but the chart's Kafka (kafka.enabled) has kafka.replicas=3 broker(s): use at most 3", false},
	{"negative replication factor", `topic: {replicationFactor: -1}`, "/topic/replicationFactor", true},
	{"a broker PDB's minAvailable with three", `kafka: {replicas: 3, podDisruptionBudget: {minAvailable: 2}}`,
		"kafka.podDisruptionBudget.minAvailable is 2, but it is the single broker's budget: with kafka.replicas=3 the budget is maxUnavailable 1", false},
}
