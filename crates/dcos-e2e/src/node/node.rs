//! A node of a cluster (a container or an existing host): run commands, start
//! processes, copy files.

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::command::{Command, Output};
use super::liveness::Liveness;
use super::machine::{Known, Machine};
use super::process::{self, Place, Process};
use super::role::{Role, display_name};
use super::transport::files::CopyOptions;
use super::transport::{Launch, StreamRx, Transport, TransportKind, copy, drain, lost};
use crate::error::Result;

/// One node: a Docker container of a cluster, or a host of an existing cluster.
/// Cheap to clone; clones share the node's connections.
#[derive(Clone)]
pub struct Node {
    pub(crate) inner: Arc<NodeSpec>,
}

impl fmt::Debug for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Node")
            .field("role", &self.inner.role)
            .field("index", &self.inner.index)
            .field("ip_address", &self.inner.ip)
            .field("container", &self.inner.container)
            .field("transport", &self.inner.transport.kind())
            .finish()
    }
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&display_name(
            self.inner.role,
            self.inner.index,
            self.inner.ip,
        ))
    }
}

/// What a [`Node`] is made of; the backends fill it in.
pub(crate) struct NodeSpec {
    pub role: Role,
    pub index: usize,
    pub ip: IpAddr,
    pub ssh_key_path: PathBuf,
    /// The jump host SSH to it goes through (`ssh -J`), if any.
    pub ssh_jump: Option<std::net::SocketAddr>,
    pub default_user: String,
    /// How OpenSSH should check this node's host key, as the cluster does.
    pub host_key_check: OpenSshCheck,
    pub container: Option<String>,
    pub log_output_live: bool,
    pub transport: Arc<dyn Transport>,
    /// Its other way in, where its backend has one (a Docker node: SSH and docker
    /// exec), for [`Node::via`].
    pub other: Option<Arc<dyn Transport>>,
    pub cluster: Arc<Liveness>,
    /// Its machine, where the backend can stop and pause it (Docker).
    pub machine: Option<Arc<dyn Machine>>,
    /// What this process last made of the machine (shared with [`Node::via`]'s).
    pub known: Arc<Known>,
}

/// How an OpenSSH command line checks a node's host key: against this file, and
/// (`accept_new`) trusting a host not listed in it.
#[derive(Clone, Debug, Default)]
pub(crate) struct OpenSshCheck {
    pub known_hosts: Option<PathBuf>,
    pub accept_new: bool,
}

impl Node {
    pub(crate) fn new(spec: NodeSpec) -> Self {
        Self {
            inner: Arc::new(spec),
        }
    }

    /// This node, its commands and copies going by `kind`: itself when that is its
    /// transport, else its other way in (a Docker node has SSH and docker exec). The
    /// two share the node's state and connections.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`](crate::Error::InvalidParameter) when the node has no
    /// such way in (a host of an existing cluster: SSH only).
    pub fn via(&self, kind: TransportKind) -> Result<Node> {
        let spec = &*self.inner;
        if spec.transport.kind() == kind {
            return Ok(self.clone());
        }
        let Some(other) = spec.other.as_ref().filter(|t| t.kind() == kind) else {
            return Err(crate::error::Error::invalid(
                crate::error::Parameter::Transport,
                kind,
                format!("{self} is reached by {} only", spec.transport.kind()),
            ));
        };
        Ok(Node::new(NodeSpec {
            role: spec.role,
            index: spec.index,
            ip: spec.ip,
            ssh_key_path: spec.ssh_key_path.clone(),
            ssh_jump: spec.ssh_jump,
            default_user: spec.default_user.clone(),
            host_key_check: spec.host_key_check.clone(),
            container: spec.container.clone(),
            log_output_live: spec.log_output_live,
            transport: other.clone(),
            other: Some(spec.transport.clone()),
            cluster: spec.cluster.clone(),
            machine: spec.machine.clone(),
            known: spec.known.clone(),
        }))
    }

    /// The transport, unless the cluster is gone.
    pub(crate) fn transport_live(&self) -> Result<&dyn Transport> {
        self.inner.cluster.check()?;
        self.check_up()?;
        Ok(&*self.inner.transport)
    }

    /// The node's address (on the cluster network for Docker nodes).
    pub fn ip_address(&self) -> IpAddr {
        self.inner.ip
    }

