//! `docker exec` through the Docker API: no network path to the node needed. Scripts run
//! in the user's login shell as over SSH; files travel as tar streams through the
//! container archive API.

use std::path::Path;

use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use bollard::query_parameters::{
    DownloadFromContainerOptionsBuilder, UploadToContainerOptionsBuilder,
};
use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use tokio::sync::{mpsc, oneshot};
use tokio_util::io::{ReaderStream, StreamReader, SyncIoBridge};

use super::{
    BoxFuture, RawProcess, STREAM_BUFFER, Transport, TransportKind, finish, local_source,
    partial_path, split_remote,
};
use crate::backend::docker::client::{DockerClient, is_not_found};
use crate::error::{Error, Result};
use crate::node::command::quote;

/// Run `$1` with the user's login shell from the home directory, as sshd would.
const LOGIN_SHELL: &str = r#"s=$(getent passwd "$(id -un)" | cut -d: -f7); cd ~ 2>/dev/null; exec "${s:-/bin/sh}" -c "$1""#;

pub(crate) struct DockerExecTransport {
    client: DockerClient,
    container: String,
    name: String,
}

impl DockerExecTransport {
    pub(crate) fn new(client: DockerClient, container: String, name: String) -> Self {
        Self {
            client,
            container,
            name,
        }
    }

    fn error(&self, detail: impl Into<String>, source: Option<bollard::errors::Error>) -> Error {
        let detail = match &source {
            Some(bollard::errors::Error::DockerResponseServerError {
                status_code: 409,
                message,
            }) => {
                format!(
                    "{}: container {} is not running ({message})",
                    detail.into(),
                    self.container
                )
            }
            _ => detail.into(),
        };
        Error::Transport {
            node: self.name.clone(),
            transport: "docker exec",
            detail,
            source: source.map(|e| Box::new(e) as _),
        }
    }
}

impl Transport for DockerExecTransport {
    fn kind(&self) -> TransportKind {
        TransportKind::DockerExec
    }

    fn node_name(&self) -> &str {
        &self.name
    }

