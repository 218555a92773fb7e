//! What a scan costs, from the pure verdict to the durable answer.
//!
//! - `verdict_only/{50,500,5000}`: [`decide`] alone, no IO, for orders of 50, 500 and
//!   5,000 allocated packages, over a rotating mix of scans (allocated and not yet
//!   picked, not on the list, wrong batch). It should take microseconds whatever the
//!   size of the order.
//! - `import_20000_packages`: parsing 20,000 synthetic Metrc packages and importing them
//!   into a fresh SQLite file.
//! - `scan_to_durable_verdict`: one scanner line through [`PickSession::scan`] on a file
//!   database of 20,000 packages and an order of 500: tag facts looked up, verdict
//!   decided, event committed (WAL, `synchronous=FULL`), answer built. Most scans are
//!   rejected (not on the list, wrong batch, already scanned) so the order never runs
//!   out; one in eight is an allocated tag, accepted while the order has tags left.
//!   Every scan records one event. After criterion, 2,000 scans on a fresh database are
//!   timed one by one and their p50, p99 and max printed to stdout; then 2,000 more
//!   with a sync writing beside them on its own connection, as hard as it can: the
//!   hub's full package list (20,000) and batches of 2,000 other devices' events,
//!   over and over (`beside a sync`), so the p99 shows how long a scan waits for the
//!   sync's transactions.
//!
//! Run with `cargo bench --bench pick`. Databases live under Cargo's target tmp
//! directory, on the same disk as the build, so each commit really reaches the disk.
//! `cargo test --benches` runs each benchmark once and times only 20 scans.

use std::collections::{HashMap, HashSet};
use std::hint::black_box;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use criterion::{BatchSize, BenchmarkId, Criterion, criterion_group};
use tagtally::app::pick::{Answer, PickSession};
use tagtally::domain::pick::{PickList, PickState, TagFacts, decide};
use tagtally::domain::{Order, Package, Rules};
use tagtally::import;
use tagtally::scan::Frame;
use tagtally::store::Store;
use tagtally::synthetic;
use tagtally::tag::{MetrcTag, TagParser};
use tempfile::TempDir;

/// Packages in the facility for the import and full-path benchmarks.
const PACKAGES: usize = 20_000;
/// Allocated packages of the order picked in the full-path benchmark.
const ORDER_SIZE: usize = 500;
/// Orders measured by `verdict_only`.
const VERDICT_ORDER_SIZES: [usize; 3] = [50, 500, 5_000];
/// Packages behind `verdict_only`: enough for the largest order (`synthetic::order_json`
/// needs 100 per 20 allocated) with unallocated packages of its batches left over.
const VERDICT_PACKAGES: usize = 30_000;
/// Sample tags of each kind in a rotation.
const SAMPLES_PER_KIND: usize = 16;
const ORDER_NUMBER: &str = "BENCH";
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// A synthetic facility: its packages and one order allocated from them.
struct Facility {
    packages: Vec<Package>,
    order: Order,
}

/// Sample tags of each kind of scan, spread over the facility.
struct Samples {
    /// Allocated to the order and eligible: accepted while not yet picked.
    allocated: Vec<MetrcTag>,
    /// Known packages of an item on the order, from another batch.
    wrong_batch: Vec<MetrcTag>,
    /// Packages of a line's batch that are not allocated.
    same_batch: Vec<MetrcTag>,
    /// Tags of no imported package.
    unknown: Vec<MetrcTag>,
}

impl Facility {
    fn new(packages: Vec<Package>, allocated: usize) -> Self {
        Facility {
            order: order(allocated, packages.len()),
            packages,
        }
    }

    /// The line each allocated tag is on.
    fn allocations(&self) -> HashMap<MetrcTag, String> {
        self.order.allocations().map(|a| (a.tag, a.line)).collect()
    }

    /// The allocated tags whose package may ship on `today`, in package order.
    fn eligible_allocated(&self, today: NaiveDate) -> Vec<MetrcTag> {
        let allocations = self.allocations();
        let rules = Rules::default();
        self.packages
            .iter()
            .filter(|p| allocations.contains_key(&p.label))
            .filter(|p| p.ineligibility(&rules, today).is_none())
            .map(|p| p.label.clone())
            .collect()
    }

