package mqtt

// BrokerURL returns the broker s dials.
func BrokerURL(s *Sender) string { return s.cfg.Broker }
