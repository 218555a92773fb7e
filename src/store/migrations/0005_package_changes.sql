-- 0005: the package cursor is a change counter, not a clock.
-- Landed migrations never change; a new change is a new numbered file.

-- Every write of a package takes the next number of `counters.package_change`, in the
-- same transaction as the write, so the numbers follow the commits: a device that
-- asks for changes after N never misses one, whatever the clocks do or however
-- imports interleave. Existing rows are numbered by rowid; a device's old time
-- cursor is not a number, so it is read as 0 and the device pulls every package once.
CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) STRICT;
ALTER TABLE packages ADD COLUMN change_seq INTEGER NOT NULL DEFAULT 0;
UPDATE packages SET change_seq = rowid;
INSERT INTO counters (name, value)
    VALUES ('package_change', (SELECT coalesce(max(change_seq), 0) FROM packages));
CREATE INDEX packages_change_seq ON packages (change_seq);
