package knowledge

import (
	"math"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/loopdesk/loopdesk/search"
)

// Text handling of FAQ drafts: masking personal data, cleaning a ticket
// subject into a question, and the small TF-IDF vectors that pick the
// most central resolution and score how well an article covers a group.

// Mask is what personal data is replaced with.
const Mask = "***"

var (
	reEmail = regexp.MustCompile(`[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}`)
	// An order, tracking or invoice number after its keyword: the keyword
	// stays, the number goes ("order #A123456" -> "order #***").
	reOrder = regexp.MustCompile(`(?i)((?:\b(?:order|tracking|invoice|transaction|booking|ticket)(?:\s*(?:no\.?|number|num|id|code|ref))?|订单编号|订单号|订单|运单号|运单|单号|交易号|流水号|发票号)\s*[:：#＃]?\s*)([A-Za-z]{0,4}[-_]?\d[A-Za-z0-9\-_]{3,})`)
	// Card numbers: 13 to 19 digits, possibly in groups of 4 with spaces or dashes.
	reCard = regexp.MustCompile(`\b\d{4}(?:[ \-]\d{4}){2,3}(?:[ \-]\d{1,3})?\b`)
	// Chinese resident ID: 17 digits and a digit or X.
	reIDCard = regexp.MustCompile(`\b\d{17}[\dXx]\b`)
	// Phones: Chinese mobiles (optionally +86, optionally spaced 3-4-4),
	// international numbers with a leading +, and (555) 123-4567 style.
	reCNMobile = regexp.MustCompile(`(?:(?:\+|00)?86[\s\-]?)?\b1[3-9]\d[\s\-]?\d{4}[\s\-]?\d{4}\b`)
	reIntl     = regexp.MustCompile(`(?:\+|\b00)\d{1,3}[\s\-.]?(?:\(\d{1,4}\)[\s\-.]?)?\d{2,4}(?:[\s\-.]?\d{2,4}){1,4}\b`)
	reNANP     = regexp.MustCompile(`(?:\(\d{3}\)\s?|\b\d{3}[\-.\s])\d{3}[\-.\s]\d{4}\b`)
	// Any other run of 8 or more digits (account, order, phone numbers),
	// except hexadecimal error codes such as 0x80070005.
	reLongDigits = regexp.MustCompile(`(0[xX])?\d{8,}`)
	// Runs of masks and what separated them.
	reMaskRun = regexp.MustCompile(`\*\*\*(?:[\s\-]*\*\*\*)+`)
)

// MaskPII replaces e-mail addresses, phone numbers, order, card and ID
// numbers in s with ***.
func MaskPII(s string) string {
	if s == "" {
		return s
	}
	s = reEmail.ReplaceAllString(s, Mask)
	s = reOrder.ReplaceAllString(s, "${1}"+Mask)
	s = reIDCard.ReplaceAllString(s, Mask)
	s = reCard.ReplaceAllString(s, Mask)
	s = reCNMobile.ReplaceAllString(s, Mask)
	s = reIntl.ReplaceAllString(s, Mask)
	s = reNANP.ReplaceAllString(s, Mask)
	s = reLongDigits.ReplaceAllStringFunc(s, func(m string) string {
		if strings.HasPrefix(m, "0x") || strings.HasPrefix(m, "0X") {
			return m
		}
		return Mask
	})
	return reMaskRun.ReplaceAllString(s, Mask)
}

var (
	// Greetings and openers at the start of a subject (Latin ones as whole
	// words: "History" keeps its "hi").
	reGreeting = regexp.MustCompile(`(?i)^\s*(?:(?:\b(?:hi|hello|hey|hiya|greetings|dear\s+(?:support|team|sir|madam|all)|good\s+(?:morning|afternoon|evening|day))(?:\s+(?:there|team|all|guys|support))?\b|您好|你好|嗨|哈喽|哈罗|亲爱的|亲[,，!！~]|在吗|在不在|请问一下|请问|麻烦(?:您|你)?了?|打扰(?:一下|了)?)[\s,，.。!！?？:：~、]*)+`)
	// Thanks at the end.
	reThanks = regexp.MustCompile(`(?i)[\s,，.。!！~、]*(?:\b(?:(?:many\s+)?thanks?(?:\s+you)?(?:\s+(?:so|very)\s+much|\s+in\s+advance|\s+a\s+lot)?|thx|ty|cheers|appreciate\s+it)|谢谢(?:您|你)?(?:了|啦)?|多谢|感谢(?:您|你)?|麻烦(?:您|你)?了|辛苦了)[\s,，.。!！~]*$`)
	// Masked numbers with their keyword, or alone, in a question.
	reOrderMasked = regexp.MustCompile(`(?i)\s*(?:#|＃|no\.?|number|编号|号)?\s*[:：]?\s*\*\*\*`)
	reSpaces      = regexp.MustCompile(`[ \t\r\n]+`)
)

