package main

import (
	"errors"
	"fmt"
	"os"

	pb "google.golang.org/grpc/examples/helloworld/helloworld"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

// protosetMain writes a FileDescriptorSet of helloworld.proto from the
// compiled Go descriptors, so ghz can call SayHello without protoc and
// without server reflection (which would add calls to the proxy under
// test).
func protosetMain(args []string) error {
	if len(args) != 1 {
		return errors.New("protoset: want one output file")
	}
	set := &descriptorpb.FileDescriptorSet{}
	addFile(set, pb.File_examples_helloworld_helloworld_helloworld_proto, map[string]bool{})
	b, err := proto.Marshal(set)
	if err != nil {
		return fmt.Errorf("protoset: marshal: %w", err)
	}
	if err := os.WriteFile(args[0], b, 0o644); err != nil {
		return fmt.Errorf("protoset: %w", err)
	}
	return nil
}

// addFile appends fd after its imports, the order a descriptor set needs.
func addFile(set *descriptorpb.FileDescriptorSet, fd protoreflect.FileDescriptor, seen map[string]bool) {
	if seen[fd.Path()] {
		return
	}
	seen[fd.Path()] = true
	imports := fd.Imports()
	for i := range imports.Len() {
		addFile(set, imports.Get(i).FileDescriptor, seen)
	}
	set.File = append(set.File, protodesc.ToFileDescriptorProto(fd))
}
