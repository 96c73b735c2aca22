//! SSH with russh: one connection per node and user, opened on first use and kept;
//! each command is a channel on it, many at once. A dropped connection is reopened on
//! the next command. Host keys are checked per cluster ([`super::host_keys`]).
//!
//! A consumer must never stall that shared connection: russh runs all its channels in
//! one loop, which waits whenever one channel's queue is full, and russh 0.65's client
//! cannot hold back one channel's window instead (it replenishes every window as data
//! arrives; `Handler::adjust_window`'s result is unused, russh issue #770). So output
//! on the shared connection is buffered without bound (its consumers read both streams
//! to the end at once), and a [`Launch::paced`] process (`popen`, a download), whose
//! consumer may read slowly or never, gets a connection of its own: its reader waits
//! when [`PACED_LIMIT`] bytes are unread, that connection's TCP window closes, and the
//! remote process blocks on write as behind a pipe, while every other command goes on.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use russh::client::{self, Handle};
use russh::keys::{HashAlg, PrivateKey, PrivateKeyWithHashAlg};
use russh::{ChannelMsg, ChannelOpenFailure, Sig};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

use super::host_keys::{Checker, HostKeys, Refusal};
use super::ssh_config::{client_config, load_private_key};
use super::stream;
use super::{BoxFuture, Launch, PACED_LIMIT, RawProcess, Terminal, Transport, TransportKind};
use crate::error::{Error, Result};
use crate::node::command::{Tty, for_any_login_shell};

/// Connections of their own being set up at once per node: sshd drops unauthenticated
/// connections at random beyond `MaxStartups` (OpenSSH's default starts at 10).
const HANDSHAKES_AT_ONCE: usize = 4;

/// Settings shared by every SSH connection of a cluster.
#[derive(Clone, Debug)]
pub(crate) struct SshSettings {
    pub key_path: PathBuf,
    pub key: Arc<PrivateKey>,
    pub port: u16,
    pub connect_timeout: Duration,
    /// Channels open at once on one connection (sshd's `MaxSessions`).
    pub max_sessions: usize,
    pub host_keys: HostKeys,
    /// Where the nodes are reached through, when this machine cannot route to them.
    pub jump: Option<Arc<dyn Tunnel>>,
    /// The connections carry tunnels or socket streams only (a jump host, a Docker
    /// host): each runs one command first (see `make_interactive`).
    pub tunnels_only: bool,
    config: Arc<client::Config>,
}

impl SshSettings {
    pub(crate) fn new(
        key_path: &Path,
        connect_timeout: Duration,
        max_sessions: usize,
        host_keys: HostKeys,
    ) -> Result<Self> {
        let key = load_private_key(key_path)?;
        let config = client_config(None);
        Ok(Self {
            key_path: key_path.to_path_buf(),
            key: Arc::new(key),
            port: 22,
            connect_timeout,
            max_sessions: max_sessions.max(1),
            host_keys,
            jump: None,
            tunnels_only: false,
            config: Arc::new(config),
        })
    }
}

/// A way to the nodes' sshd from a host that can reach them (a jump host).
pub(crate) trait Tunnel: Send + Sync + std::fmt::Debug {
    /// Where this machine reaches the jump host.
    fn addr(&self) -> SocketAddr;

    /// A byte stream to `to`, and the connection it runs in, to keep while it is used
    /// (`own`: a new one, for a reader that may stall). `node` names `to` in errors.
    fn tunnel<'a>(
        &'a self,
        to: SocketAddr,
        own: bool,
        node: &'a str,
    ) -> BoxFuture<'a, Result<(russh::ChannelStream<client::Msg>, Arc<Connection>)>>;
}

pub(crate) struct Connection {
    pub(super) handle: Handle<Checker>,
    sessions: Arc<Semaphore>,
    /// The jump host connection this one is tunnelled through (kept open with it).
    _via: Option<Arc<Connection>>,
}

/// Have sshd set TCP_NODELAY on a new connection's socket, for one that will carry
/// only tunnels or socket streams: OpenSSH sets it when a session first runs a
/// command, and until then the small replies it relays wait for this side's delayed
/// ACKs (Nagle): `run(["true"])` through a jump host took ~45 ms instead of ~10. The
/// command is `true` (on our jump host, its forced `/bin/false`); once is enough.
async fn make_interactive(handle: &Handle<Checker>) {
    let ran = async {
        let mut channel = handle.channel_open_session().await?;
        channel.exec(true, "true").await?;
        while let Some(msg) = channel.wait().await {
            if matches!(msg, ChannelMsg::Close) {
                break;
            }
        }
        Ok::<_, russh::Error>(())
    };
    if let Err(e) = ran.await {
        tracing::debug!("could not run a command to make the connection interactive: {e}");
    }
}

