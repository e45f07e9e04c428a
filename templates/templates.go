// Package templates embeds the HTML views (and later email and canned-reply
// templates) so the binary needs no files beside it.
package templates

import (
	"embed"
	"html/template"
)

//go:embed web/*.html
var files embed.FS

// Web parses the server-rendered page templates. html/template escapes every
// value by context, which is what keeps user text from becoming markup.
func Web() (*template.Template, error) {
	return template.New("").ParseFS(files, "web/*.html")
}
