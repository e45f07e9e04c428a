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
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  status VARCHAR(16) NOT NULL,
  question VARCHAR(300) NOT NULL,
  answer MEDIUMTEXT NOT NULL,
  sources MEDIUMTEXT NOT NULL,
  category VARCHAR(100) NOT NULL DEFAULT '',
  tags TEXT NOT NULL,
  language VARCHAR(8) NOT NULL,
  representative_id BIGINT NULL,
  member_count INT NOT NULL DEFAULT 0,
  requester_count INT NOT NULL DEFAULT 0,
  handling_seconds BIGINT NOT NULL DEFAULT 0,
  first_seen DATETIME(3) NOT NULL,
  last_seen DATETIME(3) NOT NULL,
  signature CHAR(64) NOT NULL,
  reopened_from BIGINT NULL,
  edited_by BIGINT NULL,
  edited_at DATETIME(3) NULL,
  rejected_reason TEXT NOT NULL,
  rejected_size INT NOT NULL DEFAULT 0,
  article_id BIGINT NULL,
  merged_into BIGINT NULL,
  decided_by BIGINT NULL,
  decided_at DATETIME(3) NULL,
  version INT NOT NULL DEFAULT 1,
  created_at DATETIME(3) NOT NULL,
  updated_at DATETIME(3) NOT NULL,
  UNIQUE KEY faq_proposals_signature (signature),
  KEY faq_proposals_status (status, member_count, id),
  KEY faq_proposals_created (created_at),
  KEY faq_proposals_decided (decided_at),
  KEY faq_proposals_article (article_id),
  CONSTRAINT faq_proposals_article FOREIGN KEY (article_id) REFERENCES articles(id) ON DELETE SET NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- A ticket is in at most one open proposal (kept by the miner and merge
-- under the FAQ lock); it may also be in decided ones.
CREATE TABLE faq_proposal_members (
  proposal_id BIGINT NOT NULL,
  ticket_id BIGINT NOT NULL,
  similarity DOUBLE NOT NULL,
  added_at DATETIME(3) NOT NULL,
  PRIMARY KEY (proposal_id, ticket_id),
  KEY faq_proposal_members_ticket (ticket_id, proposal_id),
  CONSTRAINT faq_proposal_members_proposal FOREIGN KEY (proposal_id) REFERENCES faq_proposals(id) ON DELETE CASCADE,
  CONSTRAINT faq_proposal_members_ticket FOREIGN KEY (ticket_id) REFERENCES tickets(id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Repeats of an issue an article already covers (the article's repeat
-- signal): tickets the miner grouped with it instead of proposing.
CREATE TABLE faq_coverage (
  article_id BIGINT NOT NULL,
  ticket_id BIGINT NOT NULL,
  score DOUBLE NOT NULL,
  created_at DATETIME(3) NOT NULL,
  PRIMARY KEY (article_id, ticket_id),
  KEY faq_coverage_created (created_at),
  CONSTRAINT faq_coverage_article FOREIGN KEY (article_id) REFERENCES articles(id) ON DELETE CASCADE,
  CONSTRAINT faq_coverage_ticket FOREIGN KEY (ticket_id) REFERENCES tickets(id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The FAQ lock: one row. Every write to proposals locks it (SELECT ... FOR
-- UPDATE) and moves generation; a miner applies what it computed only if
-- generation has not moved since it read. state is JSON (the last run);
-- fingerprint lets the scheduled run skip when no ticket, link or article
-- changed.
CREATE TABLE faq_miner_state (
  id INT NOT NULL PRIMARY KEY,
  generation BIGINT NOT NULL DEFAULT 0,
  state MEDIUMTEXT NOT NULL,
  fingerprint VARCHAR(200) NOT NULL DEFAULT '',
  last_ticket_id BIGINT NOT NULL DEFAULT 0,
  last_resolved_at DATETIME(3) NULL,
  last_mined_at DATETIME(3) NULL,
  updated_at DATETIME(3) NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
INSERT INTO faq_miner_state (id, generation, state, fingerprint, last_ticket_id) VALUES (1, 0, '{}', '', 0);
