//! The packages: imported from the platform's records in one transaction (a record
//! older than the stored snapshot of its package is kept out, and each change is
//! numbered for the hub's snapshots), read back by tag, and what the store knows
//! about one scanned tag.

use std::collections::HashMap;
use std::path::Path;

use chrono::NaiveDate;
use rusqlite::{Connection, OptionalExtension, Row, params};
use tracing::instrument;

use super::{Store, StoreError, classify, now};
use crate::domain::{Package, TagFacts};
use crate::tag::MetrcTag;

/// How a package import went.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PackageImport {
    pub new: usize,
    pub updated: usize,
    /// Records whose `LastModified` was older than the stored snapshot: kept as stored.
    pub older_skipped: usize,
}

impl Store {
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
                        expiration_date, use_by_date, last_modified, imported_at, change_seq,
                        location, sublocation, metrc_id, packaged_date)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,
                        ?17, ?18, ?19, ?20, ?21)
                     ON CONFLICT (label) DO UPDATE SET item = excluded.item,
                        quantity = excluded.quantity, unit = excluded.unit, batch = excluded.batch,
                        source_batches = excluded.source_batches, lab_state = excluded.lab_state,
                        on_hold = excluded.on_hold, on_recall = excluded.on_recall,
                        on_investigation = excluded.on_investigation, finished = excluded.finished,
                        archived_date = excluded.archived_date,
                        expiration_date = excluded.expiration_date,
                        use_by_date = excluded.use_by_date, last_modified = excluded.last_modified,
                        imported_at = excluded.imported_at, change_seq = excluded.change_seq,
                        location = excluded.location, sublocation = excluded.sublocation,
                        metrc_id = coalesce(excluded.metrc_id, packages.metrc_id),
                        packaged_date = excluded.packaged_date",
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
                        p.location,
                        p.sublocation,
                        p.metrc_id,
                        p.packaged.map(|d| d.to_string()),
                    ])
                    .map_err(err)?;
                // The hub's COA fact, as a device receives it with the package; a
                // package read from Metrc or a file carries none and leaves it.
                if let Some(fact) = &p.coa {
                    super::coa::put_fact(&tx, p.label.as_str(), fact).map_err(err)?;
                }
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

    /// The package change counter: it moves with every package fact written, so a
    /// reader that holds package facts knows when to read them again.
    pub fn package_changes(&self) -> Result<i64, StoreError> {
        self.conn
            .prepare_cached("SELECT value FROM counters WHERE name = 'package_change'")
            .and_then(|mut st| st.query_row([], |r| r.get(0)))
            .map_err(self.err())
    }

    /// The stored packages among `tags`.
    pub fn packages(&self, tags: &[MetrcTag]) -> Result<HashMap<MetrcTag, Package>, StoreError> {
        packages(&self.conn, &self.path, tags)
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

    /// Number of packages stored.
    pub fn package_count(&self) -> Result<i64, StoreError> {
        self.conn
            .query_row("SELECT count(*) FROM packages", [], |r| r.get(0))
            .map_err(self.err())
    }
}

/// How many columns [`PACKAGE_COLUMNS`] names (a query may read more after them).
pub(super) const PACKAGE_COLUMN_COUNT: usize = 20;

pub(super) const PACKAGE_COLUMNS: &str =
    "label, item, quantity, unit, batch, source_batches, lab_state,
    on_hold, on_recall, on_investigation, finished, archived_date, expiration_date,
    use_by_date, last_modified, location, sublocation, metrc_id,
    (SELECT fact FROM package_coa WHERE package_coa.tag = packages.label), packaged_date";

/// A package row; the inner error names a stored value that does not parse.
pub(super) fn package_row(r: &Row) -> rusqlite::Result<Result<Package, String>> {
    let label: String = r.get(0)?;
    let sources: String = r.get(5)?;
    let dates: [Option<String>; 3] = [r.get(11)?, r.get(12)?, r.get(13)?];
    let packaged: Option<String> = r.get(19)?;
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
            packaged: date(&packaged)?,
            last_modified: r.get(14).map_err(|e| e.to_string())?,
            location: r.get(15).map_err(|e| e.to_string())?,
            sublocation: r.get(16).map_err(|e| e.to_string())?,
            metrc_id: r.get(17).map_err(|e| e.to_string())?,
            coa: r
                .get::<_, Option<String>>(18)
                .map_err(|e| e.to_string())?
                .map(|f| serde_json::from_str(&f))
                .transpose()
                .map_err(|e| format!("package {label}: COA fact: {e}"))?,
        })
    };
    Ok(build())
}

pub(super) fn packages(
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sync::test_support::store;

    fn package(location: Option<&str>, modified: &str) -> Package {
        Package {
            label: MetrcTag::new("1A4060300003C35000019794").unwrap(),
            item: "Blue Dream 3.5g".into(),
            quantity: 10.0,
            unit: "Each".into(),
            batch: Some("BD-0412".into()),
            source_batches: vec![],
            lab_state: "TestPassed".into(),
            on_hold: false,
            on_recall: false,
            on_investigation: false,
            finished: false,
            archived: None,
            expiration: None,
            use_by: None,
            packaged: None,
            last_modified: modified.into(),
            location: location.map(str::to_string),
            sublocation: location.map(|_| "Shelf 3".to_string()),
            metrc_id: Some(15001),
            coa: None,
        }
    }

    #[test]
    fn where_a_package_is_follows_its_newest_snapshot_and_travels_to_devices() {
        let (_d, mut s) = store();
        let tag = package(None, "").label;
        s.import_packages(&[package(Some("Vault A"), "2026-11-20T10:00:00.000Z")])
            .unwrap();
        let got = &s.packages(std::slice::from_ref(&tag)).unwrap()[&tag];
        assert_eq!(
            (got.location.as_deref(), got.sublocation.as_deref()),
            (Some("Vault A"), Some("Shelf 3"))
        );
        // Moved in a newer snapshot: moved here; an older one changes nothing.
        s.import_packages(&[package(Some("Cage"), "2026-11-21T10:00:00.000Z")])
            .unwrap();
        s.import_packages(&[package(Some("Vault A"), "2026-11-19T10:00:00.000Z")])
            .unwrap();
        let got = &s.packages(std::slice::from_ref(&tag)).unwrap()[&tag];
        assert_eq!(got.location.as_deref(), Some("Cage"));
        // Taken off its shelf: the place goes too.
        s.import_packages(&[package(None, "2026-11-22T10:00:00.000Z")])
            .unwrap();
        let got = &s.packages(std::slice::from_ref(&tag)).unwrap()[&tag];
        assert_eq!(
            (got.location.as_deref(), got.sublocation.as_deref()),
            (None, None)
        );
        // What the hub hands devices carries it.
        s.import_packages(&[package(Some("Vault B"), "2026-11-23T10:00:00.000Z")])
            .unwrap();
        let (sent, _) = s.packages_since("0").unwrap();
        assert_eq!(sent[0].location.as_deref(), Some("Vault B"));
    }
}
