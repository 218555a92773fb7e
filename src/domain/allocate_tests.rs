use super::*;
use crate::domain::package::tests::pkg;
use crate::domain::{Line, Rules};

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

const TODAY: &str = "2026-12-01";

fn tag(n: u32) -> MetrcTag {
    MetrcTag::new(&format!("1A40000000000000000{n:05}")).unwrap()
}

/// A package: number, batch, quantity, unit, expiry (days from today), packaged.
fn p(n: u32, batch: &str, q: f64, unit: &str, expires_in: Option<i64>) -> Package {
    let mut p = pkg(tag(n).as_str(), "Blue Dream 3.5g", batch);
    p.quantity = q;
    p.unit = unit.into();
    p.expiration = expires_in.map(|d| day(TODAY) + chrono::Duration::days(d));
    p
}

fn line(q: &str, unit: &str) -> Line {
    Line {
        id: "1".into(),
        sku: Some("BD-35".into()),
        name: Some("Blue Dream 3.5g".into()),
        quantity: Some(q.into()),
        unit: Some(unit.into()),
        batch: None,
        unit_price_cents: None,
        tags: vec![],
    }
}

fn need_of(q: &str, unit: &str) -> Need {
    need(&line(q, unit), None, &[]).unwrap().unwrap()
}

fn run(n: &Need, pkgs: &[Package], held: &[(u32, &str)]) -> (Proposal, Excluded) {
    let held: HashMap<MetrcTag, String> =
        held.iter().map(|(t, o)| (tag(*t), o.to_string())).collect();
    propose(n, pkgs, &held, &Rules::default(), day(TODAY))
}

fn fit_tags(p: &Proposal) -> Option<(String, Vec<u32>)> {
    match p {
        Proposal::Fit(f) => Some((
            f.batch.clone(),
            f.tags()
                .iter()
                .map(|t| t.as_str()[19..].parse().unwrap())
                .collect(),
        )),
        Proposal::NoFit { .. } => None,
    }
}

#[test]
fn units_convert_to_the_smallest_unit() {
    // (quantity, unit, measure, units)
    let cases = [
        (3.5, "Grams", Measure::Mass, 3_500),
        (1.0, "g", Measure::Mass, 1_000),
        (1.0, "kg", Measure::Mass, 1_000_000),
        (1.0, "Ounces", Measure::Mass, 28_350),
        (1.0, "lb", Measure::Mass, 453_592),
        (0.25, "Pounds", Measure::Mass, 113_398),
        (12.0, "Each", Measure::Count, 12_000),
        (96.0, "Unit", Measure::Count, 96_000),
    ];
    for (q, u, m, units) in cases {
        assert_eq!(amount(q, u), Some(Amount { measure: m, units }), "{q} {u}");
    }
    assert_eq!(amount(1.0, "Fluid Ounces"), None);
    assert_eq!(show(3_500, "g"), "3.5 g");
    assert_eq!(show(2_000, "Each"), "2 Each");
}

