package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/weatherstream/weather/hack/kafka/secure"
)

// TestSecuredExternalKafka installs the chart with kafka.enabled=false
// against an external Kafka secured the way a production cluster is, and
// proves that the pipeline works over it and that a consumer with the wrong
// credentials stops with one clear line. In a namespace of its own
// (E2E_SECURE_NAMESPACE, default weather-secure):
//   - a broker from the chart's own Kafka image (one KRaft node, its
//     certificates and users from hack/kafka/secure: TLS, mutual TLS and
//     SASL_SSL listeners, the StandardAuthorizer with no access without an
//     ACL); the test, as the super user over mutual TLS, creates a
//     SCRAM-SHA-512 user per service and grants each only its ACLs (the
//     table of docs/security.md);
//   - the release connects over SASL_SSL with SCRAM-SHA-512, one principal
//     per service, the CA and the passwords from Secrets the test makes as a
//     user would; no password is in any pod's environment;
//   - every pod becomes ready, the files grow, the debug pod prints reports,
//     and the stats equal a recount of the topic (read as the super user);
//   - a consumer pod started with a wrong password in the Secret logs
//     "refused User:consumer (SCRAM-SHA-512): SASL_AUTHENTICATION_FAILED";
//     with the password restored it is ready again;
//   - the consumer's ACL revoked, the running consumers stop with "denied
//     User:consumer"; granted again, they resume from their checkpoints and
//     the stats equal the recount (nothing lost, nothing counted twice);
//   - helm uninstall, and the namespace is deleted.
func TestSecuredExternalKafka(t *testing.T) {
	s := newSuite(t, env("E2E_SECURE_NAMESPACE", "weather-secure"))
	b := &securedKafka{s: s, dir: t.TempDir()}
	s.phase("secured Kafka up: the chart's Kafka image with TLS, mTLS and SASL_SSL listeners and ACLs", b.up)
	s.phase("SCRAM-SHA-512 users and each service's ACLs (as the super user over mTLS)", b.users)
	s.phase("helm install, kafka.enabled=false: SASL_SSL SCRAM-SHA-512, a principal per service (--wait)", b.install)
	s.phase("all pods ready", s.allReady)
	s.phase("partition files appear on the pods' volumes and grow", s.filesGrow)
	s.phase("stats = recount of the topic (secured Kafka)", func() error { return s.checkStats("secured Kafka") })
	s.phase("kubectl logs of the debug pod shows records", s.debugLogs)
	s.phase("a consumer pod with a wrong password in the Secret fails with the clear line", b.wrongPassword)
	s.phase("the consumer's ACL revoked: denied, stopped; granted: resumed, stats = recount", b.revokeACL)
	s.phase("helm uninstall and the namespace deleted", b.remove)
}

// The secured broker: a StatefulSet of one pod and its headless Service,
// both named securedName, advertising the pod's DNS name (the name its
// certificate holds) on fixed ports.
const (
	securedName     = "kafka"
	securedFilesAt  = "/etc/kafka/secure"       // the broker's Secret, in its pod
	securedDataDir  = "/var/lib/kafka/data"     // log.dirs: exactly the image's VOLUME, as the chart mounts it
	brokerSecret    = "kafka-broker"            // broker.pem, ca.crt, server.properties
	caSecret        = "weather-kafka-ca"        // the release's: ca.crt
	passwordSecret  = "weather-kafka-passwords" // the release's: a key per service
	clusterDomain   = "cluster.local"
	securedSelector = "app.kubernetes.io/name=secured-kafka"
)

var securedPorts = secure.Ports{TLS: 9094, MTLS: 9095, SASL: 9096, Controller: 9093}

// securedResources are the names the release is installed with and the
// ACLs are granted on.
var securedResources = secure.Defaults

type securedKafka struct {
	s      *suite
	dir    string // secure.Init's files: CA, certificates, passwords
	layout secure.Layout
	admin  Kafka // the broker as the super user, over mutual TLS
}

