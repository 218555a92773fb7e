//! The rules of picking, loading and delivering: pure, synchronous, no IO.
//!
//! Architecture Invariant: nothing in `domain` imports tokio, rusqlite, reqwest or slint,
//! and nothing here can fail on IO. A wrong or duplicate scan is an outcome (a
//! [`Verdict`]), never an `Err`.

pub mod allocate;
pub mod coa;
pub mod event;
pub mod license;
pub mod merge;
pub mod order;
pub mod package;
pub mod people;
pub mod pick;
pub mod pull;
pub mod receipt;
pub mod ruling;
pub mod ship;
pub mod stage;
pub mod state;
pub mod transport;
pub mod walk;
pub mod writeback;

pub use event::{
    Decision, Event, EventKind, EventRef, LoadConfirm, RejectReason, Stage, fold_order,
};
pub use order::{Allocation, AllocationError, Line, Order, OrderStatus};
pub use package::{Ineligibility, Package, Rules};
pub use pick::{NotOnListReason, PickList, PickState, TagFacts, Verdict};
pub use ruling::{Rulings, Standing, counted};
pub use ship::{DeliveryState, LoadCheck, LoadOrder, Shipment};
pub use transport::{Driver, Vehicle};
