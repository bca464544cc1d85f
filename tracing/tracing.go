// Package tracing makes an OpenTelemetry span for each relayed call and
// exports the spans over OTLP/gRPC.
//
// A call's span is the child of the client's traceparent, or the root of
// a new trace (sampled at Options.Sample) when the client sent none; the
// request goes upstream with the span's own traceparent, so the
// endpoint's spans hang below strait's. Attributes follow OpenTelemetry's
// RPC conventions (rpc.system, rpc.service, rpc.method,
// rpc.grpc.status_code, server.address, server.port), plus strait.cluster
// and strait.endpoint.
package tracing

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	otelcodes "go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/codes"
)

// Defaults for Options fields left zero.
const (
	DefaultServiceName = "strait"
	DefaultQueue       = 2048
	maxQueue           = 1 << 20
	// exportEvery bounds how long a finished span waits for export.
	exportEvery = time.Second
)

// Options configure tracing (the YAML `tracing` section).
type Options struct {
	// Endpoint is the OTLP/gRPC collector, host:port, reached without
	// TLS. Required.
	Endpoint string `yaml:"endpoint"`
	// Sample is the fraction of new traces (calls without a traceparent)
	// that are sampled, in (0, 1]; default 1. A call with a traceparent
	// follows its sampled flag.
	Sample float64 `yaml:"sample"`
	// ServiceName is the service.name resource attribute; default strait.
	ServiceName string `yaml:"service_name"`
	// Queue bounds the finished spans waiting for export; beyond it they
	// are dropped. Default 2048.
	Queue int `yaml:"queue"`
}

// WithDefaults fills in zero fields.
func (o Options) WithDefaults() Options {
	if o.Sample == 0 {
		o.Sample = 1
	}
	if o.ServiceName == "" {
		o.ServiceName = DefaultServiceName
	}
	if o.Queue == 0 {
		o.Queue = DefaultQueue
	}
	return o
}

// Validate reports the first bad field, named under prefix ("tracing").
// It expects defaults applied.
func (o Options) Validate(prefix string) error {
	if _, _, err := net.SplitHostPort(o.Endpoint); err != nil || o.Endpoint == "" {
		return fmt.Errorf("%s.endpoint: %q is not host:port", prefix, o.Endpoint)
	}
	if !(o.Sample > 0 && o.Sample <= 1) {
		return fmt.Errorf("%s.sample: %v is not a fraction in (0, 1]", prefix, o.Sample)
	}
	if o.Queue < 1 || o.Queue > maxQueue {
		return fmt.Errorf("%s.queue: %d is not between 1 and %d", prefix, o.Queue, maxQueue)
	}
	return nil
}

// Tracer starts and ends the spans of relayed calls. Safe for concurrent
// use.
type Tracer struct {
	tp   *sdktrace.TracerProvider
	tr   trace.Tracer
	prop propagation.TraceContext
}

// New starts exporting to o.Endpoint. The exporter connects lazily: a
// collector that is down costs dropped spans, not start-up.
func New(o Options) (*Tracer, error) {
	o = o.WithDefaults()
	if err := o.Validate("tracing"); err != nil {
		return nil, err
	}
	exp, err := otlptracegrpc.New(context.Background(), otlptracegrpc.WithEndpoint(o.Endpoint), otlptracegrpc.WithInsecure())
	if err != nil {
		return nil, fmt.Errorf("tracing: %w", err)
	}
	res := resource.NewSchemaless(attribute.String("service.name", o.ServiceName))
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(o.Sample))),
		sdktrace.WithBatcher(exp, sdktrace.WithMaxQueueSize(o.Queue), sdktrace.WithBatchTimeout(exportEvery)),
	)
	return &Tracer{tp: tp, tr: tp.Tracer("github.com/straitproxy/strait")}, nil
}

// carrier is the one header the W3C trace context needs (tracestate is
// passed through untouched by the relay).
type carrier struct{ traceparent string }

func (c *carrier) Get(key string) string {
	if key == "traceparent" {
		return c.traceparent
	}
	return ""
}

func (c *carrier) Set(key, value string) {
	if key == "traceparent" {
		c.traceparent = value
	}
}

func (c *carrier) Keys() []string { return []string{"traceparent"} }

// Start opens the span of a call to method ("/pkg.Service/Method") routed
// to cluster, as a child of the request's traceparent ("" when it has
// none). It returns the traceparent to send upstream and the span, for
// End.
func (t *Tracer) Start(method, cluster, traceparent string) (outgoing string, span any) {
	ctx := t.prop.Extract(context.Background(), &carrier{traceparent: traceparent})
	name := strings.TrimPrefix(method, "/")
	service, meth, _ := strings.Cut(name, "/")
	ctx, sp := t.tr.Start(ctx, name, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(
		attribute.String("rpc.system", "grpc"),
		attribute.String("rpc.service", service),
		attribute.String("rpc.method", meth),
		attribute.String("strait.cluster", cluster),
	))
	var out carrier
	t.prop.Inject(ctx, &out)
	return out.traceparent, sp
}

// End closes a span Start returned, with the endpoint that served the
// call ("" when none) and the status the client got.
func (t *Tracer) End(span any, endpoint string, code codes.Code, message string) {
	sp, ok := span.(trace.Span)
	if !ok {
		return
	}
	if sp.IsRecording() {
		attrs := []attribute.KeyValue{attribute.Int("rpc.grpc.status_code", int(code)), attribute.String("strait.endpoint", endpoint)}
		if host, port, err := net.SplitHostPort(endpoint); err == nil {
			attrs = append(attrs, attribute.String("server.address", host))
			if p, err := strconv.Atoi(port); err == nil {
				attrs = append(attrs, attribute.Int("server.port", p))
			}
		}
		sp.SetAttributes(attrs...)
		if code != codes.OK {
			sp.SetStatus(otelcodes.Error, message)
		}
	}
	sp.End()
}

// Shutdown exports what is queued and stops, within ctx.
func (t *Tracer) Shutdown(ctx context.Context) error {
	return t.tp.Shutdown(ctx)
}
