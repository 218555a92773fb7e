-- 0014: orders keep the platform they came from, and what tagtally writes back to it.
-- Landed migrations never change; a new change is a new numbered file.
--
-- order_sources: one row an order pulled from a B2B platform (LeafLink, Apex): the
-- platform and its own id of the order (LeafLink's `number`, Apex's numeric `id`),
-- so a re-pull updates the order it made rather than making a second, and a
-- write-back knows where to go. An order imported from a file has none.
CREATE TABLE order_sources (
    order_number TEXT PRIMARY KEY,
    platform TEXT NOT NULL CHECK (platform IN ('leaflink', 'apex')),
    platform_id TEXT NOT NULL,
    -- The platform's status as last read (LeafLink's `status`, Apex's
    -- `order_status_id`), and when.
    platform_status TEXT,
    pulled_at TEXT NOT NULL,
    UNIQUE (platform, platform_id)
) STRICT;

-- platform_writes: the durable queue of writes back to the platform, one row a fact
-- of the floor (a line packed, the order fulfilled, shipped, its manifest number,
-- delivered), unique per (platform, order, kind, subject). The row holds the body
-- last decided for that fact; when the floor changes it (an undo after a line was
-- packed), the body changes and the row is queued again. A try is counted before its
-- request is sent, so a try without an answer is known to be uncertain and the next
-- one reads the platform first. A lease lets one process at a time work a row (the
-- hub's writer, `tagtally leaflink push`, `tagtally apex push`), as for Metrc.
CREATE TABLE platform_writes (
    id INTEGER PRIMARY KEY,
    platform TEXT NOT NULL CHECK (platform IN ('leaflink', 'apex')),
    order_number TEXT NOT NULL,
    kind TEXT NOT NULL
        CHECK (kind IN ('packed', 'fulfilled', 'shipped', 'manifest', 'delivered')),
    -- The line id for `packed`, '' for the order's stages.
    subject TEXT NOT NULL DEFAULT '',
    -- What is to be true at the platform (JSON), as decided from the floor's events.
    body TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('queued', 'done', 'failed')),
    -- How the last done try ended: 'sent', or 'already' (the platform had it).
    outcome TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    -- The last try was counted but never answered (a kill, a timeout).
    uncertain INTEGER NOT NULL DEFAULT 0,
    last_attempt_at TEXT,
    next_attempt_at TEXT NOT NULL,
    lease_until TEXT,
    lease_owner TEXT,
    last_error TEXT,
    created_at TEXT NOT NULL,
    done_at TEXT,
    UNIQUE (platform, order_number, kind, subject)
) STRICT;
CREATE INDEX platform_writes_due ON platform_writes (state, next_attempt_at);
CREATE INDEX platform_writes_by_order ON platform_writes (order_number);
