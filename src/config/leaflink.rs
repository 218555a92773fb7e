//! `[leaflink]`: the connection to LeafLink's Marketplace V2 API (the orders a
//! seller received). Facts and sources: `docs/leaflink.md`.

use serde::{Deserialize, Serialize};

use super::Secret;

/// LeafLink, as `../shared/B2B-API.md` part 1 describes it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LeafLinkSettings {
    /// The Marketplace V2 API root (empty: not connected).
    pub base_url: String,
    /// Sent as `Authorization: App KEY`; from the settings or
    /// `TAGTALLY_LEAFLINK__API_KEY`, never printed, logged or stored.
    pub api_key: Secret,
    /// The order statuses pulled (LeafLink's Title-case names).
    pub statuses: Vec<String>,
    /// How often the hub pulls while it serves (0: it does not poll).
    pub poll_seconds: u64,
    /// How far back the first pull reaches.
    pub first_pull_days: u32,
    /// The hub writes what the floor did back to the orders.
    pub push: bool,
    /// Orders a page (`limit`; the default and the most LeafLink allows are not
    /// documented).
    pub page_size: u32,
    /// Requests a minute, at most (LeafLink allows 300 a key).
    pub max_requests_per_minute: u32,
    /// One request's time limit.
    pub timeout_seconds: u64,
    /// Where a customer's record is read, `{id}` its id (not in the V2 spec as
    /// stored: an assumption, so a setting).
    pub customer_path: String,
    /// The customer field holding the buyer's state license (an assumption).
    pub customer_license_field: String,
}

impl Default for LeafLinkSettings {
    fn default() -> Self {
        LeafLinkSettings {
            base_url: String::new(),
            api_key: Secret::default(),
            statuses: vec!["Accepted".into()],
            poll_seconds: 60,
            first_pull_days: 30,
            push: false,
            page_size: 100,
            max_requests_per_minute: 240,
            timeout_seconds: 30,
            customer_path: "customers/{id}/".into(),
            customer_license_field: "license_number".into(),
        }
    }
}

impl LeafLinkSettings {
    /// Whether the connection is configured at all.
    pub fn is_set(&self) -> bool {
        !self.base_url.trim().is_empty()
    }
}
