package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The OpenAPI 3.1 document is built by reflecting over the route table's
// Request and Response types; JSON Schema 2020-12 is 3.1's schema dialect,
// so "null" is a type and $ref may carry siblings.

// Document is an OpenAPI 3.1 document (the subset Loopdesk uses).
type Document struct {
	OpenAPI    string                           `json:"openapi"`
	Info       DocInfo                          `json:"info"`
	Tags       []DocTag                         `json:"tags,omitempty"`
	Paths      map[string]map[string]*Operation `json:"paths"`
	Components Components                       `json:"components"`
}

type DocInfo struct {
	Title       string `json:"title"`
	Version     string `json:"version"`
	Description string `json:"description,omitempty"`
}

type DocTag struct {
	Name string `json:"name"`
}

type Components struct {
	Schemas         map[string]*Schema         `json:"schemas"`
	Responses       map[string]*Response       `json:"responses"`
	SecuritySchemes map[string]*SecurityScheme `json:"securitySchemes"`
}

type SecurityScheme struct {
	Type         string `json:"type"`
	Scheme       string `json:"scheme"`
	BearerFormat string `json:"bearerFormat,omitempty"`
	Description  string `json:"description,omitempty"`
}

type Operation struct {
	OperationID string                `json:"operationId"`
	Summary     string                `json:"summary"`
	Description string                `json:"description,omitempty"`
	Tags        []string              `json:"tags,omitempty"`
	Security    []map[string][]string `json:"security"`
	Parameters  []*Parameter          `json:"parameters,omitempty"`
	RequestBody *RequestBody          `json:"requestBody,omitempty"`
	Responses   map[string]*Response  `json:"responses"`
	Permission  string                `json:"x-permission,omitempty"`
}

type Parameter struct {
	Name        string  `json:"name"`
	In          string  `json:"in"`
	Description string  `json:"description,omitempty"`
	Required    bool    `json:"required,omitempty"`
	Schema      *Schema `json:"schema"`
}

type RequestBody struct {
	Required bool                  `json:"required"`
	Content  map[string]*MediaType `json:"content"`
}

type MediaType struct {
	Schema *Schema `json:"schema"`
}

type Response struct {
	Ref         string                `json:"$ref,omitempty"`
	Description string                `json:"description,omitempty"`
	Headers     map[string]*Header    `json:"headers,omitempty"`
	Content     map[string]*MediaType `json:"content,omitempty"`
}

type Header struct {
	Description string  `json:"description,omitempty"`
	Schema      *Schema `json:"schema"`
}

// Schema is a JSON Schema 2020-12 object.
type Schema struct {
	Ref                  string      `json:"$ref,omitempty"`
	Type                 any         `json:"type,omitempty"` // string or []string
	Format               string      `json:"format,omitempty"`
	Description          string      `json:"description,omitempty"`
	Enum                 []any       `json:"enum,omitempty"`
	Items                *Schema     `json:"items,omitempty"`
	Properties           *Properties `json:"properties,omitempty"`
	Required             []string    `json:"required,omitempty"`
	AdditionalProperties any         `json:"additionalProperties,omitempty"` // *Schema or false
	AnyOf                []*Schema   `json:"anyOf,omitempty"`
	Minimum              *int64      `json:"minimum,omitempty"`
	Maximum              *int64      `json:"maximum,omitempty"`
	MaxLength            *int        `json:"maxLength,omitempty"`
	Default              any         `json:"default,omitempty"`
}

// Properties keeps declaration order (JSON objects have none, but people
// reading the document and the docs page do).
type Properties struct {
	Names []string
	ByKey map[string]*Schema
}

func (p *Properties) add(name string, s *Schema) {
	if p.ByKey == nil {
		p.ByKey = map[string]*Schema{}
	}
	p.Names = append(p.Names, name)
	p.ByKey[name] = s
}

