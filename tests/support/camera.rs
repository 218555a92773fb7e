//! Camera frames for the tests and the decode bench.
//!
//! - [`fixtures`]: the small set the project carries in `tests/fixtures/camera` (14
//!   frames of the dev set with their manifest rows, three zxing-cpp samples), always
//!   there, byte-identical to the full set's copies.
//! - [`full_set`]: the full set in `../shared/testdata/camera` (300 dev frames, the
//!   zxing-cpp samples), beside the project only on the team's machines and CI's full
//!   run. When it is absent this says so on standard error, past the test harness's
//!   capture, so a run without it is never mistaken for one with it; with
//!   `TAGTALLY_REQUIRE_FULL_CAMERA_SET=1` (CI's full run) an absent set is a failure.
//!   `TAGTALLY_CAMERA_SET=DIR` points at a copy elsewhere.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};

/// The committed frames: `dev/` (with `manifest.csv`) and `zxing-cpp-samples/gray/`.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/camera")
}

/// A committed dev frame, e.g. `dev_frame("0010.png")`.
pub fn dev_frame(name: &str) -> PathBuf {
    fixtures().join("dev").join(name)
}

/// A committed zxing-cpp sample (grey copy), e.g. `sample("code128-1/1.png")`.
pub fn sample(name: &str) -> PathBuf {
    fixtures().join("zxing-cpp-samples/gray").join(name)
}

/// The full camera set, when it is there: the folder holding `dev/manifest.csv`.
/// `who` names the test or bench for the message printed when it is absent.
pub fn full_set(who: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("TAGTALLY_CAMERA_SET")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/testdata/camera"));
    if dir.join("dev/manifest.csv").is_file() {
        return Some(dir);
    }
    let required = std::env::var_os("TAGTALLY_REQUIRE_FULL_CAMERA_SET").is_some_and(|v| v == "1");
    assert!(
        !required,
        "{who}: TAGTALLY_REQUIRE_FULL_CAMERA_SET=1 but the full camera set is not at {}",
        dir.display()
    );
    // Written to the process's stderr directly: libtest captures `eprintln!` of a
    // passing test, not writes to the handle.
    let _ = writeln!(
        std::io::stderr(),
        "note: {who}: the full camera set ({}) is absent; only the {} committed frames were used",
        dir.display(),
        committed_frames()
    );
    None
}

fn committed_frames() -> usize {
    std::fs::read_dir(fixtures().join("dev"))
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.path().extension().is_some_and(|x| x == "png"))
                .count()
        })
        .unwrap_or(0)
}
