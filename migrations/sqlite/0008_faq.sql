-- FAQ proposals mined from repeat issues (knowledge/faq*.go): the
-- proposals with their drafts and impact, their member tickets, the
-- repeats found of issues an article already covers, and the miner's lock
-- and bookkeeping. 0007 is reserved.

-- status: open, approved, rejected, merged, attached. question, answer,
-- category, tags (JSON array) and language are the draft; sources is a
-- JSON array of the members' texts the answer came from. signature is the
-- hash of the sorted member ticket ids at creation: unique, so the same
-- group is never stored twice. rejected_size is member_count when
-- rejected: the group is proposed again (reopened_from) only once it has
-- grown by the configured factor. article_id: the article written
-- (approved) or linked (attached). edited_at: an editor changed the
-- draft; the miner then keeps the text and only updates the impact.
CREATE TABLE faq_proposals (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  status TEXT NOT NULL,
  question TEXT NOT NULL,
  answer TEXT NOT NULL,
  sources TEXT NOT NULL,
  category TEXT NOT NULL DEFAULT '',
  tags TEXT NOT NULL,
  language TEXT NOT NULL,
  representative_id INTEGER NULL,
  member_count INTEGER NOT NULL DEFAULT 0,
  requester_count INTEGER NOT NULL DEFAULT 0,
  handling_seconds INTEGER NOT NULL DEFAULT 0,
  first_seen DATETIME NOT NULL,
  last_seen DATETIME NOT NULL,
  signature TEXT NOT NULL,
  reopened_from INTEGER NULL,
  edited_by INTEGER NULL,
  edited_at DATETIME NULL,
  rejected_reason TEXT NOT NULL DEFAULT '',
  rejected_size INTEGER NOT NULL DEFAULT 0,
  article_id INTEGER NULL REFERENCES articles(id) ON DELETE SET NULL,
  merged_into INTEGER NULL,
  decided_by INTEGER NULL,
  decided_at DATETIME NULL,
  version INTEGER NOT NULL DEFAULT 1,
  created_at DATETIME NOT NULL,
  updated_at DATETIME NOT NULL,
  UNIQUE (signature)
);
CREATE INDEX faq_proposals_status ON faq_proposals(status, member_count, id);
CREATE INDEX faq_proposals_created ON faq_proposals(created_at);
CREATE INDEX faq_proposals_decided ON faq_proposals(decided_at);
CREATE INDEX faq_proposals_article ON faq_proposals(article_id);

-- A ticket is in at most one open proposal (kept by the miner and merge
-- under the FAQ lock); it may also be in decided ones.
CREATE TABLE faq_proposal_members (
  proposal_id INTEGER NOT NULL REFERENCES faq_proposals(id) ON DELETE CASCADE,
  ticket_id INTEGER NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
  similarity REAL NOT NULL,
  added_at DATETIME NOT NULL,
  PRIMARY KEY (proposal_id, ticket_id)
);
CREATE INDEX faq_proposal_members_ticket ON faq_proposal_members(ticket_id, proposal_id);

-- Repeats of an issue an article already covers (the article's repeat
-- signal): tickets the miner grouped with it instead of proposing.
CREATE TABLE faq_coverage (
  article_id INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
  ticket_id INTEGER NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
  score REAL NOT NULL,
  created_at DATETIME NOT NULL,
  PRIMARY KEY (article_id, ticket_id)
);
CREATE INDEX faq_coverage_created ON faq_coverage(created_at);

-- The FAQ lock: one row. Every write to proposals locks it and moves
-- generation; a miner applies what it computed only if generation has not
-- moved since it read. state is JSON (the last run); fingerprint lets the
-- scheduled run skip when no ticket, link or article changed.
CREATE TABLE faq_miner_state (
  id INTEGER NOT NULL PRIMARY KEY,
  generation INTEGER NOT NULL DEFAULT 0,
  state TEXT NOT NULL,
  fingerprint TEXT NOT NULL DEFAULT '',
  last_ticket_id INTEGER NOT NULL DEFAULT 0,
  last_resolved_at DATETIME NULL,
  last_mined_at DATETIME NULL,
  updated_at DATETIME NULL
);
INSERT INTO faq_miner_state (id, generation, state, fingerprint, last_ticket_id) VALUES (1, 0, '{}', '', 0);
