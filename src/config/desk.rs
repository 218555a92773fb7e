//! `[desk]`: the coordinator's desk, the hub's web pages (`docs/desk.md`).

use serde::{Deserialize, Serialize};

/// How the desk keeps a person signed in.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeskSettings {
    /// A desk session ends after this many minutes without a request (at least 1).
    pub idle_minutes: u32,
}

impl Default for DeskSettings {
    fn default() -> Self {
        DeskSettings { idle_minutes: 30 }
    }
}

impl DeskSettings {
    /// The idle time after which a session ends (never less than a minute).
    pub fn idle(&self) -> std::time::Duration {
        std::time::Duration::from_secs(u64::from(self.idle_minutes.max(1)) * 60)
    }
}
