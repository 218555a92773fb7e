//! The load and the delivery on a device: scanner lines in, one durable verdict out per
//! line, the same path as the pick ([`super::pick`]): frame -> parse -> facts ->
//! `domain::ship` decides -> [`Store::record`] (durable) -> answer.
//!
//! Actions (remove, confirm, accept/reject, finish) are checked by `domain::ship` and
//! recorded as events; a refused action records nothing and says why.

use std::io::Write;
use std::sync::mpsc::Receiver;

use chrono::{Local, Utc};
use serde::Serialize;

use super::pick::{EMPTY_LINE, Parsed, answer_all, facts_of, human_line, parse_frame};
use crate::domain::ship::{self, DeliveryState, LoadCheck, LoadOrder, Refusal, can_load};
use crate::domain::{Decision, Driver, Event, EventKind, Rules, Stage, Vehicle, Verdict};
use crate::scan::{Frame, ScanEvent, SourceEvent};
use crate::store::{Attachment, Decided, Store, StoreError};
use crate::tag::{MetrcTag, NotATag, TagParser};

mod deliver;
pub use deliver::DeliverySession;

/// What one dock or hand-over scan got, ready to print (the style of the pick's
/// answer; `done`/`total` count loaded / manifest at the dock and accepted or
/// rejected / manifest at delivery).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ShipAnswer {
    pub stage: &'static str,
    pub input: String,
    pub input_len: usize,
    pub tag: Option<MetrcTag>,
    pub verdict: &'static str,
    pub reason: Option<&'static str>,
    /// The order the scan was recorded on.
    pub order: String,
    pub line: Option<String>,
    /// For `wrong_order`: the order the package belongs to.
    pub other_order: Option<String>,
    pub item: Option<String>,
    pub message: String,
    pub done: usize,
    pub total: usize,
    /// Loaded equals the manifest (dock), every package accounted for (delivery).
    pub complete: bool,
    /// The event's sequence number on this device; `None` when nothing was recorded.
    pub seq: Option<i64>,
    pub source: String,
    pub manual: bool,
}

impl ShipAnswer {
    pub fn is_accepted(&self) -> bool {
        matches!(self.verdict, "loaded" | "handed_over")
    }
}

/// Why a load or delivery action failed.
#[derive(Debug, thiserror::Error)]
pub enum ShipError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Refused(#[from] Refusal),
    #[error("{0:?} is not a Metrc tag")]
    NotATag(String),
    #[error("cannot write output: {0}")]
    Output(#[from] std::io::Error),
    /// The load's paper cannot be made (no shipper license): nothing is confirmed.
    #[error("{0}")]
    NoPaper(String),
}

impl From<super::docs::DocError> for ShipError {
    fn from(e: super::docs::DocError) -> Self {
        match e {
            super::docs::DocError::Store(s) => ShipError::Store(s),
            super::docs::DocError::Refused(m) => ShipError::NoPaper(m),
        }
    }
}

/// One or more picked orders being loaded onto one vehicle at the dock.
pub struct LoadSession<'s> {
    store: &'s mut Store,
    parser: TagParser,
    rules: Rules,
    orders: Vec<LoadOrder>,
}

impl<'s> LoadSession<'s> {
    /// Open the orders (numbers or short ids) of one load. Each must be picked to the
    /// end and not loaded yet.
    pub fn open(
        store: &'s mut Store,
        keys: &[String],
        parser: TagParser,
        rules: Rules,
    ) -> Result<Self, ShipError> {
        if keys.is_empty() {
            return Err(Refusal::Invalid("name at least one order to load".into()).into());
        }
        let mut orders: Vec<LoadOrder> = Vec::new();
        for key in keys {
            let order = store.find_order(key)?;
            if orders.iter().any(|o| o.list.order == order.number) {
                continue;
            }
            store.check_open(&order, "loaded")?;
            store.refuse_if_license_held(&order, Stage::Load, Local::now().date_naive())?;
            let o = store.shipment_of(&order)?;
            can_load(&o)?;
            orders.push(o);
        }
        Ok(LoadSession {
            store,
            parser,
            rules,
            orders,
        })
    }

