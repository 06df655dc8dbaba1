package checkpoint

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/weatherstream/weather/services/common/stats"
)

func state(offset int64, stations int) *stats.Partition {
	p := stats.New(offset)
	for i := range stations {
		p.Add([]byte(strings.Repeat("S", 1+i%50)+string(rune('A'+i%26))), []byte("2000-01-01"), float64(i))
	}
	return p
}

func TestSaveThenLoad(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "new", "dir"))
	if err != nil {
		t.Fatal(err)
	}
	if p, err := s.Load(3); p != nil || err != nil {
		t.Fatalf("Load of a partition never saved = %v, %v; want nil, nil", p, err)
	}
	for _, offset := range []int64{10, 20} {
		if err := s.Save(3, state(offset, 2)); err != nil {
			t.Fatal(err)
		}
		p, err := s.Load(3)
		if err != nil || p.Offset != offset || len(p.Stations) != 2 {
			t.Fatalf("Load = %+v, %v; want offset %d", p, err, offset)
		}
	}
	left, _ := filepath.Glob(filepath.Join(s.dir, "*.tmp-*"))
	if len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

func TestLoadOfACorruptFileFailsAndKeepsIt(t *testing.T) {
	s, _ := Open(t.TempDir())
	corrupt := []byte(`{"offset": 12, "StationA": {"cou`)
	os.WriteFile(s.Path(0), corrupt, 0o644)
	_, err := s.Load(0)
	if err == nil || !strings.Contains(err.Error(), s.Path(0)) {
		t.Fatalf("Load = %v, want an error naming %s", err, s.Path(0))
	}
	if got, _ := os.ReadFile(s.Path(0)); !bytes.Equal(got, corrupt) {
		t.Error("the corrupt file was changed")
	}
}