// MarshalJSON writes the properties in declaration order.
func (p *Properties) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, n := range p.Names {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(n)
		v, err := json.Marshal(p.ByKey[n])
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// enumOf holds enums for types this package does not own; types it owns
// may implement Enum() []any instead.
var enumOf = map[reflect.Type][]any{}

type enumer interface{ Enum() []any }

type reflector struct {
	schemas map[string]*Schema
	names   map[reflect.Type]string
}

func (r *reflector) ref(name string) *Schema { return &Schema{Ref: "#/components/schemas/" + name} }

// schemaOf returns the schema of t; request selects request semantics
// (required = must be sent; unknown properties rejected) over response
// semantics (required = always present).
func (r *reflector) schemaOf(t reflect.Type, request bool) *Schema {
	if t == reflect.TypeFor[time.Time]() {
		return &Schema{Type: "string", Format: "date-time"}
	}
	if isOptionalType(t) {
		elem, nullable := reflect.Zero(t).Interface().(optionalType).optionalElem()
		s := r.schemaOf(elem, request)
		if nullable {
			return nullableOf(s)
		}
		return s
	}
	var s *Schema
	switch t.Kind() {
	case reflect.Pointer:
		return nullableOf(r.schemaOf(t.Elem(), request))
	case reflect.String:
		s = &Schema{Type: "string"}
	case reflect.Bool:
		s = &Schema{Type: "boolean"}
	case reflect.Int64, reflect.Uint64:
		s = &Schema{Type: "integer", Format: "int64"}
	case reflect.Int32, reflect.Uint32:
		s = &Schema{Type: "integer", Format: "int32"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Uint, reflect.Uint8, reflect.Uint16:
		s = &Schema{Type: "integer"}
	case reflect.Float32, reflect.Float64:
		s = &Schema{Type: "number"}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return &Schema{Type: "string", Format: "byte"}
		}
		s = &Schema{Type: "array", Items: r.schemaOf(t.Elem(), request)}
	case reflect.Map:
		s = &Schema{Type: "object", AdditionalProperties: r.schemaOf(t.Elem(), request)}
	case reflect.Struct:
		if t.Name() == "" {
			return r.structSchema(t, request)
		}
		name, ok := r.names[t]
		if !ok {
			name = t.Name()
			if _, taken := r.schemas[name]; taken {
				name = strings.ReplaceAll(t.PkgPath(), "/", ".") + "." + t.Name()
			}
			r.names[t] = name
			r.schemas[name] = &Schema{} // placeholder stops recursion
			*r.schemas[name] = *r.structSchema(t, request)
		}
		return r.ref(name)
	case reflect.Interface:
		return &Schema{}
	default:
		panic(fmt.Sprintf("openapi: no schema for %s", t))
	}
	if e, ok := enumOf[t]; ok {
		s.Enum = e
	} else if e, ok := reflect.Zero(t).Interface().(enumer); ok {
		s.Enum = e.Enum()
	}
	return s
}

func nullableOf(s *Schema) *Schema {
	if s.Ref != "" {
		return &Schema{AnyOf: []*Schema{s, {Type: "null"}}}
	}
	c := *s
	switch ty := s.Type.(type) {
	case string:
		c.Type = []string{ty, "null"}
	case nil:
		return s
	}
	return &c
}

func (r *reflector) structSchema(t reflect.Type, request bool) *Schema {
	s := &Schema{Type: "object", Properties: &Properties{}}
	if request {
		s.AdditionalProperties = false
	}
	for _, f := range fieldsOf(t).list {
		fs := r.schemaOf(f.field.Type, request)
		if d, ok := f.field.Tag.Lookup("doc"); ok || f.field.Tag.Get("enum") != "" || f.field.Tag.Get("format") != "" {
			c := *fs
			fs = &c
			c.Description = d
		}
		if e := f.field.Tag.Get("enum"); e != "" {
			vals := []any{}
			for _, v := range strings.Split(e, ",") {
				vals = append(vals, v)
			}
			target := fs
			if fs.Type == "array" && fs.Items != nil {
				items := *fs.Items
				fs.Items = &items
				target = &items
			}
			target.Enum = vals
		}
		if fm := f.field.Tag.Get("format"); fm != "" {
			fs.Format = fm
		}
		s.Properties.add(f.name, fs)
		if (request && f.required) || (!request && !f.omitempty) {
			s.Required = append(s.Required, f.name)
		}
	}
	return s
}

// Error responses are shared components: one per status, all problem+json.
var problemResponses = map[int]string{
	400: "malformed request: bad JSON, unknown or invalid query parameter, cursor, path id or header",
	401: "missing, malformed, unknown or revoked bearer token (WWW-Authenticate: Bearer)",
	403: "signed in, but the account is deactivated, lacks the permission named in detail, or a workflow guard refuses the caller",
	404: "no such resource",
	409: "conflict: duplicate email or name, a concurrent change, an Idempotency-Key still in progress, " +
		"a workflow event not allowed from the current state (allowed lists those that are), or a guard precondition not met",
	412: "If-Match does not match the current version; detail names the current one",
	413: "request body over 1 MiB",
	415: "Content-Type is not application/json",
	422: "invalid fields (listed in errors; a transition's missing fields as fields.<name>), an invalid workflow definition " +
		"(every problem listed by path), or an Idempotency-Key reused with a different request",
	429: "too many attempts; see Retry-After",
	500: "a bug; quote request_id when reporting it",
	503: "a dependency is unavailable; see Retry-After",
}

func problemRef(status int) *Response {
	return &Response{Ref: "#/components/responses/Problem" + strconv.Itoa(status)}
}

// buildOpenAPI describes routes as an OpenAPI 3.1 document.
func buildOpenAPI(routes []route, version string) *Document {
	if version == "" {
		version = "dev"
	}
	r := &reflector{schemas: map[string]*Schema{}, names: map[reflect.Type]string{}}
	doc := &Document{
		OpenAPI: "3.1.0",
		Info: DocInfo{Title: "Loopdesk API", Version: version, Description: "Ticketing and knowledge engine. " +
			"Errors are RFC 9457 application/problem+json. Lists take ?limit= (1-200, default 50) and an opaque ?cursor=. " +
			"Resources with a version send it as a strong ETag; PATCH takes If-Match (the only concurrency channel: bodies carry no version). " +
			"Creating POSTs accept Idempotency-Key (24h). Every response carries X-Request-ID (a sane incoming one is kept)."},
		Paths: map[string]map[string]*Operation{},
		Components: Components{
			Schemas:   r.schemas,
			Responses: map[string]*Response{},
			SecuritySchemes: map[string]*SecurityScheme{"bearerAuth": {Type: "http", Scheme: "bearer",
				Description: "an API token from POST /api/v1/auth/tokens or `loopdesk admin token`"}},
		},
	}
	problem := r.schemaOf(reflect.TypeFor[Problem](), false)
	for st, desc := range problemResponses {
		resp := &Response{Description: desc, Content: map[string]*MediaType{ProblemContentType: {Schema: problem}}}
		switch st {
		case 401:
			resp.Headers = map[string]*Header{"WWW-Authenticate": {Schema: &Schema{Type: "string"}}}
		case 429, 503:
			resp.Headers = map[string]*Header{"Retry-After": {Description: "seconds", Schema: &Schema{Type: "integer"}}}
		}
		doc.Components.Responses["Problem"+strconv.Itoa(st)] = resp
	}
	tags := map[string]bool{}
	for _, rt := range routes {
		if rt.Tag != "" && !tags[rt.Tag] {
			tags[rt.Tag] = true
			doc.Tags = append(doc.Tags, DocTag{Name: rt.Tag})
		}
		path := openAPIPath(rt.Path)
		if doc.Paths[path] == nil {
			doc.Paths[path] = map[string]*Operation{}
		}
		doc.Paths[path][strings.ToLower(rt.Method)] = operation(r, rt)
	}
	return doc
}

// openAPIPath turns gin's /users/:id into /users/{id}.
func openAPIPath(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		if strings.HasPrefix(s, ":") || strings.HasPrefix(s, "*") {
			parts[i] = "{" + s[1:] + "}"
		}
	}
	return strings.Join(parts, "/")
}

