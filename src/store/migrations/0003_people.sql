-- 0003: the people who sign in on the floor, with a role and a PIN.
-- Landed migrations never change; a new change is a new numbered file.

-- `pin_hash` is `sha256x<rounds>$<salt hex>$<hash hex>`: the PIN is never stored.
-- `failed` counts wrong PINs since the last good one; `locked_until` (UTC) refuses
-- every PIN, right or wrong, until it has passed.
CREATE TABLE people (
    name         TEXT PRIMARY KEY,
    role         TEXT NOT NULL CHECK (role IN ('picker', 'loader', 'driver', 'supervisor')),
    pin_hash     TEXT NOT NULL,
    failed       INTEGER NOT NULL DEFAULT 0,
    locked_until TEXT,
    disabled_at  TEXT,
    created_at   TEXT NOT NULL
) STRICT;
