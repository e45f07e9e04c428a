package batchq

import (
	"runtime"
	"sync"
	"testing"
)

// Items that arrive while the only flusher is busy go together in the
// next batch, in arrival order, at most max at a time; every item is run
// exactly once.
func TestQueueBatchesWhatArrivesWhileBusy(t *testing.T) {
	var q Queue[int]
	release := make(chan struct{})
	var mu sync.Mutex
	var batches [][]int
	var wg sync.WaitGroup
	run := func(b []int) {
		if b[0] == 0 {
			<-release
		}
		mu.Lock()
		batches = append(batches, b)
		mu.Unlock()
		for range b {
			wg.Done()
		}
	}
	wg.Add(8)
	q.Add(0, 1, 3, run)
	for q.Len() != 0 { // until the flusher has taken item 0 and waits
		runtime.Gosched()
	}
	for i := 1; i < 8; i++ {
		q.Add(i, 1, 3, run)
	}
	close(release)
	wg.Wait()
	want := [][]int{{0}, {1, 2, 3}, {4, 5, 6}, {7}}
	if len(batches) != len(want) {
		t.Fatalf("batches %v, want %v", batches, want)
	}
	for i := range want {
		if len(batches[i]) != len(want[i]) {
			t.Fatalf("batches %v, want %v", batches, want)
		}
		for j := range want[i] {
			if batches[i][j] != want[i][j] {
				t.Fatalf("batches %v, want %v", batches, want)
			}
		}
	}
	// A later item runs too, whether the flusher has ended or not.
	wg.Add(1)
	q.Add(9, 1, 3, run)
	wg.Wait()
}
