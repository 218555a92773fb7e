//! Allocation's side of the store: the SKU-to-Metrc-item map, the packages of an
//! item, the tags open orders hold, and an accepted allocation written with its
//! append-only log row (migration 0012).
//!
//! An allocation is a store change, like an import: the `allocations` rows the hub's
//! snapshot carries to every device. The hub (or a station without one) is the only
//! writer, so devices and hub converge; a device that has joined a hub refuses to
//! allocate ([`Store::refuse_on_device`]).

use std::collections::HashMap;

use rusqlite::{OptionalExtension, params};

use super::packages::{PACKAGE_COLUMNS, package_row};
use super::{Store, StoreError, now};
use crate::domain::Package;
use crate::tag::MetrcTag;

/// One row of `tagtally items list`.
#[derive(Clone, Debug, PartialEq)]
pub struct ItemMapping {
    pub sku: String,
    pub item: String,
    pub mapped_at: String,
    pub mapped_by: Option<String>,
}

impl Store {
    /// Map a platform SKU to a Metrc item name (replacing an earlier mapping).
    pub fn map_item(&mut self, sku: &str, item: &str) -> Result<(), StoreError> {
        let (sku, item) = (sku.trim(), item.trim());
        if sku.is_empty() || item.is_empty() {
            return Err(StoreError::Invalid(
                "give a SKU and a Metrc item name: tagtally items map SKU \"NAME\"".into(),
            ));
        }
        let person = self.person.clone();
        let err = self.err();
        self.conn
            .execute(
                "INSERT INTO item_map (sku, item, mapped_at, mapped_by) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (sku) DO UPDATE SET item = excluded.item,
                    mapped_at = excluded.mapped_at, mapped_by = excluded.mapped_by",
                params![sku, item, now(), person],
            )
            .map_err(err)?;
        Ok(())
    }

    /// Every mapping, by SKU.
    pub fn item_map(&self) -> Result<Vec<ItemMapping>, StoreError> {
        let err = self.err();
        let mut st = self
            .conn
            .prepare("SELECT sku, item, mapped_at, mapped_by FROM item_map ORDER BY sku")
            .map_err(&err)?;
        st.query_map([], |r| {
            Ok(ItemMapping {
                sku: r.get(0)?,
                item: r.get(1)?,
                mapped_at: r.get(2)?,
                mapped_by: r.get(3)?,
            })
        })
        .map_err(&err)?
        .collect::<Result<_, _>>()
        .map_err(&err)
    }

    /// The Metrc item a SKU is mapped to.
    pub fn mapped_item(&self, sku: &str) -> Result<Option<String>, StoreError> {
        let err = self.err();
        self.conn
            .query_row(
                "SELECT item FROM item_map WHERE sku = ?1",
                [sku.trim()],
                |r| r.get(0),
            )
            .optional()
            .map_err(err)
    }

    /// The stored packages whose item is one of `items` (lower case).
    pub fn packages_of_items(&self, items: &[String]) -> Result<Vec<Package>, StoreError> {
        let err = self.err();
        let mut st = self
            .conn
            .prepare_cached(&format!(
                "SELECT {PACKAGE_COLUMNS} FROM packages WHERE lower(trim(item)) = ?1"
            ))
            .map_err(&err)?;
        let mut out = Vec::new();
        for item in items {
            let rows = st
                .query_map([item], package_row)
                .map_err(&err)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(&err)?;
            for p in rows {
                out.push(p.map_err(|m| StoreError::Corrupt {
                    path: self.path.clone(),
                    message: m,
                })?);
            }
        }
        Ok(out)
    }