    pub fn store(&self) -> &Store {
        self.store
    }

    /// The store, to act on it beside the session (a supervisor's check and name).
    pub fn store_mut(&mut self) -> &mut Store {
        self.store
    }

    pub fn orders(&self) -> &[LoadOrder] {
        &self.orders
    }

    /// Loaded against the manifest, per order.
    pub fn checks(&self) -> Vec<LoadCheck> {
        self.orders.iter().map(LoadOrder::check).collect()
    }

    fn totals(&self) -> (usize, usize, bool) {
        let checks = self.checks();
        let done = checks.iter().map(|c| c.loaded).sum();
        let total = checks.iter().map(|c| c.manifest).sum();
        (done, total, checks.iter().all(LoadCheck::matches))
    }

    /// Re-read the orders when another connection wrote (sync: a late pick, an undo).
    pub fn follow_other_devices(&mut self) -> Result<(), StoreError> {
        let orders = &mut self.orders;
        self.store
            .follow_changes(|store| reread_load(store, orders))
    }

    pub fn scan_event(&mut self, scan: &ScanEvent) -> Result<ShipAnswer, StoreError> {
        self.check(&scan.frame(), scan.refused)
    }

    /// Check one scanner line, record it durably, and answer. Only a store failure is
    /// an `Err`, and then nothing was recorded.
    pub fn scan(&mut self, frame: &Frame) -> Result<ShipAnswer, StoreError> {
        self.check(frame, None)
    }

    fn check(&mut self, frame: &Frame, refused: Option<NotATag>) -> Result<ShipAnswer, StoreError> {
        let Parsed {
            input,
            parsed,
            empty,
        } = parse_frame(&self.parser, frame, refused);
        let first = self.orders[0].list.order.clone();
        if empty {
            let (done, total, complete) = self.totals();
            return Ok(blank(
                Stage::Load,
                input,
                frame,
                first,
                done,
                total,
                complete,
            ));
        }
        let today = Local::now().date_naive();
        let tag = parsed.clone().ok();
        let (orders, rules) = (&mut self.orders, &self.rules);
        // Decided and recorded under the write lock (see `Store::decide_and_record`).
        let (events, (i, verdict, facts)) =
            self.store
                .decide_and_record(|store, changed| -> Result<_, StoreError> {
                    if changed {
                        reread_load(store, orders)?;
                    }
                    let facts = facts_of(store, &parsed)?;
                    let (i, verdict) = ship::decide_load(orders, &parsed, &facts, rules, today);
                    let kind = EventKind::scan_at(
                        Stage::Load,
                        &frame.bytes,
                        frame.len,
                        tag.clone(),
                        verdict.clone(),
                    );
                    Ok(Decided::one(
                        &orders[i].list.order,
                        kind,
                        (i, verdict, facts),
                    ))
                })?;
        let event = events.into_iter().next().expect("one event was recorded");
        let order = event.order.clone();
        self.orders[i].ship.apply(&event);
        let (done, total, complete) = self.totals();
        let item = facts.package.as_ref().map(|p| p.item.clone());
        Ok(answer(
            Stage::Load,
            input,
            frame,
            tag,
            &verdict,
            order,
            item,
            Some(event.seq),
            (done, total, complete),
        ))
    }

    fn index_of(&self, tag: &MetrcTag) -> Option<usize> {
        self.orders
            .iter()
            .position(|o| o.list.line_of(tag).is_some() || o.ship.is_loaded(tag))
    }

