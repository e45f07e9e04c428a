// Package cluster finds groups of tickets that describe the same issue, in
// Chinese, English or mixed text: the grouping behind FAQ proposals. It is
// pure (no database, no HTTP); the miner feeds it resolved tickets, stores
// the State it returns and shows the groups to knowledge editors. Gap
// detection (is there already an article?) and drafting happen elsewhere.
//
// How a group is found:
//
//  1. Features. search.Tokenize cuts the text (CJK bigrams, lowercased Latin
//     words), as ticket search does; Chinese function words (什么, 怎么,
//     我的, 的, 了: search.IsCJKFunctionTerm) are left out, as English stop
//     words are. Features are stemmed words, adjacent word bigrams,
//     unordered word pairs up to 8 words apart, character 3-4 grams of
//     Latin words and single CJK characters, hashed into 2^20 slots and
//     weighted by sublinear TF-IDF (features in one ticket only dropped),
//     the word block and the character block each normalised.
//  2. Neighbourhood consistency. Each new ticket's 5 nearest neighbours are
//     found (among the new tickets and the near-misses held); a feature's
//     weight is multiplied by how often a ticket that has it sees it in its
//     neighbours too. Words that define an issue recur among paraphrases;
//     filler does not. The evidence is learnt from the tickets themselves
//     and accumulates in the State.
//  3. Candidate graph. Every new ticket's 10 nearest tickets or groups
//     (cosine of the reweighted vectors, at least 0.2), found through an
//     inverted index of word features.
//  4. Agglomeration. Along candidate edges, the two groups whose centroids
//     have the highest cosine are merged, while that cosine is at least
//     Threshold (0.75). An existing proposal may absorb tickets and
//     near-misses but never another proposal.
//
// Groups of at least MinSize tickets are proposals; smaller ones are held
// in the State as near-misses that later tickets can grow. Every member
// carries its cosine with its group's centroid and the representative is
// the most central member.
//
// The miner is incremental: State.Add clusters new tickets together with
// the groups already held, so a new ticket joins an open proposal (whose
// index never changes) instead of founding a near-duplicate. Cluster is Add
// on an empty State. Large inputs are processed in chunks of 10,000, each
// against the groups found so far, so the cost grows about linearly:
// 100,000 tickets take 10-15 s on the project's 2-core box.
//
// Precision comes first: on BANKING77 about 87 % of proposals are clean
// (80 % of their tickets share one intent) and 92 % of intents have one,
// but an intent is typically split over three proposals and half the
// tickets stay unclustered. Measured figures and the alternatives tried:
// docs/BENCHMARKS.md, "Repeat-issue clustering on BANKING77 and CLINC150".
package cluster

import (
	"cmp"
	"slices"
)

// Item is a ticket to group: Text is its subject and description (and the
// resolution, when there is one).
type Item struct {
	ID   int64
	Text string
}

// Member is an item of a group and its cosine with the group's centroid
// when it joined (members present before an Add keep their value).
type Member struct {
	ID         int64   `json:"id"`
	Similarity float64 `json:"similarity"`
}

// Group is a set of items that describe the same issue. Members are sorted
// by Similarity, most central first (ties by ID); Representative is the
// first member's ID.
type Group struct {
	Members        []Member `json:"members"`
	Representative int64    `json:"representative"`
}

// Options tunes clustering. The zero value gives the measured defaults.
type Options struct {
	// MinSize is the smallest group returned as a proposal; 0 means 3.
	MinSize int
	// Threshold is the smallest centroid cosine at which two groups merge
	// (reweighted TF-IDF vectors); 0 means 0.75. Lower gives larger groups
	// that more often mix two close issues, higher gives smaller, cleaner
	// ones (see docs/BENCHMARKS.md for the trade on BANKING77 and
	// CLINC150).
	Threshold float64
	// MaxHeld caps the tickets held as near-misses (groups under MinSize)
	// between Adds; the oldest go first. 0 means 20,000.
	MaxHeld int

	p *params // tests: experiments with the internal settings
}

// params are the internal settings; defaultParams holds the measured ones.
type params struct {
	fz      featurizer
	minDF   int32   // features in fewer documents are dropped
	rwK     int     // neighbours that measure feature consistency
	k       int     // candidate neighbours per item
	edgeMin float64 // candidate neighbours need at least this cosine
	postMax float64 // fraction of units past which a feature is not used to find candidates
	thr     float64 // centroid-cosine merge threshold
	minSize int
	maxHeld int
	chunk   int  // items per agglomeration round
	noRW    bool // tests: no consistency reweighting
}

func defaultParams() params {
	return params{
		fz:      featurizer{stem: true, bigrams: true, pairWin: 8, charLo: 3, charHi: 4, cjkChars: true, cjkStop: true},
		minDF:   2,
		rwK:     5,
		k:       10,
		edgeMin: 0.2,
		postMax: 0.05,
		thr:     0.75,
		minSize: 3,
		maxHeld: 20_000,
		chunk:   10_000,
	}
}

func (o Options) params() params {
	p := defaultParams()
	if o.p != nil {
		p = *o.p
	}
	if o.MinSize > 0 {
		p.minSize = o.MinSize
	}
	if o.Threshold > 0 {
		p.thr = o.Threshold
	}
	if o.MaxHeld > 0 {
		p.maxHeld = o.MaxHeld
	}
	return p
}

// Cluster groups items that describe the same issue and returns the groups
// of at least MinSize items, largest first (ties by representative ID).
// The result depends only on the items, their order and the options.
func Cluster(items []Item, opts Options) []Group {
	s := NewState(opts)
	_, groups := s.Add(items)
	slices.SortFunc(groups, func(a, b Group) int {
		if c := cmp.Compare(len(b.Members), len(a.Members)); c != 0 {
			return c
		}
		return cmp.Compare(a.Representative, b.Representative)
	})
	return groups
}
