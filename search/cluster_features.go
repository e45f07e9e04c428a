package search

// cjkFunctionTerms are CJK bigrams and characters from Tokenize that carry
// the grammar of a Chinese question rather than its subject: question
// words (什么, 怎么, 为什么, 什么时候, 如何, 哪里), pronouns (我的, 你们),
// courtesy (请问, 你好, 麻烦, 谢谢), particles (的, 了, 吗, 呢, 吧, 啊) and
// fillers (一下, 一直, 已经, 可以, 是不是). Two questions about different
// issues share them as readily as two about one issue ("钱什么时候退回来"
// and "包裹什么时候能到"), so grouping by similarity is better without
// them. Negations (不, 没, 没有, 还没, 无法, 不能) are not listed: like "not"
// in English they change the issue. Search keeps every term; this list is
// for callers that measure similarity.
var cjkFunctionTerms = map[string]struct{}{
	// Question words and their boundary bigrams.
	"什么": {}, "么时": {}, "时候": {}, "怎么": {}, "么回": {}, "回事": {}, "为什": {},
	"么样": {}, "怎样": {}, "如何": {}, "哪里": {}, "在哪": {}, "哪儿": {}, "是什": {},
	"多久": {}, "多少": {}, "是否": {},
	// Pronouns.
	"我的": {}, "你们": {}, "我们": {}, "您的": {}, "你的": {}, "这个": {}, "那个": {},
	"一个": {}, "他们": {},
	// Courtesy.
	"请问": {}, "你好": {}, "您好": {}, "麻烦": {}, "谢谢": {}, "帮我": {}, "帮忙": {},
	"客服": {},
	// Fillers.
	"一下": {}, "一直": {}, "已经": {}, "可以": {}, "是不": {}, "不是": {}, "还是": {},
	"就是": {}, "现在": {}, "因为": {}, "所以": {}, "但是": {}, "然后": {}, "需要": {},
	"想要": {}, "能不": {},
	// Single characters: particles, pronouns, question characters.
	"的": {}, "了": {}, "吗": {}, "呢": {}, "吧": {}, "啊": {}, "呀": {}, "么": {},
	"什": {}, "怎": {}, "我": {}, "你": {}, "您": {}, "是": {}, "在": {}, "有": {},
	"这": {}, "那": {}, "就": {}, "都": {}, "也": {}, "和": {}, "请": {}, "问": {},
}

// IsCJKFunctionTerm reports whether a term from Tokenize, or a single
// character from CJKRunes, is a Chinese function word or particle (see
// cjkFunctionTerms): grammar shared by questions about any issue. It is
// for similarity measures such as repeat-issue clustering; search keeps
// every term.
func IsCJKFunctionTerm(term string) bool {
	_, ok := cjkFunctionTerms[term]
	return ok
}
