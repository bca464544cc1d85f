// Command soak drives mixed gRPC calls at a strait listener for
// bench/soak.sh: unary, server, client and bidi streams, bidi streams
// ended early by the server's status, client cancels and expiring
// deadlines, from a fixed number of callers over one connection. It
// prints the calls made and the codes seen when its time is up.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"sort"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:19600", "strait listener")
	callers := flag.Int("callers", 16, "concurrent callers")
	duration := flag.Duration("duration", 10*time.Minute, "how long to run")
	flag.Parse()
	conn, err := grpc.NewClient(*addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	client := testpb.NewTestServiceClient(conn)
	kinds := []func(context.Context) error{
		func(ctx context.Context) error { _, err := client.UnaryCall(ctx, &testpb.SimpleRequest{}); return err },
		func(ctx context.Context) error {
			s, err := client.StreamingOutputCall(ctx, &testpb.StreamingOutputCallRequest{ResponseParameters: []*testpb.ResponseParameters{{Size: 100}, {Size: 4000}}})
			if err != nil {
				return err
			}
			return drain(s.Recv)
		},
		func(ctx context.Context) error {
			s, err := client.StreamingInputCall(ctx)
			if err != nil {
				return err
			}
			s.Send(&testpb.StreamingInputCallRequest{Payload: &testpb.Payload{Body: make([]byte, 500)}})
			_, err = s.CloseAndRecv()
			return err
		},
		func(ctx context.Context) error {
			s, err := client.FullDuplexCall(ctx)
			if err != nil {
				return err
			}
			s.Send(&testpb.StreamingOutputCallRequest{ResponseParameters: []*testpb.ResponseParameters{{Size: 50}}})
			s.CloseSend()
			return drain(s.Recv)
		},
		func(ctx context.Context) error { // early status while the client still sends
			s, err := client.FullDuplexCall(ctx)
			if err != nil {
				return err
			}
			s.Send(&testpb.StreamingOutputCallRequest{ResponseStatus: &testpb.EchoStatus{Code: int32(codes.Aborted)}})
			s.Send(&testpb.StreamingOutputCallRequest{})
			s.CloseSend()
			return drain(s.Recv)
		},
		func(ctx context.Context) error { // client cancel
			ctx, cancel := context.WithCancel(ctx)
			s, err := client.FullDuplexCall(metadata.AppendToOutgoingContext(ctx, "x-test-hold", "1"))
			if err == nil {
				s.Header()
			}
			cancel()
			return err
		},
		func(ctx context.Context) error { // deadline that expires
			ctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
			defer cancel()
			_, err := client.UnaryCall(metadata.AppendToOutgoingContext(ctx, "x-demo-latency", "200ms"), &testpb.SimpleRequest{})
			return err
		},
	}
	var mu sync.Mutex
	seen := map[codes.Code]int{}
	var wg sync.WaitGroup
	end := time.Now().Add(*duration)
	for w := range *callers {
		wg.Go(func() {
			for i := w; time.Now().Before(end); i++ {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				err := kinds[i%len(kinds)](ctx)
				cancel()
				mu.Lock()
				seen[status.Code(err)]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	var keys []int
	total := 0
	for c, n := range seen {
		keys = append(keys, int(c))
		total += n
	}
	sort.Ints(keys)
	fmt.Printf("calls: %d;", total)
	for _, k := range keys {
		fmt.Printf(" %s %d", codes.Code(k), seen[codes.Code(k)])
	}
	fmt.Println()
}

func drain[T any](recv func() (T, error)) error {
	for {
		if _, err := recv(); err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
	}
}
