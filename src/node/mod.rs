//! A node of a cluster (a container or an existing host) and what can be done on it:
//! run commands, start processes, copy files. The transport underneath is chosen per
//! cluster; everything here works the same over both.

pub(crate) mod command;
pub(crate) mod transport;

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use tokio::io::AsyncRead;
use tokio::sync::{mpsc, oneshot};

pub use command::{Command, Output, quote};
pub use transport::TransportKind;
use transport::{ChunkReader, RawProcess, Transport, drain, lost};

use crate::cluster::ClusterState;
use crate::error::{CommandFailed, Error, Result};

/// The role of a node in a DC/OS cluster.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// A master node.
    Master,
    /// A private agent node.
    Agent,
    /// A public agent node.
    PublicAgent,
}

impl Role {
    /// All roles, in cluster order.
    pub const ALL: [Role; 3] = [Role::Master, Role::Agent, Role::PublicAgent];

    /// `master`, `agent` or `public-agent`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Master => "master",
            Role::Agent => "agent",
            Role::PublicAgent => "public-agent",
        }
    }

    /// The role name the DC/OS installer uses: `master`, `slave` or `slave_public`.
    pub fn installer_role(self) -> &'static str {
        match self {
            Role::Master => "master",
            Role::Agent => "slave",
            Role::PublicAgent => "slave_public",
        }
    }

    /// The part of a container name for this role: `master`, `agent` or `pub-agent`.
    pub fn container_part(self) -> &'static str {
        match self {
            Role::Master => "master",
            Role::Agent => "agent",
            Role::PublicAgent => "pub-agent",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "master" | "masters" => Ok(Role::Master),
            "agent" | "agents" | "slave" => Ok(Role::Agent),
            "public-agent" | "public_agent" | "public-agents" | "public_agents" | "pub-agent"
            | "slave_public" => Ok(Role::PublicAgent),
            other => Err(Error::invalid(
                "role",
                other,
                "expected master, agent or public-agent",
            )),
        }
    }
}

/// One node: a Docker container of a cluster, or a host of an existing cluster.
/// Cheap to clone; clones share the node's connections.
#[derive(Clone)]
pub struct Node {
    inner: Arc<NodeSpec>,
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
        write!(
            f,
            "{} {} ({})",
            self.inner.role, self.inner.index, self.inner.ip
        )
    }
}

/// What a [`Node`] is made of; the backends fill it in.
pub(crate) struct NodeSpec {
    pub role: Role,
    pub index: usize,
    pub ip: IpAddr,
    pub ssh_key_path: PathBuf,
    pub default_user: String,
    pub container: Option<String>,
    pub log_output_live: bool,
    pub transport: Arc<dyn Transport>,
    pub cluster: Arc<ClusterState>,
}

impl Node {
    pub(crate) fn new(spec: NodeSpec) -> Self {
        Self {
            inner: Arc::new(spec),
        }
    }

