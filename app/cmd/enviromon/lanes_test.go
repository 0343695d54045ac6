package main

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/enviromon/enviromon/app/pipeline"
)

func TestLanesFor(t *testing.T) {
	for stateType, want := range map[string]int{
		"state.sqlite":             1,
		"state.redis":              pipeline.DefaultConfig().Lanes,
		"state.azure.tablestorage": pipeline.DefaultConfig().Lanes,
		"":                         pipeline.DefaultConfig().Lanes, // sidecar without -components
	} {
		assert.Equal(t, want, lanesFor(stateType), stateType)
	}
}
