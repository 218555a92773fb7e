//! The hub's side of a push: a device's events taken all or nothing, alone or in a
//! savepoint of a group commit.
//!
//! Events pushed to the hub go into the same `events` table as a device's own, with
//! the pushing device's id and sequence number: `UNIQUE (device, seq)` makes a resend
//! a no-op, and a resend with different contents is found and refused here.
//!
//! On a hub with people, an event whose person may not do it (by the role the person
//! had when it was recorded), or that names nobody or nobody the hub knows, is kept
//! and held: the hub records an [`EventKind::Hold`] naming it in the same
//! transaction, and a supervisor's ruling decides ([`crate::domain::ruling`]). A push
//! is never refused for a role, so no event waits behind a held one.

use rusqlite::{OptionalExtension, params};
use tracing::instrument;

use super::devices::log_security_in;
use super::events::{EVENT_COLUMNS, event_row};
use super::sync::insert_event;
use super::{Store, StoreError, classify, now};
use crate::domain::{Event, EventKind};

/// What the hub made of one push.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Receipt {
    /// Sequence numbers now held by the hub (new and already held), in push order.
    pub acked: Vec<i64>,
    pub new: usize,
    pub duplicates: usize,
    /// New events the hub holds for a supervisor's ruling: sequence number and why.
    pub held: Vec<(i64, String)>,
}

/// Why a push was refused. Nothing of it was stored.
#[derive(Debug, thiserror::Error)]
pub enum PushRefused {
    #[error(
        "event {device}/{seq} was already received with different contents: refused, and logged as a security event"
    )]
    Altered { device: String, seq: i64 },
    /// An event refers to a file the push did not bring and the hub does not hold.
    #[error(
        "event {device}/{seq} refers to attachment {sha256}, which was not sent: nothing of the push was stored"
    )]
    MissingAttachment {
        device: String,
        seq: i64,
        sha256: String,
    },
    /// A device pushed a hold, which only the hub records.
    #[error(
        "event {device}/{seq} is a hold, which only the hub records: nothing of the push was stored"
    )]
    HubOnly { device: String, seq: i64 },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Store {
    /// Take a device's pushed events for one order, all or nothing, in one durable
    /// transaction. An event already held with the same contents is acknowledged
    /// again and not stored twice; one held with different contents refuses the push.
    ///
    /// Inside a group ([`Store::begin_group`]) the events go into a savepoint of the
    /// group's transaction instead: a refusal rolls back only this push, and nothing
    /// is durable before [`Store::commit_group`].
    #[instrument(skip_all, err(level = "debug"), fields(count = events.len()))]
    pub fn receive_events(&mut self, events: &[Event]) -> Result<Receipt, PushRefused> {
        self.receive_with(events, &[])
    }

    /// [`Store::receive_events`] with the attachments the events refer to (checked
    /// intact by the caller), stored in the same transaction. On a hub with people, a
    /// new event that does not name a person whose role allows it
    /// ([`Role::needed_for`](crate::domain::people::Role::needed_for)) is kept and
    /// held for a ruling (in [`Receipt::held`]), its cause logged once per device.
    pub fn receive_with(
        &mut self,
        events: &[Event],
        attachments: &[super::Attachment],
    ) -> Result<Receipt, PushRefused> {
        let path = self.path.clone();
        let err = |e| classify(&path, e);
        let at = now();
        let hub = self.device.clone();
        if self.in_group() {
            let sp = self.conn.savepoint().map_err(err)?;
            // Dropped without commit on a refusal: rolled back to the savepoint.
            let receipt = receive_into(&sp, &hub, events, attachments, &at, &path)?;
            sp.commit().map_err(err)?;
            return Ok(receipt);
        }
        let tx = self.write_tx()?;
        let receipt = receive_into(&tx, &hub, events, attachments, &at, &path)?;
        tx.commit().map_err(err)?;
        Ok(receipt)
    }

    /// Group commit: open one write transaction that the following writes join
    /// ([`Store::receive_events`], [`Store::log_security`], [`Store::push_savepoint`]),
    /// until [`Store::commit_group`] makes them durable with one fsync.
    pub fn begin_group(&mut self) -> Result<(), StoreError> {
        self.conn
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(self.err())
    }

    /// True while a group's transaction is open.
    pub fn in_group(&self) -> bool {
        !self.conn.is_autocommit()
    }

    /// Commit the group's transaction (durable on return). On failure everything of
    /// the group is rolled back.
    pub fn commit_group(&mut self) -> Result<(), StoreError> {
        let done = self.conn.execute_batch("COMMIT").map_err(self.err());
        if done.is_err() {
            self.abort_group();
        }
        done
    }

    /// Roll back the group's transaction, if one is open.
    pub fn abort_group(&mut self) {
        if self.in_group() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }

    /// Inside a group: mark the start of one push's writes, ended by
    /// [`Store::end_push_savepoint`] (kept) or rolled back alone.
    pub fn push_savepoint(&mut self) -> Result<(), StoreError> {
        self.conn
            .execute_batch("SAVEPOINT hub_push")
            .map_err(self.err())
    }

    /// End the savepoint of [`Store::push_savepoint`]: keep its writes (in the group's
    /// transaction, not yet durable), or roll back just them.
    pub fn end_push_savepoint(&mut self, keep: bool) -> Result<(), StoreError> {
        let sql = if keep {
            "RELEASE hub_push"
        } else {
            "ROLLBACK TO hub_push; RELEASE hub_push"
        };
        self.conn.execute_batch(sql).map_err(self.err())
    }
}