func (b *securedKafka) up() error {
	s := b.s
	if err := s.freshNamespace(); err != nil {
		return err
	}
	if _, err := s.kubectl("create", "namespace", s.k.Namespace); err != nil {
		return err
	}
	image, err := b.kafkaImage()
	if err != nil {
		return err
	}
	advertise := fmt.Sprintf("%s-0.%s.%s.svc.%s", securedName, securedName, s.k.Namespace, clusterDomain)
	var props string
	b.layout, props, err = secure.Init(b.dir, secure.Network{Advertise: advertise, Ports: securedPorts, FilesAt: securedFilesAt})
	if err != nil {
		return err
	}
	server := filepath.Join(b.dir, "server.properties")
	if err := os.WriteFile(server, []byte(brokerProperties(props)), 0o600); err != nil {
		return err
	}
	// server.properties holds the PLAIN listener's passwords: a Secret too.
	if _, err := s.kubectl("create", "secret", "generic", brokerSecret,
		"--from-file=broker.pem="+filepath.Join(b.dir, "broker.pem"), "--from-file=ca.crt="+b.layout.CA,
		"--from-file=server.properties="+server); err != nil {
		return err
	}
	manifest, err := brokerManifest(image)
	if err != nil {
		return err
	}
	file := filepath.Join(b.dir, "kafka.yaml")
	if err := os.WriteFile(file, []byte(manifest), 0o600); err != nil {
		return err
	}
	if _, err := s.kubectl("apply", "-f", file); err != nil {
		return err
	}
	if _, err := s.kubectl("rollout", "status", "statefulset/"+securedName, "--timeout=3m"); err != nil {
		return err
	}

	if b.admin.DNS, err = s.clusterDNS(); err != nil {
		return err
	}
	b.admin.Bootstrap, b.admin.Topic = b.layout.MTLS, securedResources.Topic
	if b.admin.TLS, err = b.layout.MTLSConfig(secure.Admin).TLSConfig(); err != nil {
		return err
	}
	s.t.Logf("secured Kafka %s (image %s): TLS %s, mTLS %s, SASL_SSL %s", securedName, image, b.layout.TLS, b.layout.MTLS, b.layout.SASL)
	return nil
}

// kafkaImage is the image of the chart's own Kafka, with E2E_HELM_SET (the
// locally built one).
func (b *securedKafka) kafkaImage() (string, error) {
	args := []string{"template", "e2e", b.s.chart, "--show-only", "templates/kafka/statefulset.yaml"}
	for _, set := range strings.Fields(os.Getenv("E2E_HELM_SET")) {
		args = append(args, "--set", set)
	}
	out, err := b.s.k.HelmOut(b.s.ctx, args...)
	if err != nil {
		return "", err
	}
	m := regexp.MustCompile(`(?m)^\s+image:\s+"?([^"\s]+)"?\s*$`).FindStringSubmatch(out)
	if m == nil {
		return "", fmt.Errorf("no image in the chart's templates/kafka/statefulset.yaml:\n%s", out)
	}
	return m[1], nil
}

// brokerProperties is the secured broker's server.properties: one KRaft
// node, as hack/kafka/kafka.sh and the chart's Kafka configure it, with the
// listeners and security of secure.Init (props).
func brokerProperties(props string) string {
	return strings.Join([]string{
		"# The e2e's secured Kafka: one KRaft node, broker and controller.",
		"process.roles=broker,controller",
		"node.id=1",
		fmt.Sprintf("controller.quorum.voters=1@localhost:%d", securedPorts.Controller),
		"log.dirs=" + securedDataDir,
		"num.partitions=1",
		"auto.create.topics.enable=false",
		"offsets.topic.replication.factor=1",
		"transaction.state.log.replication.factor=1",
		"transaction.state.log.min.isr=1",
		"share.coordinator.state.topic.replication.factor=1",
		"share.coordinator.state.topic.min.isr=1",
		"default.replication.factor=1",
		"min.insync.replicas=1",
		"group.initial.rebalance.delay.ms=0",
		"# Listeners and security (hack/kafka/secure).",
	}, "\n") + "\n" + props
}