/// What a running command holds until it ends: its session slot on the shared
/// connection, or a connection of its own (closed when dropped).
struct Hold {
    _slot: Option<OwnedSemaphorePermit>,
    _connection: Option<Connection>,
}

/// The SSH transport to one node.
pub(crate) struct SshTransport {
    ip: IpAddr,
    name: String,
    settings: SshSettings,
    connections: tokio::sync::Mutex<HashMap<String, Arc<Connection>>>,
    handshakes: Semaphore,
}

impl SshTransport {
    pub(crate) fn new(ip: IpAddr, name: String, settings: SshSettings) -> Self {
        Self {
            ip,
            name,
            settings,
            connections: Default::default(),
            handshakes: Semaphore::new(HANDSHAKES_AT_ONCE),
        }
    }

    fn error(&self, detail: impl Into<String>, source: Option<russh::Error>) -> Error {
        self.failure(detail.into(), source.map(|e| Box::new(e) as _))
    }

    /// The open connection for `user`, connecting (or reconnecting) when needed.
    pub(super) async fn connection(&self, user: &str) -> Result<Arc<Connection>> {
        let mut connections = self.connections.lock().await;
        if let Some(c) = connections.get(user)
            && !c.handle.is_closed()
        {
            return Ok(c.clone());
        }
        let conn = Arc::new(self.connect(user, false).await?);
        connections.insert(user.to_string(), conn.clone());
        Ok(conn)
    }