    /// The private key that logs in to this node.
    pub fn ssh_key_path(&self) -> &Path {
        &self.inner.ssh_key_path
    }

    /// The jump host that SSH to this node goes through (a Docker daemon on another
    /// host, reached with the SSH transport), as `root@` with the same key.
    pub fn ssh_jump(&self) -> Option<std::net::SocketAddr> {
        self.inner.ssh_jump
    }

    /// An OpenSSH command line (one word each) that logs in to this node as its default
    /// user with the cluster's key, checking its host key as the cluster does (the
    /// cluster's `known_hosts` file; through its jump host, checked the same way): for a
    /// person at a terminal. Join it with [`quote`](crate::quote) to paste it.
    pub fn ssh_command(&self) -> Vec<String> {
        let check = &self.inner.host_key_check;
        let key = self.inner.ssh_key_path.display().to_string();
        let mut options = Vec::new();
        if let Some(known_hosts) = &check.known_hosts {
            options.push(format!("UserKnownHostsFile={}", known_hosts.display()));
        }
        if check.accept_new || check.known_hosts.is_none() {
            options.push("StrictHostKeyChecking=accept-new".to_string());
        }
        let mut words = vec!["ssh".to_string(), "-i".to_string(), key.clone()];
        for o in &options {
            words.extend(["-o".to_string(), o.clone()]);
        }
        if let Some(jump) = self.inner.ssh_jump {
            let mut hop = vec![super::quote("ssh"), "-i".into(), super::quote(&key)];
            for o in &options {
                hop.extend(["-o".to_string(), super::quote(o)]);
            }
            hop.extend([
                "-p".into(),
                jump.port().to_string(),
                "-W".into(),
                "%h:%p".into(),
                format!("root@{}", jump.ip()),
            ]);
            words.extend(["-o".to_string(), format!("ProxyCommand={}", hop.join(" "))]);
        }
        words.push(format!("{}@{}", self.inner.default_user, self.inner.ip));
        words
    }

    /// The node's role.
    pub fn role(&self) -> Role {
        self.inner.role
    }

    /// Position within its role, from 1 (as in the container name).
    pub fn index(&self) -> usize {
        self.inner.index
    }

    /// The Docker container name, for Docker nodes.
    pub fn container_name(&self) -> Option<&str> {
        self.inner.container.as_deref()
    }

    /// The user commands run as unless they say otherwise.
    pub fn default_user(&self) -> &str {
        &self.inner.default_user
    }

    /// Whether command output is logged live by default on this node.
    pub fn log_output_live(&self) -> bool {
        self.inner.log_output_live
    }

    /// How commands reach this node.
    pub fn transport(&self) -> TransportKind {
        self.inner.transport.kind()
    }

    pub(crate) fn user_of<'a>(&'a self, cmd: &'a Command) -> &'a str {
        cmd.user.as_deref().unwrap_or(&self.inner.default_user)
    }

    /// Run a command and wait for it. A non-zero exit is
    /// [`Error::CommandFailed`](crate::Error::CommandFailed) carrying the command,
    /// status, stdout and stderr.
    pub async fn run(&self, cmd: impl Into<Command>) -> Result<Output> {
        self.checked(cmd.into()).await
    }

    /// Run a command and return its output whatever its exit status.
    pub async fn output(&self, cmd: impl Into<Command>) -> Result<Output> {
        let cmd = cmd.into();
        let user = self.user_of(&cmd);
        let script = cmd.script_for(user)?;
        let launch = Launch {
            tty: cmd.checked_tty()?.cloned(),
            ..Launch::new(user, script)
        };
        let live = cmd.log_output_live.unwrap_or(self.inner.log_output_live);
        let mut p = self.transport_live()?.spawn(launch).await?;
        let (stdout, stderr) = if live {
            tokio::join!(
                self.log_lines(&mut p.stdout, "stdout"),
                self.log_lines(&mut p.stderr, "stderr")
            )
        } else {
            tokio::join!(drain(&mut p.stdout), drain(&mut p.stderr))
        };
        let status = p
            .exit
            .await
            .unwrap_or_else(|_| Err(lost(&*self.inner.transport)))?;
        Ok(Output {
            status,
            stdout,
            stderr,
        })
    }