func operationID(method, path string) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(method))
	for _, seg := range strings.Split(strings.TrimPrefix(path, apiBase), "/") {
		seg = strings.Trim(seg, ":*{}")
		for _, w := range strings.FieldsFunc(seg, func(r rune) bool { return r == '.' || r == '-' || r == '_' }) {
			b.WriteString(strings.ToUpper(w[:1]) + w[1:])
		}
	}
	return b.String()
}

func operation(r *reflector, rt route) *Operation {
	op := &Operation{
		OperationID: operationID(rt.Method, rt.Path),
		Summary:     rt.Summary,
		Description: rt.Description,
		Security:    []map[string][]string{},
		Responses:   map[string]*Response{},
		Permission:  string(rt.Perm),
	}
	if rt.Tag != "" {
		op.Tags = []string{rt.Tag}
	}
	if !rt.Public {
		op.Security = []map[string][]string{{"bearerAuth": {}}}
		if rt.Perm != "" {
			op.Description = strings.TrimSpace(op.Description + " Requires permission `" + string(rt.Perm) + "`.")
		}
	}
	errs := map[int]bool{500: true}
	for _, seg := range strings.Split(rt.Path, "/") {
		if strings.HasPrefix(seg, ":") {
			one := int64(1)
			schema := &Schema{Type: "integer", Format: "int64", Minimum: &one}
			if seg != ":id" {
				schema = &Schema{Type: "string"}
			}
			op.Parameters = append(op.Parameters, &Parameter{Name: seg[1:], In: "path", Required: true, Schema: schema})
			errs[400], errs[404] = true, true
		}
	}
	if len(rt.Query) > 0 {
		op.Parameters = append(op.Parameters, rt.Query...)
		errs[400] = true
	}
	if rt.Paged {
		one, maxL, maxC := int64(1), int64(MaxLimit), 64
		cursor := &Schema{Type: "string", MaxLength: &maxC}
		if rt.DomainCursor {
			cursor.MaxLength = nil
		}
		op.Parameters = append(op.Parameters,
			&Parameter{Name: "limit", In: "query", Description: "page size; larger values are a 400, not clamped",
				Schema: &Schema{Type: "integer", Minimum: &one, Maximum: &maxL, Default: DefaultLimit}},
			&Parameter{Name: "cursor", In: "query", Description: "next_cursor of the previous page, unchanged",
				Schema: cursor})
		errs[400] = true
	}
	if rt.Idempotent {
		maxK := idemMaxKey
		op.Parameters = append(op.Parameters, &Parameter{Name: IdempotencyHeader, In: "header",
			Description: "repeat a create safely: the same key and body within 24h replays the first response",
			Schema:      &Schema{Type: "string", MaxLength: &maxK}})
		errs[400], errs[409], errs[422] = true, true, true
	}
	if (rt.ETag && rt.Method == http.MethodPatch) || rt.IfMatch {
		op.Parameters = append(op.Parameters, &Parameter{Name: "If-Match", In: "header",
			Description: `ETag of the version you read, e.g. "3"; absent or * means no precondition`,
			Schema:      &Schema{Type: "string"}})
		errs[400], errs[409], errs[412] = true, true, true
	}
	if rt.Request != nil {
		op.RequestBody = &RequestBody{Required: true, Content: map[string]*MediaType{
			"application/json": {Schema: r.schemaOf(reflect.TypeOf(rt.Request), true)}}}
		errs[400], errs[413], errs[415], errs[422] = true, true, true, true
		if rt.Method == http.MethodPost || rt.Method == http.MethodPatch {
			errs[409] = true
		}
	}
	if !rt.Public {
		errs[401], errs[403] = true, true
	}
	if rt.RateLimited {
		errs[429], errs[503] = true, true
	}
	if rt.Path == "/readyz" {
		errs[503] = true
	}

	ok := &Response{Description: http.StatusText(rt.Status)}
	switch {
	case rt.Produces != "":
		ok.Content = map[string]*MediaType{rt.Produces: {Schema: &Schema{Type: "string"}}}
	case rt.Response != nil:
		s := r.schemaOf(reflect.TypeOf(rt.Response), false)
		if rt.List {
			s = listSchema(r, reflect.TypeOf(rt.Response), s)
		}
		ok.Content = map[string]*MediaType{"application/json": {Schema: s}}
	}
	ok.Headers = map[string]*Header{}
	if rt.ETag {
		ok.Headers["ETag"] = &Header{Description: "strong; the resource version", Schema: &Schema{Type: "string"}}
	}
	if rt.Location {
		ok.Headers["Location"] = &Header{Description: "URL of the new resource", Schema: &Schema{Type: "string"}}
	}
	if rt.Idempotent {
		ok.Headers["Idempotent-Replayed"] = &Header{Description: "true when this is a stored response replayed for a repeated Idempotency-Key",
			Schema: &Schema{Type: "string", Enum: []any{"true"}}}
	}
	if len(ok.Headers) == 0 {
		ok.Headers = nil
	}
	op.Responses[strconv.Itoa(rt.Status)] = ok
	codes := make([]int, 0, len(errs))
	for c := range errs {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	for _, c := range codes {
		op.Responses[strconv.Itoa(c)] = problemRef(c)
	}
	return op
}

// listSchema is the {"items": [...], "next_cursor": "..."} envelope.
func listSchema(r *reflector, item reflect.Type, itemSchema *Schema) *Schema {
	name := item.Name() + "List"
	if _, ok := r.schemas[name]; !ok {
		props := &Properties{}
		props.add("items", &Schema{Type: "array", Items: itemSchema})
		props.add("next_cursor", &Schema{Type: "string", Description: "pass as ?cursor= for the next page; absent on the last page"})
		r.schemas[name] = &Schema{Type: "object", Properties: props, Required: []string{"items"}}
	}
	return r.ref(name)
}
