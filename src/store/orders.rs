//! Whether an order is open: one truth, the `orders.is_open` column. An import sets
//! it from the platform's status (`OrderStatus::closes_the_order`); a hub snapshot
//! clears it for an order the hub no longer lists as open, whatever its status text
//! says. Picking and loading read it when a session opens and each time the session
//! hears of another connection's writes.

use rusqlite::OptionalExtension;

use super::{Store, StoreError};
use crate::domain::Order;

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
                cols = super::EVENT_COLUMNS
            ))
            .map_err(&err)?;
        let rows = st
            .query_map([order], super::event_row)
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