    /// A supervisor takes a package off the shipment (the caller has checked the
    /// supervisor; the event records who is signed in on the store).
    pub fn remove(&mut self, tag: &str, reason: &str) -> Result<LoadCheck, ShipError> {
        let tag = self
            .parser
            .parse(tag.as_bytes())
            .map_err(|_| ShipError::NotATag(tag.into()))?;
        let Some(i) = self.index_of(&tag) else {
            return Err(Refusal::NotOnShipment {
                tag,
                order: self.orders[0].list.order.clone(),
            }
            .into());
        };
        let kind = ship::remove_event(&self.orders[i], &tag, reason)?;
        let order = self.orders[i].list.order.clone();
        let event = self.store.append(&order, kind)?;
        self.orders[i].ship.apply(&event);
        Ok(self.orders[i].check())
    }

    /// Confirm the load: one event per order, all or none, with the manifest PDF made
    /// by `pdf` (given the confirmation events) stored with them. When `pdf` refuses
    /// (no shipper license), nothing is confirmed.
    pub fn confirm(
        &mut self,
        driver: &Driver,
        vehicle: &Vehicle,
        pdf: impl FnOnce(&Store, &[(String, EventKind)]) -> Result<Attachment, super::docs::DocError>,
    ) -> Result<Vec<Event>, ShipError> {
        self.follow_other_devices()?;
        // The device's id in it: two docks confirming the same order in the same
        // second (both offline) make two loads, never one id for both.
        let load = format!(
            "L-{}-{}-{}",
            self.orders[0].list.order,
            Utc::now().format("%Y%m%d%H%M%S"),
            self.store.device_id()
        );
        let mut events = ship::confirm_events(&self.orders, &load, driver, vehicle)?;
        // The buyer's license again: the register may have changed since the load opened.
        super::license::recheck(self.store, &self.orders)?;
        // The facts may have changed since each package was scanned (a hold or recall
        // synced meanwhile): nothing blocked leaves on the vehicle.
        let today = Local::now().date_naive();
        for (order, kind) in &events {
            if let EventKind::LoadConfirm(c) = kind {
                for tag in &c.tags {
                    let facts = self.store.tag_facts(tag)?;
                    if let Some(why) = facts
                        .package
                        .as_ref()
                        .and_then(|p| p.ineligibility(&self.rules, today))
                    {
                        return Err(Refusal::NowIneligible {
                            tag: tag.clone(),
                            order: order.clone(),
                            why: why.word().replace('_', " "),
                        }
                        .into());
                    }
                }
            }
        }
        let attachment = pdf(self.store, &events)?;
        for (_, kind) in &mut events {
            if let EventKind::LoadConfirm(c) = kind {
                c.manifest_pdf = Some(attachment.sha256.clone());
            }
        }
        let recorded = self
            .store
            .record(events, std::slice::from_ref(&attachment))?;
        for e in &recorded {
            if let Some(o) = self.orders.iter_mut().find(|o| o.list.order == e.order) {
                o.ship.apply(e);
            }
        }
        Ok(recorded)
    }

    /// Answer every scan from `events` until every source has ended (the pick's
    /// `run`, for the dock).
    pub fn run(
        &mut self,
        events: &Receiver<SourceEvent>,
        out: &mut impl Write,
        status: &mut impl Write,
        json: bool,
    ) -> Result<(), ShipError> {
        run(events, out, status, json, |scan| self.scan_event(scan))
    }
}

fn blank(
    stage: Stage,
    input: String,
    frame: &Frame,
    order: String,
    done: usize,
    total: usize,
    complete: bool,
) -> ShipAnswer {
    let mut a = answer(
        stage,
        input,
        frame,
        None,
        &Verdict::NotATag {
            reason: NotATag::Malformed,
        },
        order,
        None,
        None,
        (done, total, complete),
    );
    a.message = EMPTY_LINE.into();
    a
}

