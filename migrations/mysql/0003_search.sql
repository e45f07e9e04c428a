-- Inverted index for full-text search (package search), shared by every
-- document type. Terms are tokenized in Go (CJK bigrams, lowercased words):
-- InnoDB FULLTEXT ignores tokens under 3 characters and MariaDB has no ngram
-- parser. Terms compare byte for byte (utf8mb4_bin): case is already folded by
-- the tokenizer and 'é' must not equal 'e'.
CREATE TABLE search_docs (
  doc_type VARCHAR(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  doc_id BIGINT NOT NULL,
  length INT NOT NULL,
  PRIMARY KEY (doc_type, doc_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- doc_len repeats search_docs.length so BM25 scores a posting from the
-- clustered primary key alone, without a join per posting.
CREATE TABLE search_postings (
  doc_type VARCHAR(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  term VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  doc_id BIGINT NOT NULL,
  tf INT NOT NULL,
  doc_len INT NOT NULL,
  PRIMARY KEY (doc_type, term, doc_id),
  KEY search_postings_doc (doc_type, doc_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
