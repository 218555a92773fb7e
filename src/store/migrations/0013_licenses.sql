-- 0013: the buyer's license. The state's license register as last imported (an
-- import replaces it whole), and two event kinds: a supervisor's `license_release`
-- of an order on license hold, and a flow's `license_refused` of one. Their payload
-- is JSON in `detail`, as for holds and rulings.
-- Landed migrations never change; a new change is a new numbered file.

-- The register: one row per license number, normalised (trimmed, upper case).
-- `active` is the site's reading of `status` at import ([licenses] active_statuses);
-- `row` the line of the file it came from.
CREATE TABLE license_register (
    number   TEXT PRIMARY KEY,
    shown    TEXT NOT NULL,
    status   TEXT NOT NULL,
    active   INTEGER NOT NULL,
    expires  TEXT,
    row      INTEGER NOT NULL
) STRICT;

-- LeafLink's own word that the buyer's license is inactive (customer.license_inactive).
ALTER TABLE orders ADD COLUMN buyer_license_inactive INTEGER NOT NULL DEFAULT 0;

-- SQLite cannot alter a CHECK constraint: the event log is copied into a new table
-- with the same ids, as 0008 did; the append-only triggers and the indexes are made
-- again below.
CREATE TABLE events_new (
    id           INTEGER PRIMARY KEY,
    device       TEXT NOT NULL,
    seq          INTEGER NOT NULL,
    at           TEXT NOT NULL,
    order_number TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('scan', 'short', 'undo', 'load_scan',
                     'remove', 'load_confirm', 'deliver_scan', 'decision',
                     'deliver_finish', 'hold', 'ruling', 'license_release',
                     'license_refused')),
    tag          TEXT,
    line_id      TEXT,
    verdict      TEXT,
    reason       TEXT,
    note         TEXT,
    raw          BLOB,
    raw_len      INTEGER,
    detail       TEXT,   -- the verdict (scans) or the payload (other kinds) as JSON
    person       TEXT,   -- who was signed in on the device
    UNIQUE (device, seq)
) STRICT;
INSERT INTO events_new (id, device, seq, at, order_number, kind, tag, line_id, verdict,
        reason, note, raw, raw_len, detail, person)
    SELECT id, device, seq, at, order_number, kind, tag, line_id, verdict, reason, note,
        raw, raw_len, detail, person FROM events ORDER BY id;
DROP TABLE events;
ALTER TABLE events_new RENAME TO events;
CREATE INDEX events_order ON events (order_number, id);
CREATE INDEX events_kind ON events (kind, order_number);
CREATE TRIGGER events_are_append_only_update BEFORE UPDATE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are append-only: record a correction as a new event');
END;
CREATE TRIGGER events_are_append_only_delete BEFORE DELETE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are append-only: record a correction as a new event');
END;
