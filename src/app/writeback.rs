//! What `tagtally status` and `tagtally leaflink|apex status` show of the writes
//! back to an order's platform: each written, waiting or refused, and what the
//! floor's facts call for that is not queued yet (when nobody pushes).

use serde::Serialize;

use crate::domain::writeback::Platform;
use crate::store::{PlatformWriteState, Store, StoreError};

/// One write back, as shown.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WriteLine {
    pub write: String,
    /// `done`, `queued`, `failed`, or `not queued` (nothing pushes yet).
    pub state: String,
    /// `sent` or `already` for a done one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    pub attempts: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
}

/// An order's write-backs: its platform and each write.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OrderWrites {
    pub platform: Platform,
    pub platform_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform_status: Option<String>,
    pub writes: Vec<WriteLine>,
}

/// The write-backs of `order`, if it came from a platform.
pub fn of_order(store: &Store, order: &str) -> Result<Option<OrderWrites>, StoreError> {
    let order = store.find_order(order)?;
    let Some(source) = store.order_source(&order.number)? else {
        return Ok(None);
    };
    let mut writes: Vec<WriteLine> = store
        .platform_writes_of(&order.number)?
        .into_iter()
        .map(|w| WriteLine {
            write: w.wanted.describe(),
            state: w.state.as_str().into(),
            outcome: w.outcome,
            attempts: w.attempts,
            error: w.last_error,
            at: w
                .done_at
                .or(w.last_attempt_at)
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        })
        .collect();
    for w in crate::writeback::pending(store, source.platform, &order)? {
        writes.push(WriteLine {
            write: w.describe(),
            state: "not queued".into(),
            outcome: None,
            attempts: 0,
            error: None,
            at: None,
        });
    }
    Ok(Some(OrderWrites {
        platform: source.platform,
        platform_id: source.platform_id,
        platform_status: source.status,
        writes,
    }))
}

/// Print an order's write-backs under `tagtally status`.
pub fn print(w: &OrderWrites, out: &mut impl std::io::Write) -> std::io::Result<()> {
    writeln!(
        out,
        "{} order {}{}: {}",
        w.platform.name(),
        w.platform_id,
        w.platform_status
            .as_deref()
            .map(|s| format!(" ({s})"))
            .unwrap_or_default(),
        if w.writes.is_empty() {
            "nothing to write back yet"
        } else {
            "written back"
        }
    )?;
    for l in &w.writes {
        let state = match (l.state.as_str(), l.outcome.as_deref()) {
            ("done", Some("already")) => "done (it was so already)".to_string(),
            ("done", _) => "done".to_string(),
            ("queued", _) if l.attempts > 0 => format!("waiting (tried {} times)", l.attempts),
            ("queued", _) => "waiting".to_string(),
            ("failed", _) => "REFUSED".to_string(),
            (s, _) => s.to_string(),
        };
        write!(out, "  {}: {state}", l.write)?;
        if let Some(e) = &l.error {
            write!(out, ": {e}")?;
        }
        writeln!(out)?;
    }
    Ok(())
}

/// One line for `tagtally leaflink|apex status`: the queue's counts, and each
/// refused write with the platform's words.
pub fn queue_line(store: &Store, platform: Platform) -> Result<String, StoreError> {
    let writes = store.platform_writes(platform)?;
    let count = |s| writes.iter().filter(|w| w.state == s).count();
    let mut line = format!(
        "write-backs: {} done, {} waiting, {} refused",
        count(PlatformWriteState::Done),
        count(PlatformWriteState::Queued),
        count(PlatformWriteState::Failed)
    );
    for w in writes
        .iter()
        .filter(|w| w.state != PlatformWriteState::Done)
    {
        if let Some(e) = &w.last_error {
            line.push_str(&format!(
                "\n  {} {} ({}): {e}",
                w.order,
                w.wanted.describe(),
                w.state.as_str()
            ));
        }
    }
    Ok(line)
}
