-- Term statistics Search plans with (search/stats_store.go), kept so a
-- restarted process starts from figures already computed (see the MySQL
-- migration).
CREATE TABLE search_term_stats (
  doc_type TEXT NOT NULL,
  term TEXT NOT NULL,
  df INTEGER NOT NULL,
  pairs BLOB NOT NULL,
  computed_at DATETIME NOT NULL,
  PRIMARY KEY (doc_type, term)
) WITHOUT ROWID;
