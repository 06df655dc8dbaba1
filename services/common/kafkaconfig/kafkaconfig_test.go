package kafkaconfig

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

func TestValidate(t *testing.T) {
	good := Config{Brokers: []string{"127.0.0.1:9092"}, Topic: "temperatures", ConnectTimeout: 30 * time.Second}
	dir := t.TempDir()
	cert, key := writeKeyPair(t, dir, "a")
	_, otherKey := writeKeyPair(t, dir, "b")
	password, empty := writeFile(t, dir, "password", "secret\n"), writeFile(t, dir, "empty", "\n")
	tests := []struct {
		name    string
		change  func(*Config)
		wantErr string
	}{
		{"good", func(*Config) {}, ""},
		{"several brokers", func(c *Config) { c.Brokers = []string{"a:1", "b:2"} }, ""},
		{"no brokers", func(c *Config) { c.Brokers = nil }, "KAFKA_BROKERS is empty"},
		{"no port", func(c *Config) { c.Brokers = []string{"kafka"} }, `KAFKA_BROKERS "kafka"`},
		{"an empty entry", func(c *Config) { c.Brokers = []string{"a:1", ""} }, `KAFKA_BROKERS "a:1,": entry ""`},
		{"port not a number", func(c *Config) { c.Brokers = []string{"host:notaport"} }, `KAFKA_BROKERS "host:notaport": want [host]:port, the port a number from 1 to 65535`},
		{"port 0", func(c *Config) { c.Brokers = []string{"host:0"} }, `KAFKA_BROKERS "host:0": want [host]:port, the port a number from 1 to 65535`},
		{"port too large", func(c *Config) { c.Brokers = []string{"host:65536"} }, `KAFKA_BROKERS "host:65536"`},
		{"a bad entry of several", func(c *Config) { c.Brokers = []string{"a:1", "b:x", "c:3"} }, `KAFKA_BROKERS "a:1,b:x,c:3": entry "b:x": want [host]:port`},
		{"highest port, IPv6", func(c *Config) { c.Brokers = []string{"[::1]:65535"} }, ""},
		{"topic with a slash", func(c *Config) { c.Topic = "a/b" }, `TOPIC "a/b"`},
		{"topic too long", func(c *Config) { c.Topic = strings.Repeat("t", 250) }, "TOPIC"},
		{"topic dot", func(c *Config) { c.Topic = "." }, "TOPIC"},
		{"connect timeout", func(c *Config) { c.ConnectTimeout = 0 }, "KAFKA_CONNECT_TIMEOUT is 0s"},
		{"sasl", func(c *Config) { c.SASLMechanism, c.SASLUser, c.SASLPassword = "SCRAM-SHA-512", "u", "p" }, ""},
		{"sasl lower case", func(c *Config) { c.SASLMechanism, c.SASLUser, c.SASLPassword = "plain", "u", "p" }, ""},
		{"sasl without user", func(c *Config) { c.SASLMechanism = "PLAIN" }, "KAFKA_SASL_USERNAME is empty"},
		{"sasl without password", func(c *Config) { c.SASLMechanism, c.SASLUser = "PLAIN", "u" }, "KAFKA_SASL_PASSWORD or KAFKA_SASL_PASSWORD_FILE is required"},
		{"sasl password file", func(c *Config) { c.SASLMechanism, c.SASLUser, c.SASLPasswordFile = "PLAIN", "u", password }, ""},
		{"sasl empty password file", func(c *Config) { c.SASLMechanism, c.SASLUser, c.SASLPasswordFile = "PLAIN", "u", empty }, "empty password"},
		{"sasl missing password file", func(c *Config) { c.SASLMechanism, c.SASLUser, c.SASLPasswordFile = "PLAIN", "u", "/nonexistent" }, "KAFKA_SASL_PASSWORD_FILE: open /nonexistent"},
		{"sasl both passwords", func(c *Config) {
			c.SASLMechanism, c.SASLUser, c.SASLPassword, c.SASLPasswordFile = "PLAIN", "u", "p", password
		}, "KAFKA_SASL_PASSWORD and KAFKA_SASL_PASSWORD_FILE are both set"},
		{"sasl user without mechanism", func(c *Config) { c.SASLUser = "u" }, "KAFKA_SASL_MECHANISM is empty although"},
		{"client certificate", func(c *Config) { c.TLSCertFile, c.TLSKeyFile = cert, key }, ""},
		{"certificate without key", func(c *Config) { c.TLSCertFile = cert }, "KAFKA_TLS_KEY_FILE is empty"},
		{"key without certificate", func(c *Config) { c.TLSKeyFile = key }, "KAFKA_TLS_CERT_FILE is empty"},
		{"key of another certificate", func(c *Config) { c.TLSCertFile, c.TLSKeyFile = cert, otherKey }, "private key does not match public key"},
		{"CA file without PEM", func(c *Config) { c.TLSCAFile = password }, "holds no PEM certificate"},
		{"missing CA file", func(c *Config) { c.TLSCAFile = "/nonexistent/ca.pem" }, "KAFKA_TLS_CA_FILE: open /nonexistent/ca.pem"},
		{"sasl unknown", func(c *Config) { c.SASLMechanism = "MAGIC" }, `KAFKA_SASL_MECHANISM "MAGIC"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good
			tt.change(&c)
			err := c.Validate()
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("Validate = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

// A file setting that names something other than a small regular file is
// a setting's error naming the variable, at once: /dev/zero would grow the
// process until it is killed, a FIFO would block the start for ever.
func TestValidateRefusesFilesThatAreNotSmallRegularFiles(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeKeyPair(t, dir, "a")
	password := writeFile(t, dir, "password", "secret\n")
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	oversized := func(limit int64) string {
		path := filepath.Join(dir, fmt.Sprintf("oversized-%d", limit))
		if err := os.WriteFile(path, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(path, limit+1); err != nil { // sparse: no disk used
			t.Fatal(err)
		}
		return path
	}
	// Each file setting in a configuration that is otherwise good.
	settings := []struct {
		key   string
		limit int64
		set   func(c *Config, path string)
	}{
		{"KAFKA_SASL_PASSWORD_FILE", maxPasswordFile, func(c *Config, path string) {
			c.SASLMechanism, c.SASLUser, c.SASLPasswordFile = "SCRAM-SHA-512", "u", path
		}},
		{"KAFKA_TLS_CA_FILE", maxPEMFile, func(c *Config, path string) { c.TLSCAFile = path }},
		{"KAFKA_TLS_CERT_FILE", maxPEMFile, func(c *Config, path string) { c.TLSCertFile, c.TLSKeyFile = path, key }},
		{"KAFKA_TLS_KEY_FILE", maxPEMFile, func(c *Config, path string) { c.TLSCertFile, c.TLSKeyFile = cert, path }},
	}
	files := []struct {
		name string
		path func(limit int64) string
		says string
	}{
		{"endless device", func(int64) string { return "/dev/zero" }, "not a regular file (a device)"},
		{"FIFO", func(int64) string { return fifo }, "not a regular file (a FIFO)"},
		{"directory", func(int64) string { return dir }, "not a regular file (a directory)"},
		{"oversized", oversized, "larger than allowed"},
	}
	for _, s := range settings {
		for _, f := range files {
			t.Run(s.key+"/"+f.name, func(t *testing.T) {
				c := Config{Brokers: []string{"127.0.0.1:9092"}, Topic: "temperatures", ConnectTimeout: time.Second}
				path := f.path(s.limit)
				s.set(&c, path)
				err := promptly(t, c.Validate)
				if want := s.key + ": "; err == nil || !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), f.says) || !strings.Contains(err.Error(), path) {
					t.Errorf("Validate = %v, want %q…%q naming %s", err, want, f.says, path)
				}
			})
		}
	}
	// The same files within their limits are read.
	good := Config{Brokers: []string{"127.0.0.1:9092"}, Topic: "temperatures", ConnectTimeout: time.Second,
		TLSCAFile: cert, TLSCertFile: cert, TLSKeyFile: key, SASLMechanism: "PLAIN", SASLUser: "u", SASLPasswordFile: password}
	if err := good.Validate(); err != nil {
		t.Errorf("Validate of good files = %v", err)
	}
	// Principal reads the certificate too, for messages: a FIFO there does
	// not block it either.
	if got := promptlyString(t, Config{TLSCertFile: fifo, TLSKeyFile: key}.Principal); got != "the client certificate of KAFKA_TLS_CERT_FILE" {
		t.Errorf("Principal with a FIFO as the certificate = %q", got)
	}
}

// promptly returns f's error, failing the test if f takes more than 10s (a
// read that blocks).
func promptly(t *testing.T, f func() error) error {
	t.Helper()
	var err error
	promptlyString(t, func() string { err = f(); return "" })
	return err
}

func promptlyString(t *testing.T, f func() string) string {
	t.Helper()
	done := make(chan string, 1)
	go func() { done <- f() }()
	select {
	case s := <-done:
		return s
	case <-time.After(10 * time.Second):
		t.Fatal("blocked for 10s")
		return ""
	}
}

func TestPasswordFileLosesItsTrailingNewlineOnly(t *testing.T) {
	for _, tt := range []struct{ file, want string }{
		{"secret\n", "secret"}, {"secret\r\n", "secret"}, {"secret", "secret"}, {" secret \n", " secret "},
	} {
		c := Config{SASLMechanism: "PLAIN", SASLUser: "u", SASLPasswordFile: writeFile(t, t.TempDir(), "pw", tt.file)}
		m, err := c.saslMechanism()
		if err != nil {
			t.Fatal(err)
		}
		_, msg, err := m.Authenticate(context.Background(), "broker:9092")
		if err != nil {
			t.Fatal(err)
		}
		if want := "\x00u\x00" + tt.want; string(msg) != want {
			t.Errorf("file %q: PLAIN sends %q, want %q", tt.file, msg, want)
		}
	}
}

func TestExplainNamesTheSettingAndLeavesOtherErrorsAlone(t *testing.T) {
	c := Config{Brokers: []string{"k:9093"}, SASLMechanism: "SCRAM-SHA-512", SASLUser: "producer"}
	other := errors.New("connection refused")
	for _, tt := range []struct {
		name string
		err  error
		want string // "": returned unchanged
	}{
		{"other", other, ""},
		{"retriable", fmt.Errorf("fetch: %w", kerr.NotLeaderForPartition), ""},
		{"denied topic", fmt.Errorf("create topic t: %w", kerr.TopicAuthorizationFailed), "kafka at k:9093 denied User:producer: create topic t: TOPIC_AUTHORIZATION_FAILED"},
		{"denied group", kerr.GroupAuthorizationFailed, "denied User:producer"},
		{"denied transactional id", kerr.TransactionalIDAuthorizationFailed, "lacks an ACL"},
		{"wrong password", kerr.SaslAuthenticationFailed, "refused User:producer (SCRAM-SHA-512)"},
		{"mechanism", kerr.UnsupportedSaslMechanism, "does not take KAFKA_SASL_MECHANISM SCRAM-SHA-512"},
		{"unknown CA", &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}, "not signed by a CA we trust (the system's roots"},
		{"host name", fmt.Errorf("dial: %w", x509.HostnameError{Host: "k", Certificate: &x509.Certificate{}}), `not valid for "k"`},
		{"not TLS", tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}, "does not speak TLS"},
		{"client certificate", &net.OpError{Op: "remote error", Err: errors.New("tls: bad certificate")}, "rejected the TLS handshake"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := c.Explain(tt.err)
			switch {
			case tt.want == "" && (got.Error() != tt.err.Error() || Permanent(tt.err)):
				t.Errorf("Explain = %v, want it unchanged", got)
			case tt.want == "":
			case !strings.Contains(got.Error(), tt.want) || !errors.Is(got, tt.err):
				t.Errorf("Explain = %v, want %q, wrapping the error", got, tt.want)
			case c.Explain(got).Error() != got.Error() || !Permanent(tt.err):
				t.Errorf("Explain twice = %v; Permanent = %v", c.Explain(got), Permanent(tt.err))
			}
		})
	}
	if c.Explain(nil) != nil || Permanent(nil) || Permanent(other) {
		t.Error("nil or a retriable error is not a refusal")
	}
}

func TestPrincipalIsWhoTheBrokerSees(t *testing.T) {
	cert, key := writeKeyPair(t, t.TempDir(), "consumer")
	for _, tt := range []struct {
		c    Config
		want string
	}{
		{Config{}, "User:ANONYMOUS"},
		{Config{SASLMechanism: "PLAIN", SASLUser: "debug"}, "User:debug"},
		{Config{TLSCertFile: cert, TLSKeyFile: key}, "the client certificate CN=consumer"},
	} {
		if got := tt.c.Principal(); got != tt.want {
			t.Errorf("%+v: Principal = %q, want %q", tt.c, got, tt.want)
		}
	}
}

// writeKeyPair writes a self-signed certificate for CN=cn and its key.
func writeKeyPair(t *testing.T, dir, cn string) (cert, key string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn}, NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	cert = writeFile(t, dir, cn+".crt", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	key = writeFile(t, dir, cn+".key", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})))
	return cert, key
}

func writeFile(t *testing.T, dir, name, data string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestOptsReadsTheCAFile(t *testing.T) {
	c := Config{Brokers: []string{"a:1"}, Topic: "t", ConnectTimeout: time.Second, TLSCAFile: "/nonexistent/ca.pem"}
	if _, err := c.Opts(); err == nil || !strings.Contains(err.Error(), "KAFKA_TLS_CA_FILE") {
		t.Errorf("Opts = %v, want an error naming KAFKA_TLS_CA_FILE", err)
	}
}

// UNKNOWN_SERVER_ERROR names nothing: Explain says where the reason is (the
// broker's log), and it is not a refusal (a full disk can be freed).
func TestExplainPointsAnUnknownServerErrorAtTheBrokersLog(t *testing.T) {
	c := Config{Brokers: []string{"127.0.0.1:9092"}}
	err := fmt.Errorf("produce reports 10000 to 19999 (transaction aborted): %w", kerr.UnknownServerError)
	got := c.Explain(err)
	if !errors.Is(got, kerr.UnknownServerError) || !strings.Contains(got.Error(), "the broker at 127.0.0.1:9092 failed to handle the request: its log says why, e.g. a full disk") {
		t.Errorf("Explain = %v", got)
	}
	if Permanent(err) {
		t.Error("UNKNOWN_SERVER_ERROR is taken as a refusal that retrying cannot change")
	}
}
