//! `[apex]`: the connection to Apex Trading's API (the seller's shipping orders).
//! Facts and sources: `docs/apex.md`.

use serde::{Deserialize, Serialize};

use super::Secret;
use crate::domain::writeback::ApexStatusIds;

/// Apex Trading, as `../shared/B2B-API.md` part 2 describes it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApexSettings {
    /// The API root, `https://app.apextrading.com/api` (empty: not connected); paths
    /// `v1/...` are joined to it.
    pub base_url: String,
    /// Sent as `Authorization: Bearer TOKEN`; from the settings or
    /// `TAGTALLY_APEX__TOKEN`, never printed, logged or stored. Its abilities:
    /// `view:shipping-orders` to pull, `update:shipping-orders` to write back.
    pub token: Secret,
    /// How often the hub pulls while it serves (0: it does not poll).
    pub poll_seconds: u64,
    /// The hub writes what the floor did back to the orders' statuses.
    pub push: bool,
    /// Which order status id means accepted, packed, in transit, delivered; an unset
    /// one is read through the status's parent (`order_status.parent_status`, or the
    /// order's deal flow).
    pub status_ids: ApexStatusIds,
    /// How far back the first pull reaches (`updated_at_from`).
    pub first_pull_days: u32,
    /// Orders a page (`per_page`; Apex's default is 15, its most 500).
    pub per_page: u32,
    /// Requests a second, at most (Apex allows 15 a token).
    pub max_requests_per_second: u32,
    /// One request's time limit.
    pub timeout_seconds: u64,
}

impl Default for ApexSettings {
    fn default() -> Self {
        ApexSettings {
            base_url: String::new(),
            token: Secret::default(),
            poll_seconds: 60,
            push: false,
            status_ids: ApexStatusIds::default(),
            first_pull_days: 30,
            per_page: 100,
            max_requests_per_second: 10,
            timeout_seconds: 30,
        }
    }
}

impl ApexSettings {
    /// Whether the connection is configured at all.
    pub fn is_set(&self) -> bool {
        !self.base_url.trim().is_empty()
    }
}
