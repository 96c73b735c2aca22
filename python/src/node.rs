//! Nodes and the processes started on them, held for Python.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use dcos_e2e::{Command, ExistingCluster, Host, Node, OutputStream, Process, TransportKind, Tty};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use tokio::io::AsyncReadExt;
use tokio::sync::{Mutex, watch};

use crate::errors::to_py;
use crate::wait::{OnSignal, wait};

/// A node of a cluster: commands, processes and file copies over its transport.
#[pyclass(module = "dcos_e2e._core", frozen)]
#[derive(Debug)]
pub struct NodeHandle {
    node: Node,
}

impl NodeHandle {
    pub(crate) fn new(node: Node) -> Self {
        Self { node }
    }

    pub(crate) fn node(&self) -> &Node {
        &self.node
    }
}

/// A shell script with its user and environment (the values arrive literally).
fn command(script: String, user: Option<String>, env: Vec<(String, String)>) -> Command {
    let cmd = Command::shell(script).envs(env);
    match user {
        Some(user) => cmd.user(user),
        None => cmd,
    }
}

/// `command` on a terminal of (columns, rows, type), when one is given.
fn on_terminal(command: Command, tty: Option<(u16, u16, String)>) -> Command {
    match tty {
        Some((cols, rows, term)) => command.tty(Tty::new(cols, rows).term(term)),
        None => command,
    }
}

#[pymethods]
impl NodeHandle {
    #[getter]
    fn ip_address(&self) -> String {
        self.node.ip_address().to_string()
    }

    #[getter]
    fn ssh_key_path(&self) -> PathBuf {
        self.node.ssh_key_path().to_path_buf()
    }

