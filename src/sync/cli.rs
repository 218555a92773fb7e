//! What the sync commands (`device join`, `sync`, `status --hub`) do, blocking, so
//! `main.rs` stays thin.

use std::future::Future;
use std::io::Write;
use std::time::Duration;

use super::{Client, SyncError, SyncReport, sync_once};
use crate::domain::merge::MergedOrder;
use crate::store::Store;

fn block_on<T>(f: impl Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime builds")
        .block_on(f)
}

/// `tagtally device join URL TOKEN [--ca PEM]`.
pub fn join(
    store: &mut Store,
    url: &str,
    token: &str,
    ca: Option<&std::path::Path>,
) -> Result<String, SyncError> {
    let ca = ca
        .map(|p| {
            std::fs::read_to_string(p).map_err(|e| SyncError::BadUrl {
                url: url.to_string(),
                message: format!("cannot read the hub certificate {}: {e}", p.display()),
            })
        })
        .transpose()?;
    let r = block_on(super::join(store, url, token, ca.as_deref()))?;
    Ok(format!(
        "joined hub {} as device {} (id {}); `tagtally sync` pulls the open orders",
        url.trim(),
        r.name,
        r.device_id
    ))
}

/// `tagtally sync`: one push of the outbox and one pull.
pub fn sync(store: &mut Store, timeout: Duration) -> Result<SyncReport, SyncError> {
    let client = Client::joined(store, timeout)?;
    block_on(sync_once(store, &client))
}

/// A one-line account of a sync.
pub fn describe(r: &SyncReport) -> String {
    let mut s = format!(
        "sync: {} events sent ({} already on the hub), {} from other devices, {} open orders, {} package updates; {} waiting",
        r.pushed, r.duplicates, r.received, r.orders, r.packages, r.waiting
    );
    for refused in &r.refused {
        s.push_str(&format!("\n  refused: {refused}"));
    }
    for held in &r.held {
        s.push_str(&format!(
            "\n  held for a supervisor (kept, not counted): {held}"
        ));
    }
    s
}

/// The client for `status --hub URL`: the token from `token`, else the joined one.
pub fn hub_client(
    store: Option<&Store>,
    url: &str,
    token: Option<&str>,
) -> Result<Client, SyncError> {
    let token = match token {
        Some(t) => t.to_string(),
        None => store
            .map(|s| s.meta(super::META_HUB_TOKEN))
            .transpose()?
            .flatten()
            .ok_or(SyncError::NotJoined)?,
    };
    Client::new(url, &token, Duration::from_secs(10))
}

/// `tagtally status ORDER --hub URL`: the hub's merged state.
pub fn hub_status(client: &Client, order: &str) -> Result<MergedOrder, SyncError> {
    block_on(client.order(order))
}

/// `tagtally status ORDER --hub URL --follow`: print the merged state on every change
/// until the hub ends the stream.
pub fn follow(
    client: &Client,
    order: &str,
    json: bool,
    out: &mut impl Write,
) -> Result<(), SyncError> {
    block_on(async {
        let mut live = client.live(order).await?;
        while let Some(m) = live.next().await? {
            let written = if json {
                serde_json::to_writer(&mut *out, &m)
                    .map_err(std::io::Error::from)
                    .and_then(|_| writeln!(out))
            } else {
                print_merged(&m, out)
            };
            written
                .and_then(|_| out.flush())
                .map_err(|e| SyncError::Protocol(format!("cannot write output: {e}")))?;
        }
        Ok(())
    })
}

/// Progress per line, then the exceptions a supervisor must clear.
pub fn print_merged(m: &MergedOrder, out: &mut impl Write) -> std::io::Result<()> {
    crate::app::print_progress(&m.progress, out)?;
    if m.exceptions.is_empty() {
        writeln!(out, "no exceptions ({} events merged)", m.events)?;
    } else {
        writeln!(out, "{} exception(s) for a supervisor:", m.exceptions.len())?;
        for e in &m.exceptions {
            writeln!(out, "  {}/{}: {}", e.device, e.seq, e.message)?;
        }
    }
    Ok(())
}

/// Start the background sync for `pick --sync`, on the configured database; status
/// lines go to standard error.
pub fn start_background(
    settings: &crate::config::Settings,
) -> Result<super::Background, SyncError> {
    super::Background::start(
        settings.db_path(),
        Duration::from_millis(settings.store.busy_timeout_ms),
        settings.device.id.clone(),
        super::LoopOptions::default(),
        std::io::stderr(),
    )
}
