package caddymodule

import (
	"bytes"
	"net/http"

	"github.com/oidcaddy/oidcaddy/provider"
)

// renderedPage is a gate page the provider rendered while the gate held it
// (providers.with), written to the client after it has been let go, so a
// slow client never holds up a reload.
type renderedPage struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func renderGatePage(r *http.Request, p *provider.Provider, page provider.GatePage, origin string) *renderedPage {
	rp := &renderedPage{header: http.Header{}}
	p.RenderGatePage(rp, r, page, origin)
	return rp
}

func (rp *renderedPage) Header() http.Header         { return rp.header }
func (rp *renderedPage) Write(b []byte) (int, error) { return rp.body.Write(b) }
func (rp *renderedPage) WriteHeader(status int) {
	if rp.status == 0 {
		rp.status = status
	}
}

func (rp *renderedPage) writeTo(w http.ResponseWriter) {
	for k, v := range rp.header {
		w.Header()[k] = v
	}
	if rp.status == 0 {
		rp.status = http.StatusOK
	}
	w.WriteHeader(rp.status)
	w.Write(rp.body.Bytes())
}
