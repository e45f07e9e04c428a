package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
)

// MaxBodyBytes caps every JSON request body.
const MaxBodyBytes = 1 << 20

// Validator is implemented by request types with rules beyond "present and
// of the right type" (formats, ranges, enums). It reports every problem.
type Validator interface{ Validate() []FieldError }

// Decode reads the request body strictly into dst (a pointer to a struct)
// and validates it. On failure it has already written the problem and
// returns false; the caller just returns.
//
// Rules: JSON content type (415), at most 1 MiB (413), one JSON object with
// no trailing data and no unknown or mis-cased fields (400/422), fields
// without omitempty that are not Optional/Nullable/pointers must be present
// and non-null (422, all listed at once), then dst.Validate() if it exists.
func Decode(c *gin.Context, dst any) bool {
	body, ok := readBody(c)
	if !ok {
		return false
	}
	status, detail, fields := decodeJSON(body, dst)
	if status != 0 {
		WriteProblem(c, status, detail, fields...)
		return false
	}
	return true
}

// readBody enforces content type and size and returns the raw bytes. The
// body is replaced by a re-readable copy so a later reader sees the same.
func readBody(c *gin.Context) ([]byte, bool) {
	if !isJSONContentType(c.GetHeader("Content-Type")) {
		ct := c.GetHeader("Content-Type")
		if ct == "" {
			ct = "none"
		}
		WriteProblem(c, http.StatusUnsupportedMediaType,
			fmt.Sprintf("Content-Type must be application/json (got %s)", ct))
		return nil, false
	}
	if raw, ok := c.Get(ctxRawBody); ok {
		return raw.([]byte), true
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			WriteProblem(c, http.StatusRequestEntityTooLarge,
				fmt.Sprintf("request body is larger than the limit of %d bytes (1 MiB)", MaxBodyBytes))
			return nil, false
		}
		WriteProblem(c, http.StatusBadRequest, "could not read the request body: "+err.Error())
		return nil, false
	}
	c.Set(ctxRawBody, body)
	c.Request.Body = io.NopCloser(bytes.NewReader(body))
	return body, true
}

const ctxRawBody = "loopdesk.raw_body"

func isJSONContentType(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	return mt == "application/json" || (strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))
}

// decodeJSON is Decode without HTTP: it returns status 0 on success, else
// the status, detail and field errors to report. Split out for the fuzzer.
func decodeJSON(body []byte, dst any) (status int, detail string, fields []FieldError) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return http.StatusBadRequest, "request body is empty; send a JSON object", nil
	}
	if trimmed[0] != '{' {
		if json.Valid(trimmed) {
			return http.StatusUnprocessableEntity, "request body must be a JSON object, not " + jsonKind(trimmed[0]), nil
		}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return decodeError(err, dst)
	}
	if _, err := dec.Token(); err != io.EOF {
		return http.StatusBadRequest, fmt.Sprintf("unexpected data after the JSON object at byte offset %d; send exactly one object", dec.InputOffset()), nil
	}

	// encoding/json matches keys case-insensitively; a contract is exact, so
	// "Email" is an unknown field, and presence here drives required checks.
	var present map[string]json.RawMessage
	if err := json.Unmarshal(trimmed, &present); err != nil {
		return http.StatusBadRequest, "malformed JSON: " + err.Error(), nil
	}
	spec := fieldsOf(reflect.TypeOf(dst).Elem())
	for k := range present {
		if _, ok := spec.byName[k]; !ok {
			msg := "unknown field"
			if want, ok := spec.byFold[strings.ToLower(k)]; ok {
				msg = fmt.Sprintf("unknown field; field names are case-sensitive, did you mean %q?", want)
			}
			fields = append(fields, FieldError{Field: k, Message: msg})
		}
	}
	if len(fields) > 0 {
		sortFields(fields)
		return http.StatusUnprocessableEntity, "the request has unknown fields; see errors", fields
	}
	for _, f := range spec.list {
		if !f.required {
			continue
		}
		if v, ok := present[f.name]; !ok {
			fields = append(fields, FieldError{Field: f.name, Message: "is required"})
		} else if string(bytes.TrimSpace(v)) == "null" {
			fields = append(fields, FieldError{Field: f.name, Message: "is required and cannot be null"})
		}
	}
	fields = append(fields, checkEnums(reflect.ValueOf(dst).Elem(), spec, present)...)
	if v, ok := dst.(Validator); ok {
		fields = append(fields, v.Validate()...)
	}
	if len(fields) > 0 {
		return http.StatusUnprocessableEntity, "the request has invalid fields; see errors", fields
	}
	return 0, "", nil
}

func decodeError(err error, dst any) (int, string, []FieldError) {
	var (
		se *json.SyntaxError
		te *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &se):
		return http.StatusBadRequest, fmt.Sprintf("malformed JSON at byte offset %d: %s", se.Offset, strings.TrimPrefix(se.Error(), "json: ")), nil
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return http.StatusBadRequest, "malformed JSON: the body ends before the object is complete", nil
	case errors.As(err, &te):
		if te.Field == "" {
			return http.StatusUnprocessableEntity, "request body must be a JSON object, not " + jsonValueName(te.Value), nil
		}
		msg := fmt.Sprintf("must be %s, not %s", typeName(te.Type), jsonValueName(te.Value))
		if strings.HasPrefix(te.Value, "number ") {
			msg = fmt.Sprintf("must be %s; %s is out of range or not whole", typeName(te.Type), strings.TrimPrefix(te.Value, "number "))
		}
		return http.StatusUnprocessableEntity, fmt.Sprintf("field %q has the wrong type", te.Field),
			[]FieldError{{Field: te.Field, Message: msg}}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		msg := "unknown field"
		if want, ok := fieldsOf(reflect.TypeOf(dst).Elem()).byFold[strings.ToLower(name)]; ok && want != name {
			msg = fmt.Sprintf("unknown field; did you mean %q?", want)
		}
		return http.StatusUnprocessableEntity, fmt.Sprintf("unknown field %q", name), []FieldError{{Field: name, Message: msg}}
	case errors.As(err, new(*time.ParseError)):
		return http.StatusUnprocessableEntity, "a time field is not RFC 3339: " + err.Error(), nil
	default:
		// Errors from custom UnmarshalJSON methods are client input problems.
		return http.StatusBadRequest, "invalid JSON body: " + strings.TrimPrefix(err.Error(), "json: "), nil
	}
}

