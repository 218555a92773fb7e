//! One truth: random histories of several devices on one order (picks, undos,
//! shorts, dock scans, removals, confirmations, offline stretches, clocks a few
//! minutes apart, people signing in and out, a supervisor's rulings), synced to a hub
//! in whatever order the devices come back, end with every device and the hub showing
//! the same picks, shorts and load. The hub holds what its people's roles do not
//! allow (and what names nobody, or nobody it knows) as the hub does
//! (`Role::needed_for`, a hold event in the same push). Each device folds the events
//! it holds the way its store reads them (`counted`), the hub the way the hub does
//! (`Merger::fold_in`, and `merge` again when an event sorts earlier or a hold or a
//! ruling arrives).

use std::collections::{BTreeSet, HashMap};

use proptest::prelude::*;
use tagtally::domain::merge::{Merger, merge};
use tagtally::domain::people::Role;
use tagtally::domain::{
    Driver, Event, EventKind, EventRef, Line, LoadCheck, LoadConfirm, Order, OrderStatus, Package,
    PickList, PickState, Rules, Rulings, Shipment, Vehicle, Verdict, counted,
};
use tagtally::tag::MetrcTag;

const TAGS: [&str; 6] = [
    "1A4060300003C35000010001",
    "1A4060300003C35000010002",
    "1A4060300003C35000010003",
    "1A4060300003C35000010011",
    "1A4060300003C35000010012",
    "1A4060300003C35000010013",
];
const DEVICES: [&str; 3] = ["vault-1", "vault-2", "dock-1"];
/// Who may be signed in: nobody, the hub's people, and a name the hub does not know.
const PEOPLE: [Option<(&str, Option<Role>)>; 5] = [
    None,
    Some(("Pia", Some(Role::Picker))),
    Some(("Lou", Some(Role::Loader))),
    Some(("Sam", Some(Role::Supervisor))),
    Some(("Zed", None)),
];

fn tag(i: usize) -> MetrcTag {
    MetrcTag::new(TAGS[i % TAGS.len()]).unwrap()
}

fn line_of(i: usize) -> &'static str {
    if i % TAGS.len() < 3 { "1" } else { "2" }
}

fn world() -> (PickList, HashMap<MetrcTag, Package>) {
    let mut packages = HashMap::new();
    for (i, t) in TAGS.iter().enumerate() {
        packages.insert(
            tag(i),
            Package {
                label: MetrcTag::new(t).unwrap(),
                item: format!("item {}", line_of(i)),
                quantity: 1.0,
                unit: "Each".into(),
                batch: Some(format!("B-{}", line_of(i))),
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
                last_modified: "2026-11-01T00:00:00.000Z".into(),
                location: None,
                sublocation: None,
                metrc_id: None,
                coa: None,
            },
        );
    }
    let line = |id: &str, tags: &[usize]| Line {
        id: id.into(),
        sku: None,
        name: None,
        quantity: None,
        unit: None,
        batch: Some(format!("B-{id}")),
        unit_price_cents: None,
        tags: tags.iter().map(|&i| tag(i)).collect(),
    };
    let order = Order {
        number: "SO-1001".into(),
        short_id: None,
        status: OrderStatus("Accepted".into()),
        buyer: "Green Door".into(),
        buyer_license: None,
        buyer_license_inactive: false,
        ship_date: None,
        delivery_address: None,
        lines: vec![line("1", &[0, 1, 2]), line("2", &[3, 4, 5])],
    };
    (PickList::new(&order, &packages), packages)
}

#[derive(Clone, Debug)]
enum Op {
    Pick(usize, usize),
    Undo(usize, usize),
    Short(usize, usize),
    Load(usize, usize),
    Remove(usize, usize),
    Confirm(usize),
    /// Push what the hub lacks, then pull what it has.
    Sync(usize),
    /// Who is signed in on the device from now on (an index into `PEOPLE`).
    SignIn(usize, usize),
    /// Whoever is signed in rules on one of the holds the device knows of.
    Rule(usize, usize, bool),
}

fn op() -> impl Strategy<Value = Op> {
    let d = 0..DEVICES.len();
    let t = 0..TAGS.len();
    prop_oneof![
        4 => (d.clone(), t.clone()).prop_map(|(d, t)| Op::Pick(d, t)),
        2 => (d.clone(), t.clone()).prop_map(|(d, t)| Op::Undo(d, t)),
        1 => (d.clone(), 0..2usize).prop_map(|(d, l)| Op::Short(d, l)),
        3 => (d.clone(), t.clone()).prop_map(|(d, t)| Op::Load(d, t)),
        1 => (d.clone(), t).prop_map(|(d, t)| Op::Remove(d, t)),
        1 => d.clone().prop_map(Op::Confirm),
        3 => d.clone().prop_map(Op::Sync),
        2 => (d.clone(), 0..PEOPLE.len()).prop_map(|(d, p)| Op::SignIn(d, p)),
        1 => (d, 0..4usize, any::<bool>()).prop_map(|(d, k, a)| Op::Rule(d, k, a)),
    ]
}

