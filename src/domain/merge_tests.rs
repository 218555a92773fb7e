//! Table tests of the merge (`domain::merge`).

use super::*;
use crate::domain::order::{Line, Order, OrderStatus};
use crate::domain::package::tests::pkg;

const A: &str = "1A4000000000000000000001";
const B: &str = "1A4000000000000000000002";
const H: &str = "1A4000000000000000000003"; // on hold at the hub
const X: &str = "1A4000000000000000000009"; // not allocated here

fn t(s: &str) -> MetrcTag {
    MetrcTag::new(s).unwrap()
}

fn world() -> (PickList, HashMap<MetrcTag, Package>) {
    let mut packages = HashMap::new();
    for p in [
        pkg(A, "Blue Dream 3.5g", "BD-1"),
        pkg(B, "Blue Dream 3.5g", "BD-1"),
        Package {
            on_hold: true,
            ..pkg(H, "Blue Dream 3.5g", "BD-1")
        },
    ] {
        packages.insert(p.label.clone(), p);
    }
    let order = Order {
        delivery_address: None,
        number: "SO-1".into(),
        short_id: None,
        status: OrderStatus("Accepted".into()),
        buyer: "Green Door".into(),
        buyer_license: None,
        buyer_license_inactive: false,
        ship_date: None,
        lines: vec![Line {
            unit_price_cents: None,
            id: "1".into(),
            sku: None,
            name: None,
            quantity: None,
            unit: None,
            batch: Some("BD-1".into()),
            tags: vec![t(A), t(B), t(H)],
        }],
    };
    (PickList::new(&order, &packages), packages)
}

fn ev(device: &str, seq: i64, kind: EventKind) -> Event {
    Event {
        person: None,
        device: device.into(),
        seq,
        at: "2026-11-27T00:00:00.000Z".into(),
        order: "SO-1".into(),
        kind,
    }
}

fn pick(device: &str, seq: i64, tag: &str) -> Event {
    ev(
        device,
        seq,
        EventKind::scan(
            tag.as_bytes(),
            tag.len(),
            Some(t(tag)),
            Verdict::Accepted {
                line: "1".into(),
                expires_in_days: None,
            },
        ),
    )
}

fn undo(device: &str, seq: i64, tag: &str) -> Event {
    ev(
        device,
        seq,
        EventKind::Undo {
            tag: t(tag),
            reason: "wrong".into(),
            undoes: vec![],
        },
    )
}

fn rejected(device: &str, seq: i64) -> Event {
    ev(
        device,
        seq,
        EventKind::scan(
            b"junk",
            4,
            None,
            Verdict::NotATag {
                reason: crate::tag::NotATag::Malformed,
            },
        ),
    )
}

fn short(device: &str, seq: i64) -> Event {
    ev(
        device,
        seq,
        EventKind::Short {
            line: "1".into(),
            reason: "damaged".into(),
        },
    )
}

/// (case, events in arrival order, picked count, exceptions as (device, seq, word))
type Case = (
    &'static str,
    Vec<Event>,
    usize,
    Vec<(&'static str, i64, &'static str)>,
);

