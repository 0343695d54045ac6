package component

import (
	"errors"
	"fmt"
	"strings"
)

// ErrKeyLayout is a state component whose key prefix, together with the
// app's keys, would store two records in one place or the whole fleet in
// one partition.
var ErrKeyLayout = errors.New("state key layout")

// KeySample is what CheckKeyLayout checks a layout against: the keys the app
// writes for two different devices, and the keys it shares between devices
// (index and dead-letter shards).
type KeySample struct {
	Devices [2][]string // each device's keys, its own state record first
	Shared  []string
}

// placement is where a store keeps a stored key: Table Storage's
// PartitionKey and RowKey; for stores without partitions, Row alone.
type placement struct {
	Partition, Row string
}

// place returns where a store of this component's type keeps stored, the
// key daprd hands it. components-contrib v1.16.0
// state/azure/tablestorage (getPartitionAndRowKey) splits it at "||": two
// parts are PartitionKey and RowKey, any other count maps to (first part,
// "") — so stored keys with more than one separator collide.
func (c Component) place(stored string) placement {
	if c.Type != "state.azure.tablestorage" {
		return placement{Row: stored}
	}
	parts := strings.Split(stored, KeySeparator)
	if len(parts) != 2 {
		return placement{Partition: parts[0]}
	}
	return placement{Partition: parts[0], Row: parts[1]}
}

// partitioned reports whether the store spreads load by partition, with a
// per-partition throughput limit (Azure Table Storage: 2,000 entities/s).
func (c Component) partitioned() bool { return c.Type == "state.azure.tablestorage" }

// CheckKeyLayout returns an ErrKeyLayout when this state component, with
// its keyPrefix and daprd's rules for appID and namespace, would store two
// of the sample's keys as one record, or, on a partitioned store, the state
// records of two devices in one partition (every device would then share
// that partition's throughput limit).
//
// Records collide when a stored key holds more than one separator (place),
// so a key or prefix holding one is refused, as daprd refuses it.
func (c Component) CheckKeyLayout(appID, namespace string, sample KeySample) error {
	prefix, err := c.KeyPrefix(appID, namespace)
	if err != nil {
		return fmt.Errorf("%w: component %q: %w", ErrKeyLayout, c.Name, err)
	}
	var first [2]placement
	for i, keys := range [][]string{sample.Devices[0], sample.Devices[1], sample.Shared} {
		for j, k := range keys {
			stored, err := StoredKey(prefix, k)
			if err != nil {
				return fmt.Errorf("%w: component %q: %w", ErrKeyLayout, c.Name, err)
			}
			if i < 2 && j == 0 {
				first[i] = c.place(stored)
			}
		}
	}
	if c.partitioned() && first[0].Partition == first[1].Partition {
		return fmt.Errorf("%w: component %q (%s, keyPrefix %q) would keep every device in partition %q, "+
			"one partition's throughput for the whole fleet: set keyPrefix to none so that each record is its own partition",
			ErrKeyLayout, c.Name, c.Type, c.keyPrefixStrategy(), first[0].Partition)
	}
	return nil
}
