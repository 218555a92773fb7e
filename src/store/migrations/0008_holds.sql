-- 0008: holds and rulings. On a hub with people, an event whose person may not do
-- it (or that names nobody, or nobody the hub knows) is kept but not counted: the hub
-- records a `hold` naming it, and a supervisor's `ruling` accepts or rejects it.
-- Both are events like the others (their payload is JSON in `detail`), so they travel
-- with the order's events and every device counts what the hub counts.
-- Landed migrations never change; a new change is a new numbered file.

-- SQLite cannot alter a CHECK constraint: the event log is copied into a new table
-- with the same ids (hub receipts and cursors refer to them) and the old table
-- dropped, as 0004 did. DROP TABLE fires no row triggers; the append-only triggers
-- and the indexes are made again below.
CREATE TABLE events_new (
    id           INTEGER PRIMARY KEY,
    device       TEXT NOT NULL,
    seq          INTEGER NOT NULL,
    at           TEXT NOT NULL,
    order_number TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('scan', 'short', 'undo', 'load_scan',
                     'remove', 'load_confirm', 'deliver_scan', 'decision',
                     'deliver_finish', 'hold', 'ruling')),
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
