//! Commands run in containers through the API (`docker exec`).

use bollard::exec::{CreateExecOptions, ResizeExecOptions, StartExecOptions, StartExecResults};

use super::{ApiResult, Attached, DaemonError, DockerClient, output_stream};

/// A command to run in a container.
pub(crate) struct ExecSpec {
    pub cmd: Vec<String>,
    pub user: String,
    /// Its stdin is attached.
    pub stdin: bool,
    /// Under a pseudo-terminal with this `TERM`.
    pub tty: Option<String>,
}

/// How an exec stands.
pub(crate) struct ExecState {
    pub running: bool,
    pub exit_code: Option<i64>,
}

impl DockerClient {
    /// Create an exec in `container`; returns its id.
    pub(crate) async fn create_exec(&self, container: &str, spec: ExecSpec) -> ApiResult<String> {
        let options = CreateExecOptions {
            cmd: Some(spec.cmd),
            user: Some(spec.user),
            attach_stdin: Some(spec.stdin),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            tty: Some(spec.tty.is_some()),
            env: spec.tty.map(|term| vec![format!("TERM={term}")]),
            ..Default::default()
        };
        Ok(self.api.create_exec(container, options).await?.id)
    }

    /// Start a created exec, attached.
    pub(crate) async fn start_exec(&self, id: &str, tty: bool) -> ApiResult<Attached> {
        let options = StartExecOptions {
            detach: false,
            tty,
            output_capacity: None,
        };
        match self.api.start_exec(id, Some(options)).await? {
            StartExecResults::Attached { output, input } => Ok(Attached {
                output: self.heartbeat(output_stream(output)),
                input,
            }),
            StartExecResults::Detached => {
                Err(DaemonError::stream("the exec started detached".into()))
            }
        }
    }

    /// Run `cmd` in `container` as its own user to its end, without stdin, within
    /// `limit`: its exit code and its output, both streams together.
    pub(crate) async fn exec_to_end(
        &self,
        container: &str,
        cmd: &[&str],
        limit: std::time::Duration,
    ) -> ApiResult<(i64, String)> {
        use futures_util::StreamExt;
        let spec = ExecSpec {
            cmd: cmd.iter().map(|w| w.to_string()).collect(),
            user: String::new(),
            stdin: false,
            tty: None,
        };
        let run = async {
            let exec = self.create_exec(container, spec).await?;
            let mut output = self.start_exec(&exec, false).await?.output;
            let mut text = Vec::new();
            while let Some(item) = output.next().await {
                match item? {
                    super::Output::Stdout(b) | super::Output::Stderr(b) => {
                        text.extend_from_slice(&b)
                    }
                }
            }
            let code = self.exec_state(&exec).await?.exit_code.unwrap_or(-1);
            Ok((code, String::from_utf8_lossy(&text).into_owned()))
        };
        tokio::time::timeout(limit, run).await.unwrap_or_else(|_| {
            Err(DaemonError::stream(format!(
                "{cmd:?} in {container} did not end within {limit:?}"
            )))
        })
    }

    pub(crate) async fn exec_state(&self, id: &str) -> ApiResult<ExecState> {
        let info = self.api.inspect_exec(id).await?;
        Ok(ExecState {
            running: info.running == Some(true),
            exit_code: info.exit_code,
        })
    }

    pub(crate) async fn resize_exec(&self, id: &str, rows: u16, cols: u16) -> ApiResult<()> {
        let size = ResizeExecOptions {
            height: rows,
            width: cols,
        };
        Ok(self.api.resize_exec(id, size).await?)
    }
}
