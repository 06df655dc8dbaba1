package secure

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weatherstream/weather/services/common/kafkaconfig"
)

// ServerName is a name the broker's certificate holds besides 127.0.0.1 and
// localhost, for tests of KAFKA_TLS_SERVER_NAME.
const ServerName = "kafka.weather.test"

// Admin is the super user that creates users and ACLs; Stranger has a
// client certificate from a CA the broker does not trust.
const (
	Admin    = "admin"
	Stranger = "stranger"
)

// Layout is what a secured broker's directory holds, written to secure.json
// for the tests to read.
type Layout struct {
	Dir        string `json:"dir"`
	TLS        string `json:"tls"`  // TLS, no client certificate: User:ANONYMOUS
	MTLS       string `json:"mtls"` // TLS with a client certificate: User:<CN>
	SASL       string `json:"sasl"` // SASL_SSL, SCRAM-SHA-512 and PLAIN: User:<name>
	CA         string `json:"ca"`
	StrangerCA string `json:"strangerCA"` // signed nothing the broker holds
	// AdminProperties are the super user's client settings for Kafka's tools.
	AdminProperties string          `json:"adminProperties"`
	Users           map[string]User `json:"users"`
}

// User is one principal: its SCRAM and PLAIN password and its certificate.
type User struct {
	Password string `json:"password"`
	Cert     string `json:"cert"`
	Key      string `json:"key"`
}

// Ports are the ports of the listeners.
type Ports struct{ TLS, MTLS, SASL, Controller int }

// Network is where a broker listens and what it advertises: loopback for
// the tests' broker, a pod's address and its Service's name in a cluster.
type Network struct {
	Bind      string // listen address, "127.0.0.1"; "" is every interface
	Advertise string // the host clients are told and the certificate holds
	Ports     Ports
	// FilesAt is where the broker finds the files written into dir (a
	// Secret's mount path in a pod); "" is dir itself.
	FilesAt string
}

// Loopback is a broker on 127.0.0.1 reading its files where they are written.
func Loopback(ports Ports) Network {
	return Network{Bind: "127.0.0.1", Advertise: "127.0.0.1", Ports: ports}
}

// Init writes the authority, the certificates and the users into dir, and
// returns the layout (secure.json) and the broker's listener and security
// properties.
func Init(dir string, n Network) (Layout, string, error) {
	at := func(port int) string { return net.JoinHostPort(n.Advertise, strconv.Itoa(port)) }
	l := Layout{Dir: dir, TLS: at(n.Ports.TLS), MTLS: at(n.Ports.MTLS), SASL: at(n.Ports.SASL), Users: map[string]User{}}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return l, "", err
	}
	ca, err := newAuthority("weather test CA")
	if err != nil {
		return l, "", err
	}
	stranger, err := newAuthority("stranger CA")
	if err != nil {
		return l, "", err
	}
	if l.CA, err = writeFile(dir, "ca.crt", ca.certPEM()); err != nil {
		return l, "", err
	}
	if l.StrangerCA, err = writeFile(dir, "stranger-ca.crt", stranger.certPEM()); err != nil {
		return l, "", err
	}
	cert, key, err := ca.issue("broker", n.Advertise, "127.0.0.1", "localhost", ServerName)
	if err != nil {
		return l, "", err
	}
	if _, err := writeFile(dir, "broker.pem", key, cert); err != nil {
		return l, "", err
	}
	for _, name := range append([]string{Admin, Stranger}, Services...) {
		signer := ca
		if name == Stranger {
			signer = stranger
		}
		cert, key, err := signer.issue(name)
		if err != nil {
			return l, "", err
		}
		u := User{Password: password()}
		if u.Cert, err = writeFile(dir, name+".crt", cert); err != nil {
			return l, "", err
		}
		if u.Key, err = writeFile(dir, name+".key", key); err != nil {
			return l, "", err
		}
		l.Users[name] = u
	}
	// The super user's settings for Kafka's own tools (kafka-acls.sh
	// --command-config): a PEM key store is one file, key and chain.
	admin := l.Users[Admin]
	adminKey, _ := os.ReadFile(admin.Key)
	adminCert, _ := os.ReadFile(admin.Cert)
	adminPEM, err := writeFile(dir, "admin.pem", adminKey, adminCert)
	if err != nil {
		return l, "", err
	}
	if l.AdminProperties, err = writeFile(dir, "admin.properties", []byte(strings.Join([]string{
		"security.protocol=SSL",
		"ssl.truststore.type=PEM", "ssl.truststore.location=" + l.CA,
		"ssl.keystore.type=PEM", "ssl.keystore.location=" + adminPEM, "",
	}, "\n"))); err != nil {
		return l, "", err
	}
	data, err := json.MarshalIndent(l, "", "  ")
	if err == nil {
		_, err = writeFile(dir, "secure.json", data)
	}
	return l, l.properties(n), err
}

