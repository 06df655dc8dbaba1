// Command sourcecheck fails if the repository tracks something that is not a
// source: a compiled binary (ELF, Mach-O, PE, a Java class or archive) or a
// file over 1 MiB. Build outputs belong in bin/ and .cache/, which git
// ignores. `make test` runs it.
package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
)

// maxSize is the largest file a source repository should need.
const maxSize = 1 << 20

// magics are the first bytes of compiled binaries.
var magics = []struct {
	name  string
	magic []byte
}{
	{"an ELF binary", []byte("\x7fELF")},
	{"a Mach-O binary", []byte{0xcf, 0xfa, 0xed, 0xfe}},
	{"a Mach-O binary", []byte{0xce, 0xfa, 0xed, 0xfe}},
	{"a universal Mach-O binary or a Java class", []byte{0xca, 0xfe, 0xba, 0xbe}},
	{"a Windows binary", []byte("MZ")},
	{"a zip or jar archive", []byte("PK\x03\x04")},
}

func main() {
	out, err := exec.Command("git", "ls-files", "-z").Output()
	if err != nil {
		fmt.Fprintf(os.Stderr, "sourcecheck: git ls-files: %v\n", err)
		os.Exit(2)
	}
	bad := 0
	for _, name := range bytes.Split(bytes.TrimRight(out, "\x00"), []byte{0}) {
		if why := check(string(name)); why != "" {
			fmt.Fprintf(os.Stderr, "sourcecheck: %s is %s: only sources belong in the repository (git rm --cached it, and ignore it)\n", name, why)
			bad++
		}
	}
	if bad > 0 {
		os.Exit(1)
	}
}

// check returns why the file is not a source, or "".
func check(name string) string {
	f, err := os.Open(name)
	if err != nil {
		return "" // deleted in the work tree: git status shows it
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil || info.IsDir() {
		return ""
	}
	if info.Size() > maxSize {
		return fmt.Sprintf("%d bytes, over %d", info.Size(), maxSize)
	}
	head := make([]byte, 4)
	n, _ := io.ReadFull(f, head)
	for _, m := range magics {
		if bytes.HasPrefix(head[:n], m.magic) {
			return m.name
		}
	}
	return ""
}