    /// A new connection; through the jump host (if any) on a connection of its own to
    /// that host when `own` (see [`super::jump`]).
    pub(super) async fn connect(&self, user: &str, own: bool) -> Result<Connection> {
        // 0.0.0.0 would reach this host's own sshd.
        if self.ip.is_unspecified() {
            return Err(Error::NoAddress {
                node: self.name.clone(),
                transport: TransportKind::Ssh,
            });
        }
        let timeout = self.settings.connect_timeout;
        let port = self.settings.port;
        let host_keys = &self.settings.host_keys;
        // A host listed with, say, only its ECDSA key is asked for that one.
        let config = match host_keys.preferred_algorithms(self.ip, port) {
            Some(order) => Arc::new(client_config(Some(order))),
            None => self.settings.config.clone(),
        };
        let attempt = async {
            let addr = SocketAddr::new(self.ip, port);
            let mut via = None;
            let mut handle = loop {
                let refusal = Arc::new(std::sync::Mutex::new(None));
                let checker = Checker {
                    ip: self.ip,
                    port,
                    host_keys: host_keys.clone(),
                    refusal: refusal.clone(),
                };
                let connected = match &self.settings.jump {
                    None => client::connect(config.clone(), addr, checker).await,
                    Some(jump) => {
                        let (stream, through) = jump.tunnel(addr, own, &self.name).await?;
                        via = Some(through);
                        client::connect_stream(config.clone(), stream, checker).await
                    }
                };
                match connected {
                    Ok(handle) => break handle,
                    // "No route to host" is the kernel's way of saying nothing answered
                    // ARP: a node that does not answer (stopped, rebooting). Whether that
                    // or the timeout came first was a race, so keep trying until the
                    // connect timeout: the outcome is always `Error::Timeout`.
                    Err(russh::Error::IO(e)) if unreachable(&e) => {
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                    // Said plainly: russh's own text is just "Unknown server key".
                    Err(russh::Error::UnknownKey) => {
                        let refusal = refusal
                            .lock()
                            .unwrap_or_else(|poisoned| poisoned.into_inner())
                            .take()
                            .unwrap_or(Refusal::Mismatch);
                        return Err(refusal.error(&self.name));
                    }
                    Err(e) => {
                        return Err(Error::Unreachable {
                            node: self.name.clone(),
                            transport: TransportKind::Ssh,
                            detail: "cannot connect".into(),
                            source: Some(Box::new(e)),
                        });
                    }
                }
            };
            let hash: Option<HashAlg> = if self.settings.key.algorithm().is_rsa() {
                handle
                    .best_supported_rsa_hash()
                    .await
                    .ok()
                    .flatten()
                    .flatten()
            } else {
                None
            };
            let key = PrivateKeyWithHashAlg::new(self.settings.key.clone(), hash);
            let auth = handle
                .authenticate_publickey(user, key)
                .await
                .map_err(|e| self.error("authentication failed", Some(e)))?;
            if !auth.success() {
                return Err(Error::AuthenticationRefused {
                    node: self.name.clone(),
                    user: user.to_string(),
                    key: self.settings.key_path.clone(),
                });
            }
            if self.settings.tunnels_only {
                make_interactive(&handle).await;
            }
            Ok((handle, via))
        };
        let (handle, via) = tokio::time::timeout(timeout, attempt)
            .await
            .map_err(|_| self.timeout())??;
        Ok(Connection {
            handle,
            sessions: Arc::new(Semaphore::new(self.settings.max_sessions)),
            _via: via,
        })
    }

    /// Stop handing out `conn` after a channel open on it timed out; the next command
    /// connects afresh. Commands already running on it keep it open until they end.
    ///
    /// Kept instead, it broke for good after a freeze: the server confirmed the
    /// abandoned opens once it answered again, russh keeps such channels open with no
    /// one to close them, and with OpenSSH's default `MaxSessions 10` every later open
    /// was refused. Dropping the connection closes them.
    fn retire(&self, user: &str, conn: &Arc<Connection>) {
        // Never wait here: the map is locked for the length of a connect.
        if let Ok(mut connections) = self.connections.try_lock()
            && connections
                .get(user)
                .is_some_and(|current| Arc::ptr_eq(current, conn))
        {
            connections.remove(user);
        }
    }

    fn timeout(&self) -> Error {
        Error::Timeout {
            node: self.name.clone(),
            transport: TransportKind::Ssh,
            timeout: self.settings.connect_timeout,
        }
    }

    /// Open a session channel; a connection found dead is replaced once.
    ///
    /// Everything that waits on the node is bounded by the connect timeout: waiting for
    /// another command's connect (they share one connection), connecting, and opening
    /// the channel. Only waiting for a free session slot is not, as that is queueing
    /// behind our own running commands. Without the bounds, a node that stopped
    /// answering (frozen, partitioned) with a connection already open made the next
    /// command wait for keepalive to give up (~12 s, then a reconnect), and N concurrent
    /// commands on an unreachable node waited N connect timeouts one after another.
    async fn open_channel(
        &self,
        user: &str,
    ) -> Result<(russh::Channel<client::Msg>, OwnedSemaphorePermit)> {
        let limit = self.settings.connect_timeout;
        for attempt in 0..2 {
            let conn = tokio::time::timeout(limit, self.connection(user))
                .await
                .map_err(|_| self.timeout())??;
            let permit = conn
                .sessions
                .clone()
                .acquire_owned()
                .await
                .map_err(|_| self.error("connection closed", None))?;
            let deadline = tokio::time::Instant::now() + limit;
            let mut pause = Duration::from_millis(10);
            let opened = loop {
                let Ok(opened) =
                    tokio::time::timeout_at(deadline, conn.handle.channel_open_session()).await
                else {
                    self.retire(user, &conn);
                    return Err(self.timeout());
                };
                match opened {
                    // sshd frees a session a moment after its channel is closed on both
                    // sides, so an open right after another command ended can be
                    // refused at `MaxSessions` (OpenSSH's default, 10, is our limit per
                    // connection to existing hosts): 8 of 40 concurrent runs failed so.
                    // Try again shortly, within the deadline.
                    Err(russh::Error::ChannelOpenFailure(
                        ChannelOpenFailure::ConnectFailed
                        | ChannelOpenFailure::AdministrativelyProhibited
                        | ChannelOpenFailure::ResourceShortage,
                    )) if tokio::time::Instant::now() + pause < deadline => {
                        tokio::time::sleep(pause).await;
                        pause = (pause * 2).min(Duration::from_millis(200));
                    }
                    other => break other,
                }
            };
            match opened {
                Ok(channel) => return Ok((channel, permit)),
                Err(e) if attempt == 0 && conn.handle.is_closed() => {
                    tracing::debug!(node = %self.name, "SSH connection dropped ({e}); reconnecting");
                }
                Err(e @ russh::Error::ChannelOpenFailure(_)) => {
                    return Err(self.error(
                        format!(
                            "the server kept refusing new session channels for {limit:?} \
                             (is its sshd MaxSessions below {}, the commands this runs at \
                             once on one connection?)",
                            self.settings.max_sessions
                        ),
                        Some(e),
                    ));
                }
                Err(e) => return Err(self.error("cannot open a session channel", Some(e))),
            }
        }
        Err(self.error("cannot open a session channel", None))
    }
}

impl SshTransport {
    /// A byte stream to the unix socket at `path` on the host (OpenSSH's
    /// direct-streamlocal), which keeps its connection open: the shared one, or with
    /// `own` a connection of its own, for a stream its reader may leave unread (see the
    /// top: on the shared connection that would stall every other channel).
    pub(crate) async fn socket_stream(
        &self,
        user: &str,
        path: &str,
        own: bool,
    ) -> Result<(russh::ChannelStream<client::Msg>, Arc<Connection>)> {
        let limit = self.settings.connect_timeout;
        let connecting = async {
            if !own {
                return self.connection(user).await;
            }
            let _slot = self
                .handshakes
                .acquire()
                .await
                .map_err(|_| self.error("connection closed", None))?;
            Ok(Arc::new(self.connect(user, true).await?))
        };
        let conn = tokio::time::timeout(limit, connecting)
            .await
            .map_err(|_| self.timeout())??;
        let channel =
            tokio::time::timeout(limit, conn.handle.channel_open_direct_streamlocal(path))
                .await
                .map_err(|_| self.timeout())?
                .map_err(|e| {
                    self.error(format!("cannot open a stream to {path} there"), Some(e))
                })?;
        Ok((channel.into_stream(), conn))
    }

