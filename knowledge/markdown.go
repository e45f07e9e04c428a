package knowledge

import (
	"bytes"
	"html"
	"regexp"
	"strings"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"
)

// Markdown is rendered with goldmark (CommonMark plus GFM tables,
// strikethrough, task lists and bare-URL links) and made safe twice over:
//
//   - goldmark's defaults: raw HTML, inline or block, is never passed
//     through (it becomes an HTML comment saying so), and the attribute
//     syntax ({onclick=...}) is off;
//   - urlPolicy, an AST transformer: a link, image or autolink whose URL
//     has a scheme other than http, https or mailto (images: http, https
//     and data:image/png|gif|jpeg|webp) is unwrapped to its text, after
//     resolving character references and backslash escapes and removing
//     what browsers ignore in a scheme (tabs, newlines, leading control
//     characters and spaces). goldmark's own check blocks
//     javascript:, vbscript:, file: and data:; an allowlist also stops
//     schemes nobody thought of.
var md = goldmark.New(
	goldmark.WithExtensions(extension.GFM),
	goldmark.WithParserOptions(parser.WithASTTransformers(util.Prioritized(urlPolicy{}, 1000))),
)

// RenderHTML renders Markdown source to safe HTML.
func RenderHTML(source string) string {
	var buf bytes.Buffer
	if err := md.Convert([]byte(source), &buf); err != nil {
		// goldmark only fails on writer errors; a bytes.Buffer has none.
		return ""
	}
	return buf.String()
}

type urlPolicy struct{}

var schemeRE = regexp.MustCompile(`^([a-zA-Z][a-zA-Z0-9+.\-]*):`)

// safeURL reports whether a link (image: an image source) may point at u.
func safeURL(u []byte, image bool) bool {
	// As the renderer and then a browser will read it: character
	// references resolved, backslash escapes gone, tabs and newlines
	// dropped, leading spaces and control characters trimmed.
	s := strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' || r == '\\' {
			return -1
		}
		return r
	}, html.UnescapeString(string(u)))
	s = strings.TrimLeftFunc(s, func(r rune) bool { return r <= ' ' })
	m := schemeRE.FindStringSubmatch(s)
	if m == nil {
		// No scheme: relative, fragment or protocol-relative. A colon
		// before any slash would still read as a scheme to a browser.
		if i := strings.IndexByte(s, ':'); i >= 0 {
			if j := strings.IndexAny(s, "/?#"); j < 0 || i < j {
				return false
			}
		}
		return true
	}
	switch strings.ToLower(m[1]) {
	case "http", "https":
		return true
	case "mailto":
		return !image
	case "data":
		if !image {
			return false
		}
		l := strings.ToLower(s)
		for _, t := range []string{"data:image/png;", "data:image/gif;", "data:image/jpeg;", "data:image/webp;"} {
			if strings.HasPrefix(l, t) {
				return true
			}
		}
	}
	return false
}

// Transform unwraps every link, image and autolink with an unsafe URL.
func (urlPolicy) Transform(doc *ast.Document, reader text.Reader, _ parser.Context) {
	source := reader.Source()
	var bad []ast.Node
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch v := n.(type) {
		case *ast.Link:
			if !safeURL(v.Destination, false) {
				bad = append(bad, n)
			}
		case *ast.Image:
			if !safeURL(v.Destination, true) {
				bad = append(bad, n)
			}
		case *ast.AutoLink:
			if v.AutoLinkType == ast.AutoLinkURL && !safeURL(v.URL(source), false) {
				bad = append(bad, n)
			}
		}
		return ast.WalkContinue, nil
	})
	for _, n := range bad {
		parent := n.Parent()
		if parent == nil {
			continue
		}
		if al, ok := n.(*ast.AutoLink); ok {
			parent.ReplaceChild(parent, n, ast.NewString(al.Label(source)))
			continue
		}
		var kids []ast.Node
		for c := n.FirstChild(); c != nil; c = c.NextSibling() {
			kids = append(kids, c)
		}
		for _, c := range kids {
			n.RemoveChild(n, c)
			parent.InsertBefore(parent, n, c)
		}
		parent.RemoveChild(parent, n)
	}
}

// PlainText is the readable text of Markdown source, for the search index
// and snippets: the words of paragraphs, headings, lists, tables and code,
// link and image text, one line per block; no markup, URLs or raw HTML.
func PlainText(source string) string {
	src := []byte(source)
	doc := md.Parser().Parse(text.NewReader(src))
	var sb strings.Builder
	newline := func() {
		if sb.Len() > 0 && !strings.HasSuffix(sb.String(), "\n") {
			sb.WriteByte('\n')
		}
	}
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		switch v := n.(type) {
		case *ast.HTMLBlock, *ast.RawHTML:
			return ast.WalkSkipChildren, nil
		case *ast.Text:
			if entering {
				sb.Write(v.Value(src))
				if v.SoftLineBreak() || v.HardLineBreak() {
					sb.WriteByte(' ')
				}
			}
		case *ast.String:
			if entering {
				sb.Write(v.Value)
			}
		case *ast.AutoLink:
			if entering {
				sb.Write(v.Label(src))
			}
		case *ast.CodeBlock, *ast.FencedCodeBlock:
			if entering {
				newline()
				lines := n.Lines()
				for i := 0; i < lines.Len(); i++ {
					seg := lines.At(i)
					sb.Write(seg.Value(src))
				}
				newline()
			}
			return ast.WalkSkipChildren, nil
		default:
			if n.Type() == ast.TypeBlock {
				newline() // table cells are blocks too: one per line
			}
		}
		return ast.WalkContinue, nil
	})
	return strings.TrimSpace(sb.String())
}