var brokerTemplate = template.Must(template.New("kafka.yaml").Parse(`# The e2e's secured external Kafka: the chart's Kafka image, run the way
# the chart runs it, with its files from the Secret {{.Secret}}.
apiVersion: v1
kind: Service
metadata:
  name: {{.Name}}
  labels: {app.kubernetes.io/name: secured-kafka}
spec:
  clusterIP: None
  publishNotReadyAddresses: true
  selector: {app.kubernetes.io/name: secured-kafka}
  ports:
    - {name: tls, port: {{.Ports.TLS}}, targetPort: tls}
    - {name: mtls, port: {{.Ports.MTLS}}, targetPort: mtls}
    - {name: sasl, port: {{.Ports.SASL}}, targetPort: sasl}
    - {name: controller, port: {{.Ports.Controller}}, targetPort: controller}
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: {{.Name}}
  labels: {app.kubernetes.io/name: secured-kafka}
spec:
  replicas: 1
  serviceName: {{.Name}}
  podManagementPolicy: Parallel
  selector:
    matchLabels: {app.kubernetes.io/name: secured-kafka}
  template:
    metadata:
      labels: {app.kubernetes.io/name: secured-kafka}
    spec:
      enableServiceLinks: false
      automountServiceAccountToken: false
      securityContext:
        runAsNonRoot: true
        runAsUser: 1000
        runAsGroup: 1000
        fsGroup: 1000
        seccompProfile: {type: RuntimeDefault}
      containers:
        - name: kafka
          image: {{printf "%q" .Image}}
          imagePullPolicy: IfNotPresent
          command:
            - /bin/sh
            - -ec
            - |
              /opt/kafka/bin/kafka-storage.sh format --ignore-formatted -t {{.ClusterID}} -c {{.Files}}/server.properties
              exec /opt/kafka/bin/kafka-server-start.sh {{.Files}}/server.properties
          env:
            - {name: KAFKA_HEAP_OPTS, value: "-Xmx512m -Xms512m"}
            - {name: EXTRA_ARGS, value: "-name kafkaServer"}
            - {name: KAFKA_GC_LOG_OPTS, value: "-Xlog:gc=warning:stderr"}
            - {name: LOG_DIR, value: /opt/kafka/logs}
          ports:
            - {name: tls, containerPort: {{.Ports.TLS}}}
            - {name: mtls, containerPort: {{.Ports.MTLS}}}
            - {name: sasl, containerPort: {{.Ports.SASL}}}
            - {name: controller, containerPort: {{.Ports.Controller}}}
          startupProbe:
            tcpSocket: {port: sasl}
            periodSeconds: 2
            failureThreshold: 90
          readinessProbe:
            tcpSocket: {port: sasl}
            periodSeconds: 5
          resources:
            requests: {cpu: 250m, memory: 768Mi}
            limits: {memory: 1Gi}
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities: {drop: [ALL]}
          volumeMounts:
            - {name: secure, mountPath: {{.Files}}, readOnly: true}
            - {name: data, mountPath: {{.DataDir}}}
            - {name: logs, mountPath: /opt/kafka/logs}
            - {name: tmp, mountPath: /tmp}
      volumes:
        # 0440: root and the pod's fsGroup, which Kafka runs in.
        - {name: secure, secret: {secretName: {{.Secret}}, defaultMode: 288}}
        - {name: data, emptyDir: {}}
        - {name: logs, emptyDir: {}}
        - {name: tmp, emptyDir: {}}
`))

// brokerManifest is the secured broker's Service and StatefulSet.
func brokerManifest(image string) (string, error) {
	id := make([]byte, 16)
	rand.Read(id)
	var b bytes.Buffer
	err := brokerTemplate.Execute(&b, map[string]any{
		"Name": securedName, "Image": image, "Ports": securedPorts, "Secret": brokerSecret,
		"Files": securedFilesAt, "DataDir": securedDataDir, "ClusterID": base64.RawURLEncoding.EncodeToString(id),
	})
	return b.String(), err
}

