-- 0015: a new role, `coordinator`, who works at the hub's desk (import, allocate,
-- release holds, post to Metrc, manage devices and people) and not on the floor.
-- Landed migrations never change; a new change is a new numbered file.

-- SQLite cannot alter a CHECK constraint: `people` and `role_history` are copied
-- into new tables with the wider check, as 0013 did for the event log. Neither has
-- an index or a trigger beyond its primary key.
CREATE TABLE people_new (
    name         TEXT PRIMARY KEY,
    role         TEXT NOT NULL CHECK (role IN ('picker', 'loader', 'driver', 'supervisor',
                     'coordinator')),
    pin_hash     TEXT NOT NULL,
    failed       INTEGER NOT NULL DEFAULT 0,
    locked_until TEXT,
    disabled_at  TEXT,
    created_at   TEXT NOT NULL
) STRICT;
INSERT INTO people_new (name, role, pin_hash, failed, locked_until, disabled_at, created_at)
    SELECT name, role, pin_hash, failed, locked_until, disabled_at, created_at FROM people;
DROP TABLE people;
ALTER TABLE people_new RENAME TO people;

CREATE TABLE role_history_new (
    name  TEXT NOT NULL,
    role  TEXT NOT NULL CHECK (role IN ('picker', 'loader', 'driver', 'supervisor',
              'coordinator')),
    since TEXT NOT NULL,
    PRIMARY KEY (name, since)
) STRICT;
INSERT INTO role_history_new (name, role, since) SELECT name, role, since FROM role_history;
DROP TABLE role_history;
ALTER TABLE role_history_new RENAME TO role_history;
