package integration

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/weatherstream/weather/hack/kafka/secure"
	"github.com/weatherstream/weather/services/common/envconfig"
	"github.com/weatherstream/weather/services/common/kafkaadmin"
	"github.com/weatherstream/weather/services/common/kafkaconfig"
	"github.com/weatherstream/weather/services/common/snapshot"
)

// secureBroker is the secured broker of hack/kafka/kafka.sh start-secure,
// KAFKA_SECURE its directory, and a client of its super user. Without one
// the tests skip, except in CI, where .ci/run starts one.
func secureBroker(t *testing.T) (secure.Layout, *kadm.Client) {
	t.Helper()
	dir := os.Getenv("KAFKA_SECURE")
	if dir == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("KAFKA_SECURE is unset: CI must start the secured broker (hack/kafka/kafka.sh start-secure)")
		}
		t.Skip("KAFKA_SECURE unset: start a secured broker with KAFKA_SECURE=$(hack/kafka/kafka.sh start-secure), or run make test-kafka")
	}
	l, err := secure.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	adm, err := l.AdminClient()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(adm.Close)
	return l, adm
}

// secureRun is one test's resources on the secured broker: a topic, a
// transactional id and a group of its own, so its ACLs touch no other test.
type secureRun struct {
	t   *testing.T
	l   secure.Layout
	adm *kadm.Client
	res secure.Resources
	via secure.Via
}

func newSecureRun(t *testing.T, via secure.Via) *secureRun {
	l, adm := secureBroker(t)
	topic := topicName(t, "sec")
	r := &secureRun{t: t, l: l, adm: adm, via: via,
		res: secure.Resources{Topic: topic, TransactionalID: topic + "-producer", Group: topic + "-debug", MonitoringGroup: topic + "-stats"}}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		adm.DeleteTopic(ctx, topic)
		for _, svc := range secure.Services {
			secure.Revoke(ctx, adm, r.principal(svc), secure.ServiceACLs(svc, r.res)...)
		}
	})
	return r
}

// principal is who the broker sees for svc: a TLS client without a
// certificate is anonymous.
func (r *secureRun) principal(svc string) string {
	if r.via == secure.ViaTLS {
		return "User:ANONYMOUS"
	}
	return "User:" + svc
}

// grant gives each service its ACLs but those skip names.
func (r *secureRun) grant(skip func(secure.ACL) bool, services ...string) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, svc := range services {
		for _, a := range secure.ServiceACLs(svc, r.res) {
			if skip != nil && skip(a) {
				continue
			}
			if err := secure.Grant(ctx, r.adm, r.principal(svc), a); err != nil {
				r.t.Fatal(err)
			}
		}
	}
}

func (r *secureRun) revoke(svc string, a secure.ACL) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := secure.Revoke(ctx, r.adm, r.principal(svc), a); err != nil {
		r.t.Fatal(err)
	}
}

// start runs svc as its own principal on the run's resources.
func (r *secureRun) start(svc string, env []string, args ...string) *proc {
	r.t.Helper()
	return r.startAs(svc, svc, env, args...)
}

func (r *secureRun) startAs(svc, user string, env []string, args ...string) *proc {
	r.t.Helper()
	base := append(r.l.Env(user, r.via), "TOPIC="+r.res.Topic, "TRANSACTIONAL_ID="+r.res.TransactionalID, "GROUP="+r.res.Group, "MONITORING_GROUP="+r.res.MonitoringGroup)
	return start(r.t, svc, append(base, env...), args...)
}

// ends are the topic's settled end offsets, read as the super user.
func (r *secureRun) ends() map[int32]int64 { return settledEndOffsets(r.t, r.adm, r.res.Topic) }

