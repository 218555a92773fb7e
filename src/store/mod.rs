//! The only code that speaks SQL. One [`Store`] owns one SQLite connection.
//!
//! The database runs in WAL mode with `synchronous=FULL`: every committed event is on
//! disk before the verdict is shown, so a kill -9 or power cut loses no answered scan.
//! Migrations are the numbered files in `store/migrations/`; `PRAGMA user_version`
//! counts those applied, and a database from a newer tagtally is refused, not touched.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{NaiveDate, SecondsFormat, Utc};
use rusqlite::{
    Connection, ErrorCode, OptionalExtension, Row, Transaction, TransactionBehavior, params,
};
use tracing::instrument;

use crate::domain::order::AllocationFacts;
use crate::domain::{
    AllocationError, Event, EventKind, Line, Order, OrderStatus, Package, PickList, PickState,
    TagFacts, Verdict,
};
use crate::tag::MetrcTag;

mod decide;
mod devices;
mod durability;
mod identity;
#[cfg(test)]
mod migration_tests;
mod orders;
mod people;
mod receive;
mod ship;
mod sync;
pub use decide::Decided;
pub use devices::{DeviceError, DeviceRecord, SecurityEntry, token_hash};
pub use durability::Durability;
pub use people::{Lockout, Person, PersonRecord, SignInError};
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
];

/// The columns [`event_row`] reads, in its order.
pub(crate) const EVENT_COLUMNS: &str =
    "device, seq, at, order_number, kind, tag, line_id, note, raw, raw_len, detail, person";

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
    #[error("database {path}: {source}")]
    Sql {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("database {path} holds a record tagtally cannot read: {message}")]
    Corrupt { path: PathBuf, message: String },
}

/// How a package import went.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PackageImport {
    pub new: usize,
    pub updated: usize,
    /// Records whose `LastModified` was older than the stored snapshot: kept as stored.
    pub older_skipped: usize,
}

/// An open order, for lists.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderSummary {
    pub number: String,
    pub short_id: Option<String>,
    pub buyer: String,
    pub status: String,
    pub ship_date: Option<String>,
    pub total: usize,
}

pub struct Store {
    conn: Connection,
    path: PathBuf,
    device: String,
    /// `PRAGMA data_version` when last checked by [`Store::changed_elsewhere`].
    seen_version: Option<i64>,
    /// Who is signed in: recorded on every event appended here.
    person: Option<String>,
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

