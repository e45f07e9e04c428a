-- A staff list or search shows each article's working copy, which the
-- articles row holds, plus its current revision's author and its published
-- revision's number: reading those from the clustered revision rows reads
-- their bodies too. With the author and number in the narrow filter index
-- (0011), hydrating a page of 50 hits reads no revision row unless its
-- published text differs from the working copy. MariaDB reads pages missing
-- from the buffer pool from disk (O_DIRECT), so each wide row not read is
-- a disk read saved when the pool does not hold the table.
-- One statement: MySQL commits each DDL statement on its own, and a DROP
-- that succeeded before a failed CREATE could not be run again.
ALTER TABLE article_revisions DROP INDEX article_revisions_filter,
  ADD INDEX article_revisions_filter (id, audience, category, language, author_id, number);