// checkFiles checks that every partition file holds the stats of the
// generator's first count reports and the partition's end offset.
func (r *secureRun) checkFiles(dir string, count int64) {
	r.t.Helper()
	ends, want := r.ends(), fromGenerator(count)
	waitFilesAt(r.t, dir, ends, allPartitions, 2*time.Minute)
	for p := range int32(4) {
		f, err := readFile(r.t, partitionFile(dir, p))
		if err != nil {
			r.t.Fatal(err)
		}
		if f.Offset != ends[p] {
			r.t.Errorf("partition %d: offset %d, want the end offset %d", p, f.Offset, ends[p])
		}
		equalStations(r.t, fmt.Sprintf("partition %d", p), f, want[p])
	}
}

// The whole pipeline on a broker that requires TLS, a client certificate,
// or a SASL password: each service its own principal with exactly the ACLs
// docs/security.md's table gives (anonymous TLS clients share one), the
// files equal the generator's stats and the debug consumer prints every
// record, as on plaintext.
func TestPipelineOverTLSMutualTLSAndSASLEqualsTheGenerator(t *testing.T) {
	const count = 20_000
	for _, via := range []secure.Via{secure.ViaTLS, secure.ViaMTLS, secure.ViaSCRAM, secure.ViaPLAIN} {
		t.Run(string(via), func(t *testing.T) {
			r, dir := newSecureRun(t, via), t.TempDir()
			r.grant(nil, "producer", "consumer", "debug")
			env := []string{"DATA_DIR=" + dir}
			consumers := []*proc{r.start("consumer", env, "0,2"), r.start("consumer", env, "1,3")}
			produce := func(n int64) {
				t.Helper()
				producer := r.start("producer", []string{"INTERVAL=0", fmt.Sprintf("COUNT=%d", n), "TXN_MAX_RECORDS=2000"})
				if code := producer.wait(2 * time.Minute); code != 0 {
					t.Fatalf("producer exited %d", code)
				}
			}
			produce(count / 2) // then the producer resumes from its own stream
			debug := r.start("debug", []string{"OUTPUT=json"})
			debug.waitForLog("partitions assigned", time.Minute)
			// A day at a time until it prints: its start offsets have
			// resolved (to the end as it found it), whenever that is.
			for n, deadline := int64(count/2), time.Now().Add(time.Minute); strings.Count(debug.stdout.String(), "\n") == 0; {
				if time.Now().After(deadline) {
					t.Fatal("the debug consumer printed nothing within a minute")
				}
				n += 10
				produce(n)
				for wait := time.Now().Add(200 * time.Millisecond); time.Now().Before(wait) && strings.Count(debug.stdout.String(), "\n") == 0; {
					time.Sleep(10 * time.Millisecond)
				}
			}
			produce(count)
			r.checkFiles(dir, count)
			for deadline := time.Now().Add(time.Minute); !printedUpTo(t, debug, count); time.Sleep(20 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("the debug consumer did not print up to report %d within a minute", count-1)
				}
			}
			// Each partition from where its start offset resolved, none of
			// the history before it, nothing missing after.
			checkFromStart(t, indexesPrinted(t, debug.stdout.String()), count/2, count)
			for _, p := range append(consumers, debug) {
				p.terminate()
				if code := p.wait(30 * time.Second); code != 0 {
					t.Errorf("%s exited %d after SIGTERM, want 0", p.name, code)
				}
			}
		})
	}
}

