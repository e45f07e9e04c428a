package cluster

import (
	"encoding/json"
	"errors"
	"fmt"
)

// stateVersion is the version of the JSON form of a State. 2: bigram
// features include stop words, so the statistics of a version 1 State
// describe other features.
const stateVersion = 2

type stateJSON struct {
	Version   int     `json:"version"`
	MinSize   int     `json:"min_size"`
	Threshold float64 `json:"threshold"`
	MaxHeld   int     `json:"max_held"`
	Docs      int     `json:"docs"`
	NextSeq   int64   `json:"next_seq"`
	// Feature statistics, for the features seen: slot, document
	// frequency, consistency evidence.
	Feature []int32     `json:"feature"`
	DF      []int32     `json:"df"`
	Has     []float32   `json:"has"`
	Both    []float32   `json:"both"`
	Groups  []groupJSON `json:"groups"` // proposals by index, then near-misses oldest first
}

type groupJSON struct {
	Proposal int      `json:"proposal"` // -1 for a near-miss
	Seq      int64    `json:"seq"`
	N        int      `json:"n"`
	Members  []Member `json:"members"`
	Sum      vecJSON  `json:"sum"`
}

type vecJSON struct {
	Idx []int32   `json:"i"`
	Val []float32 `json:"v"`
}

// MarshalJSON encodes the State: its options, the feature statistics it
// learnt and its groups with their centroids (no ticket text). About
// 30-60 bytes per feature seen plus a few kilobytes per group.
func (s *State) MarshalJSON() ([]byte, error) {
	j := stateJSON{
		Version:   stateVersion,
		MinSize:   s.p.minSize,
		Threshold: s.p.thr,
		MaxHeld:   s.p.maxHeld,
		Docs:      s.w.docs,
		NextSeq:   s.nextSq,
	}
	for f := range nFeat {
		if s.w.df[f] != 0 || s.w.has[f] != 0 {
			j.Feature = append(j.Feature, int32(f))
			j.DF = append(j.DF, s.w.df[f])
			j.Has = append(j.Has, s.w.has[f])
			j.Both = append(j.Both, s.w.both[f])
		}
	}
	for _, g := range append(append([]*group(nil), s.props...), s.held...) {
		j.Groups = append(j.Groups, groupJSON{
			Proposal: g.proposal, Seq: g.seq, N: g.n, Members: g.members,
			Sum: vecJSON{g.sum.idx, g.sum.val},
		})
	}
	return json.Marshal(j)
}

// UnmarshalJSON restores a State saved by MarshalJSON, with the options it
// was saved with.
func (s *State) UnmarshalJSON(b []byte) error {
	var j stateJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	if j.Version != stateVersion {
		return fmt.Errorf("cluster: state version %d, want %d", j.Version, stateVersion)
	}
	if len(j.DF) != len(j.Feature) || len(j.Has) != len(j.Feature) || len(j.Both) != len(j.Feature) {
		return errors.New("cluster: state feature arrays differ in length")
	}
	ns := NewState(Options{MinSize: j.MinSize, Threshold: j.Threshold, MaxHeld: j.MaxHeld})
	ns.w.docs = j.Docs
	ns.nextSq = j.NextSeq
	for k, f := range j.Feature {
		if f < 0 || f >= nFeat {
			return fmt.Errorf("cluster: state feature slot %d out of range", f)
		}
		ns.w.df[f], ns.w.has[f], ns.w.both[f] = j.DF[k], j.Has[k], j.Both[k]
	}
	for _, gj := range j.Groups {
		g := &group{proposal: gj.Proposal, seq: gj.Seq, n: gj.N, members: gj.Members}
		var err error
		if g.sum, err = gj.Sum.vec(); err != nil {
			return err
		}
		if len(g.members) == 0 || g.n != len(g.members) {
			return errors.New("cluster: state group with a wrong member count")
		}
		if g.proposal >= 0 {
			if g.proposal != len(ns.props) {
				return errors.New("cluster: state proposals out of order")
			}
			ns.props = append(ns.props, g)
		} else {
			ns.held = append(ns.held, g)
		}
	}
	*s = *ns
	return nil
}

func (v vecJSON) vec() (vec, error) {
	if len(v.Idx) != len(v.Val) {
		return vec{}, errors.New("cluster: state vector arrays differ in length")
	}
	for k, f := range v.Idx {
		if f < 0 || f >= nFeat || k > 0 && f <= v.Idx[k-1] {
			return vec{}, errors.New("cluster: state vector indices out of range or order")
		}
	}
	return vec{idx: v.Idx, val: v.Val}, nil
}
