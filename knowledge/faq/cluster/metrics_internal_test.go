package cluster

import (
	"math"
	"testing"
)

func TestScoreKnownValues(t *testing.T) {
	// Perfect grouping.
	s := score([]int{0, 0, 0, 1, 1, 1}, []string{"a", "a", "a", "b", "b", "b"})
	if s.ari != 1 || math.Abs(s.nmi-1) > 1e-12 || s.clean != 1 || s.found != 1 || s.pairF1 != 1 {
		t.Fatalf("perfect: %v", s)
	}
	// The classic example (sklearn adjusted_rand_score([0,0,1,1],[0,0,1,2]) = 0.5714...).
	s = score([]int{0, 0, 1, -1}, []string{"a", "a", "b", "b"})
	// pred partition {0,1},{2},{3} vs truth {0,1},{2,3}: ARI = 4/7.
	if math.Abs(s.ari-4.0/7) > 1e-12 {
		t.Fatalf("ari %v, want 4/7", s.ari)
	}
	// NMI (arithmetic) of [0,0,1,1] vs [0,0,1,2] is 0.8 (sklearn).
	if math.Abs(s.nmi-0.8) > 1e-12 {
		t.Fatalf("nmi %v, want 0.8", s.nmi)
	}
	if s.pairP != 1 || s.pairR != 0.5 {
		t.Fatalf("pairs %v", s)
	}
	if s.coverage != 0.75 || s.proposals != 2 {
		t.Fatalf("coverage %v", s)
	}
}
