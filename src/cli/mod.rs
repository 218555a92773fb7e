//! The command line's parts: its arguments, and the handlers too long to sit in
//! `main.rs`. Binary-only: the library never sees them.

pub(crate) mod allocate;
pub(crate) mod apex;
pub(crate) mod args;
pub(crate) mod floor;
pub(crate) mod leaflink;
pub(crate) mod licenses;
pub(crate) mod metrc;
