-- 0006: the security log keeps one row per cause (device, kind, detail): a refused
-- push retried every second, or a flood of one bad token, is logged once, and the
-- check that it is already there is an index lookup.
-- Landed migrations never change; a new change is a new numbered file.
CREATE INDEX security_log_cause ON security_log (kind, device, detail);