/// The body of [`Store::receive_events`], in the caller's transaction or savepoint;
/// `hub` is the hub's own device id, which its holds carry.
fn receive_into(
    conn: &rusqlite::Connection,
    hub: &str,
    events: &[Event],
    attachments: &[super::Attachment],
    at: &str,
    path: &std::path::Path,
) -> Result<Receipt, PushRefused> {
    let err = |e| classify(path, e);
    let mut receipt = Receipt::default();
    for a in attachments {
        super::ship::put_attachment(conn, a).map_err(err)?;
    }
    let has_people: bool = conn
        .query_row("SELECT EXISTS (SELECT 1 FROM people)", [], |r| r.get(0))
        .map_err(err)?;
    for e in events {
        let held = conn
            .prepare_cached(&format!(
                "SELECT {EVENT_COLUMNS} FROM events WHERE device = ?1 AND seq = ?2"
            ))
            .map_err(err)?
            .query_row(params![e.device, e.seq], event_row)
            .optional()
            .map_err(err)?;
        match held {
            Some(Ok(h)) if h == *e => receipt.duplicates += 1,
            Some(_) => {
                return Err(PushRefused::Altered {
                    device: e.device.clone(),
                    seq: e.seq,
                });
            }
            None => {
                if matches!(e.kind, EventKind::Hold { .. }) {
                    return Err(PushRefused::HubOnly {
                        device: e.device.clone(),
                        seq: e.seq,
                    });
                }
                for sha in e.kind.attachments() {
                    if !super::ship::has_attachment(conn, sha).map_err(err)? {
                        return Err(PushRefused::MissingAttachment {
                            device: e.device.clone(),
                            seq: e.seq,
                            sha256: sha.to_string(),
                        });
                    }
                }
                let hold = if has_people {
                    check_role(conn, e).map_err(err)?
                } else {
                    None
                };
                let id = insert_event(conn, e).map_err(err)?;
                conn.prepare_cached(
                    "INSERT INTO hub_receipts (device, seq, event_id, received_at)
                     VALUES (?1, ?2, ?3, ?4)",
                )
                .map_err(err)?
                .execute(params![e.device, e.seq, id, at])
                .map_err(err)?;
                if let Some(Hold { why, kind, cause }) = hold {
                    // One row per cause per device, however many events it holds.
                    log_security_in(conn, Some(&e.device), kind, &cause).map_err(err)?;
                    let kind = EventKind::Hold {
                        event: e.id(),
                        why: why.clone(),
                    };
                    super::events::insert_events(
                        conn,
                        path,
                        hub,
                        None,
                        vec![(e.order.clone(), kind)],
                        &[],
                    )?;
                    receipt.held.push((e.seq, why));
                }
                receipt.new += 1;
            }
        }
        receipt.acked.push(e.seq);
    }
    Ok(receipt)
}

