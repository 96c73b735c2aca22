//! Nodes and what can be done on them: run commands, start processes, copy files, over a
//! transport chosen per cluster (SSH, or an exec API a backend provides). Everything
//! here works the same over every transport; nothing here knows a backend.

pub(crate) mod build_info;
pub(crate) mod command;
mod faults;
pub(crate) mod liveness;
pub(crate) mod logs;
pub(crate) mod machine;
#[allow(clippy::module_inception)]
pub(crate) mod node;
pub(crate) mod partition;
pub(crate) mod process;
pub(crate) mod role;
pub(crate) mod select;
pub(crate) mod shaping;
pub(crate) mod transport;

pub use build_info::{BUILD_INFO_PATH, BuildInfo, DcosVariant};
pub use command::Tty;
pub use command::{Command, Output, quote};
pub use logs::{LogBundle, NodeLogs};
pub use machine::NodeState;
pub use node::Node;
pub use partition::{Direction, Partition};
pub use process::ProcessStdin;
pub use process::{OutputStream, Process};
pub use role::Role;
pub use select::NodeSelector;
pub use shaping::Link;
pub use transport::TransportKind;
pub use transport::files::CopyOptions;
pub use transport::host_keys::HostKeyChecking;