#[test]
fn merge_table() {
    let (list, packages) = world();
    let table: Vec<Case> = vec![
        ("nothing", vec![], 0, vec![]),
        (
            "one device, two picks",
            vec![pick("d1", 1, A), pick("d1", 2, B)],
            2,
            vec![],
        ),
        (
            "two devices, different tags",
            vec![pick("d1", 1, A), pick("d2", 1, B)],
            2,
            vec![],
        ),
        (
            "two devices, same tag: counted once, second is an exception",
            vec![pick("d1", 1, A), pick("d2", 1, A)],
            1,
            vec![("d2", 1, "already_picked")],
        ),
        (
            "the fold order decides who was first, not the arrival",
            vec![pick("d2", 7, A), pick("d1", 1, A)],
            1,
            vec![("d2", 7, "already_picked")],
        ),
        (
            "undo frees the tag for a clean pick",
            vec![pick("d1", 1, A), undo("d1", 2, A), pick("d2", 1, A)],
            1,
            vec![],
        ),
        (
            "picked while the hub holds it: counted, flagged",
            vec![pick("d1", 1, H)],
            1,
            vec![("d1", 1, "ineligible")],
        ),
        (
            "picked tag the hub does not allocate here",
            vec![pick("d1", 1, X)],
            1,
            vec![("d1", 1, "not_allocated")],
        ),
        (
            "rejected scans and shorts change no picks",
            vec![rejected("d1", 1), short("d2", 1), pick("d1", 2, A)],
            1,
            vec![],
        ),
    ];
    for (case, events, picked, expected) in table {
        let m = merge(&list, &packages, &Rules::default(), day(), &events);
        assert_eq!(m.state().picked(), picked, "{case}");
        let got: Vec<(&str, i64, String)> = m
            .exceptions()
            .iter()
            .map(|e| {
                let word = serde_json::to_value(&e.kind).unwrap()["exception"]
                    .as_str()
                    .unwrap()
                    .to_string();
                (e.device.as_str(), e.seq, word)
            })
            .collect();
        let expected: Vec<(&str, i64, String)> = expected
            .into_iter()
            .map(|(d, s, w)| (d, s, w.to_string()))
            .collect();
        assert_eq!(got, expected, "{case}");
        // The counted state is the device's fold (its store reads the events in
        // fold order), in whichever order they arrived: devices and hub agree.
        let mut sorted = events.clone();
        sorted.reverse();
        fold_order(&mut sorted);
        let mut plain = PickState::default();
        for e in &sorted {
            plain.apply(e);
        }
        assert_eq!(plain.progress(&list), m.state().progress(&list), "{case}");
        assert_eq!(m.events(), events.len());
    }
}

#[test]
fn exceptions_name_the_first_device_and_serialise() {
    let (list, packages) = world();
    let m = merge(
        &list,
        &packages,
        &Rules::default(),
        day(),
        &[pick("d1", 3, A), pick("d2", 5, A)],
    );
    let e = &m.exceptions()[0];
    assert_eq!(
        e.kind,
        ExceptionKind::AlreadyPicked {
            by_device: "d1".into(),
            by_seq: 3
        }
    );
    assert!(e.message.contains("already picked on device d1"));
    let v = serde_json::to_value(m.view(&list)).unwrap();
    assert_eq!(v["picked"], 1);
    assert_eq!(v["exceptions"][0]["exception"], "already_picked");
    assert_eq!(v["exceptions"][0]["by_device"], "d1");
}

#[test]
fn incremental_equals_batch() {
    let (list, packages) = world();
    let events = vec![
        pick("d1", 1, A),
        pick("d2", 1, A),
        pick("d2", 2, H),
        undo("d1", 2, A),
        pick("d2", 3, A),
    ];
    let batch = merge(&list, &packages, &Rules::default(), day(), &events);
    // In fold order, one at a time, as the hub folds what arrives in order.
    let mut sorted = events.clone();
    fold_order(&mut sorted);
    let mut inc = Merger::new();
    let mut raised = 0;
    for e in &sorted {
        assert!(inc.in_order(e));
        raised += inc
            .apply(&list, &packages, &Rules::default(), day(), e)
            .len();
    }
    assert_eq!(inc.view(&list), batch.view(&list));
    assert_eq!(raised, batch.exceptions().len());
    // In arrival order: an event that sorts earlier asks for a fold from the
    // start, which gives the same.
    let mut hub = Merger::new();
    let mut seen = vec![];
    for e in &events {
        seen.push(e.clone());
        if !hub.fold_in(
            &list,
            &packages,
            &Rules::default(),
            day(),
            std::slice::from_ref(e),
        ) {
            hub = merge(&list, &packages, &Rules::default(), day(), &seen);
        }
    }
    assert_eq!(hub.view(&list), batch.view(&list));
}

fn day() -> NaiveDate {
    "2026-11-27".parse().unwrap()
}

