//! The open order a pick session follows: its list and folded state, kept up to
//! date with what other connections write.

use std::collections::{HashMap, HashSet};

use crate::domain::pull::Walk;
use crate::domain::walk::WalkOrder;
use crate::domain::{Event, Order, Package, PickList, PickState, counted, fold_order};
use crate::store::{Store, StoreError};
use crate::tag::MetrcTag;

/// An open order's list and folded state, kept up to date with what other
/// connections write (the background sync taking in other devices' events): new
/// events that come after the last one folded are folded in place; one that sorts
/// earlier, or a change of the order itself, means reading it all again.
pub(super) struct Follow {
    pub(super) order: Order,
    pub(super) list: PickList,
    pub(super) state: PickState,
    /// The facts of the order's packages (where each is, what it holds), read again
    /// when the store's package change counter moves.
    pub(super) packages: HashMap<MetrcTag, Package>,
    pub(super) package_changes: i64,
    /// The allocated tags in walking order, and the site's order it was sorted by.
    pub(super) walk: Walk,
    pub(super) walk_order: WalkOrder,
    /// The last local event id of the order folded.
    pub(super) last_id: i64,
    /// The fold key of the last event folded.
    pub(super) last_key: Option<(i64, String, i64)>,
    /// Sequence numbers this session recorded: folded as they were recorded, skipped
    /// when read back (by number, not by a high-water mark: another process with this
    /// device's id, or this device's own events restored from the hub, are read).
    pub(super) mine: HashSet<i64>,
    /// This session recorded an event that sorts before one already folded: read the
    /// order again.
    pub(super) stale: bool,
}

impl Follow {
    /// Read the order's events in one query (one consistent snapshot), and fold them.
    pub(super) fn open(
        store: &Store,
        order: Order,
        walk_order: WalkOrder,
    ) -> Result<Follow, StoreError> {
        let tags: Vec<MetrcTag> = order.allocations().map(|a| a.tag).collect();
        let package_changes = store.package_changes()?;
        let packages = store.packages(&tags)?;
        let list = PickList::new(&order, &packages);
        let walk = Walk::new(&list, &packages, &walk_order);
        let rows = store.order_events_after(&order.number, 0, usize::MAX / 2)?;
        let last_id = rows.last().map_or(0, |(id, _)| *id);
        let events = counted(rows.into_iter().map(|(_, e)| e).collect());
        let mut state = PickState::default();
        for e in &events {
            state.apply(e);
        }
        Ok(Follow {
            last_key: events.last().map(Event::fold_key),
            last_id,
            order,
            list,
            state,
            packages,
            package_changes,
            walk,
            walk_order,
            mine: HashSet::new(),
            stale: false,
        })
    }

    /// Take in what other connections wrote; a closed order is refused: nothing
    /// more is picked on it.
    pub(super) fn catch_up(&mut self, store: &Store) -> Result<(), StoreError> {
        let order = store.find_order(&self.order.number)?;
        store.check_open(&order, "picked")?;
        if order != self.order || self.stale {
            *self = Follow::open(store, order, self.walk_order.clone())?;
            return Ok(());
        }
        let changes = store.package_changes()?;
        if changes != self.package_changes {
            // Package facts changed (a move, a hold): where they are and what may
            // ship, read again; the picks stand.
            let tags: Vec<MetrcTag> = self.order.allocations().map(|a| a.tag).collect();
            self.packages = store.packages(&tags)?;
            // The lines' items and labels come from the packages too.
            self.list = PickList::new(&self.order, &self.packages);
            self.walk = Walk::new(&self.list, &self.packages, &self.walk_order);
            self.package_changes = changes;
        }
        let me = store.device_id().to_string();
        let mut new: Vec<Event> = Vec::new();
        let mut last_id = self.last_id;
        loop {
            let batch = store.order_events_after(&self.order.number, last_id, 10_000)?;
            let Some(&(last, _)) = batch.last() else {
                break;
            };
            last_id = last;
            new.extend(
                batch
                    .into_iter()
                    .map(|(_, e)| e)
                    .filter(|e| e.device != me || !self.mine.contains(&e.seq)),
            );
        }
        fold_order(&mut new);
        // A hold or a ruling changes what counts, before it too: read it all again.
        let in_place = !new.iter().any(|e| e.kind.is_hold_or_ruling())
            && match (&self.last_key, new.first()) {
                (Some(last), Some(first)) => first.fold_key() > *last,
                _ => true,
            };
        if !in_place {
            *self = Follow::open(store, order, self.walk_order.clone())?;
            return Ok(());
        }
        for e in &new {
            self.fold(e);
        }
        // Only once everything read is folded.
        self.last_id = last_id;
        Ok(())
    }

    fn fold(&mut self, e: &Event) {
        self.state.apply(e);
        let key = e.fold_key();
        match &self.last_key {
            Some(k) if *k >= key => {}
            _ => self.last_key = Some(key),
        }
    }

    /// This session recorded `e`.
    pub(super) fn recorded(&mut self, e: &Event) {
        if self.last_key.as_ref().is_some_and(|k| *k > e.fold_key()) {
            // Out of fold order (another device's clock is ahead): read it all again.
            self.stale = true;
        }
        self.fold(e);
        self.mine.insert(e.seq);
    }
}
