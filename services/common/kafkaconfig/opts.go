package kafkaconfig

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/weatherstream/weather/services/common/regularfile"
)

// Opts returns the client options for the connection settings.
func (c Config) Opts() ([]kgo.Opt, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	opts := []kgo.Opt{kgo.SeedBrokers(c.Brokers...)}
	cfg, err := c.TLSConfig()
	if err != nil {
		return nil, err
	}
	if cfg != nil {
		opts = append(opts, kgo.DialTLSConfig(cfg))
	}
	mechanism, err := c.saslMechanism()
	if err != nil {
		return nil, err
	}
	if mechanism != nil {
		opts = append(opts, kgo.SASL(mechanism))
	}
	return opts, nil
}

// TLSConfig is the TLS of the connection, nil without TLS: Opts' dialer,
// or one of the caller's own. franz-go sets ServerName to each broker's
// host unless it is set here.
func (c Config) TLSConfig() (*tls.Config, error) {
	if !c.useTLS() {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.TLSServerName}
	if c.TLSCAFile != "" {
		pem, err := readFile("KAFKA_TLS_CA_FILE", c.TLSCAFile, maxPEMFile)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("KAFKA_TLS_CA_FILE %s holds no PEM certificate", c.TLSCAFile)
		}
	}
	switch {
	case c.TLSCertFile == "" && c.TLSKeyFile == "":
	case c.TLSCertFile == "":
		return nil, fmt.Errorf("KAFKA_TLS_CERT_FILE is empty although KAFKA_TLS_KEY_FILE is %s: mutual TLS needs both", c.TLSKeyFile)
	case c.TLSKeyFile == "":
		return nil, fmt.Errorf("KAFKA_TLS_KEY_FILE is empty although KAFKA_TLS_CERT_FILE is %s: mutual TLS needs both", c.TLSCertFile)
	default:
		cert, err := readFile("KAFKA_TLS_CERT_FILE", c.TLSCertFile, maxPEMFile)
		if err != nil {
			return nil, err
		}
		key, err := readFile("KAFKA_TLS_KEY_FILE", c.TLSKeyFile, maxPEMFile)
		if err != nil {
			return nil, err
		}
		pair, err := tls.X509KeyPair(cert, key)
		if err != nil {
			return nil, fmt.Errorf("KAFKA_TLS_CERT_FILE %s and KAFKA_TLS_KEY_FILE %s: %w", c.TLSCertFile, c.TLSKeyFile, err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}

// The largest files read: a password (or a token used as one), and a PEM
// file: a CA bundle of a few hundred certificates (a system's whole bundle is
// about 200 KiB), or a certificate chain and its key.
const (
	maxPasswordFile = 64 << 10
	maxPEMFile      = 1 << 20
)

// readFile reads the file the variable key names: a regular file of at most
// limit bytes. A FIFO, a device (/dev/zero) or a directory is an error at
// once, never a read that blocks or grows the process until it is killed.
func readFile(key, path string, limit int64) ([]byte, error) {
	data, err := regularfile.Read(path, limit)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	return data, nil
}

// certSubject is the subject of the first certificate in a PEM file.
func certSubject(file string) (string, error) {
	data, err := readFile("KAFKA_TLS_CERT_FILE", file, maxPEMFile)
	if err != nil {
		return "", err
	}
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return "", fmt.Errorf("%s holds no certificate", file)
		}
		if block.Type == "CERTIFICATE" {
			cert, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return "", err
			}
			return cert.Subject.String(), nil
		}
	}
}

// saslMechanism is the SASL of the connection, nil without SASL.
func (c Config) saslMechanism() (sasl.Mechanism, error) {
	m := strings.ToUpper(c.SASLMechanism)
	switch m {
	case "":
		if c.SASLPasswordFile != "" || c.SASLPassword != "" || c.SASLUser != "" {
			return nil, fmt.Errorf("KAFKA_SASL_MECHANISM is empty although a SASL user or password is set: want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512")
		}
		return nil, nil
	case "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
	default:
		return nil, fmt.Errorf("KAFKA_SASL_MECHANISM %q: want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", c.SASLMechanism)
	}
	if c.SASLUser == "" {
		return nil, fmt.Errorf("KAFKA_SASL_USERNAME is empty although KAFKA_SASL_MECHANISM is %s", c.SASLMechanism)
	}
	password := c.SASLPassword
	switch {
	case c.SASLPasswordFile != "" && c.SASLPassword != "":
		return nil, fmt.Errorf("KAFKA_SASL_PASSWORD and KAFKA_SASL_PASSWORD_FILE are both set: want one")
	case c.SASLPasswordFile != "":
		data, err := readFile("KAFKA_SASL_PASSWORD_FILE", c.SASLPasswordFile, maxPasswordFile)
		if err != nil {
			return nil, err
		}
		// A file written by echo or a Secret made with a trailing newline.
		password = strings.TrimRight(string(data), "\r\n")
	}
	if password == "" {
		return nil, fmt.Errorf("KAFKA_SASL_PASSWORD or KAFKA_SASL_PASSWORD_FILE is required with KAFKA_SASL_MECHANISM %s (empty password)", c.SASLMechanism)
	}
	switch m {
	case "PLAIN":
		return plain.Auth{User: c.SASLUser, Pass: password}.AsMechanism(), nil
	case "SCRAM-SHA-256":
		return scram.Auth{User: c.SASLUser, Pass: password}.AsSha256Mechanism(), nil
	default:
		return scram.Auth{User: c.SASLUser, Pass: password}.AsSha512Mechanism(), nil
	}
}
