package main

import "github.com/enviromon/enviromon/app/pipeline"

// lanesFor is the number of commit lanes for a state component type when
// -lanes is 0. SQLite lets one writer in at a time: concurrent commits only
// queue for its lock, and its busy handler sleeps between tries (1 ms
// growing to 100 ms), which showed as tail latency in `make bench`. Stores
// that take concurrent writes get the pipeline's default.
func lanesFor(stateType string) int {
	if stateType == "state.sqlite" {
		return 1
	}
	return pipeline.DefaultConfig().Lanes
}
