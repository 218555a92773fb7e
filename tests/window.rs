//! A real window: `tagtally demo` under Xvfb through winit, the way a desktop or kiosk
//! runs it. `scripts/setup` installs Xvfb and x11-utils, so `scripts/test` always runs
//! it; without them the test fails, unless `TAGTALLY_SKIP_WINDOW_TEST=1` says to skip
//! it (documented in the README, for a machine that cannot have an X server).

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn found(tool: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
}

#[test]
fn the_demo_opens_a_window_under_xvfb() {
    if std::env::var_os("TAGTALLY_SKIP_WINDOW_TEST").is_some_and(|v| v == "1") {
        // Past the harness's capture, so the skip is seen.
        let _ = writeln!(
            std::io::stderr(),
            "note: TAGTALLY_SKIP_WINDOW_TEST=1: the real-window test was not run"
        );
        return;
    }
    assert!(
        found("Xvfb") && found("xwininfo"),
        "Xvfb or xwininfo is missing: run scripts/setup (it installs xvfb and x11-utils), \
         or set TAGTALLY_SKIP_WINDOW_TEST=1 to skip this test on purpose"
    );
    let display = 90 + std::process::id() % 100;
    let mut xvfb = Command::new("Xvfb")
        .arg(format!(":{display}"))
        .args(["-screen", "0", "1280x800x24", "-nolisten", "tcp"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let socket = format!("/tmp/.X11-unix/X{display}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !Path::new(&socket).exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut app = Command::new(env!("CARGO_BIN_EXE_tagtally"))
        .arg("demo")
        .env("DISPLAY", format!(":{display}"))
        .env_remove("WAYLAND_DISPLAY")
        .env("TMPDIR", tmp.path())
        .env("RUST_LOG", "error")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut window = false;
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Some(status) = app.try_wait().unwrap() {
            let _ = xvfb.kill();
            let out = app.wait_with_output().unwrap();
            panic!(
                "tagtally demo exited ({status}): {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let info = Command::new("xwininfo")
            .args(["-display", &format!(":{display}"), "-name", "tagtally"])
            .output()
            .unwrap();
        if info.status.success()
            && String::from_utf8_lossy(&info.stdout).contains("Map State: IsViewable")
        {
            window = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let _ = app.kill();
    let _ = app.wait();
    let _ = xvfb.kill();
    let _ = xvfb.wait();
    assert!(window, "no viewable window named tagtally appeared");
}