    /// At most `per_kind` tags of each kind, evenly spread over the facility.
    fn samples(&self, per_kind: usize, today: NaiveDate) -> Samples {
        let allocations = self.allocations();
        let batches: HashSet<&str> = self
            .order
            .lines
            .iter()
            .filter_map(|l| l.batch.as_deref())
            .collect();
        let (same_batch, wrong_batch): (Vec<&Package>, Vec<&Package>) = self
            .packages
            .iter()
            .filter(|p| !allocations.contains_key(&p.label))
            .partition(|p| p.batch.as_deref().is_some_and(|b| batches.contains(b)));
        let labels = |ps: Vec<&Package>| ps.into_iter().map(|p| p.label.clone()).collect();
        Samples {
            allocated: spread(self.eligible_allocated(today), per_kind),
            wrong_batch: spread(labels(wrong_batch), per_kind),
            same_batch: spread(labels(same_batch), per_kind),
            unknown: (0..per_kind)
                .map(|i| synthetic_tag(self.packages.len() + i))
                .collect(),
        }
    }

    /// What the store would answer for `tag`, as `Store::tag_facts` does.
    fn facts(&self, tag: &MetrcTag, allocations: &HashMap<MetrcTag, String>) -> TagFacts {
        TagFacts {
            package: self.packages.iter().find(|p| p.label == *tag).cloned(),
            allocated_to: allocations
                .get(tag)
                .map(|line| vec![(self.order.number.clone(), line.clone())])
                .unwrap_or_default(),
        }
    }
}

fn packages(count: usize) -> Vec<Package> {
    let json = synthetic::packages_json(count).to_string();
    import::metrc::parse("bench-packages.json", json.as_bytes()).expect("synthetic packages parse")
}

fn order(allocated: usize, packages: usize) -> Order {
    let json = synthetic::order_json(ORDER_NUMBER, allocated, packages).to_string();
    import::parse_orders("bench-order.json", json.as_bytes())
        .expect("synthetic order parses")
        .remove(0)
}

fn synthetic_tag(n: usize) -> MetrcTag {
    MetrcTag::new(&synthetic::tag(n)).expect("synthetic tags are Metrc tags")
}

/// At most `count` of `items`, evenly spaced.
fn spread<T>(items: Vec<T>, count: usize) -> Vec<T> {
    let step = (items.len() / count).max(1);
    items.into_iter().step_by(step).take(count).collect()
}

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 27).expect("a valid date")
}

fn verdict_only(c: &mut Criterion) {
    let today = today();
    let rules = Rules::default();
    let parser = TagParser::default();
    let mut group = c.benchmark_group("verdict_only");
    let packages = packages(VERDICT_PACKAGES);
    for size in VERDICT_ORDER_SIZES {
        let facility = Facility::new(packages.clone(), size);
        let allocations = facility.allocations();
        let by_tag: HashMap<MetrcTag, Package> = facility
            .packages
            .iter()
            .filter(|p| allocations.contains_key(&p.label))
            .map(|p| (p.label.clone(), p.clone()))
            .collect();
        let list = PickList::new(&facility.order, &by_tag);
        let state = PickState::default();
        let samples = facility.samples(SAMPLES_PER_KIND, today);
        // Rotate: allocated, same batch (not on list), wrong batch, unknown (not on list).
        let kinds = [
            (&samples.allocated, "accepted"),
            (&samples.same_batch, "not_on_list"),
            (&samples.wrong_batch, "wrong_batch"),
            (&samples.unknown, "not_on_list"),
        ];
        let mut scans = Vec::new();
        for i in 0..SAMPLES_PER_KIND {
            for (tags, expected) in kinds {
                let tag = &tags[i % tags.len()];
                let scan = parser.parse(tag.as_str().as_bytes());
                let facts = facility.facts(tag, &allocations);
                let verdict = decide(&list, &state, &scan, &facts, &rules, today);
                assert_eq!(verdict.word(), expected, "{tag}: {verdict:?}");
                scans.push((scan, facts));
            }
        }
        group.bench_with_input(BenchmarkId::from_parameter(size), &scans, |b, scans| {
            let mut next = scans.iter().cycle();
            b.iter(|| {
                let (scan, facts) = next.next().expect("a cycle over a non-empty list");
                decide(
                    black_box(&list),
                    black_box(&state),
                    black_box(scan),
                    black_box(facts),
                    &rules,
                    today,
                )
            });
        });
    }
    group.finish();
}

