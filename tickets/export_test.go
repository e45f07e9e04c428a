package tickets

// FireBatchStats reports the batches of more than one Fire call that s ran,
// the calls in them, and how many of those batches failed and ran their
// calls alone.
func FireBatchStats(s *Service) (batches, calls, failed int64) {
	return s.fires.batches.Load(), s.fires.batched.Load(), s.fires.failed.Load()
}

// CreateBatchStats is FireBatchStats for Create calls.
func CreateBatchStats(s *Service) (batches, calls, failed int64) {
	return s.creates.batches.Load(), s.creates.batched.Load(), s.creates.failed.Load()
}

// EqID is eqID for the external tests.
var EqID = eqID
