package suggest

import (
	"math"
	"slices"

	"github.com/loopdesk/loopdesk/search"
)

// Feature kinds, the first byte of a feature key.
const (
	kindWord   = 'w' // stemmed word from search.TokenizeAll (CJK bigrams as they are)
	kindBigram = 'b' // two adjacent stemmed words
	kindChar   = 'c' // character n-gram of a Latin word, or a CJK character
)

// vec is a sparse vector sorted by feature index.
type vec struct {
	idx []int32
	val []float32
}

// featurizer turns text into feature keys. Words come from search.Tokenize
// (or search.TokenizeAll, which keeps stop words), so Chinese, English and
// mixed text are cut exactly as ticket search cuts them.
type featurizer struct {
	stem           bool
	bigrams        bool
	charLo, charHi int // 0 disables character n-grams
	cjkChars       bool
	keepStop       bool // words from search.TokenizeAll (stop words kept)
}

// each calls fn with every feature key of text, duplicates included. The key
// slice is reused between calls.
func (fz *featurizer) each(text string, fn func(key []byte)) {
	var toks []string
	if fz.keepStop {
		toks = search.TokenizeAll(text)
	} else {
		toks = search.Tokenize(text)
	}
	var key []byte
	prev := ""
	for _, t := range toks {
		cjk := search.IsCJKTerm(t)
		w := t
		if fz.stem && !cjk {
			w = search.Stem(t)
		}
		key = append(append(key[:0], kindWord), w...)
		fn(key)
		if fz.bigrams && !cjk {
			// CJK bigrams already span two characters; word bigrams are for
			// Latin phrases ("top up", "exchange rate").
			if prev != "" {
				key = append(append(append(append(key[:0], kindBigram), prev...), ' '), w...)
				fn(key)
			}
			prev = w
		} else {
			prev = ""
		}
		switch {
		case cjk && fz.cjkChars && fz.charLo > 0:
			// Characters of a bigram; inner characters of a run count
			// twice, which sublinear tf makes harmless.
			search.CJKRunes(t, func(r rune) {
				key = appendRune(append(key[:0], kindChar), r)
				fn(key)
			})
		case !cjk && fz.charLo > 0:
			search.CharNGrams(t, fz.charLo, fz.charHi, func(g []byte) {
				key = append(append(key[:0], kindChar), g...)
				fn(key)
			})
		}
	}
}

func appendRune(b []byte, r rune) []byte { return append(b, string(r)...) }

// hashKey is the 64-bit hash of a feature key (FNV-1a, then a
// murmur-style finaliser so that the low bits index a table well). Keys are
// never stored: two keys with one hash would share a feature, which at
// 64 bits does not happen in a knowledge base's vocabulary.
func hashKey(k []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range k {
		h ^= uint64(c)
		h *= 1099511628211
	}
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	if h == 0 {
		h = 1 // 0 marks an empty slot
	}
	return h
}

// featTable maps feature hashes to dense indices, numbered in order of
// first sight: an open-addressing table (linear probing, at most half
// full) of 12 bytes a slot, a fraction of a string-keyed map's size and
// cost.
type featTable struct {
	keys []uint64 // 0: empty
	vals []int32
	n    int
}

func (t *featTable) get(h uint64) (int32, bool) {
	if len(t.keys) == 0 {
		return 0, false
	}
	mask := uint64(len(t.keys) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		switch t.keys[i] {
		case h:
			return t.vals[i], true
		case 0:
			return 0, false
		}
	}
}

// put returns the index of h, giving it the next index if it is new.
func (t *featTable) put(h uint64) (idx int32, added bool) {
	if 2*(t.n+1) > len(t.keys) {
		t.grow()
	}
	mask := uint64(len(t.keys) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		switch t.keys[i] {
		case h:
			return t.vals[i], false
		case 0:
			t.keys[i], t.vals[i] = h, int32(t.n)
			t.n++
			return t.vals[i], true
		}
	}
}

func (t *featTable) grow() {
	old, oldV := t.keys, t.vals
	size := max(2*len(old), 1024)
	t.keys, t.vals = make([]uint64, size), make([]int32, size)
	mask := uint64(size - 1)
	for j, h := range old {
		if h == 0 {
			continue
		}
		i := h & mask
		for t.keys[i] != 0 {
			i = (i + 1) & mask
		}
		t.keys[i], t.vals[i] = h, oldV[j]
	}
}

