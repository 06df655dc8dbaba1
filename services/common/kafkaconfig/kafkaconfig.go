// Package kafkaconfig holds the Kafka connection settings every service reads
// from the environment, turns them into franz-go client options, and says in
// one line what is wrong when a broker refuses them.
package kafkaconfig

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/weatherstream/weather/services/common/envconfig"
)

// Config is the connection to the cluster and the topic of reports.
type Config struct {
	Brokers          []string      `env:"KAFKA_BROKERS" envSeparator:"," envDefault:"127.0.0.1:9092"`
	Topic            string        `env:"TOPIC" envDefault:"temperatures"`
	ConnectTimeout   time.Duration `env:"KAFKA_CONNECT_TIMEOUT" envDefault:"30s"`
	TLS              bool          `env:"KAFKA_TLS"`
	TLSCAFile        string        `env:"KAFKA_TLS_CA_FILE"`
	TLSCertFile      string        `env:"KAFKA_TLS_CERT_FILE"`
	TLSKeyFile       string        `env:"KAFKA_TLS_KEY_FILE"`
	TLSServerName    string        `env:"KAFKA_TLS_SERVER_NAME"`
	SASLMechanism    string        `env:"KAFKA_SASL_MECHANISM"` // PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512
	SASLUser         string        `env:"KAFKA_SASL_USERNAME"`
	SASLPassword     string        `env:"KAFKA_SASL_PASSWORD"`
	SASLPasswordFile string        `env:"KAFKA_SASL_PASSWORD_FILE"`
}

// Validate checks every setting, naming the variable of the first bad one.
// It reads the certificate, key and password files, so one that is missing
// or malformed is a configuration error at start, not a refusal later.
func (c Config) Validate() error {
	for _, b := range c.Brokers {
		if err := envconfig.HostPort(b, 1); err != nil {
			if len(c.Brokers) == 1 {
				return fmt.Errorf("KAFKA_BROKERS %q: %w", b, err)
			}
			return fmt.Errorf("KAFKA_BROKERS %q: entry %q: %w", strings.Join(c.Brokers, ","), b, err)
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
	if _, err := c.TLSConfig(); err != nil {
		return err
	}
	_, err := c.saslMechanism()
	return err
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

// useTLS says whether the connection is TLS: asked for, or implied by a
// TLS setting (a CA, a client certificate or a server name).
func (c Config) useTLS() bool {
	return c.TLS || c.TLSCAFile != "" || c.TLSCertFile != "" || c.TLSKeyFile != "" || c.TLSServerName != ""
}

// Principal is who the broker will see, for messages about refusals: the
// SASL user, the client certificate's subject, or Kafka's ANONYMOUS.
func (c Config) Principal() string {
	switch {
	case c.SASLMechanism != "":
		return "User:" + c.SASLUser
	case c.TLSCertFile != "":
		if subject, err := certSubject(c.TLSCertFile); err == nil {
			return "the client certificate " + subject
		}
		return "the client certificate of KAFKA_TLS_CERT_FILE"
	default:
		return "User:ANONYMOUS"
	}
}