    /// [`Node::output`], failing on a non-zero exit.
    pub(crate) async fn checked(&self, cmd: Command) -> Result<Output> {
        let user = self.user_of(&cmd).to_string();
        let shown = cmd.shown_for(&user)?;
        self.output(cmd).await?.checked(&self.to_string(), shown)
    }

    /// Capture a stream while logging each line as it arrives.
    async fn log_lines(&self, rx: &mut StreamRx, stream: &'static str) -> Vec<u8> {
        let mut all = Vec::new();
        let mut line_start = 0;
        while let Some(chunk) = rx.recv().await {
            all.extend_from_slice(&chunk);
            while let Some(pos) = all[line_start..].iter().position(|&b| b == b'\n') {
                let line = String::from_utf8_lossy(&all[line_start..line_start + pos]);
                tracing::info!(target: "dcos_e2e::node", node = %self, stream, "{line}");
                line_start += pos + 1;
            }
        }
        if line_start < all.len() {
            tracing::info!(target: "dcos_e2e::node", node = %self, stream, "{}", String::from_utf8_lossy(&all[line_start..]));
        }
        all
    }

    /// Start a command and return at once with its running [`Process`]: its output as
    /// it comes, its input if the command asks for one ([`Command::stdin`]), its
    /// terminal if it asks for one ([`Command::tty`]), `wait` and `kill`. Over SSH it
    /// has a connection of its own, so that however its output is read, other commands
    /// on the node are not held up.
    ///
    /// ```no_run
    /// # async fn shell(node: &dcos_e2e::Node) -> Result<(), Box<dyn std::error::Error>> {
    /// use dcos_e2e::{Command, Tty};
    /// use tokio::io::AsyncWriteExt;
    ///
    /// let cmd = Command::new(["bash"]).tty(Tty::new(80, 24)).stdin(true);
    /// let mut shell = node.popen(cmd).await?;
    /// let mut keys = shell.stdin().expect("asked for");
    /// keys.write_all(b"stty size; exit 3\r").await?;
    /// shell.resize(100, 30).await?;
    /// let out = shell.wait().await?;
    /// assert_eq!(out.status, 3);
    /// # Ok(()) }
    /// ```
    pub async fn popen(&self, cmd: impl Into<Command>) -> Result<Process> {
        let cmd = cmd.into();
        self.check_up()?;
        let place = Place {
            transport: self.inner.transport.clone(),
            liveness: self.inner.cluster.clone(),
            node: self.to_string(),
        };
        process::start(place, self.user_of(&cmd).to_string(), cmd).await
    }

    /// Copy a local file or directory to `remote` (an absolute path) on the node, as
    /// the default user. Missing parent directories are made; a file keeps its mode and
    /// replaces `remote` whole; a directory is sent as a tar stream, modes and symbolic
    /// links kept, and merged into an existing directory at `remote`.
    pub async fn send_file(&self, local: impl AsRef<Path>, remote: &str) -> Result<()> {
        self.send_file_with(local, remote, &CopyOptions::default())
            .await
    }

    /// [`Node::send_file`] as another user, or through `sudo`.
    pub async fn send_file_with(
        &self,
        local: impl AsRef<Path>,
        remote: &str,
        options: &CopyOptions,
    ) -> Result<()> {
        let transport = self.transport_live()?;
        let user = options.user.as_deref().unwrap_or(&self.inner.default_user);
        copy::send(transport, user, options.sudo, local.as_ref(), remote).await
    }

    /// Copy `remote` (a file, keeping its mode, or a directory, as
    /// [`Node::send_file`] sends one) from the node to `local`, as the default user.
    pub async fn download_file(&self, remote: &str, local: impl AsRef<Path>) -> Result<()> {
        self.download_file_with(remote, local, &CopyOptions::default())
            .await
    }

    /// [`Node::download_file`] as another user, or through `sudo`.
    pub async fn download_file_with(
        &self,
        remote: &str,
        local: impl AsRef<Path>,
        options: &CopyOptions,
    ) -> Result<()> {
        let transport = self.transport_live()?;
        let user = options.user.as_deref().unwrap_or(&self.inner.default_user);
        copy::download(transport, user, options.sudo, remote, local.as_ref()).await
    }

    /// Check the node answers on its transport.
    pub(crate) async fn ping(&self) -> Result<()> {
        self.output(Command::new(["true"])).await.map(drop)
    }
}
