package jobs

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// register adds c to reg and returns the collector to use: the one already
// registered when an identical metric exists (a second worker or relay in the
// same process shares the series instead of failing). A nil reg means no
// export; the collector still counts, which tests and callers may read.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	if reg == nil {
		return c, nil
	}
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing, nil
			}
		}
		return c, err
	}
	return c, nil
}
