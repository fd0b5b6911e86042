package main

import (
	"compress/gzip"
	"io"
	"net"
	"net/http"
	"sync"

	collogs "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/oidcaddy/oidcaddy/telemetry"
)

// otlpSink is a loopback OTLP/HTTP (protobuf) receiver for the telemetry
// overhead runs: Caddy really exports its spans and log records, so the
// export cost is part of the server CPU measured, and the sink counts what
// arrived so that dropped spans and log records show. Its own CPU is the
// driver's, not Caddy's.
type otlpSink struct {
	srv *http.Server
	url string

	mu sync.Mutex
	// requestSpans are spans of other scopes (Caddy's request spans);
	// eventSpans the module's spans; spanEvents the module's events recorded
	// as span events (span_events); logRecords the module's log records.
	requestSpans, eventSpans, spanEvents, logRecords int64
	badRequests                                      int64
}

type otlpCounts struct {
	RequestSpans int64 `json:"request_spans"`
	EventSpans   int64 `json:"event_spans"`
	SpanEvents   int64 `json:"span_events"`
	LogRecords   int64 `json:"log_records"`
	BadRequests  int64 `json:"bad_requests,omitempty"`
}

func startOTLPSink() (*otlpSink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &otlpSink{url: "http://" + ln.Addr().String()}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/traces", s.traces)
	mux.HandleFunc("POST /v1/logs", s.logs)
	s.srv = &http.Server{Handler: mux}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

func (s *otlpSink) close() { _ = s.srv.Close() }

func (s *otlpSink) counts() otlpCounts {
	s.mu.Lock()
	defer s.mu.Unlock()
	return otlpCounts{s.requestSpans, s.eventSpans, s.spanEvents, s.logRecords, s.badRequests}
}

func (s *otlpSink) body(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	var rd io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			s.bad(w)
			return nil, false
		}
		defer zr.Close()
		rd = zr
	}
	raw, err := io.ReadAll(io.LimitReader(rd, 64<<20))
	if err != nil {
		s.bad(w)
		return nil, false
	}
	return raw, true
}

func (s *otlpSink) bad(w http.ResponseWriter) {
	s.locked(func() { s.badRequests++ })
	http.Error(w, "bad request", http.StatusBadRequest)
}

func (s *otlpSink) traces(w http.ResponseWriter, r *http.Request) {
	raw, ok := s.body(w, r)
	if !ok {
		return
	}
	var req coltrace.ExportTraceServiceRequest
	if err := proto.Unmarshal(raw, &req); err != nil {
		s.bad(w)
		return
	}
	var reqSpans, evSpans, spanEvents int64
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			module := ss.GetScope().GetName() == telemetry.InstrumentationName
			for _, sp := range ss.Spans {
				if module {
					evSpans++
					continue
				}
				reqSpans++
				// With span_events the module's events are span events on
				// the request span; Caddy adds none of its own.
				spanEvents += int64(len(sp.Events))
			}
		}
	}
	s.locked(func() {
		s.requestSpans += reqSpans
		s.eventSpans += evSpans
		s.spanEvents += spanEvents
	})
	w.Header().Set("Content-Type", "application/x-protobuf")
	out, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{})
	_, _ = w.Write(out)
}

func (s *otlpSink) logs(w http.ResponseWriter, r *http.Request) {
	raw, ok := s.body(w, r)
	if !ok {
		return
	}
	var req collogs.ExportLogsServiceRequest
	if err := proto.Unmarshal(raw, &req); err != nil {
		s.bad(w)
		return
	}
	var n int64
	for _, rl := range req.ResourceLogs {
		for _, sl := range rl.ScopeLogs {
			n += int64(len(sl.LogRecords))
		}
	}
	s.locked(func() { s.logRecords += n })
	w.Header().Set("Content-Type", "application/x-protobuf")
	out, _ := proto.Marshal(&collogs.ExportLogsServiceResponse{})
	_, _ = w.Write(out)
}

// locked runs f with the counters' lock held.
func (s *otlpSink) locked(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f()
}