    /// Insert or update packages in one transaction. A record older than the stored
    /// snapshot of the same package (by `LastModified`) leaves the stored one in place.
    #[instrument(skip_all, err(level = "debug"), fields(count = packages.len()))]
    pub fn import_packages(&mut self, packages: &[Package]) -> Result<PackageImport, StoreError> {
        let path = self.path.clone();
        let err = |e| classify(&path, e);
        let now = now();
        let tx = self.write_tx()?;
        let mut outcome = PackageImport::default();
        {
            let mut existing = tx
                .prepare_cached("SELECT last_modified FROM packages WHERE label = ?1")
                .map_err(err)?;
            let mut upsert = tx
                .prepare_cached(
                    "INSERT INTO packages (label, item, quantity, unit, batch, source_batches,
                        lab_state, on_hold, on_recall, on_investigation, finished, archived_date,
                        expiration_date, use_by_date, last_modified, imported_at, change_seq)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,
                        ?17)
                     ON CONFLICT (label) DO UPDATE SET item = excluded.item,
                        quantity = excluded.quantity, unit = excluded.unit, batch = excluded.batch,
                        source_batches = excluded.source_batches, lab_state = excluded.lab_state,
                        on_hold = excluded.on_hold, on_recall = excluded.on_recall,
                        on_investigation = excluded.on_investigation, finished = excluded.finished,
                        archived_date = excluded.archived_date,
                        expiration_date = excluded.expiration_date,
                        use_by_date = excluded.use_by_date, last_modified = excluded.last_modified,
                        imported_at = excluded.imported_at, change_seq = excluded.change_seq",
                )
                .map_err(err)?;
            // The package cursor: numbered in this transaction, so in commit order.
            let mut change: i64 = tx
                .query_row(
                    "SELECT value FROM counters WHERE name = 'package_change'",
                    [],
                    |r| r.get(0),
                )
                .map_err(err)?;
            for p in packages {
                let stored: Option<String> = existing
                    .query_row([p.label.as_str()], |r| r.get(0))
                    .optional()
                    .map_err(err)?;
                match stored {
                    Some(s) if s > p.last_modified => {
                        outcome.older_skipped += 1;
                        continue;
                    }
                    Some(_) => outcome.updated += 1,
                    None => outcome.new += 1,
                }
                let sources = serde_json::to_string(&p.source_batches).expect("strings serialise");
                change += 1;
                upsert
                    .execute(params![
                        p.label.as_str(),
                        p.item,
                        p.quantity,
                        p.unit,
                        p.batch,
                        sources,
                        p.lab_state,
                        p.on_hold,
                        p.on_recall,
                        p.on_investigation,
                        p.finished,
                        p.archived.map(|d| d.to_string()),
                        p.expiration.map(|d| d.to_string()),
                        p.use_by.map(|d| d.to_string()),
                        p.last_modified,
                        now,
                        change,
                    ])
                    .map_err(err)?;
            }
            tx.execute(
                "UPDATE counters SET value = ?1 WHERE name = 'package_change'",
                [change],
            )
            .map_err(err)?;
        }
        tx.commit().map_err(err)?;
        Ok(outcome)
    }

    /// Import orders with their allocation in one transaction, after checking the
    /// allocation rules against the stored packages and the other open orders. Any
    /// problem in any order refuses the whole file. Re-importing an order replaces its
    /// lines and allocation but never its events.
    #[instrument(skip_all, err(level = "debug"), fields(count = orders.len()))]
    pub fn import_orders(&mut self, orders: &[Order]) -> Result<(), StoreError> {
        let path = self.path.clone();
        let err = |e| classify(&path, e);
        let now = now();
        let tx = self.write_tx()?;
        for order in orders {
            let facts = allocation_facts(&tx, &path, order)?;
            let problems = order.check_allocation(&facts);
            if !problems.is_empty() {
                return Err(StoreError::AllocationRefused {
                    order: order.number.clone(),
                    problems,
                });
            }
            write_order(&tx, &path, order, &now)?;
        }
        tx.commit().map_err(err)?;
        Ok(())
    }

    /// Find an order by number or short id (case-insensitive).
    pub fn find_order(&self, key: &str) -> Result<Order, StoreError> {
        let err = self.err();
        let number: Option<String> = self
            .conn
            .query_row(
                "SELECT number FROM orders WHERE number = ?1
                 UNION ALL SELECT number FROM orders WHERE short_id = ?1
                 UNION ALL SELECT number FROM orders
                    WHERE lower(number) = lower(?1) OR lower(short_id) = lower(?1)
                 LIMIT 1",
                [key.trim()],
                |r| r.get(0),
            )
            .optional()
            .map_err(&err)?;
        let number = number.ok_or_else(|| StoreError::NoSuchOrder(key.to_string()))?;
        read_order(&self.conn, &self.path, &number)
    }

    /// Open orders, by ship date then number.
    pub fn open_orders(&self) -> Result<Vec<OrderSummary>, StoreError> {
        let err = self.err();
        let mut st = self
            .conn
            .prepare(
                "SELECT o.number, o.short_id, o.buyer, o.status, o.ship_date,
                    (SELECT count(*) FROM allocations a WHERE a.order_number = o.number)
                 FROM orders o WHERE o.is_open = 1
                 ORDER BY o.ship_date IS NULL, o.ship_date, o.number",
            )
            .map_err(&err)?;
        st.query_map([], |r| {
            Ok(OrderSummary {
                number: r.get(0)?,
                short_id: r.get(1)?,
                buyer: r.get(2)?,
                status: r.get(3)?,
                ship_date: r.get(4)?,
                total: r.get::<_, i64>(5)? as usize,
            })
        })
        .map_err(&err)?
        .collect::<Result<_, _>>()
        .map_err(&err)
    }

    /// The stored packages among `tags`.
    pub fn packages(&self, tags: &[MetrcTag]) -> Result<HashMap<MetrcTag, Package>, StoreError> {
        packages(&self.conn, &self.path, tags)
    }

    /// Everything needed to pick an order: its list and its state from all events.
    pub fn pick_list(&self, order: &Order) -> Result<(PickList, PickState), StoreError> {
        let tags: Vec<MetrcTag> = order.allocations().map(|a| a.tag).collect();
        let pkgs = self.packages(&tags)?;
        let list = PickList::new(order, &pkgs);
        let mut state = PickState::default();
        for e in crate::domain::counted(self.events_for_order(&order.number)?) {
            state.apply(&e);
        }
        Ok((list, state))
    }

    /// What the store knows about one scanned tag: its package, and the open orders
    /// holding it. One indexed lookup each, whatever the size of the database.
    pub fn tag_facts(&self, tag: &MetrcTag) -> Result<TagFacts, StoreError> {
        let err = self.err();
        let package = self
            .conn
            .prepare_cached(&format!(
                "SELECT {PACKAGE_COLUMNS} FROM packages WHERE label = ?1"
            ))
            .map_err(&err)?
            .query_row([tag.as_str()], package_row)
            .optional()
            .map_err(&err)?
            .transpose()
            .map_err(|m| self.corrupt(m))?;
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT a.order_number, a.line_id FROM allocations a
                 JOIN orders o ON o.number = a.order_number
                 WHERE a.tag = ?1 AND o.is_open = 1 ORDER BY a.order_number",
            )
            .map_err(&err)?;
        let allocated_to = st
            .query_map([tag.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(&err)?
            .collect::<Result<_, _>>()
            .map_err(&err)?;
        Ok(TagFacts {
            package,
            allocated_to,
        })
    }

    /// Append one event durably, with the next sequence number of this device.
    #[instrument(skip_all, err(level = "debug"), fields(order, kind = kind.word()))]
    pub fn append(&mut self, order: &str, kind: EventKind) -> Result<Event, StoreError> {
        let mut events = self.record(vec![(order.to_string(), kind)], &[])?;
        Ok(events.remove(0))
    }

    /// Append several events and the attachments they refer to in one transaction:
    /// all are recorded, or none. Each event gets the next sequence number of this
    /// device and the signed-in person. An event that refers to an attachment that is
    /// neither given nor stored is refused (the file would be lost).
    pub fn record(
        &mut self,
        events: Vec<(String, EventKind)>,
        attachments: &[Attachment],
    ) -> Result<Vec<Event>, StoreError> {
        let path = self.path.clone();
        let (device, person) = (self.device.clone(), self.person.clone());
        let tx = self.write_tx()?;
        let out = insert_events(&tx, &path, &device, person.as_deref(), events, attachments)?;
        tx.commit().map_err(|e| classify(&path, e))?;
        Ok(out)
    }

    /// All events of an order, in the order they were recorded here.
    pub fn events_for_order(&self, order: &str) -> Result<Vec<Event>, StoreError> {
        events_for_order(&self.conn, &self.path, order)
    }

    /// Number of events recorded, for reports and tests.
    pub fn event_count(&self) -> Result<i64, StoreError> {
        self.conn
            .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
            .map_err(self.err())
    }

    /// Number of packages stored.
    pub fn package_count(&self) -> Result<i64, StoreError> {
        self.conn
            .query_row("SELECT count(*) FROM packages", [], |r| r.get(0))
            .map_err(self.err())
    }

    fn corrupt(&self, message: String) -> StoreError {
        StoreError::Corrupt {
            path: self.path.clone(),
            message,
        }
    }
}

