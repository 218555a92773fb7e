-- 0007: the roles people had, and since when, so the hub checks an event against
-- the role its person had when the event was recorded (a role changed while a device
-- was offline does not turn its earlier events into refusals).
-- Landed migrations never change; a new change is a new numbered file.
CREATE TABLE role_history (
    name  TEXT NOT NULL,
    role  TEXT NOT NULL CHECK (role IN ('picker', 'loader', 'driver', 'supervisor')),
    since TEXT NOT NULL,
    PRIMARY KEY (name, since)
) STRICT;
-- Before this, only the present role is known: it counts from the person's creation.
INSERT INTO role_history (name, role, since) SELECT name, role, created_at FROM people;