#[test]
fn a_second_load_and_events_after_the_signature_become_exceptions() {
    use crate::domain::{Decision, Driver, LoadConfirm, RejectReason, Vehicle};
    let (list, packages) = world();
    let today = NaiveDate::from_ymd_opt(2026, 11, 27).unwrap();
    let confirm = |load: &str| {
        EventKind::LoadConfirm(Box::new(LoadConfirm {
            load: load.into(),
            orders: vec!["SO-1".into()],
            driver: Driver {
                name: "Dee".into(),
                occupational_license: "OL".into(),
                drivers_license: "DL".into(),
            },
            vehicle: Vehicle {
                make: "Ford".into(),
                model: "Transit".into(),
                plate: "P1".into(),
            },
            tags: vec![t(A)],
            manifest_pdf: None,
        }))
    };
    let handed = EventKind::DeliverScan {
        raw: A.as_bytes().to_vec(),
        raw_len: 24,
        tag: Some(t(A)),
        verdict: Verdict::HandedOver { line: "1".into() },
    };
    let events = [
        pick("vault", 1, A),
        ev("dock-1", 1, confirm("L1")),
        ev("dock-1", 2, confirm("L1")),
        ev("dock-2", 1, confirm("L2")),
        ev("van", 1, handed.clone()),
        ev(
            "van",
            2,
            EventKind::DeliverFinish {
                receiver: "Rae".into(),
                signature: "ab".into(),
            },
        ),
        ev(
            "van-2",
            1,
            EventKind::Decision {
                tag: t(A),
                decision: Decision::Rejected {
                    reason: RejectReason::Damaged,
                    note: None,
                },
            },
        ),
    ];
    let m = merge(&list, &packages, &Rules::default(), today, &events);
    let kinds: Vec<(&str, &ExceptionKind)> = m
        .exceptions()
        .iter()
        .map(|e| (e.device.as_str(), &e.kind))
        .collect();
    assert_eq!(
        kinds,
        [
            (
                "dock-2",
                &ExceptionKind::SecondLoad {
                    first_load: "L1".into(),
                    load: "L2".into()
                }
            ),
            ("van-2", &ExceptionKind::AfterDelivery),
        ]
    );
    assert!(m.exceptions()[0].message.contains("L1 stands"));
}

#[test]
fn an_event_after_the_close_is_an_exception_even_about_no_package() {
    let e = super::closed_order(&short("d1", 4)).unwrap();
    assert_eq!((e.tag, e.line.as_deref()), (None, Some("1")));
    assert_eq!(e.kind, ExceptionKind::ClosedOrder);
    assert!(e.message.contains("an event"), "{}", e.message);
    let p = super::closed_order(&pick("d1", 5, A)).unwrap();
    assert_eq!(p.tag, Some(t(A)));
    // The hub's own holds and a supervisor's rulings after the close are not.
    let hold = ev(
        "hub",
        1,
        EventKind::Hold {
            event: pick("d1", 5, A).id(),
            why: "recorded with nobody signed in".into(),
        },
    );
    assert!(super::closed_order(&hold).is_none());
}

#[test]
fn a_held_event_is_an_exception_and_not_counted_until_accepted() {
    let (list, packages) = world();
    let hold = ev(
        "hub",
        1,
        EventKind::Hold {
            event: pick("d1", 1, A).id(),
            why: "recorded with nobody signed in".into(),
        },
    );
    let m = merge(
        &list,
        &packages,
        &Rules::default(),
        day(),
        &[hold.clone(), pick("d1", 1, A)],
    );
    assert_eq!(m.state().picked(), 0);
    let e = &m.exceptions()[0];
    assert_eq!(
        e.kind,
        ExceptionKind::Held {
            event_kind: "scan".into(),
            why: "recorded with nobody signed in".into()
        }
    );
    assert_eq!((e.device.as_str(), e.seq), ("d1", 1));
    let v = serde_json::to_value(m.view(&list)).unwrap();
    assert_eq!(v["exceptions"][0]["exception"], "held");
    assert_eq!(m.events(), 2);
    // Incrementally: the hold arrives after the pick was folded; the merger asks to
    // fold again rather than count it.
    let mut inc = Merger::new();
    assert!(inc.fold_in(
        &list,
        &packages,
        &Rules::default(),
        day(),
        &[pick("d1", 1, A)]
    ));
    assert!(!inc.in_order(&hold));
    let accept = ev(
        "d2",
        1,
        EventKind::Ruling {
            event: pick("d1", 1, A).id(),
            accept: true,
            reason: String::new(),
        },
    );
    let m = merge(
        &list,
        &packages,
        &Rules::default(),
        day(),
        &[pick("d1", 1, A), hold, accept],
    );
    assert_eq!(m.state().picked(), 1);
    assert!(m.exceptions().is_empty());
}