/// Replace an order's row, lines and allocation inside `tx` (its events are untouched).
pub(crate) fn write_order(
    tx: &Transaction,
    path: &Path,
    order: &Order,
    at: &str,
) -> Result<(), StoreError> {
    let err = |e| classify(path, e);
    tx.execute(
        "DELETE FROM allocations WHERE order_number = ?1",
        [&order.number],
    )
    .map_err(err)?;
    tx.execute(
        "DELETE FROM order_lines WHERE order_number = ?1",
        [&order.number],
    )
    .map_err(err)?;
    tx.execute(
        "INSERT INTO orders (number, short_id, status, is_open, buyer, buyer_license,
            ship_date, imported_at, delivery_address) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
         ON CONFLICT (number) DO UPDATE SET short_id = excluded.short_id,
            status = excluded.status, is_open = excluded.is_open, buyer = excluded.buyer,
            buyer_license = excluded.buyer_license, ship_date = excluded.ship_date,
            imported_at = excluded.imported_at, delivery_address = excluded.delivery_address",
        params![
            order.number,
            order.short_id,
            order.status.0,
            !order.status.closes_the_order(),
            order.buyer,
            order.buyer_license,
            order.ship_date,
            at,
            order.delivery_address
        ],
    )
    .map_err(err)?;
    for (pos, line) in order.lines.iter().enumerate() {
        tx.execute(
            "INSERT INTO order_lines (order_number, line_id, position, sku, name,
                quantity, unit, batch, unit_price_cents)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                order.number,
                line.id,
                pos as i64,
                line.sku,
                line.name,
                line.quantity,
                line.unit,
                line.batch,
                line.unit_price_cents
            ],
        )
        .map_err(err)?;
        for (tpos, tag) in line.tags.iter().enumerate() {
            tx.execute(
                "INSERT INTO allocations (order_number, line_id, tag, position)
                 VALUES (?1, ?2, ?3, ?4)",
                params![order.number, line.id, tag.as_str(), tpos as i64],
            )
            .map_err(err)?;
        }
    }
    Ok(())
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