/// Why the hub holds an event: for the event's hold, and the security log's kind
/// and detail (the cause, the same for every event it holds on one device).
struct Hold {
    why: String,
    kind: &'static str,
    cause: String,
}

/// On a hub with people: the event's person must be one of them, with a role that
/// allowed the event when it was recorded. `Some` holds it.
fn check_role(conn: &rusqlite::Connection, e: &Event) -> Result<Option<Hold>, rusqlite::Error> {
    use crate::domain::people::Role;
    let needed = Role::needed_for(&e.kind);
    let word = e.kind.word().replace('_', " ");
    // Recorded with nobody signed in, or by someone the hub does not list: the device
    // had no people (or its own) when it recorded the event, before it heard of the
    // hub's.
    let Some(name) = &e.person else {
        return Ok(Some(Hold {
            why: "recorded with nobody signed in".into(),
            kind: "unattributed",
            cause: "events recorded with nobody signed in: kept, held for a supervisor".into(),
        }));
    };
    // The role the person had when the event was recorded (by the event's time, in
    // UTC as the history keeps it); for an event older than the history, the first
    // role known.
    let at = chrono::DateTime::parse_from_rfc3339(&e.at)
        .map(|t| {
            t.with_timezone(&chrono::Utc)
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        })
        .unwrap_or_else(|_| e.at.clone());
    let role: Option<String> = conn
        .prepare_cached(
            "SELECT coalesce(
                (SELECT role FROM role_history WHERE name = ?1 AND since <= ?2
                 ORDER BY since DESC LIMIT 1),
                (SELECT role FROM role_history WHERE name = ?1 ORDER BY since LIMIT 1),
                (SELECT role FROM people WHERE name = ?1))",
        )?
        .query_row(params![name, at], |r| r.get(0))?;
    let role = role.map(|r| r.parse::<Role>());
    Ok(match role {
        None => Some(Hold {
            why: format!("recorded by {name:?}, who is not a person on this hub"),
            kind: "unattributed",
            cause: format!(
                "events recorded by {name:?}, who is not a person on this hub: kept, held for a supervisor"
            ),
        }),
        Some(Err(bad)) => Some(Hold {
            why: format!("recorded by {name}, whose role here is unreadable ({bad})"),
            kind: "role",
            cause: format!(
                "{name}'s role on this hub is unreadable ({bad}): their events are held for a supervisor"
            ),
        }),
        Some(Ok(role)) if !role.allows(needed) => Some(Hold {
            why: format!("{name} was a {role}; a {word} needs a {needed} or a supervisor"),
            kind: "role",
            cause: format!(
                "{name} was a {role}: a {word} needs a {needed} or a supervisor; kept, held for a supervisor"
            ),
        }),
        Some(Ok(_)) => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sync::test_support::{ev, store};

    #[test]
    fn receive_is_idempotent_and_refuses_altered_replays() {
        let (_d, mut s) = store();
        let r = s
            .receive_events(&[ev("d1", 1, "a"), ev("d1", 2, "b")])
            .unwrap();
        assert_eq!((r.new, r.duplicates, r.acked), (2, 0, vec![1, 2]));
        let r = s
            .receive_events(&[ev("d1", 2, "b"), ev("d1", 3, "c")])
            .unwrap();
        assert_eq!((r.new, r.duplicates), (1, 1));
        let refused = s.receive_events(&[ev("d1", 4, "d"), ev("d1", 3, "X")]);
        assert!(matches!(refused, Err(PushRefused::Altered { seq: 3, .. })));
        // All or nothing: seq 4 was not kept.
        assert_eq!(s.event_count().unwrap(), 3);
    }
}
