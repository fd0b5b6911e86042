package telemetry

import (
	"context"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/oidcaddy/oidcaddy/provider"
)

func counterValue(t testing.TB, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// series gathers reg into "name{label=value,...}" -> value, labels sorted, as
// a scrape would see them.
func series(t testing.TB, reg prometheus.Gatherer) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var ls []string
			for _, lp := range m.GetLabel() {
				ls = append(ls, lp.GetName()+"="+lp.GetValue())
			}
			sort.Strings(ls)
			out[mf.GetName()+"{"+strings.Join(ls, ",")+"}"] = m.GetCounter().GetValue()
		}
	}
	return out
}

func eventSeries(name string) string { return "oidc_provider_events_total{event=" + name + "}" }
func errorSeries(event, code string) string {
	return "oidc_provider_errors_total{error=" + code + ",event=" + event + "}"
}

func TestEveryCatalogueEventExportsZeroAfterRegistration(t *testing.T) {
	m := newMetrics()
	reg := prometheus.NewPedanticRegistry()
	if err := m.register(reg); err != nil {
		t.Fatal(err)
	}
	got := series(t, reg)
	for _, name := range provider.Catalogue {
		v, ok := got[eventSeries(string(name))]
		if !ok {
			t.Errorf("event %q not exported", name)
		} else if v != 0 {
			t.Errorf("event %q = %v, want 0", name, v)
		}
	}
	// The catalogue plus the fixed overflow label, nothing else, and no
	// errors_total series before any error happened.
	if want := len(provider.Catalogue) + 1; len(got) != want {
		t.Errorf("%d series exported, want %d: %v", len(got), want, got)
	}
	if _, ok := got[eventSeries(UncataloguedEvent)]; !ok {
		t.Errorf("overflow series %q missing", UncataloguedEvent)
	}
}

func TestEmitIncrementsExactlyTheRightSeries(t *testing.T) {
	tests := []struct {
		name  string
		event provider.Event
		want  []string // series that must move by exactly one
	}{
		{"plain event", provider.Event{Name: provider.EventAccessTokenSaved},
			[]string{eventSeries("access_token.saved")}},
		{"success with client", provider.Event{Name: provider.EventGrantSuccess, ClientID: "app"},
			[]string{eventSeries("grant.success")}},
		{"handled error with known code", provider.Event{Name: provider.EventGrantError, ErrorCode: "invalid_grant"},
			[]string{eventSeries("grant.error"), errorSeries("grant.error", "invalid_grant")}},
		{"handled error with unknown code", provider.Event{Name: provider.EventAuthorizationError, ErrorCode: "weird_code_from_a_plugin"},
			[]string{eventSeries("authorization.error"), errorSeries("authorization.error", OtherError)}},
		{"handled error without code", provider.Event{Name: provider.EventJwksError},
			[]string{eventSeries("jwks.error"), errorSeries("jwks.error", OtherError)}},
		{"server_error", provider.Event{Name: provider.EventServerError, ErrorCode: "server_error"},
			[]string{eventSeries("server_error"), errorSeries("server_error", "server_error")}},
		{"error code on a non-error event is not an error", provider.Event{Name: provider.EventBackchannelSuccess, ErrorCode: "invalid_request"},
			[]string{eventSeries("backchannel.success")}},
		{"uncatalogued name", provider.Event{Name: "made.up"},
			[]string{eventSeries(UncataloguedEvent)}},
		{"uncatalogued error name", provider.Event{Name: "made_up.error", ErrorCode: "invalid_scope"},
			[]string{eventSeries(UncataloguedEvent), errorSeries(UncataloguedEvent, "invalid_scope")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMetrics()
			reg := prometheus.NewPedanticRegistry()
			if err := m.register(reg); err != nil {
				t.Fatal(err)
			}
			s := newSink(Options{}, m)
			before := series(t, reg)
			s.Emit(context.Background(), tt.event)
			after := series(t, reg)

			want := map[string]bool{}
			for _, k := range tt.want {
				want[k] = true
				if after[k]-before[k] != 1 {
					t.Errorf("%s moved by %v, want 1", k, after[k]-before[k])
				}
			}
			for k, v := range after {
				if !want[k] && v != before[k] {
					t.Errorf("%s moved by %v, want 0", k, v-before[k])
				}
				if strings.Contains(k, "made") || strings.Contains(k, "weird") {
					t.Errorf("unbounded label value exported: %s", k)
				}
			}
		})
	}
}

func TestUncataloguedNamesDoNotGrowSeries(t *testing.T) {
	m := newMetrics()
	reg := prometheus.NewPedanticRegistry()
	if err := m.register(reg); err != nil {
		t.Fatal(err)
	}
	s := newSink(Options{}, m)
	for i := range 200 {
		s.Emit(context.Background(), provider.Event{Name: provider.EventName("x" + string(rune('a'+i%26)) + ".error"), ErrorCode: string(rune('a' + i%26))})
	}
	got := series(t, reg)
	if want := len(provider.Catalogue) + 2; len(got) != want {
		t.Fatalf("%d series, want %d (catalogue + uncatalogued + one errors_total)", len(got), want)
	}
	if got[eventSeries(UncataloguedEvent)] != 200 || got[errorSeries(UncataloguedEvent, OtherError)] != 200 {
		t.Fatalf("overflow counts wrong: %v / %v", got[eventSeries(UncataloguedEvent)], got[errorSeries(UncataloguedEvent, OtherError)])
	}
}