// vocab maps feature keys to indices and holds their inverse document
// frequencies.
type vocab struct {
	tab  featTable
	idf  []float32
	char []bool // feature is a character feature (its own L2 block)
}

// docSet holds documents as sparse rows of feature indices and raw counts
// (capped at 255, far past where sublinear tf stops mattering): 5 bytes a
// non-zero, in chunks that are filled in turn (each twice the last, up to
// a million), so that growing the set never copies it. At 100,000 tickets
// that is about 60 MB. After
// finish, row d's TF-IDF vector is rebuilt on demand (row) from the counts,
// the IDF and two scales per document.
type docSet struct {
	idx   [][]int32
	cnt   [][]uint8
	scale [][2]float32 // by row: factor of word and of character features

	freeI []int32 // rest of the current chunk
	freeC []uint8
	chunk int // size of the current chunk
}

const docChunk = 1 << 20

func (s *docSet) len() int { return len(s.idx) }

// addRow appends a row of n entries and returns it to be filled.
func (s *docSet) addRow(n int) ([]int32, []uint8) {
	if n > len(s.freeI) {
		s.chunk = min(max(2*s.chunk, 4096), docChunk)
		size := max(n, s.chunk)
		s.freeI, s.freeC = make([]int32, size), make([]uint8, size)
	}
	idx, cnt := s.freeI[:n:n], s.freeC[:n:n]
	s.freeI, s.freeC = s.freeI[n:], s.freeC[n:]
	s.idx, s.cnt = append(s.idx, idx), append(s.cnt, cnt)
	return idx, cnt
}

// tfLog is 1 + ln(count), sublinear term frequency.
var tfLog = func() (t [256]float32) {
	for i := 1; i < 256; i++ {
		t[i] = float32(1 + math.Log(float64(i)))
	}
	return t
}()

// row writes the TF-IDF vector of row d into x (reusing its storage).
func (s *docSet) row(v *vocab, d int, x *vec) {
	x.idx = append(x.idx[:0], s.idx[d]...)
	x.val = x.val[:0]
	for j := range x.idx {
		x.val = append(x.val, s.val(v, d, j))
	}
}

// val is the TF-IDF value of entry j of row d.
func (s *docSet) val(v *vocab, d, j int) float32 {
	f, k := s.idx[d][j], 0
	if v.char[f] {
		k = 1
	}
	return tfLog[s.cnt[d][j]] * v.idf[f] * s.scale[d][k]
}

// vocabBuilder numbers features in order of first sight (deterministic:
// documents and their features come in a fixed order), counts document
// frequencies and keeps the documents as count rows.
type vocabBuilder struct {
	tab    featTable
	hashes []uint64 // by index
	df     []int32
	char   []bool
	docs   docSet
	buf    []int32
}

func newVocabBuilder() *vocabBuilder { return &vocabBuilder{} }

// add featurizes text as one more document.
func (b *vocabBuilder) add(fz *featurizer, text string) {
	b.buf = b.buf[:0]
	fz.each(text, func(k []byte) {
		h := hashKey(k)
		i, added := b.tab.put(h)
		if added {
			b.hashes = append(b.hashes, h)
			b.df = append(b.df, 0)
			b.char = append(b.char, k[0] == kindChar)
		}
		b.buf = append(b.buf, i)
	})
	slices.Sort(b.buf)
	n := 0
	for j := range b.buf {
		if j == 0 || b.buf[j] != b.buf[j-1] {
			n++
		}
	}
	idx, cnt := b.docs.addRow(n)
	w := -1
	for j, i := range b.buf {
		if j == 0 || i != b.buf[j-1] {
			w++
			idx[w], cnt[w] = i, 0
			b.df[i]++
		}
		if cnt[w] < 255 {
			cnt[w]++
		}
	}
}

