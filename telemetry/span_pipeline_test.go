package telemetry

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/oidcaddy/oidcaddy/provider"
)

// otlpTraceReceiver is an OTLP/HTTP endpoint that keeps the spans posted to
// it, with their resources' attributes.
type otlpTraceReceiver struct {
	*httptest.Server
	mu    sync.Mutex
	spans []*tracepb.Span
	res   map[string]string
}

func startOTLPTraceReceiver(t *testing.T) *otlpTraceReceiver {
	t.Helper()
	r := &otlpTraceReceiver{res: map[string]string{}}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		var msg coltracepb.ExportTraceServiceRequest
		if req.URL.Path != "/v1/traces" || proto.Unmarshal(body, &msg) != nil {
			http.Error(w, "not an OTLP trace export", http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, rs := range msg.ResourceSpans {
			for _, kv := range rs.GetResource().GetAttributes() {
				r.res[kv.Key] = kv.GetValue().GetStringValue()
			}
			for _, ss := range rs.ScopeSpans {
				r.spans = append(r.spans, ss.Spans...)
			}
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
		out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Write(out)
	}))
	t.Cleanup(r.Close)
	return r
}

// An event span under Caddy's request span leaves by the module's own
// pipeline, built from the environment Caddy's tracing reads: the request
// span is its parent in the same trace, and its resource is Caddy's
// (the SDK's default, with the service name, and the web engine).
func TestEventSpansLeaveByTheModulesPipelineUnderTheRequestSpan(t *testing.T) {
	recv := startOTLPTraceReceiver(t)
	t.Setenv("OTEL_TRACES_EXPORTER", "otlp")
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", recv.URL)

	ctx := context.Background()
	tp, release, err := AcquireTracerProvider(ctx, "Caddy", "v2.test")
	if err != nil || tp == nil {
		t.Fatalf("AcquireTracerProvider: %v %v", tp, err)
	}
	sink := newSink(Options{TracerProvider: tp}, newMetrics())

	// Caddy's request span, from a provider of its own (a recorder here).
	caddyRec := tracetest.NewSpanRecorder()
	caddyTP := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(caddyRec))
	reqCtx, reqSpan := caddyTP.Tracer("caddy").Start(ctx, "POST /token")
	sink.Emit(reqCtx, provider.Event{Name: provider.EventGrantSuccess, ClientID: "svc"})
	reqSpan.End()

	// The last release flushes the pipeline.
	flushCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := release(flushCtx); err != nil {
		t.Fatal(err)
	}
	recv.mu.Lock()
	defer recv.mu.Unlock()
	if len(recv.spans) != 1 {
		t.Fatalf("the module's pipeline exported %d spans, want the event's 1", len(recv.spans))
	}
	s := recv.spans[0]
	if s.Name != string(provider.EventGrantSuccess) {
		t.Errorf("span name %q", s.Name)
	}
	wantTrace, wantParent := reqSpan.SpanContext().TraceID(), reqSpan.SpanContext().SpanID()
	if !bytes.Equal(s.TraceId, wantTrace[:]) || !bytes.Equal(s.ParentSpanId, wantParent[:]) {
		t.Errorf("trace %x parent %x, want the request span's trace %s and id %s", s.TraceId, s.ParentSpanId, wantTrace, wantParent)
	}
	// resource.Default is what Caddy's tracing starts from too (it reads
	// OTEL_SERVICE_NAME once per process).
	wantService, _ := resource.Default().Set().Value("service.name")
	if recv.res["service.name"] != wantService.AsString() || recv.res["webengine.name"] != "Caddy" || recv.res["webengine.version"] != "v2.test" {
		t.Errorf("resource %v, want Caddy's", recv.res)
	}
	for _, ended := range caddyRec.Ended() {
		if ended.Name() != "POST /token" {
			t.Errorf("Caddy's provider got the module's span %q", ended.Name())
		}
	}
}

// OTEL_TRACES_EXPORTER=none gives no pipeline: the Sink then starts its
// spans from the request span's provider.
func TestNoSpanPipelineWhenTheExporterIsNone(t *testing.T) {
	t.Setenv("OTEL_TRACES_EXPORTER", "none")
	tp, release, err := AcquireTracerProvider(context.Background(), "Caddy", "v2.test")
	if err != nil || tp != nil {
		t.Fatalf("got %v %v, want no provider", tp, err)
	}
	if err := release(context.Background()); err != nil {
		t.Fatal(err)
	}
}