/// One device: the events it holds (its own and those it pulled) and what it pushed.
#[derive(Default)]
struct Device {
    events: Vec<Event>,
    seq: i64,
    pushed: usize,
    own: Vec<Event>,
    /// Who is signed in (an index into `PEOPLE`).
    person: usize,
}

/// What an order looks like to whoever holds `events`: folded as the store reads
/// them.
#[derive(Debug, PartialEq)]
struct View {
    picked: BTreeSet<(MetrcTag, String)>,
    shorts: BTreeSet<(String, String)>,
    load: LoadCheck,
    confirmed: Option<(String, Vec<MetrcTag>)>,
}

fn fold(events: &[Event]) -> (PickState, Shipment) {
    let sorted = counted(events.to_vec());
    let mut pick = PickState::default();
    for e in &sorted {
        pick.apply(e);
    }
    (pick, Shipment::from_events(&sorted))
}

fn view(pick: &PickState, ship: &Shipment, list: &PickList) -> View {
    View {
        picked: pick
            .picked_lines()
            .map(|(t, l)| (t.clone(), l.to_string()))
            .collect(),
        shorts: pick
            .shorts()
            .map(|(l, r)| (l.to_string(), r.to_string()))
            .collect(),
        load: ship.load_check(pick, list),
        confirmed: ship
            .confirmed()
            .map(|c| (c.confirm.load.clone(), c.confirm.tags.clone())),
    }
}

struct World {
    list: PickList,
    packages: HashMap<MetrcTag, Package>,
    devices: Vec<Device>,
    /// The hub's events in arrival order, and its merge.
    hub: Vec<Event>,
    merger: Merger,
    tick: i64,
    skew: Vec<i64>,
    /// The hub's own sequence number, for its holds.
    hub_seq: i64,
}

impl World {
    fn new(skew: Vec<i64>) -> World {
        let (list, packages) = world();
        World {
            list,
            packages,
            devices: DEVICES.iter().map(|_| Device::default()).collect(),
            hub: vec![],
            merger: Merger::new(),
            tick: 0,
            skew,
            hub_seq: 0,
        }
    }

    fn today() -> chrono::NaiveDate {
        "2026-12-01".parse().unwrap()
    }

