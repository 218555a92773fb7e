//! The only code that speaks SQL. One [`Store`] owns one SQLite connection.
//!
//! The database runs in WAL mode with `synchronous=FULL`: every committed event is on
//! disk before the verdict is shown, so a kill -9 or power cut loses no answered scan.
//! Migrations are the numbered files in `store/migrations/`; `PRAGMA user_version`
//! counts those applied, and a database from a newer tagtally is refused, not touched.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use rusqlite::{Connection, ErrorCode, OptionalExtension, Transaction, TransactionBehavior};
use tracing::instrument;

use crate::domain::AllocationError;

mod allocate;
mod coa;
mod decide;
mod devices;
mod durability;
mod events;
mod identity;
mod lease;
mod licenses;
mod metrc;
#[cfg(test)]
mod migration_tests;
mod orders;
mod packages;
mod people;
mod platform;
mod receive;
mod ship;
mod sync;
pub use allocate::ItemMapping;
pub use coa::{CoaCandidate, LabResultRow};
pub use decide::Decided;
pub use devices::{DeviceError, DeviceRecord, SecurityEntry, new_token, token_hash};
pub use durability::Durability;
pub use licenses::RegisterSummary;
pub use metrc::{MetrcDelivery, MetrcWrite, WriteState};
pub use orders::OrderSummary;
pub use packages::PackageImport;
pub use people::{Lockout, Person, PersonRecord, SignInError};
pub use platform::{OrderSource, PlatformWrite, PlatformWriteState};
pub use receive::{PushRefused, Receipt};
pub use ship::Attachment;

const MIGRATIONS: &[(&str, &str)] = &[
    ("0001_init", include_str!("migrations/0001_init.sql")),
    ("0002_sync", include_str!("migrations/0002_sync.sql")),
    ("0003_people", include_str!("migrations/0003_people.sql")),
    ("0004_ship", include_str!("migrations/0004_ship.sql")),
    (
        "0005_package_changes",
        include_str!("migrations/0005_package_changes.sql"),
    ),
    (
        "0006_security_log_once",
        include_str!("migrations/0006_security_log_once.sql"),
    ),
    (
        "0007_role_history",
        include_str!("migrations/0007_role_history.sql"),
    ),
    ("0008_holds", include_str!("migrations/0008_holds.sql")),
    (
        "0009_package_places",
        include_str!("migrations/0009_package_places.sql"),
    ),
    (
        "0010_metrc_writes",
        include_str!("migrations/0010_metrc_writes.sql"),
    ),
    ("0011_coa", include_str!("migrations/0011_coa.sql")),
    (
        "0012_allocation",
        include_str!("migrations/0012_allocation.sql"),
    ),
    (
        "0013_licenses",
        include_str!("migrations/0013_licenses.sql"),
    ),
    (
        "0014_platform_writes",
        include_str!("migrations/0014_platform_writes.sql"),
    ),
    (
        "0015_coordinator",
        include_str!("migrations/0015_coordinator.sql"),
    ),
];

/// What went wrong with the database, said so a person can act on it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "database {path} is locked by another process (is another tagtally running on it?); nothing was changed, try again when it has finished"
    )]
    Locked { path: PathBuf },
    #[error(
        "database {path} has schema version {found}, newer than this tagtally knows ({known}); upgrade tagtally, the database was not touched"
    )]
    NewerSchema {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error("{path} is not a tagtally database, or it is damaged")]
    NotADatabase { path: PathBuf },
    #[error("the disk holding {path} is full; nothing was recorded, free some space")]
    DiskFull { path: PathBuf },
    #[error("cannot open database {path}: {message}")]
    Open { path: PathBuf, message: String },
    #[error("order {order} refused, nothing imported:\n  {}", problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n  "))]
    AllocationRefused {
        order: String,
        problems: Vec<AllocationError>,
    },
    #[error("no order {0} (give its number or short id; `tagtally orders` lists them)")]
    NoSuchOrder(String),
    #[error("{0}")]
    Invalid(String),
    #[error(
        "database {path} belongs to device {stored:?} ({recorded} of its events carry that id, or it has joined a hub as it); the settings say device {configured:?}: set [device] id (TAGTALLY_DEVICE__ID) to {stored:?} or remove it"
    )]
    DeviceIdMismatch {
        path: PathBuf,
        stored: String,
        configured: String,
        recorded: i64,
    },
    #[error("order {order} is closed ({why}): it cannot be {what}")]
    OrderClosed {
        order: String,
        why: String,
        what: &'static str,
    },
    #[error("{0}")]
    LicenseHold(String),
    #[error("database {path}: {source}")]
    Sql {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("database {path} holds a record tagtally cannot read: {message}")]
    Corrupt { path: PathBuf, message: String },
}

