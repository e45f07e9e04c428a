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
//     words are. Features are stemmed words, adjacent word bigrams with
//     the stop words put back (search.TokenizeAll: "my name" is not "your
//     name"), unordered word pairs up to 8 words apart, character 3-4
//     grams of Latin words and single CJK characters, hashed into 2^20
//     slots and weighted by sublinear TF-IDF (features in one ticket only
//     dropped), the word block and the character block each normalised.
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
//  5. Attachment, in batches of 1,000 tickets or more (smaller ones make
//     too few groups to trust). What is left in groups under 3 tickets
//     (under MinSize, if that is larger) joins the nearest group of at
//     least that size (among its candidate neighbours' groups) when their
//     centroid cosine is at least Threshold - 0.05. Then label spreading
//     over the candidate graph (every ticket of a group of 3 or more
//     labelled with its group, the others with "no group"; 20 rounds of
//     neighbours' labels weighted 0.95 against a ticket's own) places what
//     is still left where at least 40 % of its label weight points to one
//     group: chains of paraphrases reach tickets that no centroid is close
//     to. Small groups never join each other this way, so no two issues
//     merge through it.
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
// 100,000 tickets take 17-22 s on the project's shared 2-core box.
//
// Precision comes first: on BANKING77 about 86 % of proposals are clean
// (80 % of their tickets share one intent) and 96 % of intents have one,
// but an intent is typically split over three proposals and about half the
// tickets stay unclustered (ARI 0.24; 0.29 on CLINC150). A lexical
// similarity is the limit: the alternatives measured (reassignment,
// k-means refinement, LSA, learnt term associations, WordNet synonyms,
// second-level merging, splitting) all trade cleanliness for ARI along the
// same curve. Measured figures and the alternatives tried:
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
	// CLINC150). Tickets left in groups under max(MinSize, 3) may then
	// join a group of at least that size (see the package comment).
	Threshold float64
	// MaxHeld caps the tickets held as near-misses (groups under MinSize)
	// between Adds; the oldest go first. 0 means 20,000.
	MaxHeld int

	p *params // tests: experiments with the internal settings
}

// params are the internal settings; defaultParams holds the measured ones.
type params struct {
	fz      featurizer
	minDF   int32        // features in fewer documents are dropped
	rwK     int          // neighbours that measure feature consistency
	k       int          // candidate neighbours per item
	edgeMin float64      // candidate neighbours need at least this cosine
	postMax float64      // fraction of units past which a feature is not used to find candidates
	thr     float64      // centroid-cosine merge threshold
	attach  float64      // near-misses join the nearest well-formed group at thr - attach; 0: never
	spread  spreadParams // label spreading of the near-misses left; iters 0: none
	minSize int
	maxHeld int
	chunk   int  // items per agglomeration round
	noRW    bool // tests: no consistency reweighting
}

func defaultParams() params {
	return params{
		fz:      featurizer{stem: true, bigrams: true, stopBigrams: true, pairWin: 8, charLo: 3, charHi: 4, cjkChars: true, cjkStop: true},
		minDF:   2,
		rwK:     5,
		k:       10,
		edgeMin: 0.2,
		postMax: 0.05,
		thr:     0.75,
		attach:  0.05,
		spread:  spreadParams{iters: 20, alpha: 0.95, share: 0.4},
		minSize: 3,
		maxHeld: 20_000,
		chunk:   10_000,
	}
}

// spreadParams tune the label spreading that places the near-misses left
// after attachment (see spread).
type spreadParams struct {
	iters int     // rounds; 0: no spreading
	alpha float64 // weight of the neighbours against a unit's own label
	share float64 // least share of a near-miss's label weight its new group needs
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