const PACKAGE_COLUMNS: &str = "label, item, quantity, unit, batch, source_batches, lab_state,
    on_hold, on_recall, on_investigation, finished, archived_date, expiration_date,
    use_by_date, last_modified";

/// A package row; the inner error names a stored value that does not parse.
fn package_row(r: &Row) -> rusqlite::Result<Result<Package, String>> {
    let label: String = r.get(0)?;
    let sources: String = r.get(5)?;
    let dates: [Option<String>; 3] = [r.get(11)?, r.get(12)?, r.get(13)?];
    let build = || -> Result<Package, String> {
        let date = |d: &Option<String>| {
            d.as_deref()
                .map(|s| {
                    s.parse::<NaiveDate>()
                        .map_err(|e| format!("package {label}: date {s:?}: {e}"))
                })
                .transpose()
        };
        Ok(Package {
            label: MetrcTag::new(&label).map_err(|_| format!("package label {label:?}"))?,
            item: r.get(1).map_err(|e| e.to_string())?,
            quantity: r.get(2).map_err(|e| e.to_string())?,
            unit: r.get(3).map_err(|e| e.to_string())?,
            batch: r.get(4).map_err(|e| e.to_string())?,
            source_batches: serde_json::from_str(&sources)
                .map_err(|e| format!("package {label}: source batches: {e}"))?,
            lab_state: r.get(6).map_err(|e| e.to_string())?,
            on_hold: r.get(7).map_err(|e| e.to_string())?,
            on_recall: r.get(8).map_err(|e| e.to_string())?,
            on_investigation: r.get(9).map_err(|e| e.to_string())?,
            finished: r.get(10).map_err(|e| e.to_string())?,
            archived: date(&dates[0])?,
            expiration: date(&dates[1])?,
            use_by: date(&dates[2])?,
            last_modified: r.get(14).map_err(|e| e.to_string())?,
        })
    };
    Ok(build())
}

