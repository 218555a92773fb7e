//! `tagtally apex ...` and `tagtally apex-emulator`.

use std::io::Write;

use anyhow::{Context, Result};
use tagtally::apex::{self, Client, emulator::Emulator};
use tagtally::app;
use tagtally::config::Settings;
use tagtally::domain::writeback::Platform;

use super::args::{ApexCommand, ApexEmulatorArgs};

/// The demo shipping orders `apex-emulator` serves without `--data`.
const DEMO_APEX_ORDERS: &str = include_str!("../../config/demo/apex-orders.json");

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

pub(crate) fn run(settings: &Settings, cmd: ApexCommand, out: &mut impl Write) -> Result<()> {
    match cmd {
        ApexCommand::Check => {
            let client = Client::new(&settings.apex)?;
            let w = runtime()?.block_on(client.welcome())?;
            writeln!(
                out,
                "Apex token {:?}: abilities {}",
                w.name,
                if w.abilities.is_empty() {
                    "none listed".to_string()
                } else {
                    w.abilities.join(", ")
                }
            )?;
            for (ability, why) in [
                ("view:shipping-orders", "the pull"),
                ("update:shipping-orders", "the write-back ([apex] push)"),
            ] {
                if !w.abilities.iter().any(|a| a == ability) {
                    writeln!(out, "  missing {ability}: needed for {why}")?;
                }
            }
        }
        ApexCommand::Pull => {
            let client = Client::new(&settings.apex)?;
            let mut store = app::open_store(settings)?;
            let report = runtime()?.block_on(apex::pull::pull(
                &mut store,
                &client,
                &settings.apex,
                chrono::Utc::now(),
            ))?;
            writeln!(out, "{}", report.line())?;
        }
        ApexCommand::Status => {
            let store = app::open_store(settings)?;
            let get = |k| store.meta(k).map(|v| v.filter(|s| !s.is_empty()));
            writeln!(
                out,
                "last pull: {}; last error: {}",
                get(apex::pull::LAST_OK)?.as_deref().unwrap_or("never"),
                get(apex::pull::LAST_ERROR)?.as_deref().unwrap_or("none")
            )?;
            writeln!(
                out,
                "{}",
                app::writeback::queue_line(&store, Platform::Apex)?
            )?;
        }
        ApexCommand::Push { retry_failed } => {
            let client = Client::new(&settings.apex)?;
            let mut store = app::open_store(settings)?;
            let sink = apex::push::ApexSink::new(&client, settings.apex.status_ids.clone());
            super::push(&mut store, &sink, retry_failed, out)?;
        }
    }
    Ok(())
}

pub(crate) fn emulator(a: ApexEmulatorArgs, out: &mut impl Write) -> Result<()> {
    let bytes = match &a.data {
        Some(p) => std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))?,
        None => DEMO_APEX_ORDERS.as_bytes().to_vec(),
    };
    let orders = Emulator::orders_of(&bytes).map_err(anyhow::Error::msg)?;
    let emu = Emulator::new(&a.token, orders);
    runtime()?.block_on(async {
        let l = tokio::net::TcpListener::bind(&a.listen)
            .await
            .with_context(|| format!("cannot listen on {}", a.listen))?;
        writeln!(
            out,
            "apex emulator on http://{}/api (token as given by --token)",
            l.local_addr()?
        )?;
        out.flush()?;
        emu.serve(l).await.context("the emulator stopped")
    })
}