    /// A session channel on a connection of its own, for a paced process; bounded, as
    /// a whole, by the connect timeout.
    async fn open_own_channel(
        &self,
        user: &str,
    ) -> Result<(russh::Channel<client::Msg>, Connection)> {
        let attempt = async {
            let slot = self
                .handshakes
                .acquire()
                .await
                .map_err(|_| self.error("connection closed", None))?;
            let conn = self.connect(user, true).await?;
            drop(slot);
            let channel = conn
                .handle
                .channel_open_session()
                .await
                .map_err(|e| self.error("cannot open a session channel", Some(e)))?;
            Ok((channel, conn))
        };
        tokio::time::timeout(self.settings.connect_timeout, attempt)
            .await
            .map_err(|_| self.timeout())?
    }
}

impl SshTransport {
    /// Ask for a pseudo-terminal and wait for the answer: a server that gives none
    /// (`PermitTTY no`) would otherwise run the command without one.
    async fn request_pty(
        &self,
        read: &mut russh::ChannelReadHalf,
        write: &russh::ChannelWriteHalf<client::Msg>,
        tty: &Tty,
    ) -> Result<()> {
        write
            .request_pty(
                true,
                &tty.term,
                u32::from(tty.cols),
                u32::from(tty.rows),
                0,
                0,
                &[],
            )
            .await
            .map_err(|e| self.error("cannot ask for a terminal", Some(e)))?;
        let answer = async {
            loop {
                match read.wait().await {
                    Some(ChannelMsg::Success) => return Ok(()),
                    Some(ChannelMsg::Failure) => {
                        return Err(self.error(
                            "the server refused a terminal (is PermitTTY off in its sshd_config?)",
                            None,
                        ));
                    }
                    Some(_) => {}
                    None => {
                        return Err(
                            self.error("the channel closed while asking for a terminal", None)
                        );
                    }
                }
            }
        };
        tokio::time::timeout(self.settings.connect_timeout, answer)
            .await
            .map_err(|_| self.timeout())?
    }
}

/// A channel's pseudo-terminal: resized with `window-change` requests.
struct SshTerminal {
    write: Arc<russh::ChannelWriteHalf<client::Msg>>,
    node: String,
}

impl Terminal for SshTerminal {
    fn resize(&self, cols: u16, rows: u16) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            self.write
                .window_change(u32::from(cols), u32::from(rows), 0, 0)
                .await
                .map_err(|e| {
                    Error::transport(
                        &self.node,
                        TransportKind::Ssh,
                        "cannot resize the terminal",
                        Some(Box::new(e)),
                    )
                })
        })
    }
}

