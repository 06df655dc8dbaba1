// Package kafkaconfig holds the Kafka connection settings every service reads
// from the environment, and turns them into franz-go client options.
package kafkaconfig

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/weatherstream/weather/services/common/envconfig"
)

// Config is the connection to the cluster and the topic of reports.
type Config struct {
	Brokers        []string      `env:"KAFKA_BROKERS" envSeparator:"," envDefault:"127.0.0.1:9092"`
	Topic          string        `env:"TOPIC" envDefault:"temperatures"`
	ConnectTimeout time.Duration `env:"KAFKA_CONNECT_TIMEOUT" envDefault:"30s"`
	TLS            bool          `env:"KAFKA_TLS"`
	TLSCAFile      string        `env:"KAFKA_TLS_CA_FILE"`
	SASLMechanism  string        `env:"KAFKA_SASL_MECHANISM"` // PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512
	SASLUser       string        `env:"KAFKA_SASL_USERNAME"`
	SASLPassword   string        `env:"KAFKA_SASL_PASSWORD"`
}

// Validate checks every setting, naming the variable of the first bad one.
func (c Config) Validate() error {
	for _, b := range c.Brokers {
		if _, port, err := net.SplitHostPort(b); err != nil || port == "" {
			return fmt.Errorf("KAFKA_BROKERS %q: want host:port[,host:port...]", strings.Join(c.Brokers, ","))
		}
	}
	if len(c.Brokers) == 0 {
		return errors.New("KAFKA_BROKERS is empty: want host:port[,host:port...]")
	}
	if !validTopic(c.Topic) {
		return fmt.Errorf("TOPIC %q: want 1 to 249 of a-z A-Z 0-9 . _ - (not . or ..)", c.Topic)
	}
	if err := envconfig.AtLeast("KAFKA_CONNECT_TIMEOUT", c.ConnectTimeout, time.Millisecond); err != nil {
		return err
	}
	switch strings.ToUpper(c.SASLMechanism) {
	case "":
	case "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
		if c.SASLUser == "" {
			return fmt.Errorf("KAFKA_SASL_USERNAME is empty although KAFKA_SASL_MECHANISM is %s", c.SASLMechanism)
		}
	default:
		return fmt.Errorf("KAFKA_SASL_MECHANISM %q: want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", c.SASLMechanism)
	}
	return nil
}

// validTopic is Kafka's rule for topic names.
func validTopic(t string) bool {
	if t == "" || len(t) > 249 || t == "." || t == ".." {
		return false
	}
	for _, r := range t {
		legal := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-'
		if !legal {
			return false
		}
	}
	return true
}

// Opts returns the client options for the connection settings.
func (c Config) Opts() ([]kgo.Opt, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	opts := []kgo.Opt{kgo.SeedBrokers(c.Brokers...)}
	if c.TLS || c.TLSCAFile != "" {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if c.TLSCAFile != "" {
			pem, err := os.ReadFile(c.TLSCAFile)
			if err != nil {
				return nil, fmt.Errorf("KAFKA_TLS_CA_FILE: %w", err)
			}
			cfg.RootCAs = x509.NewCertPool()
			if !cfg.RootCAs.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("KAFKA_TLS_CA_FILE %s holds no PEM certificate", c.TLSCAFile)
			}
		}
		opts = append(opts, kgo.DialTLSConfig(cfg))
	}
	switch m := strings.ToUpper(c.SASLMechanism); m {
	case "":
	case "PLAIN":
		opts = append(opts, kgo.SASL(plain.Auth{User: c.SASLUser, Pass: c.SASLPassword}.AsMechanism()))
	case "SCRAM-SHA-256":
		opts = append(opts, kgo.SASL(scram.Auth{User: c.SASLUser, Pass: c.SASLPassword}.AsSha256Mechanism()))
	case "SCRAM-SHA-512":
		opts = append(opts, kgo.SASL(scram.Auth{User: c.SASLUser, Pass: c.SASLPassword}.AsSha512Mechanism()))
	}
	return opts, nil
}

// Connect makes a client and waits, up to ConnectTimeout, until a broker
// answers, so an unreachable cluster is one clear error at start rather than
// endless retries in the background.
func Connect(parent context.Context, c Config, extra ...kgo.Opt) (*kgo.Client, error) {
	opts, err := c.Opts()
	if err != nil {
		return nil, err
	}
	client, err := kgo.NewClient(append(opts, extra...)...)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(parent, c.ConnectTimeout)
	defer cancel()
	for {
		err = client.Ping(ctx)
		if err == nil {
			return client, nil
		}
		select {
		case <-ctx.Done():
			client.Close()
			if parent.Err() != nil {
				return nil, parent.Err() // stopped (SIGTERM), not unreachable
			}
			return nil, fmt.Errorf("kafka at %s unreachable after %s: %w", strings.Join(c.Brokers, ","), c.ConnectTimeout, err)
		case <-time.After(250 * time.Millisecond):
		}
	}
}
