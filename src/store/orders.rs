//! Orders: imported with their lines and allocation (checked against the stored
//! packages and the other open orders), found by number or short id, listed while
//! open, read into a pick list; and whether one is open.
//!
//! Whether an order is open has one truth, the `orders.is_open` column. An import sets
//! it from the platform's status (`OrderStatus::closes_the_order`); a hub snapshot
//! clears it for an order the hub no longer lists as open, whatever its status text
//! says. Picking and loading read it when a session opens and each time the session
//! hears of another connection's writes.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, Transaction, params};
use tracing::instrument;

use super::events::events_for_order;
use super::packages::packages;
use super::{Store, StoreError, classify, now};
use crate::domain::order::AllocationFacts;
use crate::domain::{Line, Order, OrderStatus, PickList, PickState};
use crate::tag::MetrcTag;

impl Store {
    /// Whether `number` is open here (false for an order this database does not hold).
    pub fn order_open(&self, number: &str) -> Result<bool, StoreError> {
        let err = self.err();
        Ok(self
            .conn
            .query_row(
                "SELECT is_open FROM orders WHERE number = ?1",
                [number],
                |r| r.get::<_, bool>(0),
            )
            .optional()
            .map_err(err)?
            .unwrap_or(false))
    }

    /// `Ok` while `order` is open here; else the one refusal every flow gives, saying
    /// why it is closed and that it cannot be `what` ("picked", "loaded").
    pub fn check_open(&self, order: &Order, what: &'static str) -> Result<(), StoreError> {
        if self.order_open(&order.number)? {
            return Ok(());
        }
        let why = if order.status.closes_the_order() {
            order.status.0.trim().to_string()
        } else {
            "the hub no longer lists it as open".to_string()
        };
        Err(StoreError::OrderClosed {
            order: order.number.clone(),
            why,
            what,
        })
    }
}

impl Store {
    /// The hub: events of `order` that changed something (no rejected scans) and
    /// reached the hub after the order was closed here (received after the import
    /// that closed it).
    pub fn events_after_close(&self, order: &str) -> Result<Vec<crate::domain::Event>, StoreError> {
        let err = self.err();
        let mut st = self
            .conn
            .prepare_cached(&format!(
                "SELECT {cols} FROM events
                 WHERE order_number = ?1 AND (kind <> 'scan' OR verdict = 'accepted')
                   AND EXISTS (SELECT 1 FROM hub_receipts r, orders o
                               WHERE r.device = events.device AND r.seq = events.seq
                                 AND o.number = events.order_number AND o.is_open = 0
                                 AND r.received_at > o.imported_at)
                 ORDER BY id",
                cols = super::events::EVENT_COLUMNS
            ))
            .map_err(&err)?;
        let rows = st
            .query_map([order], super::events::event_row)
            .map_err(&err)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(&err)?;
        rows.into_iter()
            .map(|r| {
                r.map_err(|message| StoreError::Corrupt {
                    path: self.path.clone(),
                    message,
                })
            })
            .collect()
    }
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
    /// Allocated packages picked so far (by any device, as this database counts).
    pub picked: usize,
    /// Who else has picks standing on it: the person, or the device where nobody was
    /// signed in; this device's own picks are not listed.
    pub others_picking: Vec<String>,
}

impl Store {
    /// Import orders with their allocation in one transaction, after checking the
    /// allocation rules against the stored packages and the other open orders. Any
    /// problem in any order refuses the whole file. Re-importing an order replaces its
    /// lines and allocation but never its events.
    #[instrument(skip_all, err(level = "debug"), fields(count = orders.len()))]
    pub fn import_orders(&mut self, orders: &[Order]) -> Result<(), StoreError> {
        self.import_orders_as(orders, None).map(|_| ())
    }

    /// Import one order as a platform's pull does, with where it came from
    /// (`source`, kept in the same transaction): as [`Store::import_orders`], except
    /// that an order changed on the platform so that a package already picked is no
    /// longer allocated (a line reduced or dropped) is imported all the same. The
    /// picks stay (the events are never touched) and each such package becomes an
    /// exception for a supervisor (picked, not allocated: the hub's merge raises
    /// it); they are returned.
    pub fn import_order_from_platform(
        &mut self,
        order: &Order,
        source: &super::OrderSource,
    ) -> Result<Vec<MetrcTag>, StoreError> {
        Ok(self
            .import_orders_as(std::slice::from_ref(order), Some(source))?
            .into_iter()
            .flat_map(|(_, tags)| tags)
            .collect())
    }

    fn import_orders_as(
        &mut self,
        orders: &[Order],
        source: Option<&super::OrderSource>,
    ) -> Result<Vec<(String, Vec<MetrcTag>)>, StoreError> {
        let keep_picks = source.is_some();
        let mut orphans = Vec::new();
        let path = self.path.clone();
        let err = |e| classify(&path, e);
        let now = now();
        let tx = self.write_tx()?;
        for order in orders {
            // A line the import leaves without tags keeps what `tagtally allocate`
            // put there (unless the import locks it to another batch).
            let (order, kept_lines) = with_kept_allocation(&tx, &path, order)?;
            let mut facts = allocation_facts(&tx, &path, &order)?;
            if keep_picks {
                let allocated: std::collections::HashSet<MetrcTag> =
                    order.allocations().map(|a| a.tag).collect();
                let dropped: Vec<MetrcTag> = std::mem::take(&mut facts.picked)
                    .into_iter()
                    .filter(|t| !allocated.contains(t))
                    .collect();
                if !dropped.is_empty() {
                    orphans.push((order.number.clone(), dropped));
                }
            }
            let problems = order.check_allocation(&facts);
            if !problems.is_empty() {
                return Err(StoreError::AllocationRefused {
                    order: order.number.clone(),
                    problems,
                });
            }
            write_order(&tx, &path, &order, &now)?;
            if let Some(src) = source {
                super::platform::write_source(&tx, &path, &order.number, src)?;
            }
            for line in kept_lines {
                tx.execute(
                    "UPDATE allocations SET source = 'allocate'
                     WHERE order_number = ?1 AND line_id = ?2",
                    params![order.number, line],
                )
                .map_err(err)?;
            }
        }
        tx.commit().map_err(err)?;
        Ok(orphans)
    }

