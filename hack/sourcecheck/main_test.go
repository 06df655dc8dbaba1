package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		content []byte
		want    string // "" = a source
	}{
		{"main.go", []byte("package main\n"), ""},
		{"empty", nil, ""},
		{"short", []byte("M"), ""},
		{"bench", []byte("\x7fELF\x02\x01\x01"), "an ELF binary"},
		{"tool.exe", []byte("MZ\x90\x00"), "a Windows binary"},
		{"tool.macho", []byte{0xcf, 0xfa, 0xed, 0xfe, 7}, "a Mach-O binary"},
		{"lib.jar", []byte("PK\x03\x04rest"), "a zip or jar archive"},
		{"big.json", bytes.Repeat([]byte("x"), maxSize+1), "over"},
		{"just.json", bytes.Repeat([]byte("x"), maxSize), ""},
	}
	for _, tt := range tests {
		path := filepath.Join(dir, tt.name)
		if err := os.WriteFile(path, tt.content, 0o644); err != nil {
			t.Fatal(err)
		}
		got := check(path)
		if tt.want == "" && got != "" || tt.want != "" && !strings.Contains(got, tt.want) {
			t.Errorf("check(%s) = %q, want %q", tt.name, got, tt.want)
		}
	}
}
