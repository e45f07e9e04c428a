-- Knowledge base: articles (the working copy, with its workflow state and a
-- pointer to the live published revision), every revision, the history of
-- workflow transitions, reader feedback and "outdated" flags.
-- ticket_article_links (0004) keeps the links between tickets and articles.

-- tags is a JSON array of lowercase strings. status is the workflow state
-- of the working copy (the current revision). published_revision_id is the
-- revision readers see, NULL while nothing is published or once archived:
-- it stays while a newer revision is drafted and reviewed.
CREATE TABLE articles (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  title VARCHAR(300) NOT NULL,
  summary TEXT NOT NULL,
  body MEDIUMTEXT NOT NULL,
  category VARCHAR(100) NOT NULL DEFAULT '',
  tags TEXT NOT NULL,
  language VARCHAR(8) NOT NULL,
  audience VARCHAR(16) NOT NULL,
  owner_id BIGINT NOT NULL,
  status VARCHAR(40) NOT NULL,
  status_category VARCHAR(16) NOT NULL,
  workflow_version INT NOT NULL,
  state_entered_at DATETIME(3) NOT NULL,
  current_revision_id BIGINT NULL,
  revision_number INT NOT NULL DEFAULT 1,
  published_revision_id BIGINT NULL,
  published_at DATETIME(3) NULL,
  version INT NOT NULL DEFAULT 1,
  reuse_count INT NOT NULL DEFAULT 0,
  helpful_count INT NOT NULL DEFAULT 0,
  not_helpful_count INT NOT NULL DEFAULT 0,
  flagged_outdated_at DATETIME(3) NULL,
  flagged_outdated_by BIGINT NULL,
  flagged_outdated_reason TEXT NOT NULL,
  created_at DATETIME(3) NOT NULL,
  updated_at DATETIME(3) NOT NULL,
  KEY articles_status (status, id),
  KEY articles_category (category, id),
  KEY articles_language (language, id),
  KEY articles_published (published_revision_id),
  KEY articles_updated (updated_at),
  CONSTRAINT articles_owner FOREIGN KEY (owner_id) REFERENCES users(id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Append-only: every edit is a new revision, numbered 1, 2, ... per article.
CREATE TABLE article_revisions (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  article_id BIGINT NOT NULL,
  number INT NOT NULL,
  title VARCHAR(300) NOT NULL,
  summary TEXT NOT NULL,
  body MEDIUMTEXT NOT NULL,
  category VARCHAR(100) NOT NULL DEFAULT '',
  tags TEXT NOT NULL,
  language VARCHAR(8) NOT NULL,
  audience VARCHAR(16) NOT NULL,
  author_id BIGINT NOT NULL,
  note TEXT NOT NULL,
  created_at DATETIME(3) NOT NULL,
  UNIQUE KEY article_revisions_number (article_id, number),
  CONSTRAINT article_revisions_article FOREIGN KEY (article_id) REFERENCES articles(id) ON DELETE CASCADE,
  CONSTRAINT article_revisions_author FOREIGN KEY (author_id) REFERENCES users(id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Append-only history of workflow transitions (and of edits that sent a
-- published article's working copy back to draft: event "edit").
CREATE TABLE article_transitions (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  article_id BIGINT NOT NULL,
  event VARCHAR(40) NOT NULL,
  from_state VARCHAR(40) NOT NULL,
  to_state VARCHAR(40) NOT NULL,
  revision_id BIGINT NULL,
  actor_id BIGINT NULL,
  comment TEXT NOT NULL,
  at DATETIME(3) NOT NULL,
  KEY article_transitions_article (article_id, id),
  CONSTRAINT article_transitions_article FOREIGN KEY (article_id) REFERENCES articles(id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- One vote per reader and article; voting again replaces it.
CREATE TABLE article_feedback (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  article_id BIGINT NOT NULL,
  ticket_id BIGINT NULL,
  user_id BIGINT NOT NULL,
  helpful TINYINT(1) NOT NULL,
  comment TEXT NOT NULL,
  created_at DATETIME(3) NOT NULL,
  updated_at DATETIME(3) NOT NULL,
  UNIQUE KEY article_feedback_once (article_id, user_id),
  CONSTRAINT article_feedback_article FOREIGN KEY (article_id) REFERENCES articles(id) ON DELETE CASCADE,
  CONSTRAINT article_feedback_ticket FOREIGN KEY (ticket_id) REFERENCES tickets(id) ON DELETE SET NULL,
  CONSTRAINT article_feedback_user FOREIGN KEY (user_id) REFERENCES users(id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- "Flag it" (KCS): an article reported outdated, usually from a ticket.
-- Open until a new revision of the article is published.
CREATE TABLE article_flags (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  article_id BIGINT NOT NULL,
  ticket_id BIGINT NULL,
  user_id BIGINT NOT NULL,
  reason TEXT NOT NULL,
  created_at DATETIME(3) NOT NULL,
  resolved_at DATETIME(3) NULL,
  resolved_revision_id BIGINT NULL,
  KEY article_flags_article (article_id, id),
  CONSTRAINT article_flags_article FOREIGN KEY (article_id) REFERENCES articles(id) ON DELETE CASCADE,
  CONSTRAINT article_flags_ticket FOREIGN KEY (ticket_id) REFERENCES tickets(id) ON DELETE SET NULL,
  CONSTRAINT article_flags_user FOREIGN KEY (user_id) REFERENCES users(id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Suggestions learn from the tickets linked to each article, newest first.
CREATE INDEX ticket_article_links_created ON ticket_article_links(created_at);

-- The knowledge report selects tickets by when they were resolved.
CREATE INDEX tickets_resolved ON tickets(resolved_at);