/// A fresh, empty database in a new directory under Cargo's target tmp directory.
fn fresh_store() -> (TempDir, Store) {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("temporary directory");
    let store = Store::open(&dir.path().join("tagtally.db"), BUSY_TIMEOUT).expect("open store");
    (dir, store)
}

fn import_20000_packages(c: &mut Criterion) {
    let json = synthetic::packages_json(PACKAGES).to_string();
    c.bench_function("import_20000_packages", |b| {
        b.iter_batched(
            fresh_store,
            |(dir, mut store)| {
                let packages = import::metrc::parse("bench-packages.json", json.as_bytes())
                    .expect("synthetic packages parse");
                let outcome = store.import_packages(&packages).expect("import packages");
                assert_eq!(outcome.new, PACKAGES);
                // Returned so the database is closed and deleted outside the timing.
                (dir, store)
            },
            BatchSize::PerIteration,
        );
    });
}

/// A file database holding the facility and its order.
fn picking_store(facility: &Facility) -> (TempDir, Store) {
    let (dir, mut store) = fresh_store();
    store
        .import_packages(&facility.packages)
        .expect("import packages");
    store
        .import_orders(std::slice::from_ref(&facility.order))
        .expect("import order");
    (dir, store)
}

/// Scanner lines for the full path, in a fixed rotation of eight: one allocated tag
/// (while any is left, then a repeat), two repeats of accepted tags (already scanned)
/// and five rejected tags (not on the list, wrong batch).
struct ScanMix {
    to_pick: Vec<Frame>,
    picked: Vec<Frame>,
    rejected: Vec<Frame>,
    turn: usize,
}

impl ScanMix {
    fn new(facility: &Facility) -> Self {
        let today = chrono::Local::now().date_naive();
        let samples = facility.samples(SAMPLES_PER_KIND, today);
        let mut rejected = Vec::new();
        for i in 0..SAMPLES_PER_KIND {
            for tags in [&samples.same_batch, &samples.wrong_batch, &samples.unknown] {
                rejected.push(frame(&tags[i % tags.len()]));
            }
        }
        let mut to_pick: Vec<Frame> = facility
            .eligible_allocated(today)
            .iter()
            .map(frame)
            .collect();
        to_pick.reverse();
        ScanMix {
            to_pick,
            picked: Vec::new(),
            rejected,
            turn: 0,
        }
    }

    fn next(&mut self) -> Frame {
        self.turn += 1;
        let pick = match self.turn % 8 {
            0 => self.to_pick.pop(),
            _ => None,
        };
        pick.unwrap_or_else(|| {
            let repeat = match self.turn % 8 {
                0 | 3 | 6 if !self.picked.is_empty() => {
                    Some(&self.picked[self.turn % self.picked.len()])
                }
                _ => None,
            };
            repeat
                .unwrap_or(&self.rejected[self.turn % self.rejected.len()])
                .clone()
        })
    }

    /// Note what `frame` got, so accepted tags come back as repeats.
    fn answered(&mut self, frame: Frame, answer: &Answer) {
        if answer.verdict == "accepted" {
            self.picked.push(frame);
        }
    }
}

fn frame(tag: &MetrcTag) -> Frame {
    let bytes = tag.as_str().as_bytes().to_vec();
    Frame {
        len: bytes.len(),
        bytes,
    }
}

fn open_session(store: &mut Store) -> PickSession<'_> {
    PickSession::open(store, ORDER_NUMBER, TagParser::default(), Rules::default())
        .expect("open the bench order")
}

