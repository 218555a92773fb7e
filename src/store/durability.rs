//! What every `Store` connection must be set to, read back from SQLite itself: WAL
//! (readers beside the writer), `synchronous = FULL` (a commit is on disk before the
//! answer), foreign keys on, and a busy timeout. A kill -9 test cannot tell FULL from
//! OFF (the page cache survives a killed process), so this is checked directly.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::{Store, StoreError, classify};

/// How many 1 ms tries a connection makes for a lock another holds: the longest
/// `store.busy_timeout_ms` any store of this process was opened with (SQLite's busy
/// handler takes a plain function, so it is one setting a process).
static BUSY_TRIES: AtomicU32 = AtomicU32::new(0);

/// Wait for a lock another connection holds by trying again every millisecond, up
/// to `timeout`. SQLite's own busy timeout sleeps longer and longer between tries
/// (up to 100 ms), so a scan waiting behind a sync that writes transaction after
/// transaction could lose the race for the lock for a second or more; trying every
/// millisecond it gets in at the first gap.
pub(super) fn wait_for_the_lock(
    conn: &mut rusqlite::Connection,
    timeout: Duration,
) -> rusqlite::Result<()> {
    BUSY_TRIES.fetch_max(
        u32::try_from(timeout.as_millis()).unwrap_or(u32::MAX),
        Ordering::Relaxed,
    );
    conn.busy_handler(Some(try_again))
}

fn try_again(tries: i32) -> bool {
    if u32::try_from(tries).unwrap_or(u32::MAX) >= BUSY_TRIES.load(Ordering::Relaxed) {
        return false;
    }
    std::thread::sleep(Duration::from_millis(1));
    true
}

/// A connection's durability settings as SQLite reports them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Durability {
    pub journal_mode: String,
    /// 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA.
    pub synchronous: i64,
    pub foreign_keys: bool,
    /// How long a write waits for another connection's lock (tried every 1 ms): the
    /// longest configured in this process.
    pub busy_timeout_ms: i64,
}

impl Store {
    /// The durability settings of this store's connection.
    pub fn durability(&self) -> Result<Durability, StoreError> {
        let err = |e| classify(&self.path, e);
        let get = |name: &str| -> Result<rusqlite::types::Value, StoreError> {
            self.conn
                .pragma_query_value(None, name, |r| r.get(0))
                .map_err(err)
        };
        let int = |v: rusqlite::types::Value| match v {
            rusqlite::types::Value::Integer(i) => i,
            _ => -1,
        };
        Ok(Durability {
            journal_mode: match get("journal_mode")? {
                rusqlite::types::Value::Text(t) => t.to_ascii_lowercase(),
                other => format!("{other:?}"),
            },
            synchronous: int(get("synchronous")?),
            foreign_keys: int(get("foreign_keys")?) == 1,
            busy_timeout_ms: i64::from(BUSY_TRIES.load(Ordering::Relaxed)),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn every_store_connection_is_wal_full_with_foreign_keys() {
        let dir = tempfile::tempdir().unwrap();
        let wal_full = |d: Durability| {
            assert_eq!(
                (d.journal_mode.as_str(), d.synchronous, d.foreign_keys),
                ("wal", 2, true)
            );
            assert!(d.busy_timeout_ms >= 5000, "{d:?}");
        };
        // A new file, the same file opened again, and the way the commands open it.
        let path = dir.path().join("t.db");
        let first = Store::open(&path, Duration::from_secs(5)).unwrap();
        wal_full(first.durability().unwrap());
        let again = Store::open(&path, Duration::from_secs(5)).unwrap();
        wal_full(again.durability().unwrap());
        let mut settings = crate::config::Settings::default();
        settings.store.path = Some(dir.path().join("cli.db"));
        let cli = crate::app::open_store(&settings).unwrap();
        let d = cli.durability().unwrap();
        assert_eq!(
            (d.journal_mode.as_str(), d.synchronous, d.foreign_keys),
            ("wal", 2, true)
        );
        assert!(d.busy_timeout_ms >= settings.store.busy_timeout_ms as i64);
        // The check can fail: a plain connection is not set up so.
        let plain = rusqlite::Connection::open(dir.path().join("plain.db")).unwrap();
        let sync: i64 = plain
            .pragma_query_value(None, "synchronous", |r| r.get(0))
            .unwrap();
        let mode: String = plain
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert!(sync != 2 || mode != "wal");
    }
}
