package kafkaconfig

import (
	"maps"
	"slices"

	"github.com/twmb/franz-go/pkg/kgo"
)

// compressions are the batch codecs by the names Kafka's compression.type
// gives them.
var compressions = map[string]kgo.CompressionCodec{
	"none":   kgo.NoCompression(),
	"gzip":   kgo.GzipCompression(),
	"snappy": kgo.SnappyCompression(),
	"lz4":    kgo.Lz4Compression(),
	"zstd":   kgo.ZstdCompression(),
}

// CompressionNames are the names Compression knows, sorted.
func CompressionNames() []string { return slices.Sorted(maps.Keys(compressions)) }

// Compression is the producer option compressing batches with the codec
// called name (one of CompressionNames), and whether there is one.
func Compression(name string) (kgo.ProducerOpt, bool) {
	c, ok := compressions[name]
	return kgo.ProducerBatchCompression(c), ok
}
