//! A Docker cluster once made: the running cluster the lifecycle drives, its removal
//! (one pass or a sweep), the watchdog that removes it when its owner dies, who owns
//! it, nodes removed and added, and finding, listing, attaching to and cleaning up
//! clusters by id.

pub(crate) mod attach;
pub(crate) mod cleanup;
pub(crate) mod discover;
pub(crate) mod list;
pub(crate) mod members;
pub(crate) mod owner;
pub(crate) mod running;
pub(crate) mod watchdog;