fn scan_to_durable_verdict(c: &mut Criterion) {
    let facility = Facility::new(packages(PACKAGES), ORDER_SIZE);
    let (_dir, mut store) = picking_store(&facility);
    let mut session = open_session(&mut store);
    let mut mix = ScanMix::new(&facility);
    c.bench_function("scan_to_durable_verdict", |b| {
        b.iter(|| {
            let frame = mix.next();
            let answer = session.scan(black_box(&frame)).expect("scan recorded");
            mix.answered(frame, &answer);
            answer
        });
    });
}

/// Time `count` scans one by one on a fresh database and print p50, p99 and max;
/// with `sync`, while another connection writes what a sync writes, without pause.
fn scan_percentiles(count: usize, sync: bool) {
    let facility = Facility::new(packages(PACKAGES), ORDER_SIZE);
    let (dir, mut store) = picking_store(&facility);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let syncer = sync.then(|| {
        let path = store.path().to_path_buf();
        let (stop, packages, order) = (
            stop.clone(),
            facility.packages.clone(),
            facility.order.clone(),
        );
        std::thread::spawn(move || {
            let mut other = Store::open(&path, BUSY_TIMEOUT).expect("a second connection");
            let events: Vec<tagtally::domain::Event> = (0..2_000)
                .map(|i| tagtally::domain::Event {
                    device: "vault-2".into(),
                    seq: i + 1,
                    at: "2026-12-01T10:00:00.000Z".into(),
                    order: ORDER_NUMBER.into(),
                    person: None,
                    kind: tagtally::domain::EventKind::scan(
                        b"junk",
                        4,
                        None,
                        tagtally::domain::Verdict::NotATag {
                            reason: tagtally::tag::NotATag::Malformed,
                        },
                    ),
                })
                .collect();
            let mut rounds = 0u32;
            let mut offset = 0i64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                other
                    .apply_hub_snapshot(std::slice::from_ref(&order), &packages)
                    .expect("snapshot applied");
                // New events each round (their sequence numbers move on).
                let batch: Vec<_> = events
                    .iter()
                    .map(|e| tagtally::domain::Event {
                        seq: e.seq + offset,
                        ..e.clone()
                    })
                    .collect();
                offset += batch.len() as i64;
                other
                    .record_sync(ORDER_NUMBER, &[], &batch, &[], offset)
                    .expect("events taken in");
                rounds += 1;
            }
            rounds
        })
    });
    let mut session = open_session(&mut store);
    let mut mix = ScanMix::new(&facility);
    let mut times = Vec::with_capacity(count);
    for _ in 0..count {
        let frame = mix.next();
        let start = Instant::now();
        let answer = session.scan(&frame).expect("scan recorded");
        times.push(start.elapsed());
        mix.answered(frame, &answer);
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let rounds = syncer.map(|s| s.join().expect("the sync thread ends"));
    drop(session);
    drop(store);
    drop(dir);
    times.sort_unstable();
    // Nearest rank: the smallest time at or above the given share of scans.
    let rank = |p: usize| times[(count * p).div_ceil(100).max(1) - 1];
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let beside = match rounds {
        Some(r) => format!(" beside a sync ({r} rounds of 20,000 packages and 2,000 events)"),
        None => String::new(),
    };
    println!(
        "scan_to_durable_verdict{beside}: p50 = {:.0} us, p99 = {:.0} us, max = {:.0} us (n = {count})",
        us(rank(50)),
        us(rank(99)),
        us(times[count - 1]),
    );
}

criterion_group!(verdict, verdict_only);
criterion_group! {
    name = store_import;
    // About 130 ms an import: ten samples need more than the default five seconds.
    config = Criterion::default()
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    targets = import_20000_packages
}
criterion_group!(full_path, scan_to_durable_verdict);

fn main() {
    verdict();
    store_import();
    full_path();
    // `cargo bench` passes `--bench`; `cargo test --benches` does not, and only checks
    // that everything runs.
    let bench_mode = std::env::args().any(|a| a == "--bench");
    scan_percentiles(if bench_mode { 2_000 } else { 20 }, false);
    scan_percentiles(if bench_mode { 2_000 } else { 20 }, true);
    Criterion::default().configure_from_args().final_summary();
}
