// Command securekafka prepares the secured broker of the tests for
// hack/kafka/kafka.sh start-secure, and prints the services' ACLs.
//
//	securekafka init -dir D -tls P -mtls P -sasl P -controller P   certificates, users; prints the broker's properties
//	securekafka setup -dir D                                        the SCRAM users, once the broker is up
//	securekafka acls                                                docs/security.md's ACL table and kafka-acls.sh lines
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/weatherstream/weather/hack/kafka/secure"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	dir := fs.String("dir", "", "the broker's security directory")
	var ports secure.Ports
	fs.IntVar(&ports.TLS, "tls", 0, "port of the TLS listener")
	fs.IntVar(&ports.MTLS, "mtls", 0, "port of the mutual TLS listener")
	fs.IntVar(&ports.SASL, "sasl", 0, "port of the SASL_SSL listener")
	fs.IntVar(&ports.Controller, "controller", 0, "port of the controller listener")
	_ = fs.Parse(os.Args[2:]) // ExitOnError: a bad flag exits

	var err error
	switch os.Args[1] {
	case "init":
		var props string
		if _, props, err = secure.Init(*dir, secure.Loopback(ports)); err == nil {
			fmt.Print(props)
		}
	case "setup":
		err = setup(*dir)
	case "acls":
		fmt.Print(secure.Markdown(secure.Defaults), "\n", secure.Commands(secure.Defaults))
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "securekafka:", err)
		os.Exit(1)
	}
}

func setup(dir string) error {
	l, err := secure.Load(dir)
	if err != nil {
		return err
	}
	adm, err := l.AdminClient()
	if err != nil {
		return err
	}
	defer adm.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return secure.Setup(ctx, adm, l)
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: securekafka init|setup|acls [-dir D] [-tls P -mtls P -sasl P -controller P]")
	os.Exit(2)
}
