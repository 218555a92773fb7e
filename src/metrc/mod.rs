//! Metrc, the state's system of record: the only code that speaks to it
//! (`tests/architecture.rs`). [`plan`] decides what to ask and what an answer means
//! (pure, table-tested); [`client`] asks, under one rate limiter shared by every call;
//! [`pull`] keeps the package facts fresh, and [`coa`] (decided by [`lab`]) the lab
//! results and COAs of allocated packages; [`emulator`] is a Metrc that tests and
//! demos run on a loopback port. The facts and their sources: `docs/metrc.md`.

pub mod client;
pub mod coa;
pub mod decide;
pub mod emulator;
pub mod lab;
pub mod plan;
pub mod poll;
pub mod pull;
pub mod push;
pub mod receipts;
pub mod transfers;

use chrono::{Duration, Utc};

pub use client::Client;
pub use plan::MetrcError;

/// `tagtally metrc check`: prove the keys (the facilities call), that they reach the
/// configured license, and that this license may read the package lists. Returns
/// the facility in one line.
pub async fn check(client: &Client) -> Result<String, MetrcError> {
    let facilities = client.facilities().await?;
    if let Some(f) = facilities.iter().find(|f| {
        f.license.number != client.license()
            && f.license.number.eq_ignore_ascii_case(client.license())
    }) {
        return Err(MetrcError::License {
            license: client.license().to_string(),
            message: format!(
                "the keys reach {}: write it as Metrc does, the case differs",
                f.license.number
            ),
        });
    }
    let Some(f) = facilities
        .iter()
        .find(|f| f.license.number == client.license())
    else {
        let reach: Vec<&str> = facilities
            .iter()
            .map(|f| f.license.number.as_str())
            .collect();
        return Err(MetrcError::License {
            license: client.license().to_string(),
            message: if reach.is_empty() {
                "the keys reach no facility".into()
            } else {
                format!("the keys reach {}", reach.join(", "))
            },
        });
    };
    // The keys and the license are good: a refusal now is the license type or the
    // user's permissions.
    let now = Utc::now();
    let probe = plan::Window {
        start: now - Duration::minutes(1),
        end: now,
    };
    match client.packages_page("active", &probe, 1).await {
        Ok(_) => {}
        Err(MetrcError::License { message, .. }) => {
            return Err(MetrcError::NotAllowed {
                what: "the package lists".into(),
                status: 401,
                message,
            });
        }
        Err(e) => return Err(e),
    }
    Ok(format!(
        "Metrc: the keys work; facility {} (license {}{})",
        f.display_name.as_deref().unwrap_or(&f.name),
        f.license.number,
        f.license
            .license_type
            .as_deref()
            .map(|t| format!(", {t}"))
            .unwrap_or_default()
    ))
}
