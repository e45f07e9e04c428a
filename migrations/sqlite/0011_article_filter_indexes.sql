-- Narrow copies of the columns a search filter checks (knowledge
-- filterQuery), keyed by id, so a check by primary key reads no bodies
-- (see the MySQL migration for the measurement).
CREATE INDEX articles_filter ON articles (id, published_revision_id, status, category, language, audience);
CREATE INDEX article_revisions_filter ON article_revisions (id, audience, category, language);
