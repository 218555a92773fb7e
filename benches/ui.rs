//! Scan arriving -> verdict on screen, on the headless software renderer: the time from
//! the first key of a wedge scan to the next frame rendered with its banner and the
//! pick list moved on (the next package changed), for an order of 500 packages among
//! 20,000; then the list scrolled by the wheel, one frame rendered per step. Run with
//! `cargo bench --bench ui`.
//!
//! Prints p50, p99 and max over 200 scans and 200 scroll frames (5 each under `cargo
//! test --benches`).

use std::time::{Duration, Instant};

use slint::ComponentHandle;
use tagtally::app::station::Command;
use tagtally::config::Settings;
use tagtally::ui::headless::Headless;
use tagtally::ui::{App, AppAdapter, PickAdapter};

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let scans = if bench { 200 } else { 5 };
    tagtally::ui::sound::set_enabled(false);
    let dir = tempfile::tempdir().unwrap();
    let mut settings = Settings::default();
    settings.store.path = Some(dir.path().join("bench.db"));
    let mut store = tagtally::app::open_store(&settings).unwrap();
    let pkgs = tagtally::synthetic::packages_json(20_000).to_string();
    let pkgs = tagtally::import::metrc::parse("bench", pkgs.as_bytes()).unwrap();
    store.import_packages(&pkgs).unwrap();
    let order = tagtally::synthetic::order_json("BENCH", 500, 20_000).to_string();
    let orders = tagtally::import::parse_orders("bench", order.as_bytes()).unwrap();
    store.import_orders(&orders).unwrap();
    let allocated: Vec<String> = orders[0]
        .lines
        .iter()
        .flat_map(|l| l.tags.iter().map(|t| t.to_string()))
        .collect();

    let h = Headless::install(1280, 800).unwrap();
    let app = App::new(&settings, store, false).unwrap();
    app.window.show().unwrap();
    app.send(Command::OpenOrder("BENCH".into()));
    let wait = Duration::from_secs(30);
    assert!(
        h.pump_until(wait, || app.window.global::<AppAdapter>().get_screen()
            == "pick")
    );
    h.snapshot().unwrap();

    let mut times = Vec::with_capacity(scans);
    let mut next_allocated = allocated.iter().filter(|t| {
        // Skip the synthetic packages that are on hold or failed their lab test.
        let n = u64::from_str_radix(&t[7..], 16).unwrap();
        n % 50 != 49 && n % 70 != 69
    });
    for i in 0..scans {
        let pick = app.window.global::<PickAdapter>();
        let (tag, word) = if i % 2 == 0 {
            (next_allocated.next().unwrap().clone(), "ACCEPTED")
        } else {
            (format!("1A4FF01{:017X}", 900_000 + i), "NOT ON LIST")
        };
        let picked_before = pick.get_picked();
        let next_before = pick.get_next_tag_tail();
        let t0 = Instant::now();
        h.type_text(&format!("{tag}\n"));
        let ok = h.pump_until(wait, || {
            pick.get_banner_word() == word
                && (word != "ACCEPTED"
                    || (pick.get_picked() == picked_before + 1
                        && (pick.get_next_tag_tail() != next_before
                            || !tag.ends_with(next_before.as_str()))))
        });
        assert!(ok, "scan {i} ({tag}) did not show {word}");
        h.snapshot().unwrap();
        times.push(t0.elapsed());
    }
    report(
        "scan_to_verdict_on_screen",
        &mut times,
        "order of 500, 1280x800 software renderer",
    );

    // Scroll the pick list: one wheel step, one frame.
    app.window.global::<PickAdapter>().set_banner_visible(false);
    h.snapshot().unwrap();
    let mut frames = Vec::with_capacity(scans);
    for i in 0..scans {
        // Down through the list, back up every 50 steps.
        let dy = if (i / 50) % 2 == 0 { -60.0 } else { 60.0 };
        let t0 = Instant::now();
        h.scroll(640.0, 450.0, dy);
        h.pump();
        h.snapshot().unwrap();
        frames.push(t0.elapsed());
    }
    report(
        "pick_list_scroll_frame",
        &mut frames,
        "a list of ~250 packages to pull, 1280x800 software renderer, whole window",
    );
}

fn report(what: &str, times: &mut [Duration], note: &str) {
    times.sort();
    let pct = |p: f64| times[((times.len() as f64 * p) as usize).min(times.len() - 1)];
    println!(
        "{what}: p50 = {:.1} ms, p99 = {:.1} ms, max = {:.1} ms (n = {}, {note})",
        pct(0.50).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
        times.last().unwrap().as_secs_f64() * 1e3,
        times.len()
    );
}
