package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestLoopbackOnly(t *testing.T) {
	for _, tc := range []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:6060", true},
		{"[::1]:6060", true},
		{"localhost:0", true},
		{"0.0.0.0:6060", false},
		{":6060", false},
		{"10.0.0.5:6060", false},
		{"example.com:6060", false},
		{"127.0.0.1", false}, // no port
	} {
		err := loopbackOnly(tc.addr)
		assert.Equal(t, tc.ok, err == nil, "%s: %v", tc.addr, err)
	}
}