    /// The transport, unless the cluster is gone.
    fn transport_live(&self) -> Result<&dyn Transport> {
        self.inner.cluster.check()?;
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
    pub(crate) fn log_output_live(&self) -> bool {
        self.inner.log_output_live
    }

    /// How commands reach this node.
    pub fn transport(&self) -> TransportKind {
        self.inner.transport.kind()
    }

    fn user_of<'a>(&'a self, cmd: &'a Command) -> &'a str {
        cmd.user.as_deref().unwrap_or(&self.inner.default_user)
    }

    /// Run a command and wait for it. A non-zero exit is [`Error::CommandFailed`]
    /// carrying the command, status, stdout and stderr.
    pub async fn run(&self, cmd: impl Into<Command>) -> Result<Output> {
        self.checked(cmd.into()).await
    }

    /// Run a command and return its output whatever its exit status.
    pub async fn output(&self, cmd: impl Into<Command>) -> Result<Output> {
        let cmd = cmd.into();
        let user = self.user_of(&cmd);
        let script = cmd.script_for(user)?;
        let live = cmd.log_output_live.unwrap_or(self.inner.log_output_live);
        let mut p = self.transport_live()?.spawn(user, script, false).await?;
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
    async fn checked(&self, cmd: Command) -> Result<Output> {
        let user = self.user_of(&cmd).to_string();
        let script = cmd.script_for(&user)?;
        let output = self.output(cmd).await?;
        if output.status != 0 {
            return Err(CommandFailed {
                node: self.to_string(),
                command: script,
                status: output.status,
                stdout: output.stdout,
                stderr: output.stderr,
            }
            .into());
        }
        Ok(output)
    }

    /// Capture a stream while logging each line as it arrives.
    async fn log_lines(&self, rx: &mut mpsc::Receiver<Bytes>, stream: &'static str) -> Vec<u8> {
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
    /// it comes, `wait` and `kill`.
    pub async fn popen(&self, cmd: impl Into<Command>) -> Result<Process> {
        let cmd = cmd.into();
        let user = self.user_of(&cmd).to_string();
        let script = cmd.script_for(&user)?;
        // The login shell reports its pid first: it leads the process group that kill()
        // stops (sshd and docker exec both start it as a session leader).
        let wrapped = format!("echo {PID_MARK}$$ >&2; {script}");
        let mut raw = self.transport_live()?.spawn(&user, wrapped, false).await?;
        // Startup files of the login shell may print to stderr before the mark: keep
        // those lines as the process's stderr.
        let mut seen = Vec::new();
        let mut scanned = 0;
        let pid = 'mark: loop {
            let Some(chunk) = raw.stderr.recv().await else {
                break None;
            };
            seen.extend_from_slice(&chunk);
            while let Some(len) = seen[scanned..].iter().position(|&b| b == b'\n') {
                let end = scanned + len;
                let pid = std::str::from_utf8(&seen[scanned..end])
                    .ok()
                    .and_then(|line| line.strip_prefix(PID_MARK))
                    .and_then(|p| p.trim().parse::<u32>().ok());
                if pid.is_some() {
                    seen.drain(scanned..=end);
                    break 'mark pid;
                }
                scanned = end + 1;
            }
        };
        let Some(pid) = pid else {
            let status = raw
                .exit
                .await
                .unwrap_or_else(|_| Err(lost(&*self.inner.transport)))?;
            let stderr = String::from_utf8_lossy(&seen);
            return Err(Error::Transport {
                node: self.to_string(),
                transport: self.inner.transport.kind().as_str(),
                detail: format!(
                    "the process did not start (status {status}): {}",
                    stderr.trim()
                ),
                source: None,
            });
        };
        let RawProcess {
            stdout,
            stderr,
            exit,
            ..
        } = raw;
        Ok(Process {
            node: self.clone(),
            user,
            sudo: cmd.sudo,
            pid,
            command: script,
            stdout: Some(ChunkReader::new(stdout)),
            stderr: Some(ChunkReader::with_prefix(stderr, Bytes::from(seen))),
            exit: Some(exit),
        })
    }

    /// Copy a local file to `remote` (an absolute path) on the node, creating missing
    /// parent directories and keeping the file's mode. The file is streamed.
    pub async fn send_file(&self, local: impl AsRef<Path>, remote: &str) -> Result<()> {
        self.transport_live()?
            .send_file(&self.inner.default_user, local.as_ref(), remote)
            .await
    }

    /// Copy `remote` from the node to `local`, keeping its mode.
    pub async fn download_file(&self, remote: &str, local: impl AsRef<Path>) -> Result<()> {
        self.transport_live()?
            .download_file(&self.inner.default_user, remote, local.as_ref())
            .await
    }

    /// Check the node answers on its transport.
    pub(crate) async fn ping(&self) -> Result<()> {
        self.output(Command::new(["true"])).await.map(drop)
    }
}

const PID_MARK: &str = "dcos-e2e-pid:";

/// A command running on a node, started by [`Node::popen`].
pub struct Process {
    node: Node,
    user: String,
    sudo: bool,
    pid: u32,
    command: String,
    stdout: Option<ChunkReader>,
    stderr: Option<ChunkReader>,
    exit: Option<oneshot::Receiver<Result<i32>>>,
}

impl fmt::Debug for Process {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Process")
            .field("node", &self.node)
            .field("pid", &self.pid)
            .field("command", &self.command)
            .finish()
    }
}

/// A stream of a process's output; read it as it arrives.
pub struct OutputStream(ChunkReader);

impl AsyncRead for OutputStream {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl Process {
    /// The process id of the command's shell on the node.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Take the standard output stream (once). Output not taken is collected by `wait`.
    pub fn stdout(&mut self) -> Option<OutputStream> {
        self.stdout.take().map(OutputStream)
    }

    /// Take the standard error stream (once).
    pub fn stderr(&mut self) -> Option<OutputStream> {
        self.stderr.take().map(OutputStream)
    }

    /// Wait for the process to end. Returns its status and any output not taken.
    pub async fn wait(&mut self) -> Result<Output> {
        use tokio::io::AsyncReadExt;
        let mut stdout = Vec::new();
        let mut stderr = Vec::new();
        let out = async {
            if let Some(r) = self.stdout.as_mut() {
                let _ = r.read_to_end(&mut stdout).await;
            }
        };
        let err = async {
            if let Some(r) = self.stderr.as_mut() {
                let _ = r.read_to_end(&mut stderr).await;
            }
        };
        tokio::join!(out, err);
        self.stdout = None;
        self.stderr = None;
        let exit = self
            .exit
            .take()
            .ok_or_else(|| Error::invalid("process", self.pid, "already waited for"))?;
        let status = exit
            .await
            .unwrap_or_else(|_| Err(lost(&*self.node.inner.transport)))?;
        Ok(Output {
            status,
            stdout,
            stderr,
        })
    }

    /// Stop the process and everything it started (SIGKILL to its process group and
    /// descendants). Returns once the signal is sent; `wait` then returns.
    pub async fn kill(&self) -> Result<()> {
        // Stop first so nothing new is forked while the tree is walked.
        let script = format!(
            "k() {{ kill -STOP \"$1\" 2>/dev/null; for c in $(ps -o pid= --ppid \"$1\" 2>/dev/null); do k \"$c\"; done; kill -KILL \"$1\" 2>/dev/null; }}; \
             k {pid}; kill -KILL -- -{pid} 2>/dev/null; true",
            pid = self.pid
        );
        let cmd = Command::shell(script)
            .user(self.user.clone())
            .sudo(self.sudo);
        self.node.checked(cmd).await.map(drop)
    }
}