// Least privilege, proved both ways: with every ACL of docs/security.md's
// table the pipeline works (the test above), and without any one of them the service
// stops at once with one line naming its principal and the denial, exit
// non-zero; granted it, it goes on, and nothing was lost or counted twice.
func TestEachServiceNeedsEveryACLItIsGiven(t *testing.T) {
	const count = 1000
	for _, svc := range []string{"producer", "consumer", "debug", "dashboard"} {
		for i, named := range secure.ServiceACLs(svc, secure.Defaults) {
			t.Run(svc+" without "+named.String(), func(t *testing.T) {
				r, dir := newSecureRun(t, secure.ViaMTLS), t.TempDir()
				missing := secure.ServiceACLs(svc, r.res)[i]
				switch {
				case svc == "producer" && missing.Operation == kadm.OpRead:
					r.grant(nil, "producer") // Read is for resuming: a stream of its own first
					r.produce(count / 2)
					r.revoke("producer", missing)
				case svc == "consumer" && missing.Name == snapshot.Topic(r.res.Topic) && missing.Operation == kadm.OpRead:
					// Read is for restoring: snapshots of its own first (a
					// consumer on another disk), then its disk lost.
					r.produceAs(secure.Admin, count)
					r.grant(nil, svc)
					r.countAs(svc, t.TempDir(), count)
					r.revoke(svc, missing)
				case svc == "producer": // from an empty cluster
					r.grant(func(a secure.ACL) bool { return a == missing }, svc)
				default:
					r.produceAs(secure.Admin, count)
					r.grant(func(a secure.ACL) bool { return a == missing }, svc)
				}
				var args []string
				if svc == "consumer" {
					args = []string{"0,1,2,3"}
				}
				p := r.start(svc, []string{"DATA_DIR=" + dir, fmt.Sprintf("COUNT=%d", count), "INTERVAL=0"}, args...)
				code := p.wait(time.Minute)
				last := lastLine(p.stderr.String())
				if want := "denied the client certificate CN=" + svc; code == 0 || !strings.Contains(last, want) || !strings.Contains(last, "lacks an ACL") {
					t.Fatalf("exit %d, last line %q: want non-zero and %q", code, last, want)
				}
				t.Logf("exit %d: %s", code, last)

				// Create is only for the first start: with a topic an operator
				// made, the producer goes on without it.
				if svc == "producer" && missing.Operation == kadm.OpCreate {
					ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
					defer cancel()
					if _, err := r.adm.CreateTopic(ctx, 4, 1, nil, r.res.Topic); err != nil {
						t.Fatal(err)
					}
					r.produce(count / 2)
				}
				// Granted it, the producer and the consumer go on from where
				// they stopped, and the files are the generator's stats.
				r.grant(func(a secure.ACL) bool { return a != missing }, svc)
				switch svc {
				case "producer":
					r.produce(count)
					r.countAs(secure.Admin, dir, count)
				case "consumer":
					r.countAs("consumer", dir, count)
				}
			})
		}
	}
}