#[test]
fn exact_fits_fewest_packages_one_batch() {
    // (case, need, packages, expected batch and tags, or none)
    type Case = (
        &'static str,
        Need,
        Vec<Package>,
        Option<(&'static str, Vec<u32>)>,
    );
    let cases: Vec<Case> = vec![
        (
            "one batch sums exactly",
            need_of("30", "Each"),
            vec![
                p(1, "B1", 10.0, "Each", None),
                p(2, "B1", 20.0, "Each", None),
            ],
            Some(("B1", vec![1, 2])),
        ),
        (
            "fewest packages within the batch",
            need_of("30", "Each"),
            vec![
                p(1, "B1", 10.0, "Each", None),
                p(2, "B1", 10.0, "Each", None),
                p(3, "B1", 10.0, "Each", None),
                p(4, "B1", 30.0, "Each", None),
            ],
            Some(("B1", vec![4])),
        ),
        (
            "never two batches: 10 + 20 across batches is no fit",
            need_of("30", "Each"),
            vec![
                p(1, "B1", 10.0, "Each", None),
                p(2, "B2", 20.0, "Each", None),
            ],
            None,
        ),
        (
            "unit conversion: 2 x 0.5 lb packages fill 1 lb",
            need_of("1", "lb"),
            vec![p(1, "B1", 0.5, "lb", None), p(2, "B1", 0.5, "lb", None)],
            Some(("B1", vec![1, 2])),
        ),
        (
            "unit conversion: 1000 g packages fill 1 kg",
            need_of("1", "kg"),
            vec![
                p(1, "B1", 400.0, "Grams", None),
                p(2, "B1", 600.0, "Grams", None),
            ],
            Some(("B1", vec![1, 2])),
        ),
        (
            "an ounce is 28.35 g, not 28",
            need_of("1", "oz"),
            vec![p(1, "B1", 28.0, "Grams", None)],
            None,
        ),
        (
            "a count never fills a mass",
            need_of("2", "g"),
            vec![p(1, "B1", 2.0, "Each", None)],
            None,
        ),
    ];
    for (case, n, pkgs, want) in cases {
        let (got, _) = run(&n, &pkgs, &[]);
        let want = want.map(|(b, t)| (b.to_string(), t));
        assert_eq!(fit_tags(&got), want, "{case}");
    }
}

#[test]
fn fefo_then_packaged_date_then_fewest() {
    let n = need_of("20", "Each");
    // B2 expires first even though B1 fits in fewer packages.
    let pkgs = vec![
        p(1, "B1", 20.0, "Each", Some(300)),
        p(2, "B2", 10.0, "Each", Some(100)),
        p(3, "B2", 10.0, "Each", Some(100)),
    ];
    assert_eq!(
        fit_tags(&run(&n, &pkgs, &[]).0),
        Some(("B2".into(), vec![2, 3]))
    );
    // Same expiry: the older packaged date first.
    let mut pkgs = vec![
        p(1, "B1", 20.0, "Each", Some(100)),
        p(2, "B2", 20.0, "Each", Some(100)),
    ];
    pkgs[0].packaged = Some(day("2026-06-01"));
    pkgs[1].packaged = Some(day("2026-05-01"));
    assert_eq!(
        fit_tags(&run(&n, &pkgs, &[]).0),
        Some(("B2".into(), vec![2]))
    );
    // Same dates: the fewest packages.
    let pkgs = vec![
        p(1, "B1", 10.0, "Each", Some(100)),
        p(2, "B1", 10.0, "Each", Some(100)),
        p(3, "B2", 20.0, "Each", Some(100)),
    ];
    assert_eq!(
        fit_tags(&run(&n, &pkgs, &[]).0),
        Some(("B2".into(), vec![3]))
    );
}

#[test]
fn nothing_eligible_says_why() {
    let n = need_of("10", "Each");
    let mut held = p(1, "B1", 10.0, "Each", None);
    held.on_hold = true;
    let mut failed = p(2, "B1", 10.0, "Each", None);
    failed.lab_state = "TestFailed".into();
    let expired = p(3, "B1", 10.0, "Each", Some(-1));
    let mut finished = p(4, "B1", 10.0, "Each", None);
    finished.finished = true;
    let elsewhere = p(5, "B1", 10.0, "Each", None);
    let mut recall = p(6, "B1", 10.0, "Each", None);
    recall.on_recall = true;
    let (got, excluded) = run(
        &n,
        &[held, failed, expired, finished, elsewhere, recall],
        &[(5, "SO-9")],
    );
    assert_eq!(got, Proposal::NoFit { closest: vec![] });
    let want: Excluded = [
        ("allocated_elsewhere", 1),
        ("expired", 1),
        ("finished", 1),
        ("lab_state", 1),
        ("on_hold", 1),
        ("recall", 1),
    ]
    .into_iter()
    .collect();
    assert_eq!(excluded, want);
}

#[test]
fn a_package_allocated_elsewhere_is_never_proposed() {
    let n = need_of("10", "Each");
    let pkgs = vec![
        p(1, "B1", 10.0, "Each", Some(10)),
        p(2, "B2", 10.0, "Each", Some(200)),
    ];
    // Package 1 would win by FEFO, but another open order holds it.
    assert_eq!(
        fit_tags(&run(&n, &pkgs, &[(1, "SO-2")]).0),
        Some(("B2".into(), vec![2]))
    );
}

#[test]
fn near_expiry_only_when_nothing_else_fits() {
    let n = need_of("10", "Each");
    // Package 1 expires in 5 days (within 30): B2 is proposed although later.
    let pkgs = vec![
        p(1, "B1", 10.0, "Each", Some(5)),
        p(2, "B2", 10.0, "Each", Some(200)),
    ];
    let (got, excluded) = run(&n, &pkgs, &[]);
    assert_eq!(fit_tags(&got), Some(("B2".into(), vec![2])));
    assert_eq!(excluded.get("near_expiry_kept_back"), Some(&1));
    // Only the near-expiry one fits: it is proposed, and the proposal says so.
    let pkgs = vec![
        p(1, "B1", 10.0, "Each", Some(5)),
        p(2, "B2", 4.0, "Each", Some(200)),
    ];
    let Proposal::Fit(f) = run(&n, &pkgs, &[]).0 else {
        panic!("near-expiry fit expected")
    };
    assert!(f.near_expiry);
    assert_eq!(f.packages[0].expires_in_days, Some(5));
}

#[test]
fn no_fit_shows_the_closest_batches_and_what_to_split() {
    let n = need_of("25", "Each");
    let pkgs = vec![
        p(1, "B1", 10.0, "Each", None),
        p(2, "B1", 20.0, "Each", None),
        p(3, "B2", 24.0, "Each", None),
        p(4, "B3", 5.0, "Each", None),
    ];
    let Proposal::NoFit { closest } = run(&n, &pkgs, &[]).0 else {
        panic!("no fit expected")
    };
    let names: Vec<&str> = closest.iter().map(|c| c.batch.as_str()).collect();
    assert_eq!(names, ["B2", "B1", "B3"]);
    assert_eq!(closest[0].shortfall.as_deref(), Some("1 Each"));
    assert_eq!(closest[0].surplus, None);
    // B1: 30 is 5 over; split 5 off package 1 (10 > 5, the smallest that can).
    assert_eq!(closest[1].surplus.as_deref(), Some("5 Each"));
    assert_eq!(closest[1].split, Some(tag(1)));
    assert_eq!(closest[1].shortfall.as_deref(), Some("5 Each"));
}

#[test]
fn the_line_batch_and_what_is_allocated_already_count() {
    let mut l = line("30", "Each");
    let have = p(1, "B2", 10.0, "Each", None);
    let n = need(&l, None, &[&have]).unwrap().unwrap();
    assert_eq!((n.units, n.batch.as_deref()), (20_000, Some("B2")));
    let pkgs = vec![
        p(2, "B1", 20.0, "Each", None),
        p(3, "B2", 20.0, "Each", None),
    ];
    assert_eq!(
        fit_tags(&run(&n, &pkgs, &[]).0),
        Some(("B2".into(), vec![3]))
    );
    l.quantity = Some("10".into());
    assert_eq!(need(&l, None, &[&have]), Ok(None));
    l.quantity = None;
    assert_eq!(need(&l, None, &[]), Err(NeedError::NoQuantity));
    assert_eq!(
        need(&l, None, &[&have]),
        Ok(None),
        "an import's allocation stands"
    );
    let mut l = line("1", "Fluid Ounces");
    assert!(matches!(
        need(&l, None, &[]),
        Err(NeedError::UnknownUnit { .. })
    ));
    l.unit = Some("g".into());
    l.name = None;
    assert_eq!(need(&l, None, &[]), Err(NeedError::NoItem));
    let n = need(&l, Some("Blue Dream 3.5g"), &[]).unwrap().unwrap();
    assert_eq!(n.items, vec!["blue dream 3.5g".to_string()]);
}

#[test]
fn the_search_is_bounded_and_exact() {
    assert_eq!(
        search(&[3, 5, 7], 12),
        Search::Done {
            exact: Some(vec![1, 2]),
            below: Some((10, vec![0, 2])),
            above: Some((15, vec![0, 1, 2])),
        }
    );
    assert_eq!(exact(&[3, 5, 7], 12), Some(vec![1, 2]));
    assert_eq!(exact(&[4, 6, 8], 11), None, "odd target, even quantities");
    assert_eq!(exact(&[4, 6], 11), None, "too little in all");
    // Coprime quantities and a huge target: more cells than the bound.
    assert_eq!(search(&[1_000_001; 10], 9_999_999_999), Search::TooLarge);
}

#[test]
fn chosen_packages_are_refused_by_the_rule_they_break() {
    let n = need_of("20", "Each");
    let mut on_hold = p(2, "B1", 10.0, "Each", None);
    on_hold.on_hold = true;
    let mut other_item = p(3, "B1", 10.0, "Each", None);
    other_item.item = "OG Kush".into();
    let found: HashMap<MetrcTag, Package> = [
        p(1, "B1", 10.0, "Each", None),
        on_hold,
        other_item,
        p(4, "B2", 10.0, "Each", None),
        p(5, "B1", 10.0, "Each", None),
        p(6, "B1", 10.0, "Each", None),
    ]
    .into_iter()
    .map(|p| (p.label.clone(), p))
    .collect();
    let held: HashMap<MetrcTag, String> = [(tag(5), "SO-2".to_string())].into_iter().collect();
    let r = Rules::default();
    let check = |tags: &[u32]| {
        let tags: Vec<MetrcTag> = tags.iter().map(|t| tag(*t)).collect();
        check_chosen(&n, &tags, &found, &held, &r, day(TODAY))
    };
    assert_eq!(check(&[1, 6]).unwrap().tags(), vec![tag(1), tag(6)]);
    let words = |tags: &[u32]| -> Vec<String> {
        check(tags)
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect()
    };
    assert_eq!(
        words(&[2]),
        [format!("package {} breaks the pick rules: on_hold", tag(2))]
    );
    assert!(words(&[3])[0].contains("not the line's item"));
    assert!(words(&[5])[0].contains("already allocated to open order SO-2"));
    assert!(words(&[1, 4])[0].contains("2 batches (B1, B2): one batch per line"));
    assert!(words(&[1])[0].contains("hold 10 Each, the line needs 20 Each"));
    assert!(words(&[1, 1])[0].contains("given twice"));
    assert!(words(&[9])[0].contains("not in the package data"));
}
