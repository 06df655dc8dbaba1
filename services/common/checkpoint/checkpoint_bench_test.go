package checkpoint

import (
	"os"
	"testing"

	"github.com/weatherstream/weather/services/common/stats"
)

// benchStore is a store on a real disk: CHECKPOINT_BENCH_DIR if set, else
// the test's temporary directory. fsync costs what the file system makes it
// cost (next to nothing on tmpfs), so say where it ran.
func benchStore(b *testing.B) *Store {
	dir := b.TempDir()
	if d := os.Getenv("CHECKPOINT_BENCH_DIR"); d != "" {
		var err error
		if dir, err = os.MkdirTemp(d, "checkpoint-bench-"); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { os.RemoveAll(dir) })
	}
	s, err := Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

func benchPartition() *stats.Partition {
	p := stats.New(0)
	for i := range 10 {
		p.Add([]byte("Station"+string(rune('A'+i))), []byte("2000-01-01"), 21.5)
		p.Add([]byte("Station"+string(rune('A'+i))), []byte("2009-12-31"), 33.25)
	}
	p.Offset = 20 // one offset a report: a file's counts never pass its offset
	return p
}

// One checkpoint write as the consumer does after every batch: marshal,
// temporary file, write, fsync, rename, fsync of the directory.
func BenchmarkSave(b *testing.B) {
	s, p := benchStore(b), benchPartition()
	b.ReportAllocs()
	for b.Loop() {
		p.Offset++
		if err := s.Save(0, p); err != nil {
			b.Fatal(err)
		}
	}
}

// Load is what a restart reads per partition.
func BenchmarkLoad(b *testing.B) {
	s, p := benchStore(b), benchPartition()
	if err := s.Save(0, p); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Load(0); err != nil {
			b.Fatal(err)
		}
	}
}
