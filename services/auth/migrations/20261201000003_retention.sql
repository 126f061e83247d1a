-- What retention deletes by, and what the overview counts.
CREATE INDEX sessions_expires_at ON sessions (expires_at);
CREATE INDEX sessions_active ON sessions (expires_at) WHERE revoked_at IS NULL AND rotated_at IS NULL;
CREATE INDEX session_families_created_at ON session_families (created_at);
CREATE INDEX audit_log_at_only ON audit_log (at);