// jsonValueName turns encoding/json's "string", "bool", ... into prose.
func jsonValueName(v string) string {
	switch v {
	case "string":
		return "a string"
	case "number":
		return "a number"
	case "bool":
		return "a boolean"
	case "array":
		return "an array"
	case "object":
		return "an object"
	}
	return v
}

func jsonKind(b byte) string {
	switch b {
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 'n':
		return "null"
	case 't', 'f':
		return "a boolean"
	default:
		return "a number"
	}
}

// typeName says a Go type the way a JSON client thinks of it.
func typeName(t reflect.Type) string {
	if t == nil {
		return "a value"
	}
	if t == reflect.TypeFor[time.Time]() {
		return "an RFC 3339 date-time string"
	}
	switch t.Kind() {
	case reflect.Pointer:
		return typeName(t.Elem())
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array of " + strings.TrimPrefix(strings.TrimPrefix(typeName(t.Elem()), "a "), "an ") + "s"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return "a " + t.Kind().String()
}

// fieldSpec is the JSON view of a request struct, cached per type.
type fieldSpec struct {
	list   []fieldInfo
	byName map[string]fieldInfo
	byFold map[string]string
}

type fieldInfo struct {
	name      string
	index     []int
	required  bool
	omitempty bool
	field     reflect.StructField
}

// fieldsOf lists the JSON fields of struct type t, flattening embedded
// structs the way encoding/json does for the simple cases we use.
func fieldsOf(t reflect.Type) fieldSpec {
	if v, ok := specCache.Load(t); ok {
		return v.(fieldSpec)
	}
	s := fieldSpec{byName: map[string]fieldInfo{}, byFold: map[string]string{}}
	var walk func(t reflect.Type, index []int)
	walk = func(t reflect.Type, index []int) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			if tag == "-" {
				continue
			}
			idx := append(append([]int(nil), index...), i)
			if f.Anonymous && tag == "" && f.Type.Kind() == reflect.Struct {
				walk(f.Type, idx)
				continue
			}
			if !f.IsExported() {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			if name == "" {
				name = f.Name
			}
			omit := strings.Contains(","+opts+",", ",omitempty,") || strings.Contains(","+opts+",", ",omitzero,")
			fi := fieldInfo{name: name, index: idx, omitempty: omit, field: f,
				required: !omit && f.Type.Kind() != reflect.Pointer && !isOptionalType(f.Type)}
			s.list = append(s.list, fi)
			s.byName[name] = fi
			s.byFold[strings.ToLower(name)] = name
		}
	}
	if t.Kind() == reflect.Struct {
		walk(t, nil)
	}
	specCache.Store(t, s)
	return s
}

// checkEnums enforces the same enums the OpenAPI document declares (enum
// tag, Enum() method or enumOf), on strings and slices of strings, so an
// invalid value is reported together with every other field problem.
func checkEnums(v reflect.Value, spec fieldSpec, present map[string]json.RawMessage) []FieldError {
	var fe []FieldError
	for _, f := range spec.list {
		if _, sent := present[f.name]; !sent {
			continue
		}
		fv := v.FieldByIndex(f.index)
		if isOptionalType(fv.Type()) {
			if !fv.FieldByName("Set").Bool() {
				continue
			}
			if n := fv.FieldByName("Null"); n.IsValid() && n.Bool() {
				continue
			}
			fv = fv.FieldByName("Value")
		}
		if fv.Kind() == reflect.Pointer {
			if fv.IsNil() {
				continue
			}
			fv = fv.Elem()
		}
		tagEnum := f.field.Tag.Get("enum")
		check := func(name string, x reflect.Value) {
			allowed := enumValues(x.Type(), tagEnum)
			if allowed == nil || x.Kind() != reflect.String {
				return
			}
			for _, a := range allowed {
				if a == x.String() {
					return
				}
			}
			fe = append(fe, FieldError{Field: name, Message: fmt.Sprintf("%q is not one of: %s", x.String(), strings.Join(allowed, ", "))})
		}
		switch fv.Kind() {
		case reflect.String:
			check(f.name, fv)
		case reflect.Slice:
			for i := 0; i < fv.Len(); i++ {
				check(fmt.Sprintf("%s[%d]", f.name, i), fv.Index(i))
			}
		}
	}
	return fe
}

func enumValues(t reflect.Type, tag string) []string {
	var vals []any
	switch {
	case tag != "":
		return strings.Split(tag, ",")
	case enumOf[t] != nil:
		vals = enumOf[t]
	default:
		e, ok := reflect.Zero(t).Interface().(enumer)
		if !ok {
			return nil
		}
		vals = e.Enum()
	}
	out := make([]string, len(vals))
	for i, v := range vals {
		out[i] = fmt.Sprint(v)
	}
	return out
}
