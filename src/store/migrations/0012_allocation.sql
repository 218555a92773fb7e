-- 0012: allocation. Packages keep Metrc's PackagedDate (stock rotation breaks ties
-- between batches that expire together). The coordinator's SKU-to-Metrc-item
-- mapping. Each allocation row says whether an import or `tagtally allocate` made it
-- (a re-import that carries no tags for a line keeps what `allocate` put there), and
-- every accepted allocation is an append-only row naming the person and the packages.
-- Landed migrations never change; a new change is a new numbered file.
ALTER TABLE packages ADD COLUMN packaged_date TEXT;

ALTER TABLE allocations ADD COLUMN source TEXT NOT NULL DEFAULT 'import'
    CHECK (source IN ('import', 'allocate'));

-- `tagtally items map SKU NAME`: the Metrc item name a platform SKU stands for.
CREATE TABLE item_map (
    sku       TEXT PRIMARY KEY,
    item      TEXT NOT NULL,
    mapped_at TEXT NOT NULL,
    mapped_by TEXT
) STRICT;

-- Every allocation `tagtally allocate` recorded: who, when, which line, which batch,
-- which packages (JSON list of tags), and how (`proposal` accepted or `chosen` tags).
-- Never updated, never deleted.
CREATE TABLE allocation_log (
    id           INTEGER PRIMARY KEY,
    at           TEXT NOT NULL,
    device       TEXT NOT NULL,
    person       TEXT,
    order_number TEXT NOT NULL,
    line_id      TEXT NOT NULL,
    batch        TEXT NOT NULL,
    tags         TEXT NOT NULL,
    how          TEXT NOT NULL CHECK (how IN ('proposal', 'chosen'))
) STRICT;
CREATE INDEX allocation_log_order ON allocation_log (order_number, id);
CREATE TRIGGER allocation_log_append_only_update BEFORE UPDATE ON allocation_log
BEGIN
    SELECT RAISE(ABORT, 'the allocation log is append-only');
END;
CREATE TRIGGER allocation_log_append_only_delete BEFORE DELETE ON allocation_log
BEGIN
    SELECT RAISE(ABORT, 'the allocation log is append-only');
END;
