package api

import (
	"bytes"
	"encoding/json"
	"html/template"
	"net/http"
	"sort"
	"strings"

	"github.com/gin-gonic/gin"
)

// The docs page is rendered once from the OpenAPI document (not from the
// route table directly), so it shows exactly what the document says.

type docField struct {
	Name, Type, Description string
	Required                bool
}

type docSchema struct {
	Name   string
	Fields []docField
}

type docEndpoint struct {
	Method, Path, Summary, Description, Permission string
	Public                                         bool
	Params                                         []docField
	Request                                        *docSchema
	Success                                        string
	Response                                       *docSchema
	Errors                                         []string
}

type docsView struct {
	Title, Version, Description string
	Endpoints                   []docEndpoint
	Schemas                     []docSchema
}

var docsTemplate = template.Must(template.New("docs").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}} {{.Version}}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
code,td.t{font-family:ui-monospace,monospace;font-size:13px}
.ep{border:1px solid #ddd;border-radius:6px;padding:.6rem 1rem;margin:1rem 0}
.m{display:inline-block;min-width:4.5rem;font-weight:700}
.GET{color:#06c}.POST{color:#080}.PATCH{color:#a60}.DELETE{color:#c00}
table{border-collapse:collapse;margin:.3rem 0}td,th{border-bottom:1px solid #eee;padding:2px 8px;text-align:left;vertical-align:top}
.perm{background:#f3f0ff;padding:1px 6px;border-radius:4px}.muted{color:#777}
</style></head><body>
<h1>{{.Title}} <small class="muted">{{.Version}}</small></h1>
<p>{{.Description}}</p>
<p>Machine-readable: <a href="/api/v1/openapi.json">/api/v1/openapi.json</a> (OpenAPI 3.1).</p>
<h2>Endpoints</h2>
{{range .Endpoints}}<div class="ep" id="{{.Method}}{{.Path}}">
<div><span class="m {{.Method}}">{{.Method}}</span><code>{{.Path}}</code> — {{.Summary}}</div>
<div>{{if .Public}}<span class="muted">no authentication</span>{{else}}Bearer token{{if .Permission}}, permission <span class="perm">{{.Permission}}</span>{{end}}{{end}}</div>
{{if .Description}}<p>{{.Description}}</p>{{end}}
{{if .Params}}<b>Parameters</b><table>{{range .Params}}<tr><td class="t">{{.Name}}</td><td class="t">{{.Type}}</td><td>{{if .Required}}required{{end}}</td><td>{{.Description}}</td></tr>{{end}}</table>{{end}}
{{with .Request}}<b>Request body</b> <a href="#schema-{{.Name}}">{{.Name}}</a><table>{{range .Fields}}<tr><td class="t">{{.Name}}</td><td class="t">{{.Type}}</td><td>{{if .Required}}required{{end}}</td><td>{{.Description}}</td></tr>{{end}}</table>{{end}}
<b>Success</b> {{.Success}}{{with .Response}} <a href="#schema-{{.Name}}">{{.Name}}</a><table>{{range .Fields}}<tr><td class="t">{{.Name}}</td><td class="t">{{.Type}}</td><td></td><td>{{.Description}}</td></tr>{{end}}</table>{{end}}
<div class="muted">Errors (problem+json): {{range $i, $e := .Errors}}{{if $i}}, {{end}}{{$e}}{{end}}</div>
</div>{{end}}
<h2>Schemas</h2>
{{range .Schemas}}<h3 id="schema-{{.Name}}">{{.Name}}</h3><table>{{range .Fields}}<tr><td class="t">{{.Name}}</td><td class="t">{{.Type}}</td><td>{{if .Required}}required{{end}}</td><td>{{.Description}}</td></tr>{{end}}</table>{{end}}
</body></html>
`))

func schemaName(s *Schema) string {
	if s == nil {
		return ""
	}
	return strings.TrimPrefix(s.Ref, "#/components/schemas/")
}

// typeLabel describes a schema in a few words, e.g. "array of integer (int64)".
func typeLabel(s *Schema) string {
	if s == nil {
		return "any"
	}
	if s.Ref != "" {
		return schemaName(s)
	}
	if len(s.AnyOf) > 0 {
		parts := make([]string, len(s.AnyOf))
		for i, a := range s.AnyOf {
			parts[i] = typeLabel(a)
		}
		return strings.Join(parts, " | ")
	}
	var t string
	switch ty := s.Type.(type) {
	case string:
		t = ty
	case []string:
		t = strings.Join(ty, " | ")
	default:
		t = "any"
	}
	if s.Format != "" {
		t += " (" + s.Format + ")"
	}
	if s.Items != nil {
		t += " of " + typeLabel(s.Items)
	}
	if len(s.Enum) > 0 {
		vals := make([]string, len(s.Enum))
		for i, v := range s.Enum {
			b, _ := json.Marshal(v)
			vals[i] = string(b)
		}
		t += ": " + strings.Join(vals, ", ")
	}
	if m, ok := s.AdditionalProperties.(*Schema); ok {
		t += " of " + typeLabel(m)
	}
	return t
}

func schemaFields(doc *Document, s *Schema) *docSchema {
	name := schemaName(s)
	comp := doc.Components.Schemas[name]
	if comp == nil || comp.Properties == nil {
		return nil
	}
	out := &docSchema{Name: name}
	req := map[string]bool{}
	for _, r := range comp.Required {
		req[r] = true
	}
	for _, n := range comp.Properties.Names {
		p := comp.Properties.ByKey[n]
		out.Fields = append(out.Fields, docField{Name: n, Type: typeLabel(p), Description: p.Description, Required: req[n]})
	}
	return out
}

func renderDocs(doc *Document) ([]byte, error) {
	v := docsView{Title: doc.Info.Title, Version: doc.Info.Version, Description: doc.Info.Description}
	paths := make([]string, 0, len(doc.Paths))
	for p := range doc.Paths {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		for _, m := range []string{"get", "post", "put", "patch", "delete"} {
			op := doc.Paths[p][m]
			if op == nil {
				continue
			}
			ep := docEndpoint{Method: strings.ToUpper(m), Path: p, Summary: op.Summary, Description: op.Description,
				Permission: op.Permission, Public: len(op.Security) == 0}
			for _, prm := range op.Parameters {
				ep.Params = append(ep.Params, docField{Name: prm.Name + " (" + prm.In + ")", Type: typeLabel(prm.Schema),
					Description: prm.Description, Required: prm.Required})
			}
			if op.RequestBody != nil {
				ep.Request = schemaFields(doc, op.RequestBody.Content["application/json"].Schema)
			}
			codes := make([]string, 0, len(op.Responses))
			for c := range op.Responses {
				codes = append(codes, c)
			}
			sort.Strings(codes)
			for _, c := range codes {
				r := op.Responses[c]
				if r.Ref != "" {
					ep.Errors = append(ep.Errors, c)
					continue
				}
				ep.Success = c
				for ct, mt := range r.Content {
					if ct == "application/json" {
						ep.Response = schemaFields(doc, mt.Schema)
					} else {
						ep.Success += " " + ct
					}
				}
			}
			v.Endpoints = append(v.Endpoints, ep)
		}
	}
	names := make([]string, 0, len(doc.Components.Schemas))
	for n := range doc.Components.Schemas {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if f := schemaFields(doc, &Schema{Ref: "#/components/schemas/" + n}); f != nil {
			v.Schemas = append(v.Schemas, *f)
		}
	}
	var b bytes.Buffer
	if err := docsTemplate.Execute(&b, v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// setDocs renders the document and page once; both are immutable after start.
func (h *handlers) setDocs(doc *Document) {
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		panic("api: encode OpenAPI document: " + err.Error())
	}
	page, err := renderDocs(doc)
	if err != nil {
		panic("api: render docs page: " + err.Error())
	}
	h.openapiJSON, h.docsHTML = b, page
}

func (h *handlers) openapi(c *gin.Context) {
	c.Data(http.StatusOK, "application/json; charset=utf-8", h.openapiJSON)
}

func (h *handlers) docsPage(c *gin.Context) {
	c.Header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	c.Data(http.StatusOK, "text/html; charset=utf-8", h.docsHTML)
}
