package charts

import (
	"cmp"
	"maps"
	"path"
	"slices"
	"strings"
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
				spec = &m.statefulSet(t, "weather-consumer").Spec.Template.Spec
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