func (b *securedKafka) users() error {
	s := b.s
	adm, err := b.admin.Admin()
	if err != nil {
		return err
	}
	defer adm.Close()
	// Ready is the SASL port open; the users wait until the broker answers.
	err = Eventually(s.ctx, 2*time.Minute, 2*time.Second, func() error {
		ctx, cancel := context.WithTimeout(s.ctx, 20*time.Second)
		defer cancel()
		return secure.Setup(ctx, adm, b.layout)
	})
	if err != nil {
		return fmt.Errorf("SCRAM users: %w", err)
	}
	ctx, cancel := context.WithTimeout(s.ctx, 2*time.Minute)
	defer cancel()
	var granted []string
	for _, svc := range secure.Services {
		acls := secure.ServiceACLs(svc, securedResources)
		if err := secure.Grant(ctx, adm, "User:"+svc, acls...); err != nil {
			return err
		}
		for _, a := range acls {
			granted = append(granted, fmt.Sprintf("User:%s %s", svc, a))
		}
	}
	s.t.Logf("SCRAM-SHA-512 users %v; ACLs: %s", secure.Services, strings.Join(granted, "; "))
	return nil
}

func (b *securedKafka) install() error {
	s := b.s
	// The Secrets as a user makes them: the CA, and a password per service
	// (files: no password on a command line).
	passwords := filepath.Join(b.dir, "passwords")
	if err := os.Mkdir(passwords, 0o700); err != nil {
		return err
	}
	for _, svc := range secure.Services {
		if err := os.WriteFile(filepath.Join(passwords, svc), []byte(b.layout.Users[svc].Password+"\n"), 0o600); err != nil {
			return err
		}
	}
	if _, err := s.kubectl("create", "secret", "generic", caSecret, "--from-file=ca.crt="+b.layout.CA); err != nil {
		return err
	}
	if _, err := s.kubectl("create", "secret", "generic", passwordSecret, "--from-file="+passwords); err != nil {
		return err
	}
	sets := []string{
		"kafka.enabled=false",
		"externalKafka.bootstrapServers=" + b.layout.SASL,
		"externalKafka.tls.caSecret.name=" + caSecret,
		"externalKafka.sasl.mechanism=SCRAM-SHA-512",
		"externalKafka.sasl.passwordSecret.name=" + passwordSecret,
		"topic.name=" + securedResources.Topic,
		"producer.transactionalId=" + securedResources.TransactionalID,
		"debug.group=" + securedResources.Group,
		"consumer.monitoringGroup=" + securedResources.MonitoringGroup,
	}
	for _, svc := range secure.Services {
		sets = append(sets, "externalKafka.principals."+svc+".username="+svc, "externalKafka.principals."+svc+".passwordSecret.key="+svc)
	}
	if err := s.helmInstall(sets...); err != nil {
		return err
	}
	if err := s.learn(); err != nil {
		return err
	}
	if s.kafka.Bootstrap != b.layout.SASL {
		return fmt.Errorf("the producer's KAFKA_BROKERS is %s, want the SASL_SSL listener %s", s.kafka.Bootstrap, b.layout.SASL)
	}
	// The recount reads the topic as the super user, over mutual TLS.
	s.kafka.Bootstrap, s.kafka.TLS = b.admin.Bootstrap, b.admin.TLS

	// The passwords are files from the Secret, in no pod's spec.
	pods, err := s.kubectl("get", "pods", "-o", "json")
	if err != nil {
		return err
	}
	for _, svc := range secure.Services {
		if strings.Contains(pods, b.layout.Users[svc].Password) {
			return fmt.Errorf("%s's password is in a pod's spec", svc)
		}
	}
	env, err := s.kubectl("get", "deployment", "-l", s.selector("producer"), "-o",
		`jsonpath={range .items[0].spec.template.spec.containers[0].env[*]}{.name}={.value}{"\n"}{end}`)
	if err != nil {
		return err
	}
	if !strings.Contains(env, "KAFKA_SASL_PASSWORD_FILE=") || strings.Contains(env, "KAFKA_SASL_PASSWORD=") {
		return fmt.Errorf("the producer's environment, want KAFKA_SASL_PASSWORD_FILE and no KAFKA_SASL_PASSWORD:\n%s", env)
	}
	s.t.Logf("the producer's Kafka environment: %s", strings.Join(kafkaEnv(env), " "))
	return nil
}

