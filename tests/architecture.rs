//! Architecture invariants from ARCHITECTURE.md, checked by reading the source.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![];
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            out.extend(rust_files(&p));
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
    out
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn mentions(file: &Path, word: &str) -> bool {
    std::fs::read_to_string(file)
        .unwrap()
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .any(|l| l.contains(word))
}

/// Files under `src/` (outside `allowed`) whose code mentions `word`.
fn offenders(word: &str, allowed: &[&str]) -> Vec<String> {
    rust_files(&src())
        .into_iter()
        .filter(|p| {
            let rel = p
                .strip_prefix(src())
                .unwrap()
                .to_string_lossy()
                .into_owned();
            !allowed.iter().any(|a| rel.starts_with(a))
        })
        .filter(|p| mentions(p, word))
        .map(|p| p.display().to_string())
        .collect()
}

#[test]
fn domain_is_pure() {
    for word in [
        "tokio",
        "rusqlite",
        "reqwest",
        "slint",
        "std::fs",
        "std::net",
        "std::io",
        "std::thread",
        "Local::now",
        "Utc::now",
        "SystemTime",
    ] {
        let bad: Vec<_> = rust_files(&src().join("domain"))
            .into_iter()
            .filter(|p| mentions(p, word))
            .collect();
        assert!(bad.is_empty(), "domain must not use {word}: {bad:?}");
    }
}

#[test]
fn only_store_speaks_sql() {
    let bad = offenders("rusqlite", &["store/"]);
    assert!(bad.is_empty(), "rusqlite outside store/: {bad:?}");
}

#[test]
fn only_ui_touches_slint() {
    let bad = offenders("slint", &["ui/"]);
    assert!(bad.is_empty(), "slint outside src/ui/: {bad:?}");
}

#[test]
fn the_checks_can_fail() {
    // Guard against a vacuous walk: the tree is found and a known use is seen.
    assert!(!offenders("rusqlite", &[]).is_empty());
    assert!(rust_files(&src().join("domain")).len() >= 4);
}

#[test]
fn only_sync_makes_http_calls() {
    let bad = offenders("reqwest", &["sync/", "metrc/", "leaflink/", "apex/"]);
    assert!(
        bad.is_empty(),
        "reqwest outside sync/, metrc/, leaflink/ and apex/: {bad:?}"
    );
    assert!(!offenders("reqwest", &[]).is_empty(), "the check can fail");
}

#[test]
fn nothing_reaches_up_into_ui() {
    // Only the CLI (main.rs, above everything) and ui/ itself name the ui module.
    let bad: Vec<_> = ["crate::ui", "super::ui", "tagtally::ui"]
        .into_iter()
        .flat_map(|w| offenders(w, &["ui/", "main.rs"]))
        .collect();
    assert!(bad.is_empty(), "modules below ui reach up into it: {bad:?}");
    assert!(
        !offenders("tagtally::ui", &[]).is_empty(),
        "the check can fail"
    );
}

#[test]
fn only_the_hub_calls_metrc() {
    // Metrc sits above app (it gathers a load's template through app::docs): below
    // it only the hub (which starts its thread) and the CLI may name it.
    let bad = offenders("crate::metrc", &["metrc/", "hub/"]);
    assert!(bad.is_empty(), "crate::metrc below the hub: {bad:?}");
    assert!(
        !offenders("crate::metrc", &[]).is_empty(),
        "the check can fail"
    );
}