    /// Record `kind` on device `d` at its own clock.
    fn record(&mut self, d: usize, kind: EventKind) {
        self.tick += 1;
        let dev = &mut self.devices[d];
        dev.seq += 1;
        let secs = 36_000 + self.tick * 7 + self.skew[d];
        let at = chrono::DateTime::from_timestamp(1_796_083_200 + secs, 0)
            .unwrap()
            .format("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string();
        let e = Event {
            device: DEVICES[d].into(),
            seq: dev.seq,
            at,
            order: "SO-1001".into(),
            person: PEOPLE[dev.person].map(|(name, _)| name.to_string()),
            kind,
        };
        dev.events.push(e.clone());
        dev.own.push(e);
    }

    fn run(&mut self, op: &Op) {
        let (pick, ship) = match op {
            Op::Pick(d, _)
            | Op::Undo(d, _)
            | Op::Short(d, _)
            | Op::Load(d, _)
            | Op::Remove(d, _)
            | Op::Confirm(d)
            | Op::Sync(d)
            | Op::SignIn(d, _)
            | Op::Rule(d, _, _) => fold(&self.devices[*d].events),
        };
        let check = ship.load_check(&pick, &self.list);
        let confirmed = ship.confirmed().is_some();
        match *op {
            Op::Pick(d, t) => {
                let verdict = if pick.is_picked(&tag(t)) {
                    Verdict::AlreadyScanned {
                        line: line_of(t).into(),
                    }
                } else {
                    Verdict::Accepted {
                        line: line_of(t).into(),
                        expires_in_days: None,
                    }
                };
                let kind = EventKind::scan(TAGS[t].as_bytes(), 24, Some(tag(t)), verdict);
                self.record(d, kind);
            }
            Op::Undo(d, t) if pick.is_picked(&tag(t)) && !confirmed => {
                let kind = EventKind::Undo {
                    tag: tag(t),
                    reason: "wrong shelf".into(),
                    undoes: pick.picks_of(&tag(t)),
                };
                self.record(d, kind);
            }
            Op::Short(d, l) => {
                let kind = EventKind::Short {
                    line: ["1", "2"][l].into(),
                    reason: format!("short on {}", DEVICES[d]),
                };
                self.record(d, kind);
            }
            Op::Load(d, t) if !confirmed && pick.is_picked(&tag(t)) => {
                let removed = ship.removed().any(|(r, _)| *r == tag(t));
                let verdict = if removed {
                    Verdict::Removed {
                        line: line_of(t).into(),
                        reason: "removed".into(),
                    }
                } else {
                    Verdict::Loaded {
                        line: line_of(t).into(),
                    }
                };
                let kind = EventKind::scan_at(
                    tagtally::domain::Stage::Load,
                    TAGS[t].as_bytes(),
                    24,
                    Some(tag(t)),
                    verdict,
                );
                self.record(d, kind);
            }
            Op::Remove(d, t) if !confirmed && pick.is_picked(&tag(t)) => {
                let kind = EventKind::Remove {
                    tag: tag(t),
                    reason: "damaged".into(),
                };
                self.record(d, kind);
            }
            Op::Confirm(d)
                if !confirmed
                    && check.missing.is_empty()
                    && check.extra.is_empty()
                    && check.manifest > 0 =>
            {
                let tags: Vec<MetrcTag> = ship.manifest(&pick, &self.list).into_keys().collect();
                let kind = EventKind::LoadConfirm(Box::new(LoadConfirm {
                    load: format!("L-{}-{}", DEVICES[d], self.tick),
                    orders: vec!["SO-1001".into()],
                    driver: Driver {
                        name: "Dee".into(),
                        occupational_license: "OL-1".into(),
                        drivers_license: "D1".into(),
                    },
                    vehicle: Vehicle {
                        make: "Ford".into(),
                        model: "Transit".into(),
                        plate: "8ABC123".into(),
                    },
                    tags,
                    manifest_pdf: None,
                }));
                self.record(d, kind);
            }
            Op::Sync(d) => self.sync(d),
            Op::SignIn(d, p) => self.devices[d].person = p,
            Op::Rule(d, k, accept) => {
                let pending = Rulings::of(&self.devices[d].events).pending();
                if !pending.is_empty() {
                    let (event, _) = pending[k % pending.len()].clone();
                    let reason = if accept { "" } else { "not ours" };
                    let kind = EventKind::Ruling {
                        event,
                        accept,
                        reason: reason.into(),
                    };
                    self.record(d, kind);
                }
            }
            _ => {}
        }
    }

    fn sync(&mut self, d: usize) {
        // Push: the hub appends what arrives and folds it as the hub does.
        let dev = &mut self.devices[d];
        let pushed: Vec<Event> = dev.own[dev.pushed..].to_vec();
        dev.pushed = dev.own.len();
        // The hub keeps every event and holds, in the same push, what its people's
        // roles do not allow.
        let mut fresh = Vec::new();
        for e in pushed {
            let why = hold_why(&e);
            let id = e.id();
            fresh.push(e);
            if let Some(why) = why {
                self.tick += 1;
                self.hub_seq += 1;
                let at =
                    chrono::DateTime::from_timestamp(1_796_083_200 + 36_000 + self.tick * 7, 0)
                        .unwrap()
                        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
                        .to_string();
                fresh.push(Event {
                    device: "hub".into(),
                    seq: self.hub_seq,
                    at,
                    order: "SO-1001".into(),
                    person: None,
                    kind: EventKind::Hold { event: id, why },
                });
            }
        }
        self.hub.extend(fresh.iter().cloned());
        let today = World::today();
        if !self
            .merger
            .fold_in(&self.list, &self.packages, &Rules::default(), today, &fresh)
        {
            self.merger = merge(
                &self.list,
                &self.packages,
                &Rules::default(),
                today,
                &self.hub,
            );
        }
        // Pull: everything the device lacks.
        let have: BTreeSet<EventRef> = self.devices[d].events.iter().map(Event::id).collect();
        let new: Vec<Event> = self
            .hub
            .iter()
            .filter(|e| !have.contains(&e.id()))
            .cloned()
            .collect();
        self.devices[d].events.extend(new);
    }
}

/// Why the hub holds `e`, as the hub's check decides (its people are `PEOPLE`, their
/// roles never change here).
fn hold_why(e: &Event) -> Option<String> {
    let Some(name) = &e.person else {
        return Some("recorded with nobody signed in".into());
    };
    let role = PEOPLE
        .iter()
        .flatten()
        .find(|(n, _)| n == name)
        .and_then(|(_, r)| *r);
    match role {
        None => Some(format!(
            "recorded by {name:?}, who is not a person on this hub"
        )),
        Some(r) if !r.allows(Role::needed_for(&e.kind)) => Some(format!("{name} was a {r}")),
        Some(_) => None,
    }
}

fn scenario(ops: &[Op], skew: Vec<i64>, last: &[usize]) -> World {
    let mut w = World::new(skew);
    for op in ops {
        w.run(op);
    }
    // Everyone comes back, in the order given, then each pulls once more.
    for &d in last {
        w.sync(d);
    }
    for d in 0..DEVICES.len() {
        w.sync(d);
    }
    w
}

fn assert_one_truth(w: &World) {
    let hub = view(w.merger.state(), &hub_ship(w), &w.list);
    let (p, s) = fold(&w.hub);
    assert_eq!(view(&p, &s, &w.list), hub, "the hub's incremental merge");
    for (d, dev) in w.devices.iter().enumerate() {
        let (p, s) = fold(&dev.events);
        assert_eq!(view(&p, &s, &w.list), hub, "device {}", DEVICES[d]);
    }
    let batch = merge(
        &w.list,
        &w.packages,
        &Rules::default(),
        World::today(),
        &w.hub,
    );
    assert_eq!(batch.view(&w.list), w.merger.view(&w.list));
}

/// The hub's shipment, as the hub folds it (the merger keeps its own).
fn hub_ship(w: &World) -> Shipment {
    Shipment::from_events(&counted(w.hub.clone()))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn every_device_and_the_hub_end_equal(
        ops in prop::collection::vec(op(), 0..60),
        skew in prop::collection::vec(-300i64..300, DEVICES.len()),
        last in Just((0..DEVICES.len()).collect::<Vec<_>>()).prop_shuffle(),
    ) {
        let w = scenario(&ops, skew, &last);
        assert_one_truth(&w);
    }
}

/// Issue 11's history: both vaults synced; the hub goes away; vault-1 picks 10001;
/// vault-2 picks it too, then its supervisor undoes it; the hub comes back; they sync
/// 2, 1, 2, 1. Before, the hub and vault-2 said 1 picked and vault-1 said 0, for ever.
#[test]
fn a_pick_undone_on_another_device_while_the_hub_was_away() {
    let ops = [
        Op::SignIn(0, 1),
        Op::SignIn(1, 3),
        Op::Sync(0),
        Op::Sync(1),
        Op::Pick(0, 0),
        Op::Pick(1, 0),
        Op::Undo(1, 0),
        Op::Sync(1),
        Op::Sync(0),
        Op::Sync(1),
        Op::Sync(0),
    ];
    let w = scenario(&ops, vec![0, 0, 0], &[]);
    assert_one_truth(&w);
    // vault-2's supervisor took back vault-2's pick; vault-1's stands.
    assert_eq!(w.merger.state().picked(), 1);
    assert_eq!(
        w.merger.state().picks_of(&tag(0)),
        vec![EventRef {
            device: "vault-1".into(),
            seq: 1
        }]
    );
}

/// A pick made with nobody signed in is held by the hub and counted nowhere, a
/// picker's ruling on it is held too, and a supervisor's acceptance makes it count on
/// every device and the hub, whatever order they sync in.
#[test]
fn a_held_pick_counts_everywhere_once_a_supervisor_accepts_it() {
    let first = [
        Op::Pick(0, 0),   // vault-1, nobody signed in: held
        Op::SignIn(1, 1), // Pia on vault-2
        Op::Pick(1, 3),   // counts
        Op::Sync(0),
        Op::Sync(1),
        Op::Rule(1, 0, true), // Pia may not rule: her ruling is held too
        Op::Sync(1),
        Op::Sync(0),
    ];
    let w = scenario(&first, vec![0, 40, -40], &[2, 1, 0]);
    assert_one_truth(&w);
    assert_eq!(w.merger.state().picked(), 1);
    let pending = Rulings::of(&w.hub).pending();
    assert_eq!(pending.len(), 2, "{pending:?}");
    let held: Vec<_> = w
        .merger
        .view(&w.list)
        .exceptions
        .into_iter()
        .filter(|e| matches!(e.kind, tagtally::domain::merge::ExceptionKind::Held { .. }))
        .collect();
    assert_eq!(held.len(), 2, "{held:?}");

    let mut then = first.to_vec();
    then.extend([
        Op::SignIn(2, 3), // Sam on the dock accepts vault-1's pick
        Op::Sync(2),
        Op::Rule(2, 0, true),
    ]);
    let w = scenario(&then, vec![0, 40, -40], &[1, 2, 0]);
    assert_one_truth(&w);
    assert_eq!(w.merger.state().picked(), 2);
    assert!(w.merger.state().is_picked(&tag(0)));
}
