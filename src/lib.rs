//! tagtally: the floor app of a licensed cannabis wholesaler. Vault staff scan Metrc
//! package tags; every scan is checked at once against the order's allocated
//! single-batch list and recorded durably before it is answered.
//!
//! # Code map
//!
//! - [`tag`]: the `MetrcTag` newtype; normalising scanner lines (AIM prefix, case,
//!   CR/LF/TAB, site prefix/suffix) and telling tags from other barcodes.
//! - [`domain`]: the rules, pure and synchronous: packages and eligibility, orders and
//!   allocation rules, [`domain::pick::decide`] (the verdict precedence), the load and
//!   the delivery ([`domain::ship`]), and the append-only events every state is
//!   folded from.
//! - [`import`]: parsers for Metrc package JSON (v1 and v2), LeafLink and Apex orders
//!   and order CSV; bytes in, domain values or a precise error out.
//! - [`apex`]: Apex Trading, live: its one client, the pull of shipping orders, the
//!   hub's poller and an emulator (as [`leaflink`] for LeafLink).
//! - [`store`]: the only code that speaks SQL: migrations, packages, orders, events.
//! - [`scan`]: scanner sources and the shared line framing.
//! - [`hub`]: the facility hub, an axum service: devices, orders, the merge of
//!   their events, live progress, OpenAPI at `/openapi.json`.
//! - [`sync`]: the device's client of the hub (the only reqwest user): outbox push,
//!   pulls, backoff, background sync beside a pick.
//! - [`app`]: what each command does (import, pick, load, deliver, status, demo, the
//!   paper), used by `main.rs`.
//! - [`export`]: the manifest and delivery report PDFs and the Metrc transfer template,
//!   pure: documents in, bytes or JSON out.
//! - [`signature`]: the receiver's signature as a plain model (strokes to PNG) and
//!   the ink check of a stored image, below both `app` and `ui`.
//! - [`config`]: one `Settings` struct, layered defaults < file < environment.
//! - [`ui`]: the Slint touch app (the only code that touches generated Slint types),
//!   its headless platform and screenshots.
//!
//! See `ARCHITECTURE.md` for the invariants that hold between them.

pub mod apex;
pub mod app;
pub mod config;
pub mod domain;
pub mod export;
pub mod hub;
pub mod import;
pub mod leaflink;
pub mod metrc;
pub mod periodic;
pub mod scan;
pub mod signature;
pub mod store;
pub mod sync;
pub mod synthetic;
pub mod tag;
pub mod ui;
pub mod writeback;
