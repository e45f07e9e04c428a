-- Tickets domain: workflow versions, tickets, tags, comments, escalations,
-- append-only history, knowledge links and round-robin state.

-- Published workflow versions (immutable); the PK stops two publishers from
-- taking the same version.
CREATE TABLE workflow_definitions (
  `key` VARCHAR(40) NOT NULL,
  version INT NOT NULL,
  name VARCHAR(200) NOT NULL,
  definition MEDIUMTEXT NOT NULL,
  created_by BIGINT NULL,
  created_at DATETIME(3) NOT NULL,
  PRIMARY KEY (`key`, version)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE tickets (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  subject VARCHAR(300) NOT NULL,
  description MEDIUMTEXT NOT NULL,
  status VARCHAR(40) NOT NULL,
  status_category VARCHAR(16) NOT NULL,
  priority CHAR(2) NOT NULL,
  workflow_key VARCHAR(40) NOT NULL,
  workflow_version INT NOT NULL,
  category VARCHAR(100) NOT NULL DEFAULT '',
  channel VARCHAR(16) NOT NULL,
  custom_fields MEDIUMTEXT NOT NULL,
  department_id BIGINT NULL,
  assignee_id BIGINT NULL,
  requester_id BIGINT NOT NULL,
  version INT NOT NULL DEFAULT 1,
  state_entered_at DATETIME(3) NOT NULL,
  resolved_at DATETIME(3) NULL,
  closed_at DATETIME(3) NULL,
  created_at DATETIME(3) NOT NULL,
  updated_at DATETIME(3) NOT NULL,
  KEY tickets_category (status_category, id),
  KEY tickets_status (status, id),
  KEY tickets_department (department_id, id),
  KEY tickets_assignee (assignee_id, id),
  KEY tickets_assignee_load (assignee_id, status_category),
  KEY tickets_requester (requester_id, id),
  KEY tickets_priority (priority, id),
  KEY tickets_updated (updated_at, id),
  KEY tickets_created (created_at, id),
  KEY tickets_workflow (workflow_key, workflow_version, status_category),
  CONSTRAINT tickets_department FOREIGN KEY (department_id) REFERENCES departments(id) ON DELETE SET NULL,
  CONSTRAINT tickets_assignee FOREIGN KEY (assignee_id) REFERENCES users(id) ON DELETE SET NULL,
  CONSTRAINT tickets_requester FOREIGN KEY (requester_id) REFERENCES users(id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE ticket_tags (
  ticket_id BIGINT NOT NULL,
  tag VARCHAR(50) NOT NULL,
  PRIMARY KEY (ticket_id, tag),
  KEY ticket_tags_tag (tag, ticket_id),
  CONSTRAINT ticket_tags_ticket FOREIGN KEY (ticket_id) REFERENCES tickets(id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE ticket_comments (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  ticket_id BIGINT NOT NULL,
  author_id BIGINT NOT NULL,
  body MEDIUMTEXT NOT NULL,
  internal TINYINT(1) NOT NULL DEFAULT 0,
  created_at DATETIME(3) NOT NULL,
  KEY ticket_comments_ticket (ticket_id, id),
  CONSTRAINT ticket_comments_ticket FOREIGN KEY (ticket_id) REFERENCES tickets(id) ON DELETE CASCADE,
  CONSTRAINT ticket_comments_author FOREIGN KEY (author_id) REFERENCES users(id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE ticket_escalations (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  ticket_id BIGINT NOT NULL,
  kind VARCHAR(16) NOT NULL,
  from_department_id BIGINT NULL,
  to_department_id BIGINT NULL,
  from_assignee_id BIGINT NULL,
  to_assignee_id BIGINT NULL,
  tier INT NOT NULL DEFAULT 0,
  reason TEXT NOT NULL,
  by_id BIGINT NOT NULL,
  created_at DATETIME(3) NOT NULL,
  KEY ticket_escalations_ticket (ticket_id, id),
  CONSTRAINT ticket_escalations_ticket FOREIGN KEY (ticket_id) REFERENCES tickets(id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Append-only: rows are inserted, never updated.
CREATE TABLE ticket_history (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  ticket_id BIGINT NOT NULL,
  actor_id BIGINT NULL,
  at DATETIME(3) NOT NULL,
  kind VARCHAR(32) NOT NULL,
  field VARCHAR(64) NOT NULL DEFAULT '',
  event VARCHAR(40) NOT NULL DEFAULT '',
  from_value TEXT NOT NULL,
  to_value TEXT NOT NULL,
  note TEXT NOT NULL,
  KEY ticket_history_ticket (ticket_id, id),
  CONSTRAINT ticket_history_ticket FOREIGN KEY (ticket_id) REFERENCES tickets(id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Knowledge links (kind: solved_by, referenced, created_from). The links API
-- comes with the knowledge domain; the resolve step's knowledge guard
-- already counts these rows. article_id has no foreign key until the
-- articles table exists.
CREATE TABLE ticket_article_links (
  ticket_id BIGINT NOT NULL,
  article_id BIGINT NOT NULL,
  kind VARCHAR(16) NOT NULL,
  created_by BIGINT NULL,
  created_at DATETIME(3) NOT NULL,
  PRIMARY KEY (ticket_id, article_id, kind),
  KEY ticket_article_links_article (article_id, ticket_id),
  CONSTRAINT ticket_article_links_ticket FOREIGN KEY (ticket_id) REFERENCES tickets(id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Auto-assignment state and lock: creations into a department lock its row
-- so concurrent assignments never pile onto one member.
CREATE TABLE department_assignment (
  department_id BIGINT NOT NULL PRIMARY KEY,
  last_assignee_id BIGINT NULL,
  CONSTRAINT department_assignment_dept FOREIGN KEY (department_id) REFERENCES departments(id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
