//! `ssh://[user@]host[:port][/socket]` Docker hosts: the Engine API over SSH with russh
//! (no `ssh` binary). Each HTTP connection is a direct-streamlocal channel to the
//! daemon's socket on that host (`/var/run/docker.sock` unless the address gives a
//! path), all on one SSH connection. As with the `docker` CLI: the user's own key from
//! `~/.ssh` (`id_ed25519`, `id_ecdsa`, `id_rsa`, the first there), the host's key
//! checked against `~/.ssh/known_hosts`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use std::pin::Pin;
use std::task::{Context, Poll};

use bollard::{API_DEFAULT_VERSION, BollardRequest};
use hyper_util::rt::TokioIo;
use russh::ChannelStream;
use russh::client::Msg;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::backend::docker::daemon::address::{Authority, DEFAULT_SOCKET, resolve};
use crate::error::{Error, Parameter, Result};
use crate::node::transport::host_keys::{HostKeyChecking, HostKeys};
use crate::node::transport::ssh::{SshSettings, SshTransport};

/// The SSH connect timeout; the first API call's own bound is the caller's.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// sshd's default `MaxSessions` (the API uses no session channels; a bound anyway).
const MAX_SESSIONS: usize = 10;

/// An `ssh://` address, read.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct SshAddress {
    pub user: Option<String>,
    pub host: String,
    pub port: u16,
    pub socket: String,
}

impl SshAddress {
    pub(crate) fn parse(address: &str) -> Result<Self> {
        let bad = |why: &str| Error::invalid(Parameter::DockerHost, address, why.to_string());
        let rest = address
            .strip_prefix("ssh://")
            .ok_or_else(|| bad("not an ssh:// address"))?;
        let (authority, socket) = match rest.find('/') {
            Some(at) => (&rest[..at], rest[at..].to_string()),
            None => (rest, DEFAULT_SOCKET.to_string()),
        };
        let at = Authority::parse(authority).ok_or_else(|| bad("no host"))?;
        if at.user == Some("") {
            return Err(bad("the user before @ is empty"));
        }
        let port = match at.port {
            Some(p) => p.parse().map_err(|_| bad("the port is not a number"))?,
            None => 22,
        };
        Ok(Self {
            user: at.user.map(str::to_string),
            host: at.host.to_string(),
            port,
            socket,
        })
    }
}

/// A bollard client for the daemon at the `ssh://` `address`. It connects on the first
/// request.
pub(crate) async fn connect(address: &str, request_timeout: Duration) -> Result<bollard::Docker> {
    let at = SshAddress::parse(address)?;
    let home = std::env::var_os("HOME").map(PathBuf::from).ok_or_else(|| {
        Error::invalid(Parameter::DockerHost, address, "HOME is not set: no ~/.ssh")
    })?;
    let ssh_dir = home.join(".ssh");
    let key = ["id_ed25519", "id_ecdsa", "id_rsa"]
        .iter()
        .map(|name| ssh_dir.join(name))
        .find(|path| path.exists())
        .ok_or_else(|| {
            Error::invalid(
                Parameter::DockerHost,
                address,
                format!(
                    "no SSH key in {} (id_ed25519, id_ecdsa or id_rsa)",
                    ssh_dir.display()
                ),
            )
        })?;
    let host_keys =
        HostKeys::from_file(&ssh_dir.join("known_hosts"), HostKeyChecking::Strict, true)?;
    let ip = resolve(&at.host, Parameter::DockerHost, address).await?;
    if at.host.parse::<std::net::IpAddr>().is_err() {
        host_keys.known_as(ip, at.port, &at.host);
    }
    let mut settings = SshSettings::new(&key, CONNECT_TIMEOUT, MAX_SESSIONS, host_keys)?;
    settings.port = at.port;
    settings.tunnels_only = true;
    let user = at
        .user
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "root".into());
    let ssh = Arc::new(SshTransport::new(
        ip,
        format!("the Docker host {address}"),
        settings,
    ));
    let (user, socket) = (Arc::<str>::from(user), Arc::<str>::from(at.socket));
    let transport = move |request: BollardRequest| {
        let (ssh, user, socket) = (ssh.clone(), user.clone(), socket.clone());
        async move { send(&ssh, &user, &socket, request).await }
    };
    bollard::Docker::connect_with_custom_transport(
        transport,
        Some("http://docker"),
        request_timeout.as_secs(),
        API_DEFAULT_VERSION,
    )
    .map_err(|e| Error::DockerUnreachable {
        host: address.to_string(),
        source: Box::new(e),
    })
}

