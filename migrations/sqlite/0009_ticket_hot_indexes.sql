-- A transition rewrites status, status_category and updated_at, so every
-- secondary index holding one of them is updated on the hottest write.
-- tickets_workflow only serves the admin migration of a workflow version,
-- which reads every ticket of that version anyway: keyed by id instead of
-- status_category, it no longer changes when a ticket moves.
DROP INDEX tickets_workflow;
CREATE INDEX tickets_workflow ON tickets(workflow_key, workflow_version, id);