/// Nothing answers at the address (as opposed to a refused connection, or no route to
/// its network at all, which is a configuration error worth reporting at once).
fn unreachable(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::HostUnreachable
}

/// Exit status for a signal, as a shell reports it.
fn signal_status(sig: &Sig) -> i32 {
    let number = match sig {
        Sig::HUP => 1,
        Sig::INT => 2,
        Sig::QUIT => 3,
        Sig::ILL => 4,
        Sig::ABRT => 6,
        Sig::FPE => 8,
        Sig::KILL => 9,
        Sig::USR1 => 10,
        Sig::SEGV => 11,
        Sig::PIPE => 13,
        Sig::ALRM => 14,
        Sig::TERM => 15,
        Sig::Custom(_) => 0,
    };
    128 + number
}

impl Transport for SshTransport {
    fn describe(&self) -> (TransportKind, &str) {
        (TransportKind::Ssh, &self.name)
    }

    fn reset(&self) -> BoxFuture<'_, ()> {
        Box::pin(async { self.connections.lock().await.clear() })
    }

    fn spawn<'a>(&'a self, launch: Launch<'a>) -> BoxFuture<'a, Result<RawProcess>> {
        Box::pin(async move {
            let Launch {
                user,
                script,
                stdin,
                tty,
                paced,
            } = launch;
            let (channel, hold) = if paced {
                let (channel, conn) = self.open_own_channel(user).await?;
                let hold = Hold {
                    _slot: None,
                    _connection: Some(conn),
                };
                (channel, hold)
            } else {
                let (channel, permit) = self.open_channel(user).await?;
                let hold = Hold {
                    _slot: Some(permit),
                    _connection: None,
                };
                (channel, hold)
            };
            let (mut read, write) = channel.split();
            let write = Arc::new(write);
            if let Some(tty) = &tty {
                self.request_pty(&mut read, &write, tty).await?;
            }
            // sshd hands the command to the user's login shell, which may not be POSIX.
            write
                .exec(true, for_any_login_shell(&script).into_bytes())
                .await
                .map_err(|e| self.error("cannot start the command", Some(e)))?;
            // No input: end of file at once, as docker exec gives (and `ssh -n`). A
            // terminal has no end of file (closing its input would not reach the program).
            if !stdin && tty.is_none() {
                write
                    .eof()
                    .await
                    .map_err(|e| self.error("cannot start the command", Some(e)))?;
            }
            let ((out_tx, stdout), (err_tx, stderr)) = if paced {
                (stream::bounded(PACED_LIMIT), stream::bounded(PACED_LIMIT))
            } else {
                (stream::unbounded(), stream::unbounded())
            };
            let (exit_tx, exit) = oneshot::channel();
            let lost = self.error("the connection ended before the command finished", None);
            let refusal = self.error("the server refused to run the command", None);
            let input = if stdin {
                Some(Box::pin(write.make_writer()) as _)
            } else {
                None
            };
            let terminal = tty.is_some().then(|| {
                Box::new(SshTerminal {
                    write: write.clone(),
                    node: self.name.clone(),
                }) as Box<dyn Terminal>
            });
            tokio::spawn(async move {
                let _hold = hold;
                let _write = write;
                let mut status = None;
                let mut refused = false;
                while let Some(msg) = read.wait().await {
                    match msg {
                        ChannelMsg::Data { data } => {
                            out_tx.send(Bytes::copy_from_slice(&data)).await;
                        }
                        ChannelMsg::ExtendedData { data, ext: 1 } => {
                            err_tx.send(Bytes::copy_from_slice(&data)).await;
                        }
                        ChannelMsg::ExitStatus { exit_status } => status = Some(exit_status as i32),
                        ChannelMsg::ExitSignal { signal_name, .. } => {
                            status = Some(signal_status(&signal_name))
                        }
                        ChannelMsg::Failure => refused = true,
                        ChannelMsg::Close => break,
                        _ => {}
                    }
                }
                drop((out_tx, err_tx));
                let result = match status {
                    Some(s) => Ok(s),
                    None if refused => Err(refusal),
                    None => Err(lost),
                };
                let _ = exit_tx.send(result);
            });
            Ok(RawProcess {
                stdout,
                stderr,
                stdin: input,
                terminal,
                exit,
            })
        })
    }
}
