// Package regularfile reads the files a service is pointed at (checkpoints,
// certificates, password files) as what they must be: regular files of a
// bounded size. A FIFO, a device such as /dev/zero or a directory in their
// place is an error at once, never a read that blocks for ever or grows the
// process until it is killed.
package regularfile

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
)

// ErrNotRegular is the error for a path that is not a regular file.
var ErrNotRegular = errors.New("not a regular file")

// ErrTooLarge is the error for a file larger than the reader's limit.
var ErrTooLarge = errors.New("larger than allowed")

// Open opens path for reading if it is a regular file (a symlink to one is
// one), without blocking: O_NONBLOCK makes opening a FIFO return at once,
// where a plain open waits for a writer that may never come.
func Open(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !info.Mode().IsRegular() {
		f.Close()
		return nil, &os.PathError{Op: "open", Path: path, Err: fmt.Errorf("%w (%s)", ErrNotRegular, kind(info.Mode()))}
	}
	return f, nil
}

// Read returns the contents of the regular file path, refusing one larger
// than limit bytes without reading more than limit+1 of it.
func Read(path string, limit int64) ([]byte, error) {
	f, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadFrom(f, limit)
}

// ReadFrom reads f, already opened by Open, to its end, refusing more than
// limit bytes.
func ReadFrom(f *os.File, limit int64) ([]byte, error) {
	size := int64(512)
	if info, err := f.Stat(); err == nil {
		size = info.Size()
	}
	if size > limit {
		return nil, &os.PathError{Op: "read", Path: f.Name(), Err: fmt.Errorf("%w: %d bytes, the limit is %d", ErrTooLarge, size, limit)}
	}
	// The size can change while it is read: the limit holds whatever it does.
	data := make([]byte, 0, size+1)
	data, err := readAll(io.LimitReader(f, limit+1), data)
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, &os.PathError{Op: "read", Path: f.Name(), Err: fmt.Errorf("%w: more than %d bytes", ErrTooLarge, limit)}
	}
	return data, nil
}

// readAll is io.ReadAll into buf's capacity.
func readAll(r io.Reader, buf []byte) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

func kind(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&os.ModeNamedPipe != 0:
		return "a FIFO"
	case m&os.ModeSocket != 0:
		return "a socket"
	case m&os.ModeDevice != 0:
		return "a device"
	default:
		return m.Type().String()
	}
}