    /// `master`, `agent` or `public-agent`.
    #[getter]
    fn role(&self) -> &'static str {
        self.node.role().as_str()
    }

    /// Position within its role, from 1.
    #[getter]
    fn index(&self) -> usize {
        self.node.index()
    }

    #[getter]
    fn container_name(&self) -> Option<String> {
        self.node.container_name().map(str::to_string)
    }

    /// `ssh` or `docker-exec`.
    #[getter]
    fn transport(&self) -> &'static str {
        self.node.transport().as_str()
    }

    #[getter]
    fn default_user(&self) -> String {
        self.node.default_user().to_string()
    }

    /// The DC/OS build on the node: (version, commit, variant `open` or `enterprise`).
    fn dcos_build_info(&self, py: Python<'_>) -> PyResult<(String, String, &'static str)> {
        let node = self.node.clone();
        let info = wait(
            py,
            OnSignal::Abort,
            async move { node.dcos_build_info().await },
        )?
        .map_err(|e| to_py(py, e, None))?;
        let variant = match info.variant {
            dcos_e2e::DcosVariant::Oss => "open",
            dcos_e2e::DcosVariant::Enterprise => "enterprise",
        };
        Ok((info.version, info.commit, variant))
    }

    /// Run a shell script; returns (stdout, stderr). A non-zero exit, or a node that
    /// cannot be reached, raises `CalledProcessError` with `cmd` as its command.
    /// With `sudo`, through `sudo` as the user (the final API's `sudo=`).
    /// With `tty` (columns, rows, terminal type), on a terminal of that size: its
    /// output, stdout and stderr together, is `stdout`.
    #[pyo3(signature = (script, user, env, log_output_live, cmd, sudo = false, tty = None))]
    #[allow(clippy::too_many_arguments)]
    fn run<'py>(
        &self,
        py: Python<'py>,
        script: String,
        user: Option<String>,
        env: Vec<(String, String)>,
        log_output_live: bool,
        cmd: Bound<'py, PyAny>,
        sudo: bool,
        tty: Option<(u16, u16, String)>,
    ) -> PyResult<(Bound<'py, PyBytes>, Bound<'py, PyBytes>)> {
        let node = self.node.clone();
        let command = on_terminal(
            command(script, user, env)
                .log_output_live(log_output_live)
                .sudo(sudo),
            tty,
        );
        let output = wait(py, OnSignal::Abort, async move { node.run(command).await })?
            .map_err(|e| to_py(py, e, Some(&cmd)))?;
        Ok((
            PyBytes::new(py, &output.stdout),
            PyBytes::new(py, &output.stderr),
        ))
    }

    /// Start a shell script and return once it runs; with `stdin`, what is written to
    /// the handle is what it reads.
    /// With `tty`, as `run`'s.
    #[pyo3(signature = (script, user, env, cmd, stdin = false, sudo = false, tty = None))]
    #[allow(clippy::too_many_arguments)]
    fn popen(
        &self,
        py: Python<'_>,
        script: String,
        user: Option<String>,
        env: Vec<(String, String)>,
        cmd: Bound<'_, PyAny>,
        stdin: bool,
        sudo: bool,
        tty: Option<(u16, u16, String)>,
    ) -> PyResult<ProcessHandle> {
        let node = self.node.clone();
        let user = user.unwrap_or_else(|| node.default_user().to_string());
        let command = on_terminal(
            command(script, Some(user.clone()), env)
                .stdin(stdin)
                .sudo(sudo),
            tty,
        );
        let started = wait(py, OnSignal::Abort, {
            let node = node.clone();
            async move { node.popen(command).await }
        })?;
        let process = started.map_err(|e| to_py(py, e, Some(&cmd)))?;
        Ok(ProcessHandle::start(node, user, process))
    }

    /// A fault on the node's machine (`stop`, `start`, `restart`, `pause`, `resume`,
    /// `kill` with `signal`), or `state` to read it; returns the state after it.
    #[pyo3(signature = (action, signal=None))]
    fn machine(
        &self,
        py: Python<'_>,
        action: String,
        signal: Option<String>,
    ) -> PyResult<&'static str> {
        let node = self.node.clone();
        let state = wait(py, OnSignal::Defer, async move {
            match action.as_str() {
                "stop" => node.stop().await?,
                "start" => node.start().await?,
                "restart" => node.restart().await?,
                "pause" => node.pause().await?,
                "resume" => node.resume().await?,
                "kill" => return node.kill(signal.as_deref().unwrap_or("SIGKILL")).await,
                _ => {}
            }
            node.state().await
        })?
        .map_err(|e| to_py(py, e, None))?;
        Ok(state.as_str())
    }

    /// Cut this node off from every other node of its cluster.
    fn isolate(&self, py: Python<'_>) -> PyResult<crate::faults::PartitionHandle> {
        let node = self.node.clone();
        let cut = wait(py, OnSignal::Defer, async move { node.isolate().await })?
            .map_err(|e| to_py(py, e, None))?;
        Ok(crate::faults::PartitionHandle::new(cut))
    }

    /// Degrade what the node sends (rate in bit/s, delay and jitter in seconds, loss in
    /// percent).
    #[pyo3(signature = (rate=None, delay=None, jitter=None, loss=None))]
    fn shape(
        &self,
        py: Python<'_>,
        rate: Option<u64>,
        delay: Option<f64>,
        jitter: Option<f64>,
        loss: Option<f64>,
    ) -> PyResult<()> {
        let link = crate::faults::link(rate, delay, jitter, loss)?;
        let node = self.node.clone();
        wait(py, OnSignal::Defer, async move { node.shape(&link).await })?
            .map_err(|e| to_py(py, e, None))
    }

    /// Take this node's shaping out.
    fn unshape(&self, py: Python<'_>) -> PyResult<()> {
        let node = self.node.clone();
        wait(py, OnSignal::Defer, async move { node.unshape().await })?
            .map_err(|e| to_py(py, e, None))
    }

    /// Copy a local file to `remote`, creating missing parent directories: as `user`
    /// (default: the node's), through `sudo` when asked.
    #[pyo3(signature = (local, remote, user = None, sudo = false))]
    fn send_file(
        &self,
        py: Python<'_>,
        local: PathBuf,
        remote: String,
        user: Option<String>,
        sudo: bool,
    ) -> PyResult<()> {
        let node = self.node.clone();
        let mut options = dcos_e2e::CopyOptions::new().sudo(sudo);
        if let Some(user) = user {
            options = options.user(user);
        }
        wait(py, OnSignal::Abort, async move {
            node.send_file_with(&local, &remote, &options).await
        })?
        .map_err(|e| to_py(py, e, None))
    }

    /// Copy `remote` from the node to `local`.
    /// This node reached by `transport` (`ssh`, `docker-exec`) for one call.
    fn via(&self, py: Python<'_>, transport: &str) -> PyResult<NodeHandle> {
        let kind = transport
            .parse::<TransportKind>()
            .map_err(|e| to_py(py, e, None))?;
        let node = self.node.via(kind).map_err(|e| to_py(py, e, None))?;
        Ok(NodeHandle::new(node))
    }

    fn download_file(&self, py: Python<'_>, remote: String, local: PathBuf) -> PyResult<()> {
        let node = self.node.clone();
        wait(py, OnSignal::Abort, async move {
            node.download_file(&remote, &local).await
        })?
        .map_err(|e| to_py(py, e, None))
    }
}

