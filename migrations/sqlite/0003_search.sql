-- Inverted index for full-text search (package search), shared by every
-- document type. Terms are tokenized in Go (CJK bigrams, lowercased words), so
-- the tables behave the same on every dialect. WITHOUT ROWID clusters rows by
-- primary key: a term's postings are one contiguous range, read without
-- touching a second b-tree.
CREATE TABLE search_docs (
  doc_type TEXT NOT NULL,
  doc_id INTEGER NOT NULL,
  length INTEGER NOT NULL,
  PRIMARY KEY (doc_type, doc_id)
) WITHOUT ROWID;

-- doc_len repeats search_docs.length so BM25 scores a posting without a join.
CREATE TABLE search_postings (
  doc_type TEXT NOT NULL,
  term TEXT NOT NULL,
  doc_id INTEGER NOT NULL,
  tf INTEGER NOT NULL,
  doc_len INTEGER NOT NULL,
  PRIMARY KEY (doc_type, term, doc_id)
) WITHOUT ROWID;
CREATE INDEX search_postings_doc ON search_postings(doc_type, doc_id);
