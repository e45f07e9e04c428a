-- A transition rewrites status, status_category and updated_at, so every
-- secondary index holding one of them is updated on the hottest write.
-- tickets_workflow only serves the admin migration of a workflow version,
-- which reads every ticket of that version anyway: keyed by id instead of
-- status_category, it no longer changes when a ticket moves.
ALTER TABLE tickets DROP INDEX tickets_workflow, ADD INDEX tickets_workflow (workflow_key, workflow_version, id);
