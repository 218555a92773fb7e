-- 0001: packages, orders with their allocation, and the append-only event log.
-- Landed migrations never change; a new change is a new numbered file.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

CREATE TABLE packages (
    label            TEXT PRIMARY KEY,
    item             TEXT NOT NULL,
    quantity         REAL NOT NULL,
    unit             TEXT NOT NULL,
    batch            TEXT,
    source_batches   TEXT NOT NULL,  -- JSON list
    lab_state        TEXT NOT NULL,
    on_hold          INTEGER NOT NULL,
    on_recall        INTEGER NOT NULL,
    on_investigation INTEGER NOT NULL,
    finished         INTEGER NOT NULL,
    archived_date    TEXT,
    expiration_date  TEXT,
    use_by_date      TEXT,
    last_modified    TEXT NOT NULL,  -- UTC, sorts as text
    imported_at      TEXT NOT NULL
) STRICT;

CREATE TABLE orders (
    number        TEXT PRIMARY KEY,
    short_id      TEXT,
    status        TEXT NOT NULL,
    is_open       INTEGER NOT NULL,
    buyer         TEXT NOT NULL,
    buyer_license TEXT,
    ship_date     TEXT,
    imported_at   TEXT NOT NULL
) STRICT;
CREATE INDEX orders_short_id ON orders (short_id);

CREATE TABLE order_lines (
    order_number TEXT NOT NULL REFERENCES orders (number) ON DELETE CASCADE,
    line_id      TEXT NOT NULL,
    position     INTEGER NOT NULL,
    sku          TEXT,
    name         TEXT,
    quantity     TEXT,
    unit         TEXT,
    batch        TEXT,
    PRIMARY KEY (order_number, line_id)
) STRICT;

CREATE TABLE allocations (
    order_number TEXT NOT NULL,
    line_id      TEXT NOT NULL,
    tag          TEXT NOT NULL,
    position     INTEGER NOT NULL,
    PRIMARY KEY (order_number, tag),
    FOREIGN KEY (order_number, line_id) REFERENCES order_lines (order_number, line_id) ON DELETE CASCADE
) STRICT;
CREATE INDEX allocations_tag ON allocations (tag);

-- Every answered scan, short pick and undo. Never updated, never deleted.
CREATE TABLE events (
    id           INTEGER PRIMARY KEY,
    device       TEXT NOT NULL,
    seq          INTEGER NOT NULL,
    at           TEXT NOT NULL,
    order_number TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('scan', 'short', 'undo')),
    tag          TEXT,
    line_id      TEXT,
    verdict      TEXT,
    reason       TEXT,
    note         TEXT,
    raw          BLOB,
    raw_len      INTEGER,
    detail       TEXT,   -- the verdict as JSON, for scans
    UNIQUE (device, seq)
) STRICT;
CREATE INDEX events_order ON events (order_number, id);

CREATE TRIGGER events_are_append_only_update BEFORE UPDATE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are append-only: record a correction as a new event');
END;
CREATE TRIGGER events_are_append_only_delete BEFORE DELETE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are append-only: record a correction as a new event');
END;
