// Package knowledge will hold articles, revisions, ticket links, suggestions
// and FAQ proposals. Built under the knowledge and FAQ issues.
package knowledge
