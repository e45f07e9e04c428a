-- Term statistics Search plans with (search/stats_store.go): a term's
-- document frequency and its postings' distribution over (tf, doc_len),
-- kept so that a replica or a restarted process starts from the figures
-- another computed instead of counting a common word's postings again
-- (12-28 ms for 27k postings). pairs is a compact binary list; computed_at
-- bounds how stale a row may be used.
CREATE TABLE search_term_stats (
  doc_type VARCHAR(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  term VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  df BIGINT NOT NULL,
  pairs MEDIUMBLOB NOT NULL,
  computed_at DATETIME(3) NOT NULL,
  PRIMARY KEY (doc_type, term)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