// kafkaEnv are the KAFKA_ lines of env.
func kafkaEnv(env string) []string {
	var lines []string
	for _, l := range strings.Split(env, "\n") {
		if strings.HasPrefix(l, "KAFKA_") {
			lines = append(lines, l)
		}
	}
	return lines
}

// setPassword makes the release's Secret hold password for svc (a patch
// file: no password on a command line). Pods started afterwards read it.
func (b *securedKafka) setPassword(svc, password string) error {
	patch, err := json.Marshal(map[string]any{"data": map[string][]byte{svc: []byte(password)}})
	if err != nil {
		return err
	}
	file := filepath.Join(b.dir, "password-patch.json")
	if err := os.WriteFile(file, patch, 0o600); err != nil {
		return err
	}
	defer os.Remove(file)
	_, err = b.s.kubectl("patch", "secret", passwordSecret, "--patch-file", file)
	return err
}

// The consumer's lines for its two refusals (kafkaconfig.Explain).
var (
	refusedLine = regexp.MustCompile(`(?m)^.*refused User:consumer \(SCRAM-SHA-512\).*SASL_AUTHENTICATION_FAILED.*$`)
	deniedLine  = regexp.MustCompile(`(?m)^.*denied User:consumer\b.*_AUTHORIZATION_FAILED.*$`)
)

// waitLogLine waits until pod's log (or its previous container's: it
// exited) has a line matching re, and returns it.
func (s *suite) waitLogLine(pod string, re *regexp.Regexp) (string, error) {
	k := s.k
	k.Log = func(string, ...any) {} // polled
	var line string
	polls, start := 0, time.Now()
	err := Eventually(s.ctx, 2*time.Minute, time.Second, func() error {
		polls++
		for _, previous := range []bool{false, true} {
			args := []string{"logs", pod}
			if previous {
				args = append(args, "--previous")
			}
			logs, _ := k.KubectlOut(s.ctx, args...) // none yet, or no previous container
			if line = re.FindString(logs); line != "" {
				return nil
			}
		}
		return fmt.Errorf("no line matching %q in the logs of %s", re, pod)
	})
	s.t.Logf("$ kubectl logs [--previous] %s: %d polls in %s", pod, polls, time.Since(start).Round(time.Millisecond))
	return line, err
}

