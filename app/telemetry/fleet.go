package telemetry

import "time"

// Fleet is the figures of a whole fleet: how many devices, how many were
// heard from recently, and the messages they had counted and rejected.
type Fleet struct {
	Devices  int       `json:"devices"`
	Online   int       `json:"online"`
	Offline  int       `json:"offline"`
	Messages int64     `json:"messages"`
	Rejected int64     `json:"rejected"`
	LastSeen time.Time `json:"lastSeen"` // the latest of any device
}

// Add counts s: online when it was last seen within offlineAfter of now.
func (f *Fleet) Add(s Summary, now time.Time, offlineAfter time.Duration) {
	f.Devices++
	if !s.LastSeen.IsZero() && now.Sub(s.LastSeen) <= offlineAfter {
		f.Online++
	} else {
		f.Offline++
	}
	f.Messages += s.Count
	f.Rejected += s.Rejected
	if s.LastSeen.After(f.LastSeen) {
		f.LastSeen = s.LastSeen
	}
}
