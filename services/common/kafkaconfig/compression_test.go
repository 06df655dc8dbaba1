package kafkaconfig

import (
	"reflect"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

func TestCompression(t *testing.T) {
	if got, want := CompressionNames(), []string{"gzip", "lz4", "none", "snappy", "zstd"}; !slices.Equal(got, want) {
		t.Errorf("CompressionNames() = %v, want %v", got, want)
	}
	for _, tc := range []struct {
		name string
		want kgo.CompressionCodec
		ok   bool
	}{
		{"none", kgo.NoCompression(), true},
		{"gzip", kgo.GzipCompression(), true},
		{"snappy", kgo.SnappyCompression(), true},
		{"lz4", kgo.Lz4Compression(), true},
		{"zstd", kgo.ZstdCompression(), true},
		{"", kgo.CompressionCodec{}, false},
		{"Snappy", kgo.CompressionCodec{}, false},
		{"brotli", kgo.CompressionCodec{}, false},
	} {
		opt, ok := Compression(tc.name)
		if ok != tc.ok {
			t.Errorf("Compression(%q): ok %v, want %v", tc.name, ok, tc.ok)
		}
		if !ok {
			continue
		}
		// What a client made with the option compresses its batches with.
		cl, err := kgo.NewClient(opt)
		if err != nil {
			t.Fatal(err)
		}
		got := cl.OptValues(kgo.ProducerBatchCompression)
		cl.Close()
		if len(got) != 1 || !reflect.DeepEqual(got[0], []kgo.CompressionCodec{tc.want}) {
			t.Errorf("Compression(%q) gives a client compressing with %v, want %v", tc.name, got, tc.want)
		}
	}
}