// TestCountsSurviveReload simulates a Caddy reload: the new config registers
// the same collectors with a brand-new registry, and the old one goes away.
func TestCountsSurviveReload(t *testing.T) {
	m := newMetrics()
	s := newSink(Options{}, m)
	reg1 := prometheus.NewRegistry()
	if err := m.register(reg1); err != nil {
		t.Fatal(err)
	}
	if err := m.register(reg1); err != nil {
		t.Fatalf("second registration with the same registry: %v", err)
	}
	for range 3 {
		s.Emit(context.Background(), provider.Event{Name: provider.EventGrantError, ErrorCode: "invalid_client"})
	}

	reg2 := prometheus.NewRegistry()
	if err := m.register(reg2); err != nil {
		t.Fatal(err)
	}
	s.Emit(context.Background(), provider.Event{Name: provider.EventGrantError, ErrorCode: "invalid_client"})
	got := series(t, reg2)
	if v := got[eventSeries("grant.error")]; v != 4 {
		t.Errorf("after reload events_total{grant.error} = %v, want 4", v)
	}
	if v := got[errorSeries("grant.error", "invalid_client")]; v != 4 {
		t.Errorf("after reload errors_total{grant.error,invalid_client} = %v, want 4", v)
	}
}

func TestRegisterRejectsForeignCollectorUnderOurName(t *testing.T) {
	reg := prometheus.NewRegistry()
	impostor := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "oidc_provider", Name: "events_total", Help: "impostor"}, []string{"event"})
	reg.MustRegister(impostor)
	if err := newMetrics().register(reg); err == nil {
		t.Fatal("registering over a foreign collector with our name succeeded; our counts would be invisible")
	}
}

// TestRegisterMetricsPackageLevel exercises the exported entry point on the
// process-wide collectors, the way the Caddy module calls it per config load.
func TestRegisterMetricsPackageLevel(t *testing.T) {
	reg1 := prometheus.NewRegistry()
	if err := RegisterMetrics(reg1); err != nil {
		t.Fatal(err)
	}
	if err := RegisterMetrics(reg1); err != nil {
		t.Fatalf("RegisterMetrics twice on one registry: %v", err)
	}
	before := series(t, reg1)
	for _, name := range provider.Catalogue {
		if _, ok := before[eventSeries(string(name))]; !ok {
			t.Errorf("event %q not exported", name)
		}
	}
	NewSink(Options{}).Emit(context.Background(), provider.Event{Name: provider.EventRevocationError, ErrorCode: "made_up_code"})

	reg2 := prometheus.NewRegistry()
	if err := RegisterMetrics(reg2); err != nil {
		t.Fatal(err)
	}
	after := series(t, reg2)
	if d := after[eventSeries("revocation.error")] - before[eventSeries("revocation.error")]; d != 1 {
		t.Errorf("revocation.error moved by %v across registries, want 1", d)
	}
	if after[errorSeries("revocation.error", OtherError)] < 1 {
		t.Errorf("unknown code not counted as %q", OtherError)
	}
}

func TestErrorLabelIsBounded(t *testing.T) {
	if len(errorCodeIndex) != len(errorCodes) {
		t.Fatalf("errorCodes has duplicates: %d codes, %d distinct", len(errorCodes), len(errorCodeIndex))
	}
	for _, code := range errorCodes {
		if _, got := errorLabel(code); got != code {
			t.Errorf("errorLabel(%q) = %q", code, got)
		}
	}
	for _, code := range []string{"", "Invalid_Request", "invalid_request ", "https://evil.example/", "made_up_code"} {
		if _, got := errorLabel(code); got != OtherError {
			t.Errorf("errorLabel(%q) = %q, want %q", code, got, OtherError)
		}
	}
}

// TestConcurrentEmit races the lazy creation of errors_total children; run
// with -race.
func TestConcurrentEmit(t *testing.T) {
	m := newMetrics()
	reg := prometheus.NewRegistry()
	if err := m.register(reg); err != nil {
		t.Fatal(err)
	}
	s := newSink(Options{}, m)
	codes := []string{"invalid_grant", "invalid_client", "bogus"}
	const workers, per = 8, 300
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				s.Emit(context.Background(), provider.Event{Name: provider.EventGrantError, ErrorCode: codes[(w+i)%len(codes)]})
			}
		}()
	}
	wg.Wait()
	got := series(t, reg)
	if v := got[eventSeries("grant.error")]; v != workers*per {
		t.Errorf("grant.error = %v, want %d", v, workers*per)
	}
	sum := got[errorSeries("grant.error", "invalid_grant")] + got[errorSeries("grant.error", "invalid_client")] + got[errorSeries("grant.error", OtherError)]
	if sum != workers*per {
		t.Errorf("errors_total children sum to %v, want %d", sum, workers*per)
	}
}
