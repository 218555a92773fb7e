//! `tagtally metrc ...` and `tagtally metrc-emulator`.

use std::io::Write;

use anyhow::{Context, Result};
use tagtally::app;
use tagtally::config::Settings;
use tagtally::metrc::{self, Client, emulator::Emulator};

use super::args::{EmulatorArgs, MetrcCommand};

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

pub(crate) fn run(settings: &Settings, cmd: MetrcCommand, out: &mut impl Write) -> Result<()> {
    match cmd {
        MetrcCommand::Check => {
            let client = Client::new(&settings.metrc)?;
            let line = runtime()?.block_on(metrc::check(&client))?;
            writeln!(out, "{line}")?;
        }
        MetrcCommand::Pull { full } => {
            let client = Client::new(&settings.metrc)?;
            let mut store = app::open_store(settings)?;
            let report = runtime()?.block_on(metrc::pull::pull(
                &mut store,
                &client,
                &settings.metrc,
                full,
                chrono::Utc::now(),
            ))?;
            writeln!(out, "{}", report.line())?;
            for p in &report.coa.problems {
                writeln!(out, "  {p}")?;
            }
        }
        MetrcCommand::Push { order } => {
            let client = Client::new(&settings.metrc)?;
            let mut store = app::open_store(settings)?;
            let pushed = runtime()?.block_on(metrc::push::push_order(
                &mut store,
                &client,
                &settings.ship,
                &settings.metrc,
                &order,
            ))?;
            writeln!(out, "{}", pushed.line())?;
            if let metrc::push::Pushed::Later { .. } = pushed {
                anyhow::bail!("the template is not in Metrc yet");
            }
        }
        MetrcCommand::Status { json } => {
            let store = app::open_store(settings)?;
            let s = metrc::pull::status(&store, chrono::Utc::now())?;
            let writes = metrc::push::queue_lines(&store)?;
            if json {
                let mut v = serde_json::to_value(&s)?;
                v["templates"] = serde_json::json!(writes);
                serde_json::to_writer(&mut *out, &v)?;
                writeln!(out)?;
            } else {
                writeln!(
                    out,
                    "last pull: {}; behind Metrc: {}; last error: {}",
                    s.last_ok.as_deref().unwrap_or("never"),
                    s.behind_seconds
                        .map(|b| format!("{b} s"))
                        .unwrap_or_else(|| "unknown (never pulled)".into()),
                    s.last_error.as_deref().unwrap_or("none")
                )?;
                for w in writes {
                    writeln!(out, "{w}")?;
                }
            }
        }
    }
    Ok(())
}

/// `tagtally coa ORDER --out DIR`: exit 1 when a batch has no COA (the PDFs that
/// exist are written all the same), so a script does not ship without one unseen.
pub(crate) fn coa(
    settings: &Settings,
    order: &str,
    dir: &std::path::Path,
    out: &mut impl Write,
) -> Result<std::process::ExitCode> {
    let mut store = app::open_store(settings)?;
    let client = if settings.metrc.is_set() {
        Some(Client::new(&settings.metrc)?)
    } else {
        None
    };
    let w = runtime()?.block_on(metrc::coa::write_order(
        &mut store,
        client.as_ref(),
        order,
        dir,
        chrono::Utc::now(),
    ))?;
    if let Some(r) = &w.fetched {
        writeln!(out, "{}", r.line())?;
        for p in &r.problems {
            writeln!(out, "  {p}")?;
        }
    }
    for f in &w.files {
        writeln!(out, "wrote {}", f.display())?;
    }
    for m in w.warnings.iter().chain(&w.missing) {
        writeln!(out, "warning: {m}")?;
    }
    Ok(if w.missing.is_empty() {
        std::process::ExitCode::SUCCESS
    } else {
        eprintln!(
            "tagtally: {} batch(es) of order {order} have no COA",
            w.missing.len()
        );
        std::process::ExitCode::FAILURE
    })
}

pub(crate) fn emulator(a: EmulatorArgs, out: &mut impl Write) -> Result<()> {
    let bytes = match &a.data {
        Some(p) => std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))?,
        None => app::DEMO_PACKAGES.as_bytes().to_vec(),
    };
    let packages = Emulator::packages_of(&bytes).map_err(anyhow::Error::msg)?;
    let emu = Emulator::new(&a.license, &a.vendor_key, &a.user_key, packages);
    emu.set_window_cap((a.window_cap_hours > 0).then_some(a.window_cap_hours));
    let rt = runtime()?;
    rt.block_on(async {
        let l = tokio::net::TcpListener::bind(&a.listen)
            .await
            .with_context(|| format!("cannot listen on {}", a.listen))?;
        writeln!(
            out,
            "metrc emulator on http://{} for license {} (keys as given by --vendor-key and --user-key)",
            l.local_addr()?,
            a.license
        )?;
        out.flush()?;
        emu.serve(l).await.context("the emulator stopped")
    })
}
