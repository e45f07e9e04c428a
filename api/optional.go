package api

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"sync"
)

var specCache sync.Map // reflect.Type -> fieldSpec

// Optional is a PATCH field that may be absent or a value, never null:
// absent leaves the stored value alone, null is rejected with a field error.
type Optional[T any] struct {
	Set   bool
	Value T
}

// UnmarshalJSON runs only when the key is present, which is what makes
// absence observable.
func (o *Optional[T]) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return &json.UnmarshalTypeError{Value: "null", Type: reflect.TypeFor[T]()}
	}
	if err := json.Unmarshal(b, &o.Value); err != nil {
		return err
	}
	o.Set = true
	return nil
}

// MarshalJSON writes the value (absent fields should use omitzero).
func (o Optional[T]) MarshalJSON() ([]byte, error) { return json.Marshal(o.Value) }

// IsZero lets `omitzero` drop an unset Optional.
func (o Optional[T]) IsZero() bool { return !o.Set }

// Ptr returns a pointer to the value when set, else nil: the shape of the
// domain's patch structs.
func (o Optional[T]) Ptr() *T {
	if !o.Set {
		return nil
	}
	v := o.Value
	return &v
}

func (Optional[T]) optionalElem() (reflect.Type, bool) { return reflect.TypeFor[T](), false }

// Nullable is a PATCH field that may be absent, null (clear it) or a value.
type Nullable[T any] struct {
	Set   bool
	Null  bool
	Value T
}

// UnmarshalJSON records presence and null-ness.
func (n *Nullable[T]) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		n.Set, n.Null = true, true
		return nil
	}
	if err := json.Unmarshal(b, &n.Value); err != nil {
		return err
	}
	n.Set = true
	return nil
}

// MarshalJSON writes null or the value.
func (n Nullable[T]) MarshalJSON() ([]byte, error) {
	if n.Null {
		return []byte("null"), nil
	}
	return json.Marshal(n.Value)
}

// IsZero lets `omitzero` drop an unset Nullable.
func (n Nullable[T]) IsZero() bool { return !n.Set }

func (Nullable[T]) optionalElem() (reflect.Type, bool) { return reflect.TypeFor[T](), true }

// optionalType is how reflection (decoder and OpenAPI) recognises the two
// presence-tracking wrappers.
type optionalType interface{ optionalElem() (reflect.Type, bool) }

func isOptionalType(t reflect.Type) bool { return t.Implements(reflect.TypeFor[optionalType]()) }

func sortFields(f []FieldError) {
	slices.SortFunc(f, func(a, b FieldError) int { return strings.Compare(a.Field, b.Field) })
}
