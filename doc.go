// Package loopdesk is the root of the Loopdesk module; the binary lives in
// cmd/loopdesk. This package holds only repository-wide tests.
package loopdesk