/// One request on a connection of its own to the daemon's socket (the daemon may turn
/// it into a raw stream: attach, exec).
async fn send(
    ssh: &SshTransport,
    user: &str,
    socket: &str,
    mut request: BollardRequest,
) -> std::result::Result<hyper::Response<hyper::body::Incoming>, bollard::errors::Error> {
    let own = streams(request.uri().path());
    let (stream, connection) = ssh
        .socket_stream(user, socket, own)
        .await
        .map_err(std::io::Error::other)?;
    let stream = OnRuntime {
        stream: Some(stream),
        runtime: tokio::runtime::Handle::current(),
    };
    let (mut sender, http) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ssh = connection;
        if let Err(e) = http.with_upgrades().await {
            tracing::debug!("an API connection over SSH ended: {e}");
        }
    });
    // The request line takes the path alone (what bollard's own connectors send).
    let path = request
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .parse()
        .map_err(|e| std::io::Error::other(format!("request path: {e}")))?;
    *request.uri_mut() = path;
    request.headers_mut().insert(
        hyper::header::HOST,
        hyper::header::HeaderValue::from_static("docker"),
    );
    Ok(sender.send_request(request).await?)
}

/// Whether a request's answer is a stream its reader paces (an exec's or an attach's
/// output, logs, an image export, an archive) or a large upload: such a request gets an
/// SSH connection of its own, so that a slow or idle reader stalls only itself, not the
/// shared connection every other API call and node command travels on.
fn streams(path: &str) -> bool {
    let path = path.trim_start_matches('/');
    // Versioned paths: `v1.47/exec/ID/start`.
    let path = match path.split_once('/') {
        Some((v, rest))
            if v.starts_with('v') && v[1..].starts_with(|c: char| c.is_ascii_digit()) =>
        {
            rest
        }
        _ => path,
    };
    let parts: Vec<&str> = path.split('/').collect();
    matches!(
        parts.as_slice(),
        ["exec", _, "start"]
            | [
                "containers",
                _,
                "attach" | "logs" | "archive" | "export" | "stats"
            ]
            | ["images", "get" | "load" | "create"]
            | ["images", _, "get" | "push"]
            | ["build"]
            | ["events"]
    )
}

/// A channel stream that may be dropped off the runtime: a hijacked API connection (a
/// watchdog's attach, an exec) lives in objects a blocking caller drops from a plain
/// thread, and russh closes a dropped channel by spawning a task.
struct OnRuntime {
    stream: Option<ChannelStream<Msg>>,
    runtime: tokio::runtime::Handle,
}

impl OnRuntime {
    fn get(&mut self) -> Pin<&mut ChannelStream<Msg>> {
        Pin::new(self.stream.as_mut().expect("taken only by Drop"))
    }
}

impl Drop for OnRuntime {
    fn drop(&mut self) {
        let _on = self.runtime.enter();
        drop(self.stream.take());
    }
}

impl AsyncRead for OnRuntime {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        self.get().poll_read(cx, buf)
    }
}

impl AsyncWrite for OnRuntime {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.get().poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.get().poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.get().poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paced_and_large_requests_get_a_connection_of_their_own() {
        for path in [
            "/v1.47/exec/abc/start",
            "/exec/abc/start",
            "/v1.47/containers/n-master-1/attach",
            "/v1.47/containers/x/logs",
            "/v1.47/images/get",
            "/v1.47/images/load",
            "/v1.47/images/create",
            "/v1.47/containers/x/archive",
        ] {
            assert!(streams(path), "{path}");
        }
        for path in [
            "/v1.47/_ping",
            "/v1.47/info",
            "/v1.47/exec/abc/resize",
            "/v1.47/exec/abc/json",
            "/v1.47/containers/abc/exec",
            "/v1.47/containers/json",
            "/v1.47/containers/create",
            "/v1.47/images/abc/json",
        ] {
            assert!(!streams(path), "{path}");
        }
    }

    #[test]
    fn ssh_addresses_are_read_as_the_docker_cli_writes_them() {
        let at = SshAddress::parse("ssh://me@build-7:2222").unwrap();
        assert_eq!(
            at,
            SshAddress {
                user: Some("me".into()),
                host: "build-7".into(),
                port: 2222,
                socket: DEFAULT_SOCKET.into()
            }
        );
        let at = SshAddress::parse("ssh://[fd00::5]/run/user/1000/docker.sock").unwrap();
        assert_eq!((at.host.as_str(), at.port), ("fd00::5", 22));
        assert_eq!(at.socket, "/run/user/1000/docker.sock");
        assert_eq!(at.user, None);
        for bad in ["ssh://", "ssh://@h", "ssh://h:port", "tcp://h"] {
            let err = SshAddress::parse(bad).unwrap_err();
            assert!(
                matches!(&err, Error::InvalidParameter { parameter, .. } if *parameter == Parameter::DockerHost),
                "{bad}: {err:?}"
            );
        }
    }
}
