package store_test

import (
	"testing"

	"github.com/modferry/modferry/internal/store"
	"github.com/modferry/modferry/internal/store/storetest"
)

func TestMemContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return store.NewMem() })
}
