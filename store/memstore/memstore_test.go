package memstore_test

import (
	"testing"

	"github.com/oidcaddy/oidcaddy/provider"
	"github.com/oidcaddy/oidcaddy/store/memstore"
	"github.com/oidcaddy/oidcaddy/store/storetest"
)

// The whole conformance suite. RunPersistence does not apply: a memstore
// keeps nothing across a restart, by design.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) provider.Store { return memstore.New() })
}

// Compile-time check that *Store is a provider.Store.
var _ provider.Store = (*memstore.Store)(nil)