    /// Every tag an open order holds, with that order.
    pub fn held_tags(&self) -> Result<HashMap<MetrcTag, String>, StoreError> {
        let err = self.err();
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT a.tag, a.order_number FROM allocations a
                 JOIN orders o ON o.number = a.order_number WHERE o.is_open = 1",
            )
            .map_err(&err)?;
        let rows: Vec<(String, String)> = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(&err)?
            .collect::<Result<_, _>>()
            .map_err(&err)?;
        Ok(rows
            .into_iter()
            .filter_map(|(t, o)| MetrcTag::new(&t).ok().map(|t| (t, o)))
            .collect())
    }

    /// A device that syncs with a hub does not allocate: the hub's snapshot would
    /// replace it. Allocate on the hub's database.
    pub fn refuse_on_device(&self) -> Result<(), StoreError> {
        let err = self.err();
        let joined = self
            .conn
            .query_row("SELECT value FROM meta WHERE key = 'hub_url'", [], |r| {
                r.get::<_, String>(0)
            })
            .optional()
            .map_err(err)?;
        match joined {
            Some(url) => Err(StoreError::Invalid(format!(
                "this device syncs with the hub at {url}: allocate on the hub's database (tagtally --db HUB.db allocate ...); devices get it in their next snapshot"
            ))),
            None => Ok(()),
        }
    }

    /// Allocate `tags` of `batch` to `line` of open `order` and log who did it, in one
    /// transaction. Refused, with nothing written, if another open order took one of
    /// the tags meanwhile or the line is locked to another batch.
    pub fn record_allocation(
        &mut self,
        order: &str,
        line: &str,
        batch: &str,
        tags: &[MetrcTag],
        how: &str,
    ) -> Result<(), StoreError> {
        let (device, person) = (self.device.clone(), self.person.clone());
        let path = self.path.clone();
        let err = |e| super::classify(&path, e);
        let tx = self.write_tx()?;
        let locked: Option<Option<String>> = tx
            .query_row(
                "SELECT batch FROM order_lines WHERE order_number = ?1 AND line_id = ?2",
                params![order, line],
                |r| r.get(0),
            )
            .optional()
            .map_err(err)?;
        match locked {
            None => {
                return Err(StoreError::Invalid(format!(
                    "order {order} has no line {line}"
                )));
            }
            Some(Some(b)) if b != batch => {
                return Err(StoreError::Invalid(format!(
                    "line {line} of {order} is locked to batch {b}, not {batch}"
                )));
            }
            Some(_) => {}
        }
        for t in tags {
            let other: Option<String> = tx
                .query_row(
                    "SELECT a.order_number FROM allocations a JOIN orders o ON o.number = a.order_number
                     WHERE a.tag = ?1 AND o.is_open = 1 LIMIT 1",
                    [t.as_str()],
                    |r| r.get(0),
                )
                .optional()
                .map_err(err)?;
            if let Some(other) = other {
                return Err(StoreError::Invalid(format!(
                    "package {t} is already allocated to open order {other}; nothing was allocated, propose again"
                )));
            }
        }
        tx.execute(
            "UPDATE order_lines SET batch = ?3 WHERE order_number = ?1 AND line_id = ?2",
            params![order, line, batch],
        )
        .map_err(err)?;
        let start: i64 = tx
            .query_row(
                "SELECT coalesce(max(position) + 1, 0) FROM allocations
                 WHERE order_number = ?1 AND line_id = ?2",
                params![order, line],
                |r| r.get(0),
            )
            .map_err(err)?;
        for (i, t) in tags.iter().enumerate() {
            tx.execute(
                "INSERT INTO allocations (order_number, line_id, tag, position, source)
                 VALUES (?1, ?2, ?3, ?4, 'allocate')",
                params![order, line, t.as_str(), start + i as i64],
            )
            .map_err(err)?;
        }
        let list: Vec<&str> = tags.iter().map(MetrcTag::as_str).collect();
        tx.execute(
            "INSERT INTO allocation_log (at, device, person, order_number, line_id, batch, tags, how)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                now(),
                device,
                person,
                order,
                line,
                batch,
                serde_json::to_string(&list).expect("strings serialise"),
                how
            ],
        )
        .map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(())
    }
}

/// What `tagtally allocate` put on one line: the line's batch, quantity and unit
/// then, and the tags.
pub(super) struct KeptLine {
    pub(super) batch: Option<String>,
    pub(super) quantity: Option<String>,
    pub(super) unit: Option<String>,
    pub(super) tags: Vec<MetrcTag>,
}

/// Per line id.
pub(super) type AllocatedHere = HashMap<String, KeptLine>;

/// What `tagtally allocate` put on an order's lines, by line.
pub(super) fn allocated_here(
    tx: &rusqlite::Connection,
    path: &std::path::Path,
    order: &str,
) -> Result<AllocatedHere, StoreError> {
    let err = |e| super::classify(path, e);
    let mut st = tx
        .prepare_cached(
            "SELECT a.line_id, l.batch, l.quantity, l.unit, a.tag FROM allocations a
             JOIN order_lines l ON l.order_number = a.order_number AND l.line_id = a.line_id
             WHERE a.order_number = ?1 AND a.source = 'allocate' ORDER BY a.line_id, a.position",
        )
        .map_err(err)?;
    type Row = (
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        String,
    );
    let rows: Vec<Row> = st
        .query_map([order], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .map_err(err)?
        .collect::<Result<_, _>>()
        .map_err(err)?;
    let mut out = AllocatedHere::new();
    for (line, batch, quantity, unit, tag) in rows {
        let e = out.entry(line).or_insert(KeptLine {
            batch,
            quantity,
            unit,
            tags: Vec::new(),
        });
        if let Ok(t) = MetrcTag::new(&tag) {
            e.tags.push(t);
        }
    }
    Ok(out)
}