#[allow(clippy::too_many_arguments)]
fn answer(
    stage: Stage,
    input: String,
    frame: &Frame,
    tag: Option<MetrcTag>,
    verdict: &Verdict,
    order: String,
    item: Option<String>,
    seq: Option<i64>,
    (done, total, complete): (usize, usize, bool),
) -> ShipAnswer {
    let message = if frame.overflowed() {
        format!("Line too long ({} bytes): not a tag.", frame.len)
    } else {
        verdict.message()
    };
    ShipAnswer {
        stage: stage.word(),
        input,
        input_len: frame.len,
        tag,
        verdict: verdict.word(),
        reason: verdict.reason(),
        order,
        line: verdict.line().map(str::to_string),
        other_order: match verdict {
            Verdict::WrongOrder { order, .. } => Some(order.clone()),
            _ => None,
        },
        item,
        message,
        done,
        total,
        complete,
        seq,
        source: String::new(),
        manual: false,
    }
}

fn run(
    events: &Receiver<SourceEvent>,
    out: &mut impl Write,
    status: &mut impl Write,
    json: bool,
    mut check: impl FnMut(&ScanEvent) -> Result<ShipAnswer, StoreError>,
) -> Result<(), ShipError> {
    answer_all(
        events,
        out,
        status,
        json,
        |scan| {
            let mut a = check(scan)?;
            a.source = scan.source.clone();
            a.manual = scan.manual;
            Ok::<_, ShipError>(a)
        },
        human,
    )
}

/// One line for a person at a terminal.
pub fn human(a: &ShipAnswer) -> String {
    let done = match (a.complete, a.stage) {
        (true, "load") => "  LOAD MATCHES THE MANIFEST",
        (true, _) => "  ALL PACKAGES ACCOUNTED FOR",
        _ => "",
    };
    human_line(
        (a.verdict, a.reason),
        a.tag.as_ref(),
        &a.input,
        a.item.as_deref(),
        &a.message,
        (a.done, a.total),
        done,
    )
}

/// The dock's summary: per order, loaded against the manifest, what is missing and
/// what is extra.
pub fn print_checks(checks: &[LoadCheck], out: &mut impl Write) -> std::io::Result<()> {
    for c in checks {
        let state = if c.confirmed {
            "CONFIRMED"
        } else if c.matches() {
            "ready to confirm"
        } else {
            "not ready"
        };
        writeln!(
            out,
            "{}: loaded {}/{}  {state}",
            c.order, c.loaded, c.manifest
        )?;
        for t in &c.missing {
            writeln!(out, "  missing {t}")?;
        }
        for t in &c.extra {
            writeln!(
                out,
                "  extra   {t} (take it off the vehicle; a supervisor removes it)"
            )?;
        }
    }
    Ok(())
}

/// The driver's summary: per package accepted, rejected or not yet scanned.
pub fn print_delivery(s: &DeliveryState, out: &mut impl Write) -> std::io::Result<()> {
    writeln!(
        out,
        "{}: {} accepted, {} rejected, {} not yet scanned (of {}){}",
        s.order,
        s.accepted,
        s.rejected,
        s.open,
        s.total,
        match &s.finished {
            Some(f) => format!("  DELIVERED {} to {}", f.at, f.receiver),
            None => String::new(),
        }
    )?;
    for p in &s.packages {
        let what = match &p.decision {
            None => "not yet scanned".to_string(),
            Some(Decision::Accepted) => "accepted".to_string(),
            Some(Decision::Rejected { reason, note }) => match note {
                Some(n) => format!("REJECTED: {} ({n})", reason.label()),
                None => format!("REJECTED: {}", reason.label()),
            },
        };
        writeln!(out, "  {}  line {}  {what}", p.tag, p.line)?;
    }
    Ok(())
}

/// Read a load's orders again (another connection wrote); an order closed meanwhile
/// that is not confirmed yet is refused: nothing more is loaded.
fn reread_load(store: &Store, orders: &mut [LoadOrder]) -> Result<(), StoreError> {
    for o in orders.iter_mut() {
        let order = store.find_order(&o.list.order)?;
        if o.ship.confirmed().is_none() {
            store.check_open(&order, "loaded")?;
        }
        *o = store.shipment_of(&order)?;
    }
    Ok(())
}
