//! The delivery of one loaded order on the driver's handheld: hand-over scans, the
//! receiver's accept or reject per package, and the signed finish.

use super::*;
use crate::domain::PickList;
use crate::domain::ship::{Shipment, can_deliver};

/// The delivery of one loaded order, on the driver's handheld.
pub struct DeliverySession<'s> {
    store: &'s mut Store,
    parser: TagParser,
    rules: Rules,
    list: PickList,
    ship: Shipment,
}

impl<'s> DeliverySession<'s> {
    /// Open the delivery of a loaded order that is not finished yet.
    pub fn open(
        store: &'s mut Store,
        key: &str,
        parser: TagParser,
        rules: Rules,
    ) -> Result<Self, ShipError> {
        let order = store.find_order(key)?;
        // A loaded order may be marked Shipped meanwhile; a cancelled or rejected one
        // is not delivered.
        let status = order.status.0.trim();
        if ["Cancelled", "Rejected"]
            .iter()
            .any(|c| c.eq_ignore_ascii_case(status))
        {
            return Err(Refusal::Closed {
                order: order.number.clone(),
                status: status.to_string(),
                what: "delivered",
            }
            .into());
        }
        store.refuse_if_license_held(&order, Stage::Deliver, Local::now().date_naive())?;
        let LoadOrder { list, ship, .. } = store.shipment_of(&order)?;
        can_deliver(&list, &ship)?;
        Ok(DeliverySession {
            store,
            parser,
            rules,
            list,
            ship,
        })
    }

    pub fn store(&self) -> &Store {
        self.store
    }

    pub fn list(&self) -> &PickList {
        &self.list
    }

    pub fn state(&self) -> DeliveryState {
        self.ship.delivery(&self.list)
    }

    /// Re-read the delivery when another connection wrote (sync).
    pub fn follow_other_devices(&mut self) -> Result<(), StoreError> {
        let (list, ship_state) = (&mut self.list, &mut self.ship);
        self.store
            .follow_changes(|store| reread_delivery(store, list, ship_state))
    }

    fn totals(&self) -> (usize, usize, bool) {
        let s = self.state();
        (s.accepted + s.rejected, s.total, s.open == 0)
    }

    pub fn scan_event(&mut self, scan: &ScanEvent) -> Result<ShipAnswer, StoreError> {
        self.check(&scan.frame(), scan.refused)
    }

    pub fn scan(&mut self, frame: &Frame) -> Result<ShipAnswer, StoreError> {
        self.check(frame, None)
    }

    fn check(&mut self, frame: &Frame, refused: Option<NotATag>) -> Result<ShipAnswer, StoreError> {
        let Parsed {
            input,
            parsed,
            empty,
        } = parse_frame(&self.parser, frame, refused);
        let order = self.list.order.clone();
        if empty {
            let (done, total, complete) = self.totals();
            return Ok(blank(
                Stage::Deliver,
                input,
                frame,
                order,
                done,
                total,
                complete,
            ));
        }
        let today = Local::now().date_naive();
        let tag = parsed.clone().ok();
        let (list, ship_state, rules) = (&mut self.list, &mut self.ship, &self.rules);
        // Decided and recorded under the write lock (see `Store::decide_and_record`).
        let (events, (verdict, facts)) =
            self.store
                .decide_and_record(|store, changed| -> Result<_, StoreError> {
                    if changed {
                        reread_delivery(store, list, ship_state)?;
                    }
                    let facts = facts_of(store, &parsed)?;
                    let verdict =
                        ship::decide_delivery(list, ship_state, &parsed, &facts, rules, today);
                    let kind = EventKind::scan_at(
                        Stage::Deliver,
                        &frame.bytes,
                        frame.len,
                        tag.clone(),
                        verdict.clone(),
                    );
                    Ok(Decided::one(&order, kind, (verdict, facts)))
                })?;
        let event = events.into_iter().next().expect("one event was recorded");
        self.ship.apply(&event);
        let item = facts.package.as_ref().map(|p| p.item.clone());
        Ok(answer(
            Stage::Deliver,
            input,
            frame,
            tag,
            &verdict,
            order,
            item,
            Some(event.seq),
            self.totals(),
        ))
    }

    /// The receiver accepts or rejects one whole package.
    pub fn decide(&mut self, tag: &str, decision: Decision) -> Result<DeliveryState, ShipError> {
        self.follow_other_devices()?;
        let tag = self
            .parser
            .parse(tag.as_bytes())
            .map_err(|_| ShipError::NotATag(tag.into()))?;
        if decision == Decision::Accepted {
            let today = Local::now().date_naive();
            if let Some(why) = self
                .store
                .tag_facts(&tag)?
                .package
                .as_ref()
                .and_then(|p| p.ineligibility(&self.rules, today))
            {
                return Err(Refusal::NowIneligible {
                    tag,
                    order: self.list.order.clone(),
                    why: why.word().replace('_', " "),
                }
                .into());
            }
        }
        let kind = ship::decision_event(&self.list, &self.ship, &tag, decision)?;
        let event = self.store.append(&self.list.order, kind)?;
        self.ship.apply(&event);
        Ok(self.state())
    }

    /// Finish and sign: the signature PNG is stored with the event. `has_ink` is the
    /// caller's check of the image (a blank pad is no signature).
    pub fn finish(
        &mut self,
        receiver: &str,
        signature_png: Vec<u8>,
        has_ink: bool,
    ) -> Result<DeliveryState, ShipError> {
        self.follow_other_devices()?;
        let sig = Attachment::new("image/png", signature_png);
        let sha = if sig.bytes.is_empty() {
            String::new()
        } else {
            sig.sha256.clone()
        };
        let kind = ship::finish_event(&self.list, &self.ship, receiver, &sha, has_ink)?;
        let events = self
            .store
            .record(vec![(self.list.order.clone(), kind)], &[sig])?;
        for e in &events {
            self.ship.apply(e);
        }
        Ok(self.state())
    }

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

/// Read a delivery again (another connection wrote).
fn reread_delivery(
    store: &Store,
    list: &mut PickList,
    ship_state: &mut Shipment,
) -> Result<(), StoreError> {
    let order = store.find_order(&list.order)?;
    let o = store.shipment_of(&order)?;
    *list = o.list;
    *ship_state = o.ship;
    Ok(())
}
