//! `tagtally leaflink ...` and `tagtally leaflink-emulator`.

use std::io::Write;

use anyhow::{Context, Result};
use tagtally::app;
use tagtally::config::Settings;
use tagtally::domain::writeback::Platform;
use tagtally::leaflink::{self, Client, emulator::Emulator};

use super::args::{LeafLinkCommand, LeafLinkEmulatorArgs};

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

pub(crate) fn run(settings: &Settings, cmd: LeafLinkCommand, out: &mut impl Write) -> Result<()> {
    match cmd {
        LeafLinkCommand::Pull => {
            let client = Client::new(&settings.leaflink)?;
            let mut store = app::open_store(settings)?;
            let report = runtime()?.block_on(leaflink::pull::pull(
                &mut store,
                &client,
                &settings.leaflink,
                chrono::Utc::now(),
            ))?;
            writeln!(out, "{}", report.line())?;
        }
        LeafLinkCommand::Status => {
            let store = app::open_store(settings)?;
            let get = |k| store.meta(k).map(|v| v.filter(|s| !s.is_empty()));
            writeln!(
                out,
                "last pull: {}; last error: {}",
                get(leaflink::pull::LAST_OK)?.as_deref().unwrap_or("never"),
                get(leaflink::pull::LAST_ERROR)?
                    .as_deref()
                    .unwrap_or("none")
            )?;
            writeln!(
                out,
                "{}",
                app::writeback::queue_line(&store, Platform::LeafLink)?
            )?;
        }
        LeafLinkCommand::Push { retry_failed } => {
            let client = Client::new(&settings.leaflink)?;
            let mut store = app::open_store(settings)?;
            let sink = leaflink::push::LeafLinkSink { client: &client };
            super::push(&mut store, &sink, retry_failed, out)?;
        }
    }
    Ok(())
}

pub(crate) fn emulator(a: LeafLinkEmulatorArgs, out: &mut impl Write) -> Result<()> {
    let bytes = match &a.data {
        Some(p) => std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))?,
        None => app::DEMO_ORDERS.as_bytes().to_vec(),
    };
    let orders = Emulator::orders_of(&bytes).map_err(anyhow::Error::msg)?;
    let emu = Emulator::new(&a.key, orders);
    runtime()?.block_on(async {
        let l = tokio::net::TcpListener::bind(&a.listen)
            .await
            .with_context(|| format!("cannot listen on {}", a.listen))?;
        writeln!(
            out,
            "leaflink emulator on http://{}/api/v2/ (key as given by --key)",
            l.local_addr()?
        )?;
        out.flush()?;
        emu.serve(l).await.context("the emulator stopped")
    })
}