fn event_row(r: &Row) -> rusqlite::Result<Result<Event, String>> {
    let device: String = r.get(0)?;
    let seq: i64 = r.get(1)?;
    let kind: String = r.get(4)?;
    let tag: Option<String> = r.get(5)?;
    let line: Option<String> = r.get(6)?;
    let note: Option<String> = r.get(7)?;
    let raw: Option<Vec<u8>> = r.get(8)?;
    let raw_len: Option<i64> = r.get(9)?;
    let detail: Option<String> = r.get(10)?;
    let person: Option<String> = r.get(11)?;
    let at: String = r.get(2)?;
    let order: String = r.get(3)?;
    let bad = |what: &str| format!("event {device}/{seq}: {what}");
    let tag = tag
        .map(|t| MetrcTag::new(&t).map_err(|_| bad("tag")))
        .transpose();
    let kind = (|| -> Result<EventKind, String> {
        let verdict = || -> Result<Verdict, String> {
            serde_json::from_str(detail.as_deref().unwrap_or(""))
                .map_err(|e| bad(&format!("verdict: {e}")))
        };
        let raw = raw.clone().unwrap_or_default();
        let raw_len = raw_len.unwrap_or(0) as usize;
        Ok(match kind.as_str() {
            "scan" => EventKind::Scan {
                raw,
                raw_len,
                tag: tag?,
                verdict: verdict()?,
            },
            "load_scan" => EventKind::LoadScan {
                raw,
                raw_len,
                tag: tag?,
                verdict: verdict()?,
            },
            "deliver_scan" => EventKind::DeliverScan {
                raw,
                raw_len,
                tag: tag?,
                verdict: verdict()?,
            },
            "short" => EventKind::Short {
                line: line.ok_or_else(|| bad("short without line"))?,
                reason: note.unwrap_or_default(),
            },
            "undo" => EventKind::Undo {
                tag: tag?.ok_or_else(|| bad("undo without tag"))?,
                reason: note.unwrap_or_default(),
                // The accepted scans it takes back (none on undos recorded before
                // they were named).
                undoes: match detail.as_deref() {
                    None | Some("") => Vec::new(),
                    Some(d) => serde_json::from_str(d).map_err(|e| bad(&format!("undo: {e}")))?,
                },
            },
            "remove" => EventKind::Remove {
                tag: tag?.ok_or_else(|| bad("remove without tag"))?,
                reason: note.unwrap_or_default(),
            },
            "load_confirm" | "decision" | "deliver_finish" | "hold" | "ruling" => {
                serde_json::from_str(detail.as_deref().unwrap_or(""))
                    .map_err(|e| bad(&format!("{kind}: {e}")))?
            }
            other => return Err(bad(&format!("unknown kind {other:?}"))),
        })
    })();
    Ok(kind.map(|kind| Event {
        device,
        seq,
        at,
        order,
        person,
        kind,
    }))
}

/// The body of [`Store::record`], in the caller's transaction: attachments, then the
/// events with this device's next sequence numbers, the time now and `person`.
pub(super) fn insert_events(
    conn: &Connection,
    path: &Path,
    device: &str,
    person: Option<&str>,
    events: Vec<(String, EventKind)>,
    attachments: &[Attachment],
) -> Result<Vec<Event>, StoreError> {
    let err = |e| classify(path, e);
    for a in attachments {
        ship::put_attachment(conn, a).map_err(err)?;
    }
    // After this device's last event here, and after the last the hub holds for it
    // (a reinstalled device continues, never reusing a number).
    let last: i64 = conn
        .prepare_cached(
            "SELECT max(coalesce((SELECT max(seq) FROM events WHERE device = ?1), 0),
                        coalesce((SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'seq_floor'), 0))",
        )
        .map_err(err)?
        .query_row([device], |r| r.get(0))
        .map_err(err)?;
    let at = now();
    let mut out = Vec::with_capacity(events.len());
    for (seq, (order, kind)) in (last + 1..).zip(events) {
        for sha in kind.attachments() {
            if !ship::has_attachment(conn, sha).map_err(err)? {
                return Err(StoreError::Invalid(format!(
                    "the {} event refers to attachment {sha}, which is not stored; nothing was recorded",
                    kind.word()
                )));
            }
        }
        let event = Event {
            device: device.to_string(),
            seq,
            at: at.clone(),
            order,
            person: person.map(str::to_string),
            kind,
        };
        sync::insert_event(conn, &event).map_err(err)?;
        ship::remember_transport(conn, &event).map_err(err)?;
        out.push(event);
    }
    Ok(out)
}

