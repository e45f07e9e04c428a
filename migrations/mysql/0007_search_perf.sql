-- Ranked search (package search, rank.go) reads a term's postings best
-- first instead of all of them: within one term a posting's BM25 part grows
-- with tf and shrinks with the document length, so the postings scoring
-- above a threshold are "tf = t AND doc_len <= x" ranges of this index.
CREATE INDEX search_postings_rank ON search_postings (doc_type, term, tf, doc_len, doc_id);

-- It then completes the scores of a few hundred candidate documents: with
-- tf and doc_len in the per-document index, a document's postings are one
-- short range of it, without a read of the clustered index per posting.
-- Deleting a document's postings still uses its (doc_type, doc_id) prefix.
ALTER TABLE search_postings DROP INDEX search_postings_doc, ADD INDEX search_postings_doc (doc_type, doc_id, term, tf, doc_len);
