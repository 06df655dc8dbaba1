package regularfile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestReadTakesOnlyRegularFilesWithinTheLimit(t *testing.T) {
	dir := t.TempDir()
	regular := filepath.Join(dir, "regular")
	if err := os.WriteFile(regular, []byte("0123456789"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link") // as a Kubernetes Secret's files are
	if err := os.Symlink(regular, link); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path string
		limit      int64
		want       string
		err        error
		says       string
	}{
		{name: "a regular file", path: regular, limit: 10, want: "0123456789"},
		{name: "a symlink to one", path: link, limit: 100, want: "0123456789"},
		{name: "one byte over the limit", path: regular, limit: 9, err: ErrTooLarge, says: "10 bytes, the limit is 9"},
		{name: "a FIFO, at once", path: fifo, limit: 100, err: ErrNotRegular, says: "a FIFO"},
		{name: "an endless device", path: "/dev/zero", limit: 100, err: ErrNotRegular, says: "a device"},
		{name: "a directory", path: dir, limit: 100, err: ErrNotRegular, says: "a directory"},
		{name: "missing", path: filepath.Join(dir, "none"), limit: 100, err: os.ErrNotExist},
	} {
		t.Run(tc.name, func(t *testing.T) {
			done := make(chan struct{})
			var got []byte
			var err error
			go func() { got, err = Read(tc.path, tc.limit); close(done) }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatalf("Read(%s) blocks", tc.path)
			}
			if tc.err != nil {
				if !errors.Is(err, tc.err) || !strings.Contains(err.Error(), tc.says) || !strings.Contains(err.Error(), tc.path) {
					t.Fatalf("Read = %q, %v; want an error %v saying %q and naming the path", got, err, tc.err, tc.says)
				}
				return
			}
			if err != nil || string(got) != tc.want {
				t.Fatalf("Read = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

// A file that grows past the limit between the size check and the read is
// still refused: the limit bounds the read, not the size seen first.
func TestReadFromBoundsAFileThatGrows(t *testing.T) {
	path := filepath.Join(t.TempDir(), "grows")
	if err := os.WriteFile(path, []byte("small"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := os.WriteFile(path, []byte(strings.Repeat("x", 1000)), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := ReadFrom(f, 100); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("ReadFrom = %d bytes, %v; want ErrTooLarge", len(got), err)
	}
}