fn events_for_order(conn: &Connection, path: &Path, order: &str) -> Result<Vec<Event>, StoreError> {
    let err = |e| classify(path, e);
    let mut st = conn
        .prepare_cached(&format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE order_number = ?1 ORDER BY id"
        ))
        .map_err(err)?;
    let rows = st
        .query_map([order], event_row)
        .map_err(err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(err)?;
    let mut events = rows
        .into_iter()
        .map(|r| {
            r.map_err(|message| StoreError::Corrupt {
                path: path.into(),
                message,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    // Every fold reads an order's events in the one order that depends on the events
    // alone, so this database counts what the hub and every other device count.
    crate::domain::fold_order(&mut events);
    Ok(events)
}

fn packages(
    conn: &Connection,
    path: &Path,
    tags: &[MetrcTag],
) -> Result<HashMap<MetrcTag, Package>, StoreError> {
    let err = |e| classify(path, e);
    let mut st = conn
        .prepare_cached(&format!(
            "SELECT {PACKAGE_COLUMNS} FROM packages WHERE label = ?1"
        ))
        .map_err(err)?;
    let mut out = HashMap::with_capacity(tags.len());
    for t in tags {
        if let Some(p) = st
            .query_row([t.as_str()], package_row)
            .optional()
            .map_err(err)?
        {
            let p = p.map_err(|message| StoreError::Corrupt {
                path: path.into(),
                message,
            })?;
            out.insert(t.clone(), p);
        }
    }
    Ok(out)
}

fn read_order(conn: &Connection, path: &Path, number: &str) -> Result<Order, StoreError> {
    let err = |e| classify(path, e);
    let (short_id, status, buyer, buyer_license, ship_date, delivery_address) = conn
        .query_row(
            "SELECT short_id, status, buyer, buyer_license, ship_date, delivery_address
             FROM orders WHERE number = ?1",
            [number],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            },
        )
        .optional()
        .map_err(err)?
        .ok_or_else(|| StoreError::NoSuchOrder(number.to_string()))?;
    let mut lines: Vec<Line> = conn
        .prepare_cached(
            "SELECT line_id, sku, name, quantity, unit, batch, unit_price_cents
             FROM order_lines WHERE order_number = ?1 ORDER BY position",
        )
        .map_err(err)?
        .query_map([number], |r| {
            Ok(Line {
                id: r.get(0)?,
                sku: r.get(1)?,
                name: r.get(2)?,
                quantity: r.get(3)?,
                unit: r.get(4)?,
                batch: r.get(5)?,
                unit_price_cents: r.get(6)?,
                tags: vec![],
            })
        })
        .map_err(err)?
        .collect::<Result<_, _>>()
        .map_err(err)?;
    let allocs: Vec<(String, String)> = conn
        .prepare_cached(
            "SELECT line_id, tag FROM allocations WHERE order_number = ?1 ORDER BY line_id, position",
        )
        .map_err(err)?
        .query_map([number], |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(err)?
        .collect::<Result<_, _>>()
        .map_err(err)?;
    for (line_id, tag) in allocs {
        let tag = MetrcTag::new(&tag).map_err(|_| StoreError::Corrupt {
            path: path.into(),
            message: format!("allocated tag {tag:?}"),
        })?;
        if let Some(l) = lines.iter_mut().find(|l| l.id == line_id) {
            l.tags.push(tag);
        }
    }
    Ok(Order {
        number: number.to_string(),
        short_id,
        status: OrderStatus(status),
        buyer,
        buyer_license,
        ship_date,
        delivery_address,
        lines,
    })
}

/// The facts the allocation check needs, read inside the import transaction so that
/// earlier orders of the same file count as holding their tags.
fn allocation_facts(
    tx: &Transaction,
    path: &Path,
    order: &Order,
) -> Result<AllocationFacts, StoreError> {
    let err = |e| classify(path, e);
    let tags: Vec<MetrcTag> = order.allocations().map(|a| a.tag).collect();
    let mut facts = AllocationFacts {
        packages: packages(tx, path, &tags)?,
        ..AllocationFacts::default()
    };
    {
        let mut st = tx
            .prepare_cached(
                "SELECT a.order_number FROM allocations a JOIN orders o ON o.number = a.order_number
                 WHERE a.tag = ?1 AND o.is_open = 1 AND a.order_number <> ?2 LIMIT 1",
            )
            .map_err(err)?;
        for t in &tags {
            if let Some(other) = st
                .query_row(params![t.as_str(), order.number], |r| r.get::<_, String>(0))
                .optional()
                .map_err(err)?
            {
                facts.held_elsewhere.insert(t.clone(), other);
            }
        }
    }
    // Tags picked on this order (accepted and not undone), from the event log.
    let mut state = PickState::default();
    for e in crate::domain::counted(events_for_order(tx, path, &order.number)?) {
        state.apply(&e);
    }
    facts.picked = state.picked_tags().cloned().collect();
    Ok(facts)
}
