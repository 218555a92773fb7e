//! Apex Trading, live: the only code that speaks to Apex's API
//! (`tests/architecture.rs`). [`client`] asks (the Bearer token, `Accept:
//! application/json`, one rate limiter a second, retries where they cannot do harm,
//! and the reads and the status write the write-back needs); [`error`] is what its
//! calls end in; [`pull`] brings the shipping orders in, through the order importer's
//! parser (`import::apex`) and rules; [`poll`] is the hub's thread that pulls while it
//! serves; [`emulator`] is an Apex that tests and demos run on a loopback port. The
//! facts and their sources: `docs/apex.md`.

pub mod client;
pub mod emulator;
pub mod error;
pub mod poll;
pub mod pull;
pub mod push;

pub use client::{ApexError, ApexStatus, Client};
