package workflow

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// MaxDefinitionBytes bounds what Parse accepts; a real definition is a few
// KiB, so anything larger is a mistake or an attack.
const MaxDefinitionBytes = 1 << 20

// Parse reads a definition from JSON (when the first non-space byte is '{')
// or YAML. Unknown fields, trailing documents and syntax errors are errors;
// syntax errors name the line (and for JSON the column and byte offset).
// Parse does not validate: call Validate with the roles and permissions of
// the deployment.
func Parse(data []byte) (*Definition, error) {
	if len(data) > MaxDefinitionBytes {
		return nil, fmt.Errorf("workflow: definition is %d bytes, more than the %d allowed", len(data), MaxDefinitionBytes)
	}
	trimmed := bytes.TrimLeft(data, " \t\r\n\ufeff")
	if len(trimmed) == 0 {
		return nil, errors.New("workflow: definition is empty")
	}
	if trimmed[0] == '{' {
		return parseJSON(data)
	}
	return parseYAML(data)
}

func parseJSON(data []byte) (*Definition, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var d Definition
	if err := dec.Decode(&d); err != nil {
		return nil, jsonError(data, dec, err)
	}
	// A second value after the object is a pasting mistake, not a feature.
	if _, err := dec.Token(); err != io.EOF {
		off := dec.InputOffset()
		line, col := lineCol(data, off)
		return nil, fmt.Errorf("workflow: invalid JSON at line %d, column %d (offset %d): unexpected data after the definition", line, col, off)
	}
	return &d, nil
}

// jsonError adds a line and column to encoding/json's errors, which only
// carry a byte offset (or, for unknown fields, nothing at all).
func jsonError(data []byte, dec *json.Decoder, err error) error {
	var off int64
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		off = syn.Offset - 1 // Offset counts the offending byte; point at it
	case errors.As(err, &typ):
		off = typ.Offset
	case errors.Is(err, io.ErrUnexpectedEOF):
		off = int64(len(data))
	default:
		off = dec.InputOffset()
		// The unknown-field error has no position and the decoder has read
		// the whole object by then; find the key itself.
		if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			key := regexp.MustCompile(regexp.QuoteMeta(name) + `\s*:`)
			if loc := key.FindIndex(data); loc != nil {
				off = int64(loc[0])
			}
		}
	}
	line, col := lineCol(data, off)
	return fmt.Errorf("workflow: invalid JSON at line %d, column %d (offset %d): %w", line, col, off, err)
}

func lineCol(data []byte, off int64) (line, col int) {
	off = min(max(off, 0), int64(len(data)))
	before := data[:off]
	line = bytes.Count(before, []byte{'\n'}) + 1
	col = int(off) - (bytes.LastIndexByte(before, '\n') + 1) + 1
	return line, col
}

func parseYAML(data []byte) (*Definition, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var d Definition
	if err := dec.Decode(&d); err != nil {
		if err == io.EOF {
			return nil, errors.New("workflow: definition is empty")
		}
		// yaml.v3 messages already say "line N: ...".
		return nil, fmt.Errorf("workflow: invalid YAML: %w", err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err != io.EOF {
		if err != nil {
			return nil, fmt.Errorf("workflow: invalid YAML: %w", err)
		}
		return nil, fmt.Errorf("workflow: invalid YAML: line %d: more than one document", extra.Line)
	}
	return &d, nil
}