/// The node of a Docker cluster of ours at `ip_address` on this host's daemon, reached
/// by docker exec (the final API's `Node(..., default_transport=DOCKER_EXEC)`), if any.
#[pyfunction]
pub(crate) fn docker_node_at(py: Python<'_>, ip_address: String) -> PyResult<Option<NodeHandle>> {
    let ip: std::net::IpAddr = ip_address
        .parse()
        .map_err(|_| PyValueError::new_err(format!("`{ip_address}` is not an IP address")))?;
    let found = wait(py, OnSignal::Abort, async move {
        for summary in dcos_e2e::docker::list_clusters().await? {
            // A cluster removed meanwhile is simply not it.
            let Ok(cluster) =
                dcos_e2e::Cluster::attach_docker(&summary.id, Some(TransportKind::DockerExec))
                    .await
            else {
                continue;
            };
            if let Some(node) = cluster.nodes().find(|n| n.ip_address() == ip) {
                return Ok(Some(node.clone()));
            }
        }
        Ok::<_, dcos_e2e::Error>(None)
    })?
    .map_err(|e| to_py(py, e, None))?;
    Ok(found.map(NodeHandle::new))
}

/// A node that is not part of a cluster the caller made: a host reached over SSH with
/// `ssh_key_path`, root by default (as the original's `Node(ip_address, ssh_key_path)`).
#[pyfunction]
#[pyo3(signature = (ip_address, ssh_key_path, default_user = "root".to_string()))]
pub(crate) fn standalone_node(
    py: Python<'_>,
    ip_address: String,
    ssh_key_path: PathBuf,
    default_user: String,
) -> PyResult<NodeHandle> {
    let ip_address = ip_address
        .parse()
        .map_err(|_| PyValueError::new_err(format!("`{ip_address}` is not an IP address")))?;
    let host = Host::new(ip_address, ssh_key_path);
    // As the original's `Node(ip, key)` (no known_hosts): see `existing_cluster`.
    let backend =
        ExistingCluster::new([host], Vec::<Host>::new(), Vec::<Host>::new(), default_user)
            .host_key_checking(dcos_e2e::HostKeyChecking::AcceptNew);
    let builder = dcos_e2e::Cluster::builder(backend)
        .masters(1)
        .agents(0)
        .public_agents(0)
        .destroy_on_error(false)
        .destroy_on_success(false);
    let cluster =
        wait(py, OnSignal::Abort, builder.provision())?.map_err(|e| to_py(py, e, None))?;
    // The node keeps what it needs (its connection); the wrapping cluster owns nothing.
    match cluster.masters().first() {
        Some(node) => Ok(NodeHandle::new(node.clone())),
        None => unreachable!("an existing cluster of one master has a master"),
    }
}

/// One output stream of a process: what was read from it and not yet handed out.
#[derive(Debug)]
struct Stream {
    reader: Option<OutputStream>,
    pending: Vec<u8>,
}

impl Stream {
    fn new(reader: Option<OutputStream>) -> Arc<Mutex<Stream>> {
        Arc::new(Mutex::new(Stream {
            reader,
            pending: Vec::new(),
        }))
    }
}

