//! Blocking [`crate::node::Node`] and [`crate::node::Process`].

use std::io::{Read, Write};
use std::net::IpAddr;
use std::path::Path;

use tokio_util::io::SyncIoBridge;

use super::{runtime, wait};
use crate::error::Result;
use crate::node::{Command, CopyOptions, NodeState, Output, OutputStream, Role, TransportKind};

/// Blocking [`crate::Node`].
#[derive(Clone, Debug)]
pub struct Node(pub(super) crate::node::Node);

impl Node {
    /// The async node underneath.
    pub fn as_async(&self) -> &crate::node::Node {
        &self.0
    }

    /// See [`crate::Node::ip_address`].
    pub fn ip_address(&self) -> IpAddr {
        self.0.ip_address()
    }

    /// See [`crate::Node::ssh_key_path`].
    pub fn ssh_key_path(&self) -> &Path {
        self.0.ssh_key_path()
    }

    /// See [`crate::Node::ssh_jump`].
    pub fn ssh_jump(&self) -> Option<std::net::SocketAddr> {
        self.0.ssh_jump()
    }

    /// See [`crate::Node::role`].
    pub fn role(&self) -> Role {
        self.0.role()
    }

    /// See [`crate::Node::index`].
    pub fn index(&self) -> usize {
        self.0.index()
    }

    /// See [`crate::Node::default_user`].
    pub fn default_user(&self) -> &str {
        self.0.default_user()
    }

    /// See [`crate::Node::transport`].
    pub fn transport(&self) -> TransportKind {
        self.0.transport()
    }

    /// See [`crate::Node::via`].
    pub fn via(&self, kind: TransportKind) -> Result<Node> {
        self.0.via(kind).map(Node)
    }

    /// See [`crate::Node::container_name`].
    pub fn container_name(&self) -> Option<&str> {
        self.0.container_name()
    }

    /// Blocking [`crate::Node::stop`].
    pub fn stop(&self) -> Result<()> {
        wait("Node::stop", self.0.stop())
    }

    /// Blocking [`crate::Node::start`].
    pub fn start(&self) -> Result<()> {
        wait("Node::start", self.0.start())
    }

    /// Blocking [`crate::Node::restart`].
    pub fn restart(&self) -> Result<()> {
        wait("Node::restart", self.0.restart())
    }

    /// Blocking [`crate::Node::pause`].
    pub fn pause(&self) -> Result<()> {
        wait("Node::pause", self.0.pause())
    }

    /// Blocking [`crate::Node::resume`].
    pub fn resume(&self) -> Result<()> {
        wait("Node::resume", self.0.resume())
    }

    /// Blocking [`crate::Node::kill`].
    pub fn kill(&self, signal: &str) -> Result<NodeState> {
        wait("Node::kill", self.0.kill(signal))
    }

    /// Blocking [`crate::Node::state`].
    pub fn state(&self) -> Result<NodeState> {
        wait("Node::state", self.0.state())
    }

    /// Blocking [`crate::Node::run`].
    pub fn run(&self, cmd: impl Into<Command>) -> Result<Output> {
        wait("Node::run", self.0.run(cmd))
    }

    /// Blocking [`crate::Node::dcos_build_info`].
    pub fn dcos_build_info(&self) -> Result<crate::node::BuildInfo> {
        wait("Node::dcos_build_info", self.0.dcos_build_info())
    }

    /// Blocking [`crate::Node::output`].
    pub fn output(&self, cmd: impl Into<Command>) -> Result<Output> {
        wait("Node::output", self.0.output(cmd))
    }

    /// Blocking [`crate::Node::popen`].
    pub fn popen(&self, cmd: impl Into<Command>) -> Result<Process> {
        wait("Node::popen", self.0.popen(cmd)).map(Process)
    }

    /// Blocking [`crate::Node::send_file`].
    pub fn send_file(&self, local: impl AsRef<Path>, remote: &str) -> Result<()> {
        wait("Node::send_file", self.0.send_file(local, remote))
    }

    /// Blocking [`crate::Node::send_file_with`].
    pub fn send_file_with(
        &self,
        local: impl AsRef<Path>,
        remote: &str,
        options: &CopyOptions,
    ) -> Result<()> {
        wait(
            "Node::send_file_with",
            self.0.send_file_with(local, remote, options),
        )
    }

    /// Blocking [`crate::Node::download_file_with`].
    pub fn download_file_with(
        &self,
        remote: &str,
        local: impl AsRef<Path>,
        options: &CopyOptions,
    ) -> Result<()> {
        wait(
            "Node::download_file_with",
            self.0.download_file_with(remote, local, options),
        )
    }

    /// Blocking [`crate::Node::download_file`].
    pub fn download_file(&self, remote: &str, local: impl AsRef<Path>) -> Result<()> {
        wait("Node::download_file", self.0.download_file(remote, local))
    }
}

impl std::fmt::Display for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// Blocking [`crate::Process`].
#[derive(Debug)]
pub struct Process(pub(super) crate::node::Process);

impl Process {
    /// See [`crate::Process::pid`].
    pub fn pid(&self) -> u32 {
        self.0.pid()
    }

    /// The standard output stream as a blocking reader (once).
    pub fn stdout(&mut self) -> Option<impl Read + use<>> {
        self.0.stdout().map(bridge)
    }

    /// The standard error stream as a blocking reader (once).
    pub fn stderr(&mut self) -> Option<impl Read + use<>> {
        self.0.stderr().map(bridge)
    }

    /// The standard input as a blocking writer (once), for a command started with
    /// [`Command::stdin`](crate::Command::stdin). Dropping it closes it (see
    /// [`crate::ProcessStdin`]).
    pub fn stdin(&mut self) -> Option<impl Write + use<>> {
        self.0
            .stdin()
            .map(|w| SyncIoBridge::new_with_handle(w, runtime().handle().clone()))
    }

    /// See [`crate::Process::has_tty`].
    pub fn has_tty(&self) -> bool {
        self.0.has_tty()
    }

    /// Blocking [`crate::Process::resize`].
    pub fn resize(&self, cols: u16, rows: u16) -> Result<()> {
        wait("Process::resize", self.0.resize(cols, rows))
    }

    /// Blocking [`crate::Process::wait`].
    pub fn wait(&mut self) -> Result<Output> {
        wait("Process::wait", self.0.wait())
    }

    /// Blocking [`crate::Process::kill`].
    pub fn kill(&self) -> Result<()> {
        wait("Process::kill", self.0.kill())
    }
}

fn bridge(stream: OutputStream) -> impl Read {
    SyncIoBridge::new_with_handle(stream, runtime().handle().clone())
}
