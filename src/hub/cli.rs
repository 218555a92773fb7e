//! What the `tagtally hub ...` commands do, so `main.rs` stays thin.

use std::io::Write;
use std::path::Path;

use tokio::net::TcpListener;

use super::tls::{TlsConfig, TlsError};
use super::{Fault, HubOptions, run};
use crate::domain::Rules;
use crate::store::{DeviceError, Store};

#[derive(Debug, thiserror::Error)]
pub enum HubCliError {
    #[error("cannot listen on {addr}: {source} (is another hub running there?)")]
    Listen {
        addr: String,
        source: std::io::Error,
    },
    #[error("hub stopped: {0}")]
    Serve(std::io::Error),
    #[error(transparent)]
    Device(#[from] DeviceError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("cannot write output: {0}")]
    Output(#[from] std::io::Error),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("{0}")]
    Fault(String),
}

/// The hub's options from the command line: TLS from `cert_key` (PEM files).
pub fn options(
    rules: Rules,
    ship: crate::config::ShipSettings,
    fault: Option<&str>,
    cert_key: Option<(&Path, &Path)>,
) -> Result<HubOptions, HubCliError> {
    Ok(HubOptions {
        rules,
        ship,
        fault: fault
            .map(str::parse::<Fault>)
            .transpose()
            .map_err(HubCliError::Fault)?,
        tls: cert_key
            .map(|(c, k)| TlsConfig::from_pem_files(c, k))
            .transpose()?,
        metrc: None,
        leaflink: None,
        apex: None,
        desk: Default::default(),
    })
}

/// `tagtally hub --listen ADDR`: serve until Ctrl-C or SIGTERM. The first line on
/// `out` is `tagtally hub listening on ADDR` with the bound address (port 0 picks one).
pub fn serve(
    store: Store,
    listen: &str,
    options: HubOptions,
    out: &mut impl Write,
) -> Result<(), HubCliError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(HubCliError::Serve)?;
    rt.block_on(async {
        let listener = TcpListener::bind(listen)
            .await
            .map_err(|source| HubCliError::Listen {
                addr: listen.to_string(),
                source,
            })?;
        let addr = listener.local_addr().map_err(HubCliError::Serve)?;
        writeln!(
            out,
            "tagtally hub listening on {addr} ({}, database {})",
            if options.tls.is_some() {
                "https"
            } else {
                "http"
            },
            store.path().display()
        )?;
        out.flush()?;
        run(listener, store, options, shutdown_signal())
            .await
            .map_err(HubCliError::Serve)
    })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

/// `tagtally hub enroll-device NAME`: the token, printed once.
pub fn enroll(store: &mut Store, name: &str) -> Result<String, HubCliError> {
    let name = name.trim();
    let token = store.enroll_device(name)?;
    Ok(format!(
        "device {name} enrolled. Its token (shown once, keep it secret):\n{token}\nOn the device: tagtally device join http://HUB:PORT {token}"
    ))
}

/// `tagtally hub revoke-device NAME`.
pub fn revoke(store: &mut Store, name: &str) -> Result<String, HubCliError> {
    store.revoke_device(name.trim())?;
    Ok(format!(
        "device {} revoked: its token is refused from now on",
        name.trim()
    ))
}

/// `tagtally hub devices`.
pub fn devices(store: &Store, out: &mut impl Write) -> Result<(), HubCliError> {
    for d in store.devices()? {
        writeln!(
            out,
            "{:<20} {:<24} enrolled {}{}",
            d.name,
            d.device_id.as_deref().unwrap_or("(not joined)"),
            d.enrolled_at,
            d.revoked_at
                .map(|r| format!("  REVOKED {r}"))
                .unwrap_or_default()
        )?;
    }
    Ok(())
}

/// `tagtally hub security-log`.
pub fn security_log(store: &Store, out: &mut impl Write) -> Result<(), HubCliError> {
    for e in store.security_log()? {
        writeln!(
            out,
            "{} {:<16} {:<24} {}",
            e.at,
            e.kind,
            e.device.as_deref().unwrap_or("-"),
            e.detail
        )?;
    }
    Ok(())
}