    /// `order` as a re-import would store it: a line it leaves without tags keeps
    /// what `tagtally allocate` put there. A pull compares this with what is stored
    /// to tell an unchanged order.
    pub fn order_as_imported(&self, order: &Order) -> Result<Order, StoreError> {
        Ok(with_kept_allocation(&self.conn, &self.path, order)?.0)
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

    /// The open orders' numbers, by ship date (none last), then number: the order
    /// lists show them in.
    pub fn open_order_numbers(&self) -> Result<Vec<String>, StoreError> {
        let err = self.err();
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT number FROM orders WHERE is_open = 1
                 ORDER BY ship_date IS NULL, ship_date, number",
            )
            .map_err(&err)?;
        st.query_map([], |r| r.get(0))
            .map_err(&err)?
            .collect::<Result<_, _>>()
            .map_err(&err)
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
        let mut orders: Vec<OrderSummary> = st
            .query_map([], |r| {
                Ok(OrderSummary {
                    number: r.get(0)?,
                    short_id: r.get(1)?,
                    buyer: r.get(2)?,
                    status: r.get(3)?,
                    ship_date: r.get(4)?,
                    total: r.get::<_, i64>(5)? as usize,
                    picked: 0,
                    others_picking: Vec::new(),
                })
            })
            .map_err(&err)?
            .collect::<Result<_, _>>()
            .map_err(&err)?;
        // How far each is picked, and by whom else: folded as every fold reads an
        // order's events (a few open orders; one indexed read each).
        for o in &mut orders {
            let mut state = PickState::default();
            for e in crate::domain::counted(self.events_for_order(&o.number)?) {
                state.apply(&e);
            }
            o.picked = state.picked();
            let mut others: Vec<String> = state
                .picked_tags()
                .filter_map(|t| state.picked_by(t))
                .filter(|(device, _)| *device != self.device)
                .map(|(device, person)| person.unwrap_or(device).to_string())
                .collect();
            others.sort();
            others.dedup();
            o.others_picking = others;
        }
        Ok(orders)
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
}

/// `order` with what `tagtally allocate` put on the lines it leaves without tags
/// (unless it locks such a line to another batch), and the ids of those lines.
fn with_kept_allocation(
    conn: &rusqlite::Connection,
    path: &Path,
    order: &Order,
) -> Result<(Order, Vec<String>), StoreError> {
    let mut order = order.clone();
    let kept = super::allocate::allocated_here(conn, path, &order.number)?;
    let mut kept_lines = Vec::new();
    for line in order.lines.iter_mut().filter(|l| l.tags.is_empty()) {
        // Kept while the line asks for what was allocated: a changed quantity or
        // unit no longer sums to it (allocate again; a package of it already picked
        // is then an exception, or refused by a file import).
        if let Some(k) = kept.get(&line.id)
            && (line.batch.is_none() || line.batch == k.batch)
            && same_amount(line.quantity.as_deref(), k.quantity.as_deref())
            && line.unit == k.unit
        {
            line.batch.clone_from(&k.batch);
            line.tags.clone_from(&k.tags);
            kept_lines.push(line.id.clone());
        }
    }
    Ok((order, kept_lines))
}

/// Two quantities as sources write them ("48", "48.0000", "48.00") are the same amount.
fn same_amount(a: Option<&str>, b: Option<&str>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => match (a.trim().parse::<f64>(), b.trim().parse::<f64>()) {
            (Ok(x), Ok(y)) => x == y,
            _ => a.trim() == b.trim(),
        },
        (a, b) => a == b,
    }
}

/// Replace an order's row, lines and allocation inside `tx` (its events are untouched).
pub(super) fn write_order(
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
            ship_date, imported_at, delivery_address, buyer_license_inactive)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
         ON CONFLICT (number) DO UPDATE SET short_id = excluded.short_id,
            status = excluded.status, is_open = excluded.is_open, buyer = excluded.buyer,
            buyer_license = excluded.buyer_license, ship_date = excluded.ship_date,
            imported_at = excluded.imported_at, delivery_address = excluded.delivery_address,
            buyer_license_inactive = excluded.buyer_license_inactive",
        params![
            order.number,
            order.short_id,
            order.status.0,
            !order.status.closes_the_order(),
            order.buyer,
            order.buyer_license,
            order.ship_date,
            at,
            order.delivery_address,
            order.buyer_license_inactive
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

pub(super) fn read_order(
    conn: &Connection,
    path: &Path,
    number: &str,
) -> Result<Order, StoreError> {
    let err = |e| classify(path, e);
    let (short_id, status, buyer, buyer_license, ship_date, delivery_address, inactive) = conn
        .query_row(
            "SELECT short_id, status, buyer, buyer_license, ship_date, delivery_address,
                buyer_license_inactive
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
                    r.get(6)?,
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
        buyer_license_inactive: inactive,
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
