//! LeafLink, live: the only code that speaks to LeafLink's Marketplace V2 API
//! (`tests/architecture.rs`). [`client`] asks (the key, the trailing slash, one rate
//! limiter, retries); [`pull`] brings the orders received in, through the order
//! importer's parser and rules; [`poll`] is the hub's thread that pulls while it
//! serves; [`emulator`] is a LeafLink that tests and demos run on a loopback port.
//! The facts and their sources: `docs/leaflink.md`.

pub mod client;
pub mod emulator;
pub mod poll;
pub mod pull;
pub mod push;

pub use client::{Client, LeafLinkError};