// The controller's one use of Kafka, counting the topic's partitions, as
// User:controller: denied without Describe (the line its reconcile error and
// event carry), 4 with it.
func TestControllerCountsPartitionsWithDescribeAlone(t *testing.T) {
	r := newSecureRun(t, secure.ViaMTLS)
	r.produceAs(secure.Admin, 10)
	var cfg kafkaconfig.Config
	for _, kv := range append(r.l.Env("controller", r.via), "TOPIC="+r.res.Topic) {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	cfg, err := envconfig.Parse[kafkaconfig.Config]()
	if err != nil {
		t.Fatal(err)
	}
	opts, err := cfg.Opts()
	if err != nil {
		t.Fatal(err)
	}
	adm := kadm.NewClient(newClientAt(t, cfg.Brokers, opts...))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err = kafkaadmin.Lookup(ctx, adm, r.res.Topic)
	if explained := cfg.Explain(err); !kafkaconfig.Denied(err) || !strings.Contains(explained.Error(), "denied the client certificate CN=controller") {
		t.Fatalf("without Describe: %v, want the denial of User:controller", explained)
	}
	r.grant(nil, "controller")
	// A new client: kgo answers a metadata request from its cache for
	// MetadataMinAge, and the cache holds the denial.
	adm = kadm.NewClient(newClientAt(t, cfg.Brokers, opts...))
	topic, err := kafkaadmin.Lookup(ctx, adm, r.res.Topic)
	if err != nil || topic.Partitions != 4 {
		t.Fatalf("with Describe: %d partitions, %v; want 4", topic.Partitions, err)
	}
}

// lastLine is the last non-empty line of a service's stderr: its error.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// produce runs the producer as User:producer until the stream's first
// count reports are in the topic; produceAs as another user.
func (r *secureRun) produce(count int64) { r.t.Helper(); r.produceAs("producer", count) }

func (r *secureRun) produceAs(user string, count int64) {
	r.t.Helper()
	p := r.startAs("producer", user, []string{"INTERVAL=0", fmt.Sprintf("COUNT=%d", count)})
	if code := p.wait(time.Minute); code != 0 {
		r.t.Fatalf("producer as %s exited %d", user, code)
	}
}

// countAs runs a stats consumer of every partition as user until its files
// in dir are at the log's end, and checks them against the generator.
func (r *secureRun) countAs(user, dir string, count int64) {
	r.t.Helper()
	c := r.startAs("consumer", user, []string{"DATA_DIR=" + dir}, "0,1,2,3")
	// Up before it is stopped: the files may be complete already (from an
	// earlier run), and a SIGTERM before its handler is set kills it.
	c.waitForLog("msg=consuming", time.Minute)
	r.checkFiles(dir, count)
	c.terminate()
	if code := c.wait(30 * time.Second); code != 0 {
		r.t.Errorf("consumer as %s exited %d after SIGTERM", user, code)
	}
}

// A connection the broker refuses, or one we refuse, is one line naming the
// setting to look at, at once (KAFKA_CONNECT_TIMEOUT is 20s here: no
// waiting it out), exit non-zero; the right settings connect. TLS and
// plaintext mixed up look like a broker hanging up, which may pass: those
// are retried, and franz-go's guess ends the line.
func TestRefusedConnectionsAreOneClearLineAtOnce(t *testing.T) {
	l, _ := secureBroker(t)
	stranger := l.Users[secure.Stranger]
	passwordFile := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(passwordFile, []byte(l.Users["producer"].Password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		svc  string // "": the producer
		via  secure.Via
		drop []string // variables of the right settings left out
		env  []string
		want string // "" is a working connection
	}{
		{"the right settings, server name set", "", secure.ViaTLS, nil, []string{"KAFKA_TLS_SERVER_NAME=" + secure.ServerName}, ""},
		{"the password from a file", "", secure.ViaSCRAM, []string{"KAFKA_SASL_PASSWORD"}, []string{"KAFKA_SASL_PASSWORD_FILE=" + passwordFile}, ""},
		{"consumer: wrong SCRAM password", "consumer", secure.ViaSCRAM, nil, []string{"KAFKA_SASL_PASSWORD=wrong"}, "refused User:consumer (SCRAM-SHA-512): SASL_AUTHENTICATION_FAILED"},
		{"debug: wrong SCRAM password", "debug", secure.ViaSCRAM, nil, []string{"KAFKA_SASL_PASSWORD=wrong"}, "refused User:debug (SCRAM-SHA-512): SASL_AUTHENTICATION_FAILED"},
		{"dashboard: wrong SCRAM password", "dashboard", secure.ViaSCRAM, nil, []string{"KAFKA_SASL_PASSWORD=wrong"}, "refused User:dashboard (SCRAM-SHA-512): follow the snapshot topic "}, // then which topic, then SASL_AUTHENTICATION_FAILED
		{"wrong SCRAM password", "", secure.ViaSCRAM, nil, []string{"KAFKA_SASL_PASSWORD=wrong"}, "refused User:producer (SCRAM-SHA-512): SASL_AUTHENTICATION_FAILED"},
		{"wrong PLAIN password", "", secure.ViaPLAIN, nil, []string{"KAFKA_SASL_PASSWORD=wrong"}, "refused User:producer (PLAIN): SASL_AUTHENTICATION_FAILED"},
		{"unknown SCRAM user", "", secure.ViaSCRAM, nil, []string{"KAFKA_SASL_USERNAME=nobody"}, "refused User:nobody (SCRAM-SHA-512)"},
		{"a CA that did not sign the broker", "", secure.ViaTLS, nil, []string{"KAFKA_TLS_CA_FILE=" + l.StrangerCA}, "its certificate is not signed by a CA we trust (KAFKA_TLS_CA_FILE " + l.StrangerCA},
		{"the system's roots", "", secure.ViaTLS, []string{"KAFKA_TLS_CA_FILE"}, nil, "not signed by a CA we trust (the system's roots; set KAFKA_TLS_CA_FILE"},
		{"a name the certificate does not hold", "", secure.ViaTLS, nil, []string{"KAFKA_TLS_SERVER_NAME=wrong.example"}, `its certificate is not valid for "wrong.example" (KAFKA_TLS_SERVER_NAME`},
		{"no client certificate where one is required", "", secure.ViaMTLS, []string{"KAFKA_TLS_CERT_FILE", "KAFKA_TLS_KEY_FILE"}, nil, "rejected the TLS handshake"},
		{"TLS to a plaintext port", "", secure.ViaTLS, nil, []string{"KAFKA_BROKERS=" + strings.Join(brokers, ","), "KAFKA_CONNECT_TIMEOUT=2s"}, "unreachable after 2s: broker closed the connection immediately after a dial, which often happens if the client is using TLS"},
		{"plaintext to a TLS port", "", secure.ViaTLS, []string{"KAFKA_TLS", "KAFKA_TLS_CA_FILE"}, []string{"KAFKA_CONNECT_TIMEOUT=2s"}, "unreachable after 2s: invalid large response size"},
		{"a client certificate of another CA", "", secure.ViaMTLS, nil, []string{"KAFKA_TLS_CERT_FILE=" + stranger.Cert, "KAFKA_TLS_KEY_FILE=" + stranger.Key}, "rejected the TLS handshake"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name == "TLS to a plaintext port" && os.Getenv("KAFKA_BROKERS") == "" {
				t.Skip("needs the real plaintext broker of KAFKA_BROKERS: kfake never answers a TLS hello")
			}
			svc := cmp.Or(tt.svc, "producer")
			r := newSecureRun(t, tt.via)
			r.grant(nil, svc)
			env := without(append(l.Env(svc, tt.via), "TOPIC="+r.res.Topic, "TRANSACTIONAL_ID="+r.res.TransactionalID, "GROUP="+r.res.Group, "MONITORING_GROUP="+r.res.MonitoringGroup), tt.drop...)
			var args []string
			if svc == "consumer" {
				args = []string{"0"}
			}
			began := time.Now()
			p := start(t, svc, append(env, append(tt.env, "COUNT=10", "INTERVAL=0", "DATA_DIR="+t.TempDir())...), args...)
			code, last := p.wait(time.Minute), lastLine(p.stderr.String())
			switch {
			case tt.want == "" && code != 0:
				t.Fatalf("exit %d: %s", code, last)
			case tt.want == "":
			case code == 0 || !strings.Contains(last, tt.want) || !strings.HasPrefix(last, svc+": kafka at "):
				t.Fatalf("exit %d, last line %q: want non-zero and %q", code, last, tt.want)
			case time.Since(began) > 10*time.Second:
				t.Errorf("took %s: a refusal is not a timeout", time.Since(began).Round(time.Millisecond))
			default:
				t.Logf("exit %d after %s: %s", code, time.Since(began).Round(time.Millisecond), last)
			}
		})
	}
}

// without is env less the variables named.
func without(env []string, names ...string) []string {
	var kept []string
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(names, name) {
			kept = append(kept, kv)
		}
	}
	return kept
}

