package provider_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/oidcaddy/oidcaddy/provider"
)

// Every catalogued event has exactly one emission point: one function of the
// package names its constant and hands it to the emitter. A lifecycle event
// (*.saved, *.consumed, *.destroyed, grant.revoked) belongs to its typed
// record store, an endpoint's outcome event (*.error, *.success) to one
// function of that endpoint; so an event's meaning and fields cannot drift
// between call sites, and a new call site has to go through the owner.
func TestEventEmissionPoints(t *testing.T) {
	fset := token.NewFileSet()
	names, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var files []*ast.File
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") || name == "event_names.go" {
			continue // tests, and the catalogue itself (its declaration and list)
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	points := eventEmissionPoints(fset, files)
	for _, name := range provider.Catalogue {
		constant := catalogueConstant(t, name)
		switch fns := points[constant]; len(fns) {
		case 1:
		case 0:
			t.Errorf("%s (%s) is emitted nowhere", constant, name)
		default:
			t.Errorf("%s (%s) is emitted from %d functions, want one: %s", constant, name, len(fns), strings.Join(fns, ", "))
		}
	}
}

// The check above finds a duplicated emission: a second function naming a
// constant is reported with both places.
func TestEventEmissionPointsFindsDuplicates(t *testing.T) {
	const src = `package provider
func (p *Provider) saveThing(r *http.Request) { p.emit(r, Event{Name: EventSessionSaved}) }
func (p *Provider) linkThing(r *http.Request) {
	defer func() { p.emit(r, Event{Name: EventSessionSaved}) }()
	p.emit(r, Event{Name: EventSessionDestroyed})
}
func (p *Provider) fail(w http.ResponseWriter, r *http.Request) { p.endpointError(w, r, EventGrantError, nil, "") }
var table = map[string]EventName{"x": EventGrantError}
`
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "fixture.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	points := eventEmissionPoints(fset, []*ast.File{f})
	want := map[string][]string{
		"EventSessionSaved":     {"(*Provider).linkThing", "(*Provider).saveThing"},
		"EventSessionDestroyed": {"(*Provider).linkThing"},
		"EventGrantError":       {"(*Provider).fail", "var table"},
	}
	for constant, fns := range want {
		if !slices.Equal(points[constant], fns) {
			t.Errorf("%s: found emission points %v, want %v", constant, points[constant], fns)
		}
	}
}

// eventEmissionPoints maps each Event… identifier to the sorted top-level
// declarations (functions, methods, package-level vars) that name it. A
// closure counts as the function it is written in.
func eventEmissionPoints(fset *token.FileSet, files []*ast.File) map[string][]string {
	seen := map[string]map[string]bool{}
	for _, f := range files {
		for _, decl := range f.Decls {
			owner := declName(decl)
			ast.Inspect(decl, func(n ast.Node) bool {
				id, ok := n.(*ast.Ident)
				if !ok || !strings.HasPrefix(id.Name, "Event") || len(id.Name) == len("Event") {
					return true
				}
				if id.Name == "EventName" || id.Name == "EventSink" || id.Name == "EventSinkFunc" {
					return true // types, not catalogue constants
				}
				if seen[id.Name] == nil {
					seen[id.Name] = map[string]bool{}
				}
				seen[id.Name][owner] = true
				return true
			})
		}
	}
	out := map[string][]string{}
	for name, owners := range seen {
		for o := range owners {
			out[name] = append(out[name], o)
		}
		sort.Strings(out[name])
	}
	return out
}

func declName(decl ast.Decl) string {
	switch d := decl.(type) {
	case *ast.FuncDecl:
		if d.Recv == nil || len(d.Recv.List) == 0 {
			return d.Name.Name
		}
		recv := d.Recv.List[0].Type
		star := ""
		if s, ok := recv.(*ast.StarExpr); ok {
			recv, star = s.X, "*"
		}
		if ix, ok := recv.(*ast.IndexExpr); ok {
			recv = ix.X
		}
		if id, ok := recv.(*ast.Ident); ok {
			return "(" + star + id.Name + ")." + d.Name.Name
		}
		return d.Name.Name
	case *ast.GenDecl:
		var names []string
		for _, s := range d.Specs {
			switch s := s.(type) {
			case *ast.ValueSpec:
				for _, n := range s.Names {
					names = append(names, n.Name)
				}
			case *ast.TypeSpec:
				names = append(names, s.Name.Name)
			}
		}
		return strings.ToLower(d.Tok.String()) + " " + strings.Join(names, ", ")
	}
	return "?"
}

// catalogueConstant finds the name of the constant whose value is name, in
// event_names.go, so the check covers exactly the catalogue.
func catalogueConstant(t *testing.T, name provider.EventName) string {
	t.Helper()
	src, err := os.ReadFile("event_names.go")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(src), "\n") {
		fields := strings.Fields(line)
		if len(fields) >= 4 && fields[1] == "EventName" && fields[2] == "=" && fields[3] == `"`+string(name)+`"` {
			return fields[0]
		}
	}
	t.Fatalf("no constant for %q in event_names.go", name)
	return ""
}
