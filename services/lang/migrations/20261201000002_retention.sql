-- What retention deletes by.
CREATE INDEX audit_log_at_only ON audit_log (at);