/// Read `stream` to its end into its pending bytes (kept if cut short by a timeout).
async fn read_to_end(stream: &Mutex<Stream>) {
    let mut s = stream.lock().await;
    let mut chunk = [0u8; 64 * 1024];
    loop {
        let Some(reader) = s.reader.as_mut() else {
            return;
        };
        match reader.read(&mut chunk).await {
            Ok(0) | Err(_) => {
                s.reader = None;
                return;
            }
            Ok(n) => s.pending.extend_from_slice(&chunk[..n]),
        }
    }
}

/// The exit status once known: `Some(Ok(status))`, or the failure that lost it.
type Exit = Option<Result<i32, String>>;

/// A process started with `popen`: its streams, its exit status as soon as it is known
/// (for `poll`), and `kill`.
#[pyclass(module = "dcos_e2e._core", frozen)]
#[derive(Debug)]
pub struct ProcessHandle {
    node: Node,
    user: String,
    pid: u32,
    stdout: Arc<Mutex<Stream>>,
    stderr: Arc<Mutex<Stream>>,
    /// None without a piped input, or once closed.
    stdin: Arc<Mutex<Option<dcos_e2e::ProcessStdin>>>,
    exit: watch::Receiver<Exit>,
}

impl ProcessHandle {
    fn start(node: Node, user: String, mut process: Process) -> Self {
        let pid = process.pid();
        let stdin = Arc::new(Mutex::new(process.stdin()));
        let stdout = Stream::new(process.stdout());
        let stderr = Stream::new(process.stderr());
        let (tx, exit) = watch::channel(None);
        // With both streams taken, `wait` only waits for the exit status.
        dcos_e2e::blocking::runtime().spawn(async move {
            let status = process.wait().await.map(|o| o.status);
            let _ = tx.send(Some(status.map_err(|e| dcos_e2e::chain(&e))));
        });
        Self {
            node,
            user,
            pid,
            stdout,
            stderr,
            stdin,
            exit,
        }
    }

    /// The exit status; a status that was lost (the connection broke) is 255, as
    /// `ssh` reports, with the reason.
    fn status_of(exit: &Exit) -> Option<(i32, Option<String>)> {
        match exit {
            None => None,
            Some(Ok(status)) => Some((*status, None)),
            Some(Err(reason)) => Some((255, Some(reason.clone()))),
        }
    }
}

async fn exited(mut exit: watch::Receiver<Exit>) -> Exit {
    match exit.wait_for(Option::is_some).await {
        Ok(status) => status.clone(),
        // The waiting task is gone without a status: the runtime is shutting down.
        Err(_) => Some(Err("the process's status was lost".to_string())),
    }
}

#[pymethods]
impl ProcessHandle {
    /// The process id of the command's shell on the node.
    #[getter]
    fn pid(&self) -> u32 {
        self.pid
    }

    /// Write `data` to the process's input (started with `stdin`), all of it.
    fn write_stdin(&self, py: Python<'_>, data: Vec<u8>) -> PyResult<()> {
        let stdin = self.stdin.clone();
        wait(py, OnSignal::Abort, async move {
            use tokio::io::AsyncWriteExt;
            match stdin.lock().await.as_mut() {
                Some(input) => {
                    input.write_all(&data).await?;
                    input.flush().await
                }
                None => Err(std::io::Error::new(
                    std::io::ErrorKind::BrokenPipe,
                    "the process's input is closed",
                )),
            }
        })?
        .map_err(|e| pyo3::exceptions::PyBrokenPipeError::new_err(e.to_string()))
    }

    /// Close the process's input: it reads end of file.
    fn close_stdin(&self, py: Python<'_>) -> PyResult<()> {
        let stdin = self.stdin.clone();
        wait(py, OnSignal::Abort, async move {
            use tokio::io::AsyncWriteExt;
            match stdin.lock().await.take() {
                Some(mut input) => input.shutdown().await,
                None => Ok(()),
            }
        })?
        .map_err(|e| pyo3::exceptions::PyBrokenPipeError::new_err(e.to_string()))
    }

