//! A verdict and its event in one transaction: the facts are read, the verdict
//! decided and the event appended while this connection holds SQLite's write lock,
//! so no other connection (the background sync, a second `tagtally` on the same
//! file) can commit between the decision and the record. Two processes scanning one
//! tag can never both accept it.

use super::events::insert_events;
use super::{Attachment, Store, StoreError, classify};
use crate::domain::{Event, EventKind};

/// What a decision records: the events (with the order each belongs to), the
/// attachments they refer to, and whatever the caller wants back (its verdict).
pub struct Decided<T> {
    pub events: Vec<(String, EventKind)>,
    pub attachments: Vec<Attachment>,
    pub value: T,
}

impl<T> Decided<T> {
    /// One event, no attachment.
    pub fn one(order: &str, kind: EventKind, value: T) -> Decided<T> {
        Decided {
            events: vec![(order.to_string(), kind)],
            attachments: Vec::new(),
            value,
        }
    }
}

impl Store {
    /// Take the write lock, call `decide` with this store (read what it needs) and
    /// whether another connection committed since this one last looked (then the
    /// caller's folded state is stale: read it again), record what it returns, and
    /// commit. Nothing is recorded when `decide` fails or the commit does.
    pub fn decide_and_record<T, E: From<StoreError>>(
        &mut self,
        decide: impl FnOnce(&Store, bool) -> Result<Decided<T>, E>,
    ) -> Result<(Vec<Event>, T), E> {
        let path = self.path.clone();
        self.conn
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(|e| classify(&path, e))?;
        let (events, value, version) = {
            // Rolled back however this block is left (an error, a panic in `decide`)
            // unless it commits.
            let mut guard = Rollback {
                conn: &self.conn,
                committed: false,
            };
            let version = self.data_version()?;
            let changed = self.seen_version != Some(version);
            let d = decide(self, changed)?;
            let events = insert_events(
                &self.conn,
                &path,
                &self.device,
                self.person.as_deref(),
                d.events,
                &d.attachments,
            )?;
            self.conn
                .execute_batch("COMMIT")
                .map_err(|e| classify(&path, e))?;
            guard.committed = true;
            (events, d.value, version)
        };
        // What `decide` read is this connection's state from now on.
        self.seen_version = Some(version);
        Ok((events, value))
    }
}

/// Rolls the open transaction back when dropped without having committed.
struct Rollback<'c> {
    conn: &'c rusqlite::Connection,
    committed: bool,
}

impl Drop for Rollback<'_> {
    fn drop(&mut self) {
        if !self.committed {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}
