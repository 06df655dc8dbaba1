// Package integration proves the pipeline end to end: the producer, stats
// consumer and debug binaries, built from this workspace, run as processes
// against a broker over TCP: the one in KAFKA_BROKERS (a real Apache Kafka in
// CI and `make test-kafka`), or else an in-process kfake broker.
//
// Every expectation is computed independently of the code under test: from
// the generator and Kafka's default partitioner, or by recounting the topic.
package integration