// An ACL revoked while the pipeline runs stops the service that needs it,
// with the denial; the files stay loadable, and once the right is back the
// services go on from where they stopped: the files end equal to the
// generator's stats, every report counted once.
func TestAnACLRevokedMidStreamStopsTheServiceAndLosesNothing(t *testing.T) {
	r, dir := newSecureRun(t, secure.ViaSCRAM), t.TempDir()
	r.grant(nil, "producer", "consumer")
	// No COUNT: the producer runs until it is denied, however long the
	// consumer's denial takes (with a COUNT it could finish first).
	producer := r.start("producer", []string{"INTERVAL=2ms", "TXN_MAX_RECORDS=200"})
	consumer := r.start("consumer", []string{"DATA_DIR=" + dir}, "0,1,2,3")
	for deadline := time.Now().Add(time.Minute); progress(t, dir) < 500; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the files never reached 500 reports")
		}
	}

	for _, stop := range []struct {
		svc string
		p   *proc
		acl secure.ACL
	}{
		{"consumer", consumer, secure.ServiceACLs("consumer", r.res)[0]},
		{"producer", producer, secure.ServiceACLs("producer", r.res)[1]}, // Write on the topic
	} {
		r.revoke(stop.svc, stop.acl)
		code, last := stop.p.wait(time.Minute), lastLine(stop.p.stderr.String())
		if code == 0 || !strings.Contains(last, "denied User:"+stop.svc) {
			t.Fatalf("%s without %s: exit %d, %q; want the denial", stop.svc, stop.acl, code, last)
		}
		t.Logf("%s without %s: exit %d: %s", stop.svc, stop.acl, code, last)
	}
	for p := range int32(4) {
		if _, err := readFile(t, partitionFile(dir, p)); err != nil {
			t.Fatalf("partition %d after the denial: %v", p, err)
		}
	}
	// Then, granted again, it continues its stream from what it committed.
	count := logInt(t, producer.stderr.String(), "stopped", "next_index") + 1000
	r.grant(nil, "producer", "consumer")
	r.produce(count)
	r.countAs("consumer", dir, count)
}

