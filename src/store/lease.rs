//! Leases on queued writes (Metrc's and the platforms'): the owner token of this
//! process and whether another process's lease still holds.

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{OptionalExtension, params};

use super::{Store, StoreError, classify};

/// The queues with leases: their table names (never from input).
#[derive(Clone, Copy)]
pub(super) enum Queue {
    Metrc,
    Platform,
}

impl Queue {
    fn table(self) -> &'static str {
        match self {
            Queue::Metrc => "metrc_writes",
            Queue::Platform => "platform_writes",
        }
    }
}

fn text(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn time(s: Option<String>) -> Option<DateTime<Utc>> {
    s.and_then(|s| DateTime::parse_from_rfc3339(&s).ok())
        .map(|t| t.with_timezone(&Utc))
}

impl Store {
    /// Take the lease of row `id` of `queue` until `until` for this process: one
    /// process at a time works a write. Refused (`false`) while another process
    /// holds it, or when there is no such row.
    pub(super) fn take_lease(
        &mut self,
        queue: Queue,
        id: i64,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let path = self.path.clone();
        let err = |e| classify(&path, e);
        let table = queue.table();
        let tx = self.write_tx()?;
        let held: Option<(Option<String>, Option<String>)> = tx
            .query_row(
                &format!("SELECT lease_until, lease_owner FROM {table} WHERE id = ?1"),
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(err)?;
        let free = match held {
            None => return Ok(false),
            Some((until, Some(owner))) => !holds(&owner, time(until), now),
            Some(_) => true,
        };
        if free {
            tx.execute(
                &format!("UPDATE {table} SET lease_until = ?2, lease_owner = ?3 WHERE id = ?1"),
                params![id, text(until), me()],
            )
            .map_err(err)?;
        }
        tx.commit().map_err(err)?;
        Ok(free)
    }

    /// Give the lease of row `id` of `queue` back (if this process holds it).
    pub(super) fn give_lease_back(&mut self, queue: Queue, id: i64) -> Result<(), StoreError> {
        let table = queue.table();
        self.conn
            .execute(
                &format!(
                    "UPDATE {table} SET lease_until = NULL, lease_owner = NULL
                     WHERE id = ?1 AND lease_owner = ?2"
                ),
                params![id, me()],
            )
            .map_err(self.err())?;
        Ok(())
    }
}

/// This process's lease owner token: `host:pid:random`, so two processes never
/// share one (not even the same pid in two containers).
pub(super) fn me() -> &'static str {
    static ME: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ME.get_or_init(|| {
        let mut bytes = [0u8; 8];
        // The kernel's random source; the time as a fallback is enough here (the
        // token only has to differ from other processes').
        if std::fs::File::open("/dev/urandom")
            .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes))
            .is_err()
        {
            bytes = (Utc::now().timestamp_nanos_opt().unwrap_or(0) as u64).to_le_bytes();
        }
        let random: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        format!("{}:{}:{random}", host(), std::process::id())
    })
}

fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default()
}

/// Whether the lease `owner` still holds: ours, or another process's until it runs
/// out, unless that process was of this host and is gone.
pub(super) fn holds(owner: &str, until: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    if owner == me() {
        return false;
    }
    if until.is_none_or(|u| u < now) {
        return false;
    }
    let mut parts = owner.split(':');
    match (
        parts.next(),
        parts.next().and_then(|p| p.parse::<u32>().ok()),
    ) {
        (Some(h), Some(pid)) if h == host() => {
            std::path::Path::new(&format!("/proc/{pid}")).exists()
        }
        _ => true,
    }
}
