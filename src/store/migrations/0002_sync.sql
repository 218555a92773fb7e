-- 0002: the hub's enrolled devices, receipts and security log; the device's outbox
-- acknowledgements and per-order cursors into the hub's event log.
-- Landed migrations never change; a new change is a new numbered file.

-- Hub: one row per enrolled device. Only a hash of the token is kept. `device_id` is
-- the id the device's events carry, bound when the device joins.
CREATE TABLE hub_devices (
    name        TEXT PRIMARY KEY,
    token_hash  TEXT NOT NULL UNIQUE,
    device_id   TEXT UNIQUE,
    enrolled_at TEXT NOT NULL,
    revoked_at  TEXT
) STRICT;

-- Hub: when each pushed event was accepted (the event itself is in `events`).
CREATE TABLE hub_receipts (
    device      TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    event_id    INTEGER NOT NULL,
    received_at TEXT NOT NULL,
    PRIMARY KEY (device, seq)
) STRICT;

-- Hub: refused requests worth a look (altered replays, forged or revoked tokens).
CREATE TABLE security_log (
    id     INTEGER PRIMARY KEY,
    at     TEXT NOT NULL,
    device TEXT,
    kind   TEXT NOT NULL,
    detail TEXT NOT NULL
) STRICT;
CREATE TRIGGER security_log_is_append_only_update BEFORE UPDATE ON security_log
BEGIN
    SELECT RAISE(ABORT, 'the security log is append-only');
END;
CREATE TRIGGER security_log_is_append_only_delete BEFORE DELETE ON security_log
BEGIN
    SELECT RAISE(ABORT, 'the security log is append-only');
END;

-- Device: its own events the hub has acknowledged. The outbox is this device's events
-- without a row here. Events themselves stay append-only.
CREATE TABLE event_acks (
    device   TEXT NOT NULL,
    seq      INTEGER NOT NULL,
    acked_at TEXT NOT NULL,
    PRIMARY KEY (device, seq)
) STRICT;

-- Device: per order, the last hub event id whose events this device holds.
CREATE TABLE sync_cursors (
    order_number TEXT PRIMARY KEY,
    hub_event_id INTEGER NOT NULL
) STRICT;

-- Hub: packages changed since a device's last pull.
CREATE INDEX packages_imported_at ON packages (imported_at);