    fn spawn<'a>(
        &'a self,
        user: &'a str,
        script: String,
        stdin: bool,
    ) -> BoxFuture<'a, Result<RawProcess>> {
        Box::pin(async move {
            let options = CreateExecOptions {
                cmd: Some(vec![
                    "/bin/sh".to_string(),
                    "-c".into(),
                    LOGIN_SHELL.into(),
                    "sh".into(),
                    script,
                ]),
                user: Some(user.to_string()),
                attach_stdin: Some(stdin),
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                ..Default::default()
            };
            let api = &self.client.api;
            let exec = api
                .create_exec(&self.container, options)
                .await
                .map_err(|e| self.error("cannot create exec", Some(e)))?;
            let started = api
                .start_exec(
                    &exec.id,
                    Some(StartExecOptions {
                        detach: false,
                        tty: false,
                        output_capacity: None,
                    }),
                )
                .await
                .map_err(|e| self.error("cannot start exec", Some(e)))?;
            let StartExecResults::Attached { mut output, input } = started else {
                return Err(self.error("exec started detached", None));
            };
            let (out_tx, stdout) = mpsc::channel(STREAM_BUFFER);
            let (err_tx, stderr) = mpsc::channel(STREAM_BUFFER);
            let (exit_tx, exit) = oneshot::channel();
            let client = self.client.clone();
            let name = self.name.clone();
            tokio::spawn(async move {
                let mut broken = None;
                while let Some(item) = output.next().await {
                    match item {
                        Ok(LogOutput::StdOut { message }) => {
                            let _ = out_tx.send(message).await;
                        }
                        Ok(LogOutput::StdErr { message }) => {
                            let _ = err_tx.send(message).await;
                        }
                        Ok(_) => {}
                        Err(e) => {
                            broken = Some(e);
                            break;
                        }
                    }
                }
                drop((out_tx, err_tx));
                let result = match client.api.inspect_exec(&exec.id).await {
                    Ok(info) if info.running != Some(true) => info.exit_code.map(|c| c as i32),
                    _ => None,
                };
                let result = result.ok_or_else(|| Error::Transport {
                    node: name,
                    transport: "docker exec",
                    detail:
                        "the exec stream ended before the command finished (was the node stopped?)"
                            .into(),
                    source: broken.map(|e| Box::new(e) as _),
                });
                let _ = exit_tx.send(result);
            });
            Ok(RawProcess {
                stdout,
                stderr,
                stdin: stdin.then_some(input),
                exit,
            })
        })
    }

    fn send_file<'a>(
        &'a self,
        user: &'a str,
        local: &'a Path,
        remote: &'a str,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let (file, mode) = local_source(local)?;
            let size = file
                .metadata()
                .map_err(Error::io("read metadata of", local))?
                .len();
            let (dir, name) = split_remote(remote)?;
            let mkdir = self
                .spawn(user, format!("mkdir -p -- {}", quote(dir)), false)
                .await?;
            finish(self, &format!("creating {dir}"), mkdir).await?;

            let mut header = tar::Header::new_gnu();
            header
                .set_path(name)
                .map_err(|e| Error::invalid("remote path", remote, e.to_string()))?;
            header.set_size(size);
            header.set_mode(mode);
            header.set_mtime(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs()),
            );
            header.set_entry_type(tar::EntryType::Regular);
            header.set_cksum();
            let padding = (512 - (size % 512) as usize) % 512;
            let head =
                futures_util::stream::once(
                    async move { Ok(Bytes::copy_from_slice(header.as_bytes())) },
                );
            let body = ReaderStream::with_capacity(tokio::fs::File::from_std(file), 1 << 20);
            // Two zero blocks end the archive.
            let tail =
                futures_util::stream::once(
                    async move { Ok(Bytes::from(vec![0u8; padding + 1024])) },
                );
            let stream = head.chain(body).chain(tail);
            let options = UploadToContainerOptionsBuilder::default().path(dir).build();
            self.client
                .api
                .upload_to_container(
                    &self.container,
                    Some(options),
                    bollard::body_try_stream(stream),
                )
                .await
                .map_err(|e| self.error(format!("writing {remote}"), Some(e)))
        })
    }

    fn download_file<'a>(
        &'a self,
        _user: &'a str,
        remote: &'a str,
        local: &'a Path,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            split_remote(remote)?;
            let options = DownloadFromContainerOptionsBuilder::default()
                .path(remote)
                .build();
            let stream = self
                .client
                .api
                .download_from_container(&self.container, Some(options));
            // Peek the first chunk so "no such file" is an error before a local file is made.
            let mut stream = stream.map_err(std::io::Error::other).boxed();
            let first = match stream.next().await {
                Some(Ok(chunk)) => chunk,
                Some(Err(e)) => {
                    let inner = e
                        .into_inner()
                        .and_then(|b| b.downcast::<bollard::errors::Error>().ok())
                        .map(|b| *b);
                    let detail = match &inner {
                        Some(err) if is_not_found(err) => format!("{remote} does not exist"),
                        _ => format!("reading {remote}"),
                    };
                    return Err(self.error(detail, inner));
                }
                None => return Err(self.error(format!("reading {remote}: empty archive"), None)),
            };
            let stream = futures_util::stream::iter([Ok(first)]).chain(stream);
            let reader = SyncIoBridge::new(StreamReader::new(stream));
            let partial = partial_path(local);
            let target = local.to_path_buf();
            let remote_owned = remote.to_string();
            let node = self.name.clone();
            tokio::task::spawn_blocking(move || {
                extract_single(reader, &partial, &target, &remote_owned, &node)
            })
            .await
            .map_err(|e| self.error(format!("reading {remote}: {e}"), None))?
        })
    }
}

/// Write the one regular file of a `docker cp` archive to `target`, keeping its mode.
fn extract_single(
    reader: impl std::io::Read,
    partial: &Path,
    target: &Path,
    remote: &str,
    node: &str,
) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let bad = |detail: String| Error::Transport {
        node: node.to_string(),
        transport: "docker exec",
        detail,
        source: None,
    };
    let mut archive = tar::Archive::new(reader);
    let mut entries = archive
        .entries()
        .map_err(Error::io("read archive for", target))?;
    let mut entry = entries
        .next()
        .ok_or_else(|| bad(format!("reading {remote}: empty archive")))?
        .map_err(Error::io("read archive for", target))?;
    if entry.header().entry_type() != tar::EntryType::Regular {
        return Err(bad(format!("{remote} is not a regular file")));
    }
    let mode = entry
        .header()
        .mode()
        .map_err(Error::io("read archive for", target))?;
    let mut out = std::fs::File::create(partial).map_err(Error::io("create", partial))?;
    let copied = std::io::copy(&mut entry, &mut out);
    if let Err(e) = copied {
        let _ = std::fs::remove_file(partial);
        return Err(Error::io("write", partial)(e));
    }
    drop(out);
    std::fs::set_permissions(partial, std::fs::Permissions::from_mode(mode & 0o7777))
        .map_err(Error::io("set mode of", partial))?;
    std::fs::rename(partial, target).map_err(Error::io("rename into", target))
}