func password() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// properties are the broker's listeners and security. The broker talks to
// itself (inter-broker and controller) over mutual TLS as User:broker, a
// super user like Admin; everyone else has the rights their ACLs give.
func (l Layout) properties(n Network) string {
	var plain strings.Builder
	for _, name := range Services {
		fmt.Fprintf(&plain, " user_%s=%q", name, l.Users[name].Password)
	}
	files := cmp.Or(n.FilesAt, l.Dir)
	bind := func(port int) string { return net.JoinHostPort(n.Bind, strconv.Itoa(port)) }
	return strings.Join([]string{
		"listeners=TLS://" + bind(n.Ports.TLS) + ",MTLS://" + bind(n.Ports.MTLS) + ",SASL://" + bind(n.Ports.SASL) + ",CONTROLLER://" + bind(n.Ports.Controller),
		"advertised.listeners=TLS://" + l.TLS + ",MTLS://" + l.MTLS + ",SASL://" + l.SASL,
		"listener.security.protocol.map=TLS:SSL,MTLS:SSL,SASL:SASL_SSL,CONTROLLER:SSL",
		"inter.broker.listener.name=MTLS",
		"controller.listener.names=CONTROLLER",
		"ssl.keystore.type=PEM",
		"ssl.keystore.location=" + filepath.Join(files, "broker.pem"),
		"ssl.truststore.type=PEM",
		"ssl.truststore.location=" + filepath.Join(files, "ca.crt"),
		"ssl.client.auth=none",
		"listener.name.mtls.ssl.client.auth=required",
		"listener.name.controller.ssl.client.auth=required",
		`ssl.principal.mapping.rules=RULE:^CN=([^,]+)$/$1/,DEFAULT`,
		"sasl.enabled.mechanisms=SCRAM-SHA-512,PLAIN",
		"listener.name.sasl.sasl.enabled.mechanisms=SCRAM-SHA-512,PLAIN",
		"listener.name.sasl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;",
		"listener.name.sasl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required" + plain.String() + ";",
		"authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
		"allow.everyone.if.no.acl.found=false",
		"super.users=User:broker;User:" + Admin,
	}, "\n") + "\n"
}

// Load reads the layout a broker's directory holds.
func Load(dir string) (Layout, error) {
	var l Layout
	data, err := os.ReadFile(filepath.Join(dir, "secure.json"))
	if err == nil {
		err = json.Unmarshal(data, &l)
	}
	return l, err
}

// Via is how a client connects: tls (anonymous), mtls (its certificate),
// scram (SCRAM-SHA-512 over TLS) or plain (PLAIN over TLS).
type Via string

// The listeners a client can connect through.
const (
	ViaTLS   Via = "tls"
	ViaMTLS  Via = "mtls"
	ViaSCRAM Via = "scram"
	ViaPLAIN Via = "plain"
)

// Env is the environment that connects a service as user, via a listener:
// the variables a user sets in a deployment of their own.
func (l Layout) Env(user string, via Via) []string {
	u := l.Users[user]
	env := []string{"KAFKA_TLS=true", "KAFKA_TLS_CA_FILE=" + l.CA}
	switch via {
	case ViaTLS:
		env = append(env, "KAFKA_BROKERS="+l.TLS)
	case ViaMTLS:
		env = append(env, "KAFKA_BROKERS="+l.MTLS, "KAFKA_TLS_CERT_FILE="+u.Cert, "KAFKA_TLS_KEY_FILE="+u.Key)
	case ViaSCRAM, ViaPLAIN:
		mechanism := map[Via]string{ViaSCRAM: "SCRAM-SHA-512", ViaPLAIN: "PLAIN"}[via]
		env = append(env, "KAFKA_BROKERS="+l.SASL, "KAFKA_SASL_MECHANISM="+mechanism, "KAFKA_SASL_USERNAME="+user, "KAFKA_SASL_PASSWORD="+u.Password)
	}
	return env
}

// MTLSConfig is the connection of user over mutual TLS, as the services take it.
func (l Layout) MTLSConfig(user string) kafkaconfig.Config {
	u := l.Users[user]
	return kafkaconfig.Config{
		Brokers: []string{l.MTLS}, Topic: Defaults.Topic, ConnectTimeout: time.Minute,
		TLSCAFile: l.CA, TLSCertFile: u.Cert, TLSKeyFile: u.Key,
	}
}

// AdminClient is a client of the super user, over mutual TLS.
func (l Layout) AdminClient() (*kadm.Client, error) {
	opts, err := l.MTLSConfig(Admin).Opts()
	if err != nil {
		return nil, err
	}
	client, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, err
	}
	return kadm.NewClient(client), nil
}

// Setup creates the SCRAM-SHA-512 credentials of every service; ACLs are
// the callers' (each test grants its own, on resources of its own).
func Setup(ctx context.Context, adm *kadm.Client, l Layout) error {
	upserts := make([]kadm.UpsertSCRAM, 0, len(Services))
	for _, name := range Services {
		upserts = append(upserts, kadm.UpsertSCRAM{User: name, Mechanism: kadm.ScramSha512, Iterations: 4096, Password: l.Users[name].Password})
	}
	results, err := adm.AlterUserSCRAMs(ctx, nil, upserts)
	if err != nil {
		return err
	}
	for user, r := range results {
		if r.Err != nil {
			return fmt.Errorf("SCRAM user %s: %w", user, r.Err)
		}
	}
	return nil
}