// docs/security.md's kafka-acls.sh commands, run with Kafka's own tool on
// the secured broker (the run's names for the topic, transactional id and
// group), are all the pipeline needs: over SCRAM, the files equal the
// generator's stats.
func TestDocumentedACLCommandsAreAllThePipelineNeeds(t *testing.T) {
	const count = 5000
	r, dir := newSecureRun(t, secure.ViaSCRAM), t.TempDir()
	// The defaults in the page's lines, as this run names them.
	names := map[string]string{}
	for _, pair := range [][2]string{
		{secure.Defaults.Topic, r.res.Topic}, {snapshot.Topic(secure.Defaults.Topic), snapshot.Topic(r.res.Topic)},
		{secure.Defaults.TransactionalID, r.res.TransactionalID}, {secure.Defaults.Group, r.res.Group}, {secure.Defaults.MonitoringGroup, r.res.MonitoringGroup},
	} {
		names[pair[0]] = pair[1]
	}
	for _, line := range strings.Split(strings.TrimSpace(secure.Commands(secure.Defaults)), "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		args := strings.Fields(line)[1:] // kafka-acls.sh is kafka.sh tool's AclCommand
		for i, a := range args {
			switch {
			case a == "$BOOTSTRAP":
				args[i] = r.l.MTLS
			case a == "admin.properties":
				args[i] = r.l.AdminProperties
			case i > 0 && strings.HasPrefix(args[i-1], "--") && names[a] != "":
				args[i] = names[a]
			}
		}
		tool := exec.Command(filepath.Join(repoRoot(t), "hack/kafka/kafka.sh"), append([]string{"tool", "org.apache.kafka.tools.AclCommand"}, args...)...)
		if out, err := tool.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", line, err, out)
		}
	}
	consumer := r.start("consumer", []string{"DATA_DIR=" + dir}, "0,1,2,3")
	r.produce(count)
	r.checkFiles(dir, count)
	consumer.terminate()
	if code := consumer.wait(30 * time.Second); code != 0 {
		t.Errorf("consumer exited %d after SIGTERM", code)
	}
}
