// Package knowledge is the knowledge base: articles with every revision
// kept, a review workflow (the "article" workflow, fired through package
// workflow like tickets), safe Markdown rendering, search in the shared
// index, links to tickets, reader feedback, "outdated" flags and article
// suggestions for tickets.
//
// An article row is its working copy: the current revision and the
// workflow state of that revision (draft, in_review, published,
// archived). published_revision_id points at the revision readers see; it
// stays while a newer revision is drafted and reviewed, moves when an
// editor approves one, and is cleared by archiving. Editing a published
// article starts a new draft (recorded as the transition "edit"), so the
// change goes through review while the published text stays live.
//
// Who sees what: callers with articles:read_drafts (staff) see working
// copies, revisions and history; anyone else with articles:read sees only
// published revisions, and a requester only those whose audience is
// public. Search keeps two documents per article in the shared index:
// "article" (the working copy plus, while they differ, the published
// revision, for staff: a published article under review is still found by
// its live text) and "article_published" (the published revision alone,
// for readers, so a draft's words never surface to them).
//
// Links between tickets and articles are written by package tickets (the
// resolve step links in its own transaction); this package reads them
// and calls tickets for changes, never the other way round.
package knowledge
