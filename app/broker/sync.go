package broker

import (
	"errors"
	"fmt"
)

// Sync is how far a publish has gone towards the disk when its publisher
// gets the PUBACK. The zero value means SyncFsync.
type Sync string

const (
	// SyncFsync acknowledges a publish once its commit is flushed to the
	// disk: it survives a crash of the app or of the machine, a power loss
	// included, as far as the disk honours flushes.
	SyncFsync Sync = "fsync"
	// SyncNone acknowledges a publish once its commit is written to the
	// operating system's page cache, without a flush: it survives a crash
	// of the app (kill -9) but not one of the kernel or a power loss, after
	// which recent messages may be missing and the queue file unreadable.
	SyncNone Sync = "none"
)

// ErrSync is returned for a sync policy other than fsync or none.
var ErrSync = errors.New("unknown sync policy (want fsync or none)")

// ParseSync returns the sync policy named s, or ErrSync.
func ParseSync(s string) (Sync, error) {
	switch p := Sync(s); p {
	case SyncFsync, SyncNone:
		return p, nil
	}
	return "", fmt.Errorf("sync %q: %w", s, ErrSync)
}

// String returns the policy's name, "fsync" for the zero value.
func (s Sync) String() string {
	if s == "" {
		return string(SyncFsync)
	}
	return string(s)
}

// MarshalText returns the policy's name; with UnmarshalText it makes a Sync
// usable with flag.TextVar.
func (s Sync) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText parses a policy name like ParseSync.
func (s *Sync) UnmarshalText(text []byte) error {
	p, err := ParseSync(string(text))
	if err != nil {
		return err
	}
	*s = p
	return nil
}
