// Command protogen regenerates the Go code for the .proto files of one
// directory without protoc: it compiles them with
// github.com/bufbuild/protocompile and feeds the descriptors to the
// protoc-gen-go pinned by the tool directive in hack/go.mod, speaking the
// ordinary protoc plugin protocol.
//
// Regenerate (from the repository root, where go.work lives):
//
//	go run ./hack/protogen
//
// Check that the committed code is current (exit status 1 if not):
//
//	go run ./hack/protogen -check
//
// From hack/, pass the directories: go run ./protogen -proto ../proto -out ../proto
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/bufbuild/protocompile"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/pluginpb"
)

func main() {
	protoDir := flag.String("proto", "proto", "directory holding the .proto files (the import root)")
	outDir := flag.String("out", "proto", "directory the generated files are written under (like protoc's --go_out)")
	param := flag.String("param", "module=github.com/weatherstream/weather/proto", "protoc-gen-go parameter (like --go_opt)")
	check := flag.Bool("check", false, "compare with the files on disk instead of writing them; exit 1 if any differ")
	flag.Parse()
	if err := run(*protoDir, *outDir, *param, *check); err != nil {
		fmt.Fprintln(os.Stderr, "protogen:", err)
		os.Exit(1)
	}
}

func run(protoDir, outDir, param string, check bool) error {
	// Names are relative to protoDir, as when protoc runs there: they end up
	// in the descriptors (and the "source:" header), so they must not vary.
	names, err := filepath.Glob(filepath.Join(protoDir, "*.proto"))
	if err != nil || len(names) == 0 {
		return fmt.Errorf("no .proto files in %s", protoDir)
	}
	for i, n := range names {
		names[i] = filepath.Base(n)
	}

	// SourceInfoStandard keeps comments, which protoc-gen-go copies into the
	// Go code; the standard imports make google/protobuf/*.proto resolvable.
	c := protocompile.Compiler{
		Resolver:       protocompile.WithStandardImports(&protocompile.SourceResolver{ImportPaths: []string{protoDir}}),
		SourceInfoMode: protocompile.SourceInfoStandard,
	}
	files, err := c.Compile(context.Background(), names...)
	if err != nil {
		return err
	}

	// protoc sends every file once, each after its imports. CompilerVersion
	// stays unset (the header then says "protoc (unknown)"): there is no protoc.
	req := &pluginpb.CodeGeneratorRequest{FileToGenerate: names, Parameter: proto.String(param)}
	seen := map[string]bool{}
	var add func(protoreflect.FileDescriptor)
	add = func(fd protoreflect.FileDescriptor) {
		if seen[fd.Path()] {
			return
		}
		seen[fd.Path()] = true
		for i := 0; i < fd.Imports().Len(); i++ {
			add(fd.Imports().Get(i).FileDescriptor)
		}
		// Prefer protocompile's own descriptor proto (exactly what it parsed,
		// with source info); the well-known files only have the reflective form.
		if r, ok := fd.(interface {
			FileDescriptorProto() *descriptorpb.FileDescriptorProto
		}); ok {
			req.ProtoFile = append(req.ProtoFile, r.FileDescriptorProto())
		} else {
			req.ProtoFile = append(req.ProtoFile, protodesc.ToFileDescriptorProto(fd))
		}
	}
	for _, f := range files {
		add(f)
	}

	resp, err := runPlugin(req)
	if err != nil {
		return err
	}

	stale := false
	for _, f := range resp.File {
		if f.GetInsertionPoint() != "" {
			return fmt.Errorf("%s: insertion points are not supported", f.GetName())
		}
		path := filepath.Join(outDir, f.GetName())
		if check {
			old, err := os.ReadFile(path)
			if err != nil || !bytes.Equal(old, []byte(f.GetContent())) {
				fmt.Fprintf(os.Stderr, "%s is out of date: run make proto\n", path)
				stale = true
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, []byte(f.GetContent()), 0o644); err != nil {
			return err
		}
	}
	if stale {
		os.Exit(1)
	}
	return nil
}

// runPlugin runs protoc-gen-go as a separate process because its generator
// (cmd/protoc-gen-go/internal_gengo) is internal and cannot be imported.
// "go tool" builds the exact version pinned in hack/go.mod (cached after the
// first run) and works from any directory of the go.work workspace.
func runPlugin(req *pluginpb.CodeGeneratorRequest) (*pluginpb.CodeGeneratorResponse, error) {
	in, err := proto.Marshal(req)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	cmd := exec.Command("go", "tool", "protoc-gen-go")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = bytes.NewReader(in), &out, os.Stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("go tool protoc-gen-go: %w", err)
	}
	resp := &pluginpb.CodeGeneratorResponse{}
	if err := proto.Unmarshal(out.Bytes(), resp); err != nil {
		return nil, fmt.Errorf("reading protoc-gen-go response: %w", err)
	}
	if resp.Error != nil {
		return nil, fmt.Errorf("protoc-gen-go: %s", resp.GetError())
	}
	return resp, nil
}
