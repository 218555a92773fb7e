//! The hub's JSON wire types, shared by the hub (`hub`) and its client (`sync`).

use serde::{Deserialize, Serialize};

use crate::domain::merge::MergedOrder;
use crate::domain::{Event, Order, Package};
use crate::store::{Attachment, PersonRecord};

/// Most events one push may carry.
pub const MAX_PUSH_EVENTS: usize = 1000;
/// Most events of other devices one feed answer carries; `more` says there are more.
pub const FEED_LIMIT: usize = 2000;
/// Largest request body the hub reads; a larger one is refused with 413.
pub const BODY_LIMIT: usize = 16 * 1024 * 1024;

/// `POST /devices/join`: bind the token's device to the id its events carry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JoinRequest {
    pub device_id: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JoinResponse {
    /// The name the device was enrolled under.
    pub name: String,
    pub device_id: String,
    /// The last sequence number the hub holds of this device (0: none): a
    /// reinstalled device numbers its next events after it.
    #[serde(default)]
    pub last_seq: i64,
    /// The hub's instance id (made with its database).
    #[serde(default)]
    pub hub: String,
}

/// `GET /sync/snapshot`: the open orders and the package facts changed since a cursor.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub orders: Vec<OrderSnapshot>,
    pub packages: Vec<Package>,
    /// Pass back as `packages_since` to get only packages changed after this pull.
    pub packages_cursor: String,
    /// The people who sign in on the floor, so devices check PINs offline (PINs only
    /// as salted hashes). Empty when the hub has none: devices keep their own.
    #[serde(default)]
    pub people: Vec<PersonRecord>,
    /// The hub's instance id: a device that meets another one at its hub's address
    /// (a new hub) pulls everything again and pushes again.
    #[serde(default)]
    pub hub: String,
    /// The last sequence number the hub holds of the asking device: below what it
    /// acknowledged, the hub was restored from a backup.
    #[serde(default)]
    pub your_last_seq: Option<i64>,
    /// The license register's facts for the open orders' buyer licenses, so devices
    /// hold orders on license hold offline; absent while the hub has no register.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub licenses: Option<crate::domain::license::RegisterFacts>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OrderSnapshot {
    pub order: Order,
    /// The hub's last event id on this order (0: none): a device holding less asks
    /// `GET /orders/{number}/events?since=` for the rest.
    pub last_event: i64,
}

/// `POST /orders/{number}/events`: this device's events of one order, oldest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PushRequest {
    pub events: Vec<Event>,
    /// The last hub event id of this order the device holds: the answer's feed starts
    /// after it.
    #[serde(default)]
    pub since: i64,
    /// The files the events refer to (signatures, manifest PDFs), stored with them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<WireAttachment>,
}

/// An attachment on the wire: its hash, type and bytes in base64.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WireAttachment {
    pub sha256: String,
    pub mime: String,
    pub base64: String,
}

impl WireAttachment {
    pub fn encode(a: &Attachment) -> WireAttachment {
        use base64::Engine;
        WireAttachment {
            sha256: a.sha256.clone(),
            mime: a.mime.clone(),
            base64: base64::engine::general_purpose::STANDARD.encode(&a.bytes),
        }
    }

    /// The attachment, if the bytes decode and hash to `sha256`.
    pub fn decode(&self) -> Result<Attachment, String> {
        use base64::Engine;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&self.base64)
            .map_err(|e| format!("attachment {}: not base64: {e}", self.sha256))?;
        let a = Attachment {
            sha256: self.sha256.to_ascii_lowercase(),
            mime: self.mime.clone(),
            bytes,
        };
        if !a.is_intact() {
            return Err(format!(
                "attachment {}: its bytes do not hash to that SHA-256",
                self.sha256
            ));
        }
        Ok(a)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PushResponse {
    /// Events stored by this push.
    pub accepted: usize,
    /// Events the hub already held with the same contents (a resend).
    pub duplicates: usize,
    /// Sequence numbers the hub now holds durably: the device may mark them sent.
    pub acked: Vec<i64>,
    /// Events of this push the hub keeps but holds for a supervisor's ruling (their
    /// person may not do them, or they name nobody the hub knows); acknowledged too.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub held: Vec<HeldEvent>,
    pub feed: Feed,
}

/// A pushed event held for a supervisor's ruling.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HeldEvent {
    pub seq: i64,
    pub why: String,
}

/// An order's merged state and other devices' events after a cursor.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Feed {
    pub merged: MergedOrder,
    /// Other devices' picks, shorts and undos after `since`, in hub-arrival order.
    pub events: Vec<Event>,
    /// The hub event id the feed reached: the next `since`.
    pub cursor: i64,
    /// True when the feed was cut at [`FEED_LIMIT`]: ask again from `cursor`.
    pub more: bool,
    /// The files the feed's events refer to (a load's manifest PDF, a signature), so
    /// every device holds an event's files with it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<WireAttachment>,
}

impl Feed {
    /// The feed's attachments, each checked against its hash.
    pub fn decoded_attachments(&self) -> Result<Vec<Attachment>, String> {
        self.attachments
            .iter()
            .map(WireAttachment::decode)
            .collect()
    }
}

/// An open order, for lists.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OrderRow {
    pub number: String,
    pub short_id: Option<String>,
    pub buyer: String,
    pub status: String,
    pub ship_date: Option<String>,
    pub total: usize,
}

/// Every refusal: a stable `error` word and a sentence saying what to do.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
    pub message: String,
}