// CleanQuestion turns a ticket subject into an FAQ question: personal data
// masked and then dropped together with order numbers, greetings at the
// start and thanks at the end removed, spaces collapsed.
func CleanQuestion(s string) string {
	s = MaskPII(s)
	s = reOrderMasked.ReplaceAllString(s, "")
	for i := 0; i < 3; i++ {
		t := reThanks.ReplaceAllString(reGreeting.ReplaceAllString(s, ""), "")
		if t == s {
			break
		}
		s = t
	}
	s = reSpaces.ReplaceAllString(s, " ")
	s = strings.TrimFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || strings.ContainsRune(",，.。:：;；~、-", r)
	})
	return upperFirst(strings.TrimSpace(s))
}

// firstSentence is the first sentence of s (up to max runes).
func firstSentence(s string, max int) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, "\n。！？!?"); i >= 0 {
		_, w := utf8.DecodeRuneInString(s[i:])
		if s[i] != '\n' {
			s = s[:i+w]
		} else {
			s = s[:i]
		}
	} else if i := strings.Index(s, ". "); i >= 0 {
		s = s[:i+1]
	}
	return clipRunes(strings.TrimSpace(s), max)
}

func clipRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return strings.TrimSpace(string(r[:n-1])) + "…"
}

// scriptLanguage is zh when the text has at least as many Han characters
// as half its Latin words, else en; "" without either.
func scriptLanguage(s string) string {
	han, latin := 0, 0
	inWord := false
	for _, r := range s {
		switch {
		case unicode.Is(unicode.Han, r):
			han++
			inWord = false
		case r < utf8.RuneSelf && (unicode.IsLetter(r)):
			if !inWord {
				latin++
			}
			inWord = true
		default:
			inWord = false
		}
	}
	switch {
	case han == 0 && latin == 0:
		return ""
	case han*2 >= latin:
		return LanguageZh
	}
	return LanguageEn
}

// ---- TF-IDF vectors ----

// terms are the features of a text: search's terms, English words stemmed.
func terms(s string) []string {
	ts := search.Tokenize(s)
	for i, t := range ts {
		ts[i] = search.Stem(t)
	}
	return ts
}

// corpus counts document frequencies for IDF weights.
type corpus struct {
	df map[string]int
	n  int
}

func newCorpus() *corpus { return &corpus{df: map[string]int{}} }

func (c *corpus) add(text string) {
	seen := map[string]bool{}
	for _, t := range terms(text) {
		if !seen[t] {
			seen[t] = true
			c.df[t]++
		}
	}
	c.n++
}

func (c *corpus) idf(t string) float64 {
	return math.Log(1 + float64(c.n+1)/float64(c.df[t]+1))
}

type tvec map[string]float64

// vector is the unit TF-IDF vector of text (sublinear tf).
func (c *corpus) vector(text string) tvec {
	tf := map[string]int{}
	for _, t := range terms(text) {
		tf[t]++
	}
	v := make(tvec, len(tf))
	var n2 float64
	for t, k := range tf {
		w := (1 + math.Log(float64(k))) * c.idf(t)
		v[t] = w
		n2 += w * w
	}
	if n2 > 0 {
		n := math.Sqrt(n2)
		for t := range v {
			v[t] /= n
		}
	}
	return v
}

func cosine(a, b tvec) float64 {
	if len(a) > len(b) {
		a, b = b, a
	}
	var d, na, nb float64
	for t, w := range a {
		d += w * b[t]
	}
	for _, w := range a {
		na += w * w
	}
	for _, w := range b {
		nb += w * w
	}
	if na == 0 || nb == 0 {
		return 0
	}
	return d / math.Sqrt(na*nb)
}

// centroid is the sum of vs (cosine ignores its length).
func centroid(vs []tvec) tvec {
	out := tvec{}
	for _, v := range vs {
		for t, w := range v {
			out[t] += w
		}
	}
	return out
}
