//! `[metrc]`: the connection to Metrc, and [`Secret`], the masked type its keys
//! (and any other key in the settings) are kept in.

use serde::{Deserialize, Serialize};

/// A key or token from the settings: kept as given, never shown. `Debug` and the
/// printed settings (`tagtally config`) say only whether it is set.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value itself: for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_set(&self) -> bool {
        !self.0.trim().is_empty()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.is_set() {
            "Secret(set)"
        } else {
            "Secret(unset)"
        })
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(if self.is_set() { "********" } else { "" })
    }
}

/// The connection to Metrc's REST API (v2): see `docs/metrc.md` and
/// `../shared/METRC-API.md`. The keys may come from the environment
/// (`TAGTALLY_METRC__USER_KEY`); they are never printed, logged or stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetrcSettings {
    /// e.g. `https://api-ca.metrc.com`, a sandbox host, or an emulator (empty: not set).
    pub base_url: String,
    /// The facility's license: Metrc's `licenseNumber` on every call.
    pub license_number: String,
    /// HTTP Basic user name: the software vendor's key.
    pub vendor_key: Secret,
    /// HTTP Basic password: the Metrc user's key.
    pub user_key: Secret,
    /// How often the hub pulls while it serves (0: it does not poll).
    pub poll_seconds: u64,
    /// The widest `lastModified` window of one request.
    pub window_hours: u32,
    /// How far back the first pull (and `--full`) reaches.
    pub first_pull_days: u32,
    /// Requests in any one second, at most (Metrc allows 50 a facility).
    pub max_requests_per_second: u32,
    /// Requests in flight at once, at most (Metrc allows 10 a facility).
    pub max_concurrent: u32,
    /// The hub posts each confirmed load's transfer template itself.
    pub push_templates: bool,
    /// One request's time limit.
    pub timeout_seconds: u64,
    /// A package of an allocated batch without a COA in Metrc may not ship.
    pub require_coa: bool,
}

impl Default for MetrcSettings {
    fn default() -> Self {
        MetrcSettings {
            base_url: String::new(),
            license_number: String::new(),
            vendor_key: Secret::default(),
            user_key: Secret::default(),
            poll_seconds: 60,
            window_hours: 24,
            first_pull_days: 30,
            max_requests_per_second: 10,
            max_concurrent: 4,
            push_templates: false,
            timeout_seconds: 30,
            require_coa: false,
        }
    }
}

impl MetrcSettings {
    /// Whether the connection is configured at all.
    pub fn is_set(&self) -> bool {
        !self.base_url.trim().is_empty()
    }
}
