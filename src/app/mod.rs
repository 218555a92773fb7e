//! What the commands do, as library functions, so tests drive exactly what users run.
//! `main.rs` only parses arguments and calls these.

pub mod allocate;
pub mod board;
pub mod decode;
pub mod docs;
pub mod license;
pub mod pick;
pub mod picklist;
pub mod receipt;
pub mod ruling;
pub mod scan_test;
pub mod ship;
pub mod station;
pub mod writeback;

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use crate::config::Settings;
use crate::domain::pick::Progress;
use crate::import::{self, ImportError};
use crate::store::{PackageImport, Store, StoreError};

/// Shipped demo data: packages as Metrc v2 returns them and two LeafLink orders.
pub const DEMO_PACKAGES: &str = include_str!("../../config/demo/packages.json");
pub const DEMO_ORDERS: &str = include_str!("../../config/demo/orders.json");

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Import(#[from] ImportError),
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Pick(#[from] pick::PickError),
    #[error("cannot write output: {0}")]
    Output(#[from] std::io::Error),
    #[error("{0}")]
    NotAllowed(String),
}

/// Who acts on a command-line pick, load or delivery. On a station with people, a
/// person and their PIN are checked as on the sign-in screen (wrong PINs count toward
/// the lock-out) and their role must allow `needed`; the person is then recorded on
/// every event. On a station without people nobody is checked, and `needed` =
/// supervisor is allowed without a name (the CLI runs with the database owner's
/// rights).
pub fn act_as(
    store: &mut Store,
    settings: &Settings,
    person: Option<&str>,
    pin: Option<&str>,
    needed: crate::domain::people::Role,
) -> Result<(), AppError> {
    if store.people()?.is_empty() {
        store.set_signed_in(None);
        return Ok(());
    }
    let Some(name) = person else {
        return Err(AppError::NotAllowed(format!(
            "this station has people: give --person NAME and the PIN (TAGTALLY_PIN) of a {needed} or supervisor"
        )));
    };
    let Some(pin) = pin else {
        return Err(AppError::NotAllowed(format!(
            "the PIN of {name} is required (TAGTALLY_PIN or --pin)"
        )));
    };
    let who = check_person(store, settings, name, pin, needed)?;
    store.set_signed_in(Some(&who.name));
    Ok(())
}

/// Check `name`'s PIN as the sign-in screen does (wrong PINs count toward the
/// lock-out) and that their role allows `needed`. Shared by the command line and the
/// touch app's supervisor actions.
pub fn check_person(
    store: &mut Store,
    settings: &Settings,
    name: &str,
    pin: &str,
    needed: crate::domain::people::Role,
) -> Result<crate::store::Person, AppError> {
    use crate::domain::people::Role;
    let who = match store.sign_in(name, pin, chrono::Utc::now(), settings.people.lockout())? {
        Ok(p) => p,
        Err(refused) => return Err(AppError::NotAllowed(refused.to_string())),
    };
    if !who.role.allows(needed) {
        let wanted = if needed == Role::Supervisor {
            "a supervisor".to_string()
        } else {
            format!("a {needed} or a supervisor")
        };
        return Err(AppError::NotAllowed(format!(
            "{} is a {}: this needs {wanted}",
            who.name, who.role
        )));
    }
    Ok(who)
}

/// Open the configured database. A configured `[device] id` is written into a new
/// database once; one that disagrees with the database's own is refused.
pub fn open_store(settings: &Settings) -> Result<Store, StoreError> {
    let mut store = Store::open(
        &settings.db_path(),
        Duration::from_millis(settings.store.busy_timeout_ms),
    )?;
    if let Some(id) = &settings.device.id {
        store.claim_device_id(id)?;
    }
    store.set_license_required(settings.licenses.require);
    Ok(store)
}

fn read(path: &Path) -> Result<Vec<u8>, AppError> {
    std::fs::read(path).map_err(|source| AppError::Read {
        path: path.display().to_string(),
        source,
    })
}

/// `n` and its noun, singular for exactly one: `count(1, "line", "lines")` is
/// "1 line", `count(2, ..)` "2 lines".
pub fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `tagtally import packages FILE`: all or nothing.
pub fn import_packages(store: &mut Store, path: &Path) -> Result<String, AppError> {
    let name = path.display().to_string();
    let packages = import::metrc::parse(&name, &read(path)?)?;
    let PackageImport {
        new,
        updated,
        older_skipped,
    } = store.import_packages(&packages)?;
    Ok(format!(
        "{name}: {} read: {new} new, {updated} updated, {older_skipped} older than stored (kept stored)",
        count(packages.len(), "package", "packages")
    ))
}

/// `tagtally import order FILE`: LeafLink JSON or CSV, all or nothing.
pub fn import_orders(store: &mut Store, path: &Path) -> Result<String, AppError> {
    let name = path.display().to_string();
    let orders = import::parse_orders(&name, &read(path)?)?;
    store.import_orders(&orders)?;
    let mut out = String::new();
    for o in &orders {
        let tags: usize = o.lines.iter().map(|l| l.tags.len()).sum();
        out.push_str(&format!(
            "{name}: order {}{} for {}: {}, {} allocated ({})\n",
            o.number,
            o.short_id
                .as_deref()
                .map(|s| format!(" ({s})"))
                .unwrap_or_default(),
            o.buyer,
            count(o.lines.len(), "line", "lines"),
            count(tags, "package", "packages"),
            o.status.0,
        ));
    }
    Ok(out.trim_end().to_string())
}

/// `tagtally status ORDER`.
pub fn status(store: &Store, order: &str) -> Result<Progress, StoreError> {
    let order = store.find_order(order)?;
    let (list, state) = store.pick_list(&order)?;
    Ok(state.progress(&list))
}

/// Progress as a table for a terminal.
pub fn print_progress(p: &Progress, out: &mut impl Write) -> std::io::Result<()> {
    writeln!(
        out,
        "order {}: {}/{} picked{}",
        p.order,
        p.picked,
        p.total,
        if p.complete { ", COMPLETE" } else { "" }
    )?;
    writeln!(
        out,
        "{:<8} {:<28} {:<12} {:>9} {:>6} {:>5} {:>9}",
        "line", "item", "batch", "allocated", "picked", "short", "remaining"
    )?;
    for l in &p.lines {
        let label: String = l.label.chars().take(28).collect();
        writeln!(
            out,
            "{:<8} {:<28} {:<12} {:>9} {:>6} {:>5} {:>9}{}",
            l.id,
            label,
            l.batch.as_deref().unwrap_or("-"),
            l.allocated,
            l.picked,
            l.short,
            l.remaining,
            l.short_reason
                .as_deref()
                .map(|r| format!("  short: {r}"))
                .unwrap_or_default()
        )?;
    }
    Ok(())
}

/// The demo's people: "Demo Picker" (PIN 1234) and "Demo Supervisor" (PIN 9999).
pub fn add_demo_people(store: &mut Store) -> Result<(), StoreError> {
    use crate::domain::people::Role;
    store.set_person("Demo Picker", Role::Picker, "1234")?;
    store.set_person("Demo Supervisor", Role::Supervisor, "9999")
}

/// The demo's shipper, unless the site config names one: manifests and templates
/// need a license.
pub fn demo_shipper(ship: &mut crate::config::ShipSettings) {
    if ship.facility_license.trim().is_empty() {
        ship.facility_name = "Demo Wholesale LLC".into();
        ship.facility_license = "C11-0000224-LIC".into();
        ship.phone = "916-555-0100".into();
    }
}

/// Load the shipped demo data into `store` (idempotent).
pub fn load_demo(store: &mut Store) -> Result<(), AppError> {
    let packages = import::metrc::parse("demo packages", DEMO_PACKAGES.as_bytes())?;
    store.import_packages(&packages)?;
    let orders = import::parse_orders("demo orders", DEMO_ORDERS.as_bytes())?;
    store.import_orders(&orders)?;
    Ok(())
}

/// Tags of the demo data that produce every verdict on order SO-1001, with a hint.
pub const DEMO_TAGS: &[(&str, &str)] = &[
    (
        "1A4060300003C35000010001",
        "accepted (scan it twice: already scanned)",
    ),
    (
        "1a4060300003c35000010002",
        "accepted (lower case and stray spaces are fine)",
    ),
    (
        "]C01A4060300003C35000010004",
        "accepted (AIM prefix from the scanner is stripped)",
    ),
    ("1A4060300003C35000010003", "ineligible: on hold"),
    (
        "1A4060300003C35000010012",
        "ineligible: lab state (TestFailed)",
    ),
    ("1A4060300003C35000010013", "ineligible: expired"),
    ("1A4060300003C35000010022", "ineligible: recall"),
    (
        "1A4060300003C35000010005",
        "wrong order (allocated to SO-1002)",
    ),
    (
        "1A4060300003C35000010008",
        "wrong batch (Blue Dream from batch BD-0399)",
    ),
    (
        "1A4060300003C35000010007",
        "not on list: same batch, not allocated",
    ),
    (
        "1A4060300003C35000010031",
        "not on list: item not on this order",
    ),
    ("1A4060300003C35000099999", "not on list: unknown package"),
    ("https://id.1a4.com/ABC123", "not a tag: Retail ID"),
    ("012345678905", "not a tag: a UPC"),
];

/// What `tagtally demo` prints before it reads scans.
pub fn demo_intro() -> String {
    let mut s = String::from(
        "tagtally demo: picking order SO-1001 (Green Door Dispensary) in a temporary database.\n\
         Type or paste a tag and press Enter; Ctrl-D ends the demo and shows the order.\n\n",
    );
    for (tag, hint) in DEMO_TAGS {
        s.push_str(&format!("  {tag:<28} {hint}\n"));
    }
    s
}