pub struct Store {
    conn: Connection,
    path: PathBuf,
    device: String,
    /// `PRAGMA data_version` when last checked by [`Store::changed_elsewhere`].
    seen_version: Option<i64>,
    /// Who is signed in: recorded on every event appended here.
    person: Option<String>,
    /// `[licenses] require`: the license check applies without a register.
    license_required: bool,
}

impl Store {
    /// Open (creating if needed) the database at `path` and bring its schema up to date.
    #[instrument(skip_all, err(level = "debug"), fields(path = %path.display()))]
    pub fn open(path: &Path, busy_timeout: Duration) -> Result<Store, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::Open {
                path: path.into(),
                message: format!("cannot create directory {}: {e}", dir.display()),
            })?;
        }
        let conn = Connection::open(path).map_err(|e| classify(path, e))?;
        let mut store = Store {
            conn,
            path: path.into(),
            device: String::new(),
            seen_version: None,
            person: None,
            license_required: false,
        };
        store.setup(busy_timeout)?;
        Ok(store)
    }

    fn setup(&mut self, busy_timeout: Duration) -> Result<(), StoreError> {
        let path = self.path.clone();
        let err = |e| classify(&path, e);
        durability::wait_for_the_lock(&mut self.conn, busy_timeout).map_err(err)?;
        let found: i64 = self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(err)?;
        let known = MIGRATIONS.len() as i64;
        if found > known {
            return Err(StoreError::NewerSchema { path, found, known });
        }
        // WAL lets readers (status, sync) run beside the picker's writes. FULL makes each
        // commit durable: the verdict is shown only after the event is on disk.
        let mode: String = self
            .conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
            .map_err(err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(mode, "database could not switch to WAL mode");
        }
        self.conn
            .pragma_update(None, "synchronous", "FULL")
            .map_err(err)?;
        self.conn
            .pragma_update(None, "foreign_keys", "ON")
            .map_err(err)?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        // Re-read inside the write lock: another process may have migrated meanwhile.
        let found: i64 = tx
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(err)?;
        if found > known {
            return Err(StoreError::NewerSchema { path, found, known });
        }
        for (i, (name, sql)) in MIGRATIONS.iter().enumerate().skip(found as usize) {
            tracing::info!(migration = name, "applying migration");
            tx.execute_batch(sql).map_err(err)?;
            tx.pragma_update(None, "user_version", i as i64 + 1)
                .map_err(err)?;
        }
        let device: Option<String> = tx
            .query_row("SELECT value FROM meta WHERE key = 'device_id'", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(err)?;
        let device = match device {
            Some(d) => d,
            None => {
                let d = new_device_id();
                tx.execute(
                    "INSERT INTO meta (key, value) VALUES ('device_id', ?1)",
                    [&d],
                )
                .map_err(err)?;
                d
            }
        };
        tx.commit().map_err(err)?;
        self.device = device;
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// This database's device id, made once at creation.
    pub fn device_id(&self) -> &str {
        &self.device
    }

    /// Who is signed in (`None`: nobody, or a station without people). Every event
    /// appended from now on records it.
    pub fn set_signed_in(&mut self, person: Option<&str>) {
        self.person = person.map(str::to_string);
    }

    pub fn signed_in(&self) -> Option<&str> {
        self.person.as_deref()
    }

    fn err(&self) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        move |e| classify(&self.path, e)
    }

    fn write_tx(&mut self) -> Result<Transaction<'_>, StoreError> {
        let path = self.path.clone();
        self.conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(move |e| classify(&path, e))
    }

    fn corrupt(&self, message: String) -> StoreError {
        StoreError::Corrupt {
            path: self.path.clone(),
            message,
        }
    }
}

fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn new_device_id() -> String {
    use std::io::Read;
    let mut bytes = [0u8; 8];
    let random = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes));
    if random.is_err() {
        // No /dev/urandom: fall back to time and process id, unique enough for one site.
        let t = Utc::now().timestamp_nanos_opt().unwrap_or_default() as u64;
        bytes = (t ^ u64::from(std::process::id()).rotate_left(32)).to_be_bytes();
    }
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("dev-{hex}")
}

fn classify(path: &Path, e: rusqlite::Error) -> StoreError {
    let path = path.to_path_buf();
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy) | Some(ErrorCode::DatabaseLocked) => {
            StoreError::Locked { path }
        }
        Some(ErrorCode::NotADatabase) => StoreError::NotADatabase { path },
        Some(ErrorCode::DiskFull) => StoreError::DiskFull { path },
        Some(ErrorCode::CannotOpen)
        | Some(ErrorCode::PermissionDenied)
        | Some(ErrorCode::ReadOnly) => StoreError::Open {
            path,
            message: e.to_string(),
        },
        _ => StoreError::Sql { path, source: e },
    }
}