// classCounts returns, by feature (of nFeat), the number of distinct
// classes among the rows that have it (row d has class ys[d], in [0, c)).
func (s *docSet) classCounts(ys []int32, c, nFeat int) []int32 {
	byClass := make([]int32, c+1) // counting sort of the rows by class
	for _, y := range ys {
		byClass[y+1]++
	}
	for k := range c {
		byClass[k+1] += byClass[k]
	}
	order := make([]int32, len(ys))
	for r, y := range ys {
		order[byClass[y]] = int32(r)
		byClass[y]++
	}
	counts := make([]int32, nFeat)
	last := make([]int32, nFeat)
	for i := range last {
		last[i] = -1
	}
	for _, r := range order {
		y := ys[r]
		for _, f := range s.idx[r] {
			if last[f] != y {
				last[f] = y
				counts[f]++
			}
		}
	}
	return counts
}

// finish drops features found in fewer than minDF documents, computes the
// IDF and each document's TF-IDF scales (see scales).
func (b *vocabBuilder) finish(minDF int) (*vocab, *docSet) {
	remap := make([]int32, len(b.df))
	v := &vocab{}
	n := float64(b.docs.len())
	for i, h := range b.hashes {
		if int(b.df[i]) < minDF {
			remap[i] = -1
			continue
		}
		remap[i], _ = v.tab.put(h)
		// Smoothed IDF, always positive (as scikit-learn's TfidfVectorizer).
		v.idf = append(v.idf, float32(math.Log((n+1)/(float64(b.df[i])+1))+1))
		v.char = append(v.char, b.char[i])
	}
	b.tab, b.hashes, b.df, b.char = featTable{}, nil, nil, nil
	d := &b.docs
	d.scale = make([][2]float32, d.len())
	var x vec
	for r, idx := range d.idx {
		cnt, w := d.cnt[r], 0
		for j, i := range idx {
			if f := remap[i]; f >= 0 {
				idx[w], cnt[w] = f, cnt[j]
				w++
			}
		}
		d.idx[r], d.cnt[r] = idx[:w:w], cnt[:w:w]
		// Scales: the vector with unit scales, through scales.
		d.scale[r] = [2]float32{1, 1}
		d.row(v, r, &x)
		d.scale[r] = v.scales(x)
	}
	d.freeI, d.freeC = nil, nil
	return v, d
}

// vectorizeText is the TF-IDF vector of text; features unknown to the
// vocabulary are dropped.
func (v *vocab) vectorizeText(fz *featurizer, text string) vec {
	var ids []int32
	fz.each(text, func(k []byte) {
		if i, ok := v.tab.get(hashKey(k)); ok {
			ids = append(ids, i)
		}
	})
	slices.Sort(ids) // sums below in a fixed order: deterministic
	x := vec{idx: make([]int32, 0, len(ids)), val: make([]float32, 0, len(ids))}
	for j := 0; j < len(ids); {
		i, n := ids[j], 1
		for j+n < len(ids) && ids[j+n] == i {
			n++
		}
		j += n
		x.idx = append(x.idx, i)
		x.val = append(x.val, tfLog[min(n, 255)]*v.idf[i])
	}
	sc := v.scales(x)
	for j, i := range x.idx {
		if v.char[i] {
			x.val[j] *= sc[1]
		} else {
			x.val[j] *= sc[0]
		}
	}
	return x
}

// scales returns the factors that make a TF-IDF vector x (sublinear tf
// times IDF, as row and vectorizeText make it) what the classifier and
// the cosine use: the word block (words and bigrams) and the character
// block each scaled to unit length, so that long words' many n-grams do
// not drown the words, then the whole to unit length.
func (v *vocab) scales(x vec) [2]float32 {
	var nw, nc float64
	for j, i := range x.idx {
		f := float64(x.val[j])
		if v.char[i] {
			nc += f * f
		} else {
			nw += f * f
		}
	}
	var sw, sc, blocks float64
	if nw > 0 {
		sw = 1 / math.Sqrt(nw)
		blocks++
	}
	if nc > 0 {
		sc = 1 / math.Sqrt(nc)
		blocks++
	}
	if blocks > 1 {
		// Two unit blocks: the whole has length sqrt 2.
		sw, sc = sw/math.Sqrt2, sc/math.Sqrt2
	}
	return [2]float32{float32(sw), float32(sc)}
}
