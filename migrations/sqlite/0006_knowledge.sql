-- Knowledge base: articles (the working copy, with its workflow state and a
-- pointer to the live published revision), every revision, the history of
-- workflow transitions, reader feedback and "outdated" flags.
-- ticket_article_links (0004) keeps the links between tickets and articles.

-- tags is a JSON array of lowercase strings. status is the workflow state
-- of the working copy (the current revision). published_revision_id is the
-- revision readers see, NULL while nothing is published or once archived:
-- it stays while a newer revision is drafted and reviewed.
CREATE TABLE articles (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  title TEXT NOT NULL,
  summary TEXT NOT NULL,
  body TEXT NOT NULL,
  category TEXT NOT NULL DEFAULT '',
  tags TEXT NOT NULL,
  language TEXT NOT NULL,
  audience TEXT NOT NULL,
  owner_id INTEGER NOT NULL REFERENCES users(id),
  status TEXT NOT NULL,
  status_category TEXT NOT NULL,
  workflow_version INTEGER NOT NULL,
  state_entered_at DATETIME NOT NULL,
  current_revision_id INTEGER NULL,
  revision_number INTEGER NOT NULL DEFAULT 1,
  published_revision_id INTEGER NULL,
  published_at DATETIME NULL,
  version INTEGER NOT NULL DEFAULT 1,
  reuse_count INTEGER NOT NULL DEFAULT 0,
  helpful_count INTEGER NOT NULL DEFAULT 0,
  not_helpful_count INTEGER NOT NULL DEFAULT 0,
  flagged_outdated_at DATETIME NULL,
  flagged_outdated_by INTEGER NULL,
  flagged_outdated_reason TEXT NOT NULL DEFAULT '',
  created_at DATETIME NOT NULL,
  updated_at DATETIME NOT NULL
);
CREATE INDEX articles_status ON articles(status, id);
CREATE INDEX articles_category ON articles(category, id);
CREATE INDEX articles_language ON articles(language, id);
CREATE INDEX articles_published ON articles(published_revision_id);
CREATE INDEX articles_updated ON articles(updated_at);

-- Append-only: every edit is a new revision, numbered 1, 2, ... per article.
CREATE TABLE article_revisions (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  article_id INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
  number INTEGER NOT NULL,
  title TEXT NOT NULL,
  summary TEXT NOT NULL,
  body TEXT NOT NULL,
  category TEXT NOT NULL DEFAULT '',
  tags TEXT NOT NULL,
  language TEXT NOT NULL,
  audience TEXT NOT NULL,
  author_id INTEGER NOT NULL REFERENCES users(id),
  note TEXT NOT NULL DEFAULT '',
  created_at DATETIME NOT NULL,
  UNIQUE (article_id, number)
);

-- Append-only history of workflow transitions (and of edits that sent a
-- published article's working copy back to draft: event "edit").
CREATE TABLE article_transitions (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  article_id INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
  event TEXT NOT NULL,
  from_state TEXT NOT NULL,
  to_state TEXT NOT NULL,
  revision_id INTEGER NULL,
  actor_id INTEGER NULL,
  comment TEXT NOT NULL DEFAULT '',
  at DATETIME NOT NULL
);
CREATE INDEX article_transitions_article ON article_transitions(article_id, id);

-- One vote per reader and article; voting again replaces it.
CREATE TABLE article_feedback (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  article_id INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
  ticket_id INTEGER NULL REFERENCES tickets(id) ON DELETE SET NULL,
  user_id INTEGER NOT NULL REFERENCES users(id),
  helpful INTEGER NOT NULL,
  comment TEXT NOT NULL DEFAULT '',
  created_at DATETIME NOT NULL,
  updated_at DATETIME NOT NULL,
  UNIQUE (article_id, user_id)
);

-- "Flag it" (KCS): an article reported outdated, usually from a ticket.
-- Open until a new revision of the article is published.
CREATE TABLE article_flags (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  article_id INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
  ticket_id INTEGER NULL REFERENCES tickets(id) ON DELETE SET NULL,
  user_id INTEGER NOT NULL REFERENCES users(id),
  reason TEXT NOT NULL,
  created_at DATETIME NOT NULL,
  resolved_at DATETIME NULL,
  resolved_revision_id INTEGER NULL
);
CREATE INDEX article_flags_article ON article_flags(article_id, id);

-- Suggestions learn from the tickets linked to each article, newest first.
CREATE INDEX ticket_article_links_created ON ticket_article_links(created_at);

-- The knowledge report selects tickets by when they were resolved.
CREATE INDEX tickets_resolved ON tickets(resolved_at);
