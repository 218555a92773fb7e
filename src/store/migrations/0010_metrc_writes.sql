-- 0010: what tagtally writes to Metrc, and what it reads back of its transfers.
-- Landed migrations never change; a new change is a new numbered file.
--
-- metrc_writes is the durable queue of writes (today: one transfer template a load).
-- A try is counted *before* its request is sent (attempts), so a crash or a timeout
-- after Metrc stored it is known to be uncertain, and the templates are listed and
-- matched by name before anything is posted again. A lease lets one process at a
-- time work a row (the hub's writer, `tagtally metrc push`): its owner is a token of
-- one process (host, pid and a random part); a lease of a process of this host that
-- is gone may be taken at once, any other only once it has run out.
CREATE TABLE metrc_writes (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('template')),
    load_id TEXT NOT NULL,
    -- The template's Name: unique (it carries the load id), how a listing finds it.
    name TEXT NOT NULL,
    -- The JSON body posted (exactly `tagtally manifest --format metrc-template`).
    body TEXT NOT NULL,
    -- What the template says that may not change once posted (decide::LoadPrint).
    print TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('queued', 'posted', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    first_attempt_at TEXT,
    last_attempt_at TEXT,
    next_attempt_at TEXT NOT NULL,
    -- Metrc answered a try with success but no id: it has the template.
    acknowledged INTEGER NOT NULL DEFAULT 0,
    lease_until TEXT,
    lease_owner TEXT,
    last_error TEXT,
    metrc_id INTEGER,
    created_at TEXT NOT NULL,
    done_at TEXT,
    UNIQUE (kind, load_id)
);

-- The orders a write covers: a load's template names every order on the vehicle.
CREATE TABLE metrc_write_orders (
    write_id INTEGER NOT NULL REFERENCES metrc_writes (id),
    order_number TEXT NOT NULL,
    PRIMARY KEY (write_id, order_number)
);
CREATE INDEX metrc_write_orders_by_order ON metrc_write_orders (order_number);

-- Metrc's side of a delivery, as last read: one row a delivery of an outgoing
-- transfer whose packages are an order's load, and its packages' states.
CREATE TABLE metrc_deliveries (
    delivery_id INTEGER PRIMARY KEY,
    transfer_id INTEGER NOT NULL,
    manifest_number TEXT,
    order_number TEXT NOT NULL,
    recipient_license TEXT,
    received_at TEXT,
    read_at TEXT NOT NULL
);
CREATE INDEX metrc_deliveries_by_order ON metrc_deliveries (order_number);

CREATE TABLE metrc_delivery_packages (
    delivery_id INTEGER NOT NULL REFERENCES metrc_deliveries (delivery_id),
    tag TEXT NOT NULL,
    state TEXT NOT NULL,
    PRIMARY KEY (delivery_id, tag)
);