    /// Up to `size` bytes of stdout (`which` 1) or stderr (2) as they come; `b""` at
    /// the end.
    fn read<'py>(&self, py: Python<'py>, which: u8, size: usize) -> PyResult<Bound<'py, PyBytes>> {
        let stream = match which {
            1 => self.stdout.clone(),
            2 => self.stderr.clone(),
            _ => {
                return Err(PyValueError::new_err(
                    "which must be 1 (stdout) or 2 (stderr)",
                ));
            }
        };
        let size = size.max(1);
        let bytes = wait(py, OnSignal::Abort, async move {
            let mut s = stream.lock().await;
            if s.pending.is_empty()
                && let Some(reader) = s.reader.as_mut()
            {
                let mut buf = vec![0u8; size.min(1 << 20)];
                match reader.read(&mut buf).await {
                    Ok(0) | Err(_) => s.reader = None,
                    Ok(n) => s.pending.extend_from_slice(&buf[..n]),
                }
            }
            let n = size.min(s.pending.len());
            s.pending.drain(..n).collect::<Vec<u8>>()
        })?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// Read both streams to their end and wait for the exit: `(stdout, stderr, status)`,
    /// or `None` if `timeout` seconds passed first (what was read is kept for the next
    /// call).
    #[pyo3(signature = (timeout=None))]
    #[allow(clippy::type_complexity)]
    fn communicate<'py>(
        &self,
        py: Python<'py>,
        timeout: Option<f64>,
    ) -> PyResult<Option<(Bound<'py, PyBytes>, Bound<'py, PyBytes>, i32)>> {
        let limit = timeout
            .map(Duration::try_from_secs_f64)
            .transpose()
            .map_err(|_| {
                PyValueError::new_err("timeout must be a non-negative number of seconds")
            })?;
        let (stdout, stderr, exit) = (self.stdout.clone(), self.stderr.clone(), self.exit.clone());
        let done = wait(py, OnSignal::Abort, async move {
            let all = async {
                tokio::join!(read_to_end(&stdout), read_to_end(&stderr));
                let exit = exited(exit).await;
                let out = std::mem::take(&mut stdout.lock().await.pending);
                let err = std::mem::take(&mut stderr.lock().await.pending);
                (out, err, exit)
            };
            match limit {
                Some(limit) => tokio::time::timeout(limit, all).await.ok(),
                None => Some(all.await),
            }
        })?;
        Ok(done.map(|(out, mut err, exit)| {
            let (status, lost) = Self::status_of(&exit).unwrap_or((255, None));
            if let Some(reason) = lost {
                err.extend_from_slice(reason.as_bytes());
            }
            (PyBytes::new(py, &out), PyBytes::new(py, &err), status)
        }))
    }

    /// The exit status if the process has ended, else `None`; never waits.
    fn poll(&self) -> Option<i32> {
        Self::status_of(&self.exit.borrow()).map(|(status, _)| status)
    }

    /// Wait for the exit status, for at most `timeout` seconds (`None` then).
    #[pyo3(signature = (timeout=None))]
    fn wait(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Option<i32>> {
        let limit = timeout
            .map(Duration::try_from_secs_f64)
            .transpose()
            .map_err(|_| {
                PyValueError::new_err("timeout must be a non-negative number of seconds")
            })?;
        let exit = self.exit.clone();
        let got = wait(py, OnSignal::Abort, async move {
            match limit {
                Some(limit) => tokio::time::timeout(limit, exited(exit)).await.ok(),
                None => Some(exited(exit).await),
            }
        })?;
        Ok(got.map(|exit| Self::status_of(&exit).map_or(255, |(status, _)| status)))
    }

    /// Stop the process and everything it started (SIGKILL to its process tree).
    fn kill(&self, py: Python<'_>) -> PyResult<()> {
        // `Process::kill` needs the `Process`, which the task waiting for its exit
        // owns: the same signal is sent by its pid, as the same user.
        let script = format!(
            "k() {{ kill -STOP \"$1\" 2>/dev/null; for c in $(ps -o pid= --ppid \"$1\" 2>/dev/null); do k \"$c\"; done; kill -KILL \"$1\" 2>/dev/null; }}; \
             k {pid}; kill -KILL -- -{pid} 2>/dev/null; true",
            pid = self.pid
        );
        let node = self.node.clone();
        let cmd = Command::shell(script).user(self.user.clone());
        wait(
            py,
            OnSignal::Abort,
            async move { node.run(cmd).await.map(drop) },
        )?
        .map_err(|e| to_py(py, e, None))
    }
}
