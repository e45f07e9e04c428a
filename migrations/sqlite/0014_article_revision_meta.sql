-- The current revision's author and the published revision's number join
-- the narrow filter index, so staff lists read no revision bodies (see the
-- MySQL migration).
DROP INDEX article_revisions_filter;
CREATE INDEX article_revisions_filter ON article_revisions (id, audience, category, language, author_id, number);
