-- 0004: load and delivery. Events gain the kinds of the dock and the hand-over and
-- the person who was signed in; order lines their price; orders their address;
-- attachments (signature images, manifest PDFs) stored with the events that refer to
-- them; the dock remembers drivers and vehicles.
-- Landed migrations never change; a new change is a new numbered file.

-- SQLite cannot alter a CHECK constraint: the event log is copied into a new table
-- with the same ids (hub receipts refer to them) and the old table dropped. DROP TABLE
-- fires no row triggers; the append-only triggers are made again below.
CREATE TABLE events_new (
    id           INTEGER PRIMARY KEY,
    device       TEXT NOT NULL,
    seq          INTEGER NOT NULL,
    at           TEXT NOT NULL,
    order_number TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('scan', 'short', 'undo', 'load_scan',
                     'remove', 'load_confirm', 'deliver_scan', 'decision',
                     'deliver_finish')),
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
        reason, note, raw, raw_len, detail)
    SELECT id, device, seq, at, order_number, kind, tag, line_id, verdict, reason, note,
        raw, raw_len, detail FROM events ORDER BY id;
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

ALTER TABLE order_lines ADD COLUMN unit_price_cents INTEGER;
ALTER TABLE orders ADD COLUMN delivery_address TEXT;

-- Files referred to by events (by SHA-256 of their bytes). Kept forever.
CREATE TABLE attachments (
    sha256     TEXT PRIMARY KEY,
    mime       TEXT NOT NULL,
    bytes      BLOB NOT NULL,
    created_at TEXT NOT NULL
) STRICT;
CREATE TRIGGER attachments_are_append_only_update BEFORE UPDATE ON attachments
BEGIN
    SELECT RAISE(ABORT, 'attachments are append-only');
END;
CREATE TRIGGER attachments_are_append_only_delete BEFORE DELETE ON attachments
BEGIN
    SELECT RAISE(ABORT, 'attachments are append-only');
END;

-- The dock's memory: the next load with the same driver and vehicle takes two taps.
CREATE TABLE drivers (
    name                 TEXT PRIMARY KEY,
    occupational_license TEXT NOT NULL,
    drivers_license      TEXT NOT NULL,
    last_used            TEXT NOT NULL
) STRICT;
CREATE TABLE vehicles (
    plate     TEXT PRIMARY KEY,
    make      TEXT NOT NULL,
    model     TEXT NOT NULL,
    last_used TEXT NOT NULL
) STRICT;