func TestBackupMovesTheFileAside(t *testing.T) {
	s, _ := Open(t.TempDir())
	s.Save(1, state(5, 1))
	to, err := s.Backup(1, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(to) != "partition-1.json.bak-20260102T030405Z" {
		t.Errorf("backup named %s", to)
	}
	if _, err := os.Stat(s.Path(1)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("partition file still there: %v", err)
	}
}

func TestLockIsExclusiveAndCleansUp(t *testing.T) {
	s, _ := Open(t.TempDir())
	stale := filepath.Join(s.dir, "partition-2.json.tmp-123")
	os.WriteFile(stale, []byte("half"), 0o644)
	other := filepath.Join(s.dir, "partition-3.json.tmp-456")
	os.WriteFile(other, []byte("not ours"), 0o644)

	first, err := s.Lock(context.Background(), 2, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Error("stale temporary file of the locked partition not removed")
	}
	if _, err := os.Stat(other); err != nil {
		t.Error("temporary file of another partition removed")
	}
	_, err = s.Lock(context.Background(), 2, 200*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "owned by another consumer") || !strings.Contains(err.Error(), "pid") {
		t.Fatalf("second Lock = %v, want a clear error naming the holder", err)
	}
	if _, err := s.Lock(context.Background(), 3, 0); err != nil {
		t.Errorf("another partition: %v", err)
	}
	go func() { time.Sleep(200 * time.Millisecond); first.Unlock() }()
	if _, err := s.Lock(context.Background(), 2, 5*time.Second); err != nil {
		t.Errorf("Lock after the owner let go: %v", err)
	}
}

// A full disk: a small tmpfs (needs root, as in CI). The save fails with a
// clear error, the old file is intact and no temporary file is left.
func TestSaveOnAFullDiskKeepsTheOldFile(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=8k"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("cannot mount a small tmpfs (CI runs as root): %v", err)
		}
		t.Skipf("cannot mount a small tmpfs (needs root): %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, 0) })
	s, _ := Open(dir)
	if err := s.Save(0, state(1, 2)); err != nil {
		t.Fatal(err)
	}
	old, _ := os.ReadFile(s.Path(0))
	err := s.Save(0, state(2, 200)) // ~20 KiB: does not fit
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Save on a full disk = %v, want ENOSPC", err)
	}
	if got, _ := os.ReadFile(s.Path(0)); !bytes.Equal(got, old) {
		t.Error("old file changed")
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*.tmp-*")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
	// Read-only, as a volume remounted read-only after an error.
	if err := syscall.Mount("", dir, "", syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
		t.Fatal(err)
	}
	if err := s.Save(0, state(3, 1)); !errors.Is(err, syscall.EROFS) {
		t.Fatalf("Save on a read-only disk = %v, want EROFS", err)
	}
	if got, _ := os.ReadFile(s.Path(0)); !bytes.Equal(got, old) {
		t.Error("old file changed")
	}
}

func TestHeld(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if s.Held(1) {
		t.Error("a partition never consumed here is held")
	}
	if _, err := os.Stat(filepath.Join(s.dir, "partition-1.lock")); err == nil {
		t.Error("Held made a lock file")
	}
	l, err := s.Lock(context.Background(), 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !s.Held(1) {
		t.Error("a locked partition is not held")
	}
	// Looking does not take it: the owner can let go and another take it.
	l.Unlock()
	if s.Held(1) {
		t.Error("an unlocked partition is held")
	}
	if l, err := s.Lock(context.Background(), 1, 0); err != nil {
		t.Errorf("Lock after Held: %v", err)
	} else {
		l.Unlock()
	}
}

func TestPrint(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := Print(&out, s.dir); err == nil || !strings.Contains(err.Error(), "no partition-N.json") {
		t.Errorf("Print of an empty directory: %v", err)
	}
	for p := range int32(2) {
		if err := s.Save(p, state(int64(p)+5, 1)); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(s.Path(7), []byte("{oops"), 0o644)
	out.Reset()
	err = Print(&out, s.dir)
	if err == nil || !strings.Contains(err.Error(), s.Path(7)) {
		t.Errorf("Print error %v, want it to name %s", err, s.Path(7))
	}
	for p := range int32(2) {
		data, _ := os.ReadFile(s.Path(p))
		if !strings.Contains(out.String(), "==> "+s.Path(p)+" <==\n"+string(data)) {
			t.Errorf("Print lacks partition %d:\n%s", p, out.String())
		}
	}
}

func TestPartitionsAreTheFilesOfTheDirectory(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files []string
		want  []int32
	}{
		{"empty", nil, nil},
		{"in numeric order", []string{"partition-10.json", "partition-2.json", "partition-0.json"}, []int32{0, 2, 10}},
		{"not partition files", []string{"partition-1.json.tmp-123", "partition-1.json.bak-20260101T000000Z", "partition-1.lock",
			"partition-x.json", "partition--1.json", "partition-01.json", "other.json"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, f := range tc.files {
				if err := os.WriteFile(filepath.Join(dir, f), []byte("{}"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			s, err := Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.Partitions()
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("Partitions() = %v, want %v", got, tc.want)
			}
		})
	}
}

// within fails the test if f does not return within a few seconds: a FIFO
// must never block a read.
func within(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { f(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatalf("%s blocks", what)
	}
}

// What is not a partition file in its place — a FIFO, a directory, a file
// over MaxFileBytes — is an error at once, from Load and from Print alike.
func TestLoadAndPrintRefuseWhatIsNotARegularFileOfBoundedSize(t *testing.T) {
	for _, tc := range []struct {
		name  string
		make  func(path string) error
		error string
	}{
		{"a FIFO", func(path string) error { return syscall.Mkfifo(path, 0o644) }, "a FIFO"},
		{"a directory", func(path string) error { return os.Mkdir(path, 0o755) }, "a directory"},
		{"too large", func(path string) error {
			f, err := os.Create(path)
			if err == nil {
				err = f.Truncate(MaxFileBytes + 1) // sparse: costs no disk
				f.Close()
			}
			return err
		}, "larger than allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := Open(t.TempDir())
			if err := tc.make(s.Path(1)); err != nil {
				t.Fatal(err)
			}
			var err error
			within(t, "Load", func() { _, err = s.Load(1) })
			if err == nil || !strings.Contains(err.Error(), tc.error) || !strings.Contains(err.Error(), s.Path(1)) {
				t.Errorf("Load = %v, want an error naming the file: %s", err, tc.error)
			}
			var out bytes.Buffer
			within(t, "Print", func() { err = Print(&out, s.dir) })
			if err == nil || !strings.Contains(err.Error(), tc.error) {
				t.Errorf("Print = %v, want an error: %s", err, tc.error)
			}
		})
	}
}

// A lock file that is not a regular file is never followed or waited on:
// a symlink in its place (its target keeps its contents), a FIFO.
func TestLockRefusesASymlinkOrAFIFOInItsPlace(t *testing.T) {
	for _, tc := range []struct {
		name  string
		make  func(t *testing.T, path string)
		error string
	}{
		{"a symlink", func(t *testing.T, path string) {
			target := filepath.Join(t.TempDir(), "precious")
			if err := os.WriteFile(target, []byte("precious\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(target, path); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if got, _ := os.ReadFile(target); string(got) != "precious\n" {
					t.Errorf("the symlink's target was written: %q", got)
				}
			})
		}, "is a symlink"},
		{"a FIFO", func(t *testing.T, path string) {
			if err := syscall.Mkfifo(path, 0o644); err != nil {
				t.Fatal(err)
			}
		}, "not a regular file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := Open(t.TempDir())
			tc.make(t, s.lockPath(2))
			var err error
			within(t, "Lock", func() { _, err = s.Lock(context.Background(), 2, time.Second) })
			if err == nil || !strings.Contains(err.Error(), tc.error) {
				t.Errorf("Lock = %v, want %q", err, tc.error)
			}
			within(t, "Held", func() {
				if s.Held(2) {
					t.Error("Held on what is no lock file")
				}
			})
		})
	}
}

// Partition files are readable by all (FileMode), whatever the temporary
// file they were written as: a dashboard running as another user reads them.
func TestSavedFilesAreReadableByAll(t *testing.T) {
	s, _ := Open(t.TempDir())
	for range 2 { // the first write, and one replacing it
		if err := s.Save(0, state(5, 2)); err != nil {
			t.Fatal(err)
		}
		info, err := os.Stat(s.Path(0))
		if err != nil || info.Mode().Perm() != FileMode {
			t.Fatalf("mode %v, %v; want %v", info.Mode().Perm(), err, os.FileMode(FileMode))
		}
	}
}

// The file is the original's format exactly; its log is kept beside it,
// and comes back with Load. A file of the previous release (its log inside)
// loads with its log, and is rewritten in the exact format.
func TestTheLogIsKeptBesideTheFile(t *testing.T) {
	log := stats.Log{Topic: "temperatures", TopicID: "3cTCaKIJSUe4hC7pAuO_bA", Partition: 1}
	other := stats.Log{Topic: "temperatures", TopicID: "Yq0wRq0wRq0wRq0wRq0wRg", Partition: 1}
	previous := `{"offset": 2, "log": {"topic": "temperatures", "topic_id": "3cTCaKIJSUe4hC7pAuO_bA", "partition": 1},
"StationJ": {"count": 1, "sum": 2.5, "avg": 2.5, "start": "2000-01-01", "end": "2000-01-01"}}`
	for _, tc := range []struct {
		name    string
		file    string     // written as is first; "" none
		sidecar *stats.Log // SaveLog'd first
		wantLog *stats.Log
		wantErr string
	}{
		{name: "the original's file, no log", file: `{"offset": 0}`},
		{name: "with its log beside it", file: `{"offset": 0}`, sidecar: &log, wantLog: &log},
		{name: "the previous release's", file: previous, wantLog: &log},
		{name: "the previous release's, beside the same log", file: previous, sidecar: &log, wantLog: &log},
		{name: "the previous release's, beside another log", file: previous, sidecar: &other, wantErr: "partition-1.log says topic temperatures (ID Yq0wRq0wRq0wRq0wRq0wRg)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := Open(t.TempDir())
			if err := os.WriteFile(s.Path(1), []byte(tc.file), 0o644); err != nil {
				t.Fatal(err)
			}
			if tc.sidecar != nil {
				if err := s.SaveLog(1, *tc.sidecar); err != nil {
					t.Fatal(err)
				}
			}
			part, err := s.Load(1)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Load = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !equalLog(part.Log, tc.wantLog) {
				t.Fatalf("Load = %+v, %v; want log %v", part, err, tc.wantLog)
			}
			// Rewritten by a consumer: the log beside, the file exact.
			if err := s.SaveLog(1, log); err != nil {
				t.Fatal(err)
			}
			part.Log = &log
			if err := s.Save(1, part); err != nil {
				t.Fatal(err)
			}
			data, _ := os.ReadFile(s.Path(1))
			if strings.Contains(string(data), `"log"`) || strings.Contains(string(data), "topic") {
				t.Errorf("the file holds more than the original's format:\n%s", data)
			}
			again, err := s.Load(1)
			if err != nil || !equalLog(again.Log, &log) || again.Offset != part.Offset {
				t.Errorf("Load after the rewrite = %+v, %v", again, err)
			}
		})
	}
}

func equalLog(a, b *stats.Log) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

// A backup takes the log beside the file with it.
func TestBackupTakesTheLogAlong(t *testing.T) {
	s, _ := Open(t.TempDir())
	log := stats.Log{Topic: "t", TopicID: "x", Partition: 0}
	if err := s.SaveLog(0, log); err != nil {
		t.Fatal(err)
	}
	if err := s.Save(0, state(1, 0)); err != nil {
		t.Fatal(err)
	}
	to, err := s.Backup(0, time.Date(2026, 12, 7, 1, 2, 3, 0, time.UTC))
	if err != nil || to != s.Path(0)+".bak-20261207T010203Z" {
		t.Fatalf("Backup = %q, %v", to, err)
	}
	if _, err := os.Stat(s.LogPath(0) + ".bak-20261207T010203Z"); err != nil {
		t.Errorf("the log did not go with the file: %v", err)
	}
	if p, err := s.Load(0); p != nil || err != nil {
		t.Errorf("Load after the backup = %v, %v; want nothing", p, err)
	}
}