// wrongPassword: a consumer pod started while the Secret holds a wrong
// password for the consumer stops at once with the line that names the
// principal, the mechanism and the broker's answer; with the password
// restored its next pod is ready. (The other consumer pods, connected
// before, are not restarted: the password is read at start.)
func (b *securedKafka) wrongPassword() error {
	s := b.s
	pods, err := s.podNames("consumer")
	if err != nil {
		return err
	}
	if len(pods) == 0 {
		return errors.New("no consumer pods")
	}
	pod := pods[0]
	if err := b.setPassword("consumer", "not-"+b.layout.Users["consumer"].Password); err != nil {
		return err
	}
	if _, err := s.kubectl("delete", "pod", pod, "--wait=true", "--timeout=2m"); err != nil {
		return err
	}
	line, err := s.waitLogLine(pod, refusedLine)
	if err != nil {
		return err
	}
	s.t.Logf("%s, started with a wrong password, logged:\n    %s", pod, line)
	ready, err := s.kubectl("get", "pod", pod, "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status}`)
	if err != nil {
		return err
	}
	if ready == "True" {
		return fmt.Errorf("%s is ready with a wrong password", pod)
	}

	if err := b.setPassword("consumer", b.layout.Users["consumer"].Password); err != nil {
		return err
	}
	uid, err := s.podUID(pod)
	if err != nil {
		return err
	}
	if _, err := s.kubectl("delete", "pod", pod, "--wait=true", "--timeout=2m"); err != nil {
		return err
	}
	return s.waitNewPods([]string{pod}, map[string]string{pod: uid})
}

// revokeACL: with the consumer's ACLs revoked mid-stream every consumer pod
// stops with the line that names the principal and the missing right;
// granted again, new pods resume from their checkpoints, consume the
// backlog, and the stats equal the recount of the topic.
func (b *securedKafka) revokeACL() error {
	s := b.s
	adm, err := b.admin.Admin()
	if err != nil {
		return err
	}
	defer adm.Close()
	acls := secure.ServiceACLs("consumer", securedResources)
	ctx, cancel := context.WithTimeout(s.ctx, time.Minute)
	defer cancel()
	if err := secure.Revoke(ctx, adm, "User:consumer", acls...); err != nil {
		return err
	}
	pods, err := s.podNames("consumer")
	if err != nil {
		return err
	}
	for _, pod := range pods {
		line, err := s.waitLogLine(pod, deniedLine)
		if err != nil {
			return err
		}
		s.t.Logf("%s, its ACL revoked, logged:\n    %s", pod, line)
	}
	if err := secure.Grant(ctx, adm, "User:consumer", acls...); err != nil {
		return err
	}
	_, end, err := s.kafka.Offsets(s.ctx)
	if err != nil {
		return err
	}
	// New pods at once, not after the crash loop's back-off.
	uids := map[string]string{}
	for _, pod := range pods {
		if uids[pod], err = s.podUID(pod); err != nil {
			return err
		}
	}
	if _, err := s.kubectl("delete", "pod", "-l", s.selector("consumer"), "--wait=true", "--timeout=2m"); err != nil {
		return err
	}
	if err := s.waitNewPods(pods, uids); err != nil {
		return err
	}
	if err := s.waitOffsets("backlog consumed", 3*time.Minute, end, false); err != nil {
		return err
	}
	if err := s.consumerLag("the consumer's ACL granted again"); err != nil {
		return err
	}
	return s.checkStats("the consumer's ACL granted again")
}

// remove uninstalls the release and deletes the namespace (with the broker
// and the consumers' volume), so that the cluster's teardown stays quick.
func (b *securedKafka) remove() error {
	s := b.s
	if _, err := s.k.HelmOut(s.ctx, "uninstall", s.release, "--timeout", "3m"); err != nil {
		return err
	}
	_, err := s.kubectl("delete", "namespace", s.k.Namespace, "--wait=true", "--timeout=3m")
	return err
}

// TestSecuredBrokerConfig: the secured broker's server.properties sets every
// key once, listens and advertises where its Service and certificate say,
// and finds its files where its pod mounts them (no cluster needed).
func TestSecuredBrokerConfig(t *testing.T) {
	advertise := "kafka-0.kafka.ns.svc." + clusterDomain
	_, props, err := secure.Init(t.TempDir(), secure.Network{Advertise: advertise, Ports: securedPorts, FilesAt: securedFilesAt})
	if err != nil {
		t.Fatal(err)
	}
	config := map[string]string{}
	for _, line := range strings.Split(brokerProperties(props), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if _, dup := config[k]; dup || !ok {
			t.Errorf("%q: a duplicate or no key=value", line)
		}
		config[k] = v
	}
	for k, want := range map[string]string{
		"process.roles":            "broker,controller",
		"controller.quorum.voters": fmt.Sprintf("1@localhost:%d", securedPorts.Controller),
		"listeners": fmt.Sprintf("TLS://:%d,MTLS://:%d,SASL://:%d,CONTROLLER://:%d",
			securedPorts.TLS, securedPorts.MTLS, securedPorts.SASL, securedPorts.Controller),
		"advertised.listeners":           fmt.Sprintf("TLS://%[1]s:%[2]d,MTLS://%[1]s:%[3]d,SASL://%[1]s:%[4]d", advertise, securedPorts.TLS, securedPorts.MTLS, securedPorts.SASL),
		"ssl.keystore.location":          securedFilesAt + "/broker.pem",
		"ssl.truststore.location":        securedFilesAt + "/ca.crt",
		"log.dirs":                       securedDataDir,
		"allow.everyone.if.no.acl.found": "false",
	} {
		if config[k] != want {
			t.Errorf("%s=%q, want %q", k, config[k], want)
		}
	}
	manifest, err := brokerManifest("img:1")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`image: "img:1"`, "containerPort: 9096", "secretName: " + brokerSecret, "mountPath: " + securedFilesAt} {
		if !strings.Contains(manifest, want) {
			t.Errorf("the manifest lacks %q:\n%s", want, manifest)
		}
	}
}
