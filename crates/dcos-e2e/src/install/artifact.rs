//! Build artifacts given by URL: fetched once into a cache, resumed, checked.
//!
//! The cache holds a directory per URL, named by the hex sha256 of the URL: the artifact
//! (named after the URL's last path segment), `.meta.json` (its validators and digest)
//! and, while downloading, `<name>.part` with `.part.json` (the validators its bytes
//! came with, so a resume asks for that version only). `.lock` is held with `flock`
//! while fetching, so processes sharing the cache take turns.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use reqwest::header::{self, HeaderMap};
use reqwest::{StatusCode, Url};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::error::{Error, Result};
use crate::params::{ArtifactSource, ProgressFn, artifact_source, check_artifact_file, sha256_hex};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// A body that sends nothing this long is given up; the whole download has no limit.
const STALL_TIMEOUT: Duration = Duration::from_secs(60);
const MAX_REDIRECTS: usize = 10;
const META: &str = ".meta.json";
const PART_META: &str = ".part.json";
const LOCK: &str = ".lock";

/// `$DCOS_E2E_CACHE_DIR`, else `$XDG_CACHE_HOME/dcos-e2e/artifacts`, else
/// `$HOME/.cache/dcos-e2e/artifacts`.
pub(crate) fn cache_dir() -> PathBuf {
    let var = |name| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(dir) = var("DCOS_E2E_CACHE_DIR") {
        return dir;
    }
    // XDG says a relative value is to be ignored.
    let base = (var("XDG_CACHE_HOME").filter(|p| p.is_absolute()))
        .or_else(|| var("HOME").map(|home| home.join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("dcos-e2e").join("artifacts")
}

/// Where `artifact` is on this host: a plain path as it is; a `file://` URL's path; for
/// `http://` and `https://`, the cached download (fetched or revalidated now).
///
/// `sha256` (hex, any case) is checked against the content (for a cached file that is
/// unchanged, the digest recorded when it was downloaded); a downloaded file that fails
/// is removed from the cache.
pub(crate) async fn resolve(
    artifact: &Path,
    sha256: Option<&str>,
    progress: Option<&ProgressFn>,
) -> Result<PathBuf> {
    resolve_in(&cache_dir(), None, artifact, sha256, progress).await
}

/// [`resolve`] with this cache directory, and this client for URLs (else one is built).
pub(crate) async fn resolve_in(
    cache: &Path,
    client: Option<&reqwest::Client>,
    artifact: &Path,
    sha256: Option<&str>,
    progress: Option<&ProgressFn>,
) -> Result<PathBuf> {
    let expected = sha256.map(sha256_hex).transpose()?;
    let shown = artifact.display().to_string();
    match artifact_source(artifact)? {
        ArtifactSource::Local(path) => {
            check_artifact_file(artifact, &path)?;
            if let Some(expected) = expected {
                let actual = hex::encode(hash_file(path.clone(), None).await?.finalize());
                if actual != expected {
                    return Err(Error::ChecksumMismatch {
                        url: shown,
                        expected,
                        actual,
                    });
                }
            }
            Ok(path)
        }
        ArtifactSource::Remote(url) => {
            let built;
            let client = match client {
                Some(client) => client,
                None => {
                    built = client_builder().build().map_err(|e| {
                        download(&shown, None, format!("no HTTP client: {}", cause(&e)))
                    })?;
                    &built
                }
            };
            let dir = cache.join(hex::encode(Sha256::digest(url.as_str())));
            let fetch = Fetch {
                client,
                name: file_name(&url),
                url,
                shown,
                dir,
                progress,
            };
            fetch.run(expected).await
        }
    }
}

/// The client's settings: redirects, a connect timeout, a stall timeout.
fn client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .read_timeout(STALL_TIMEOUT)
        .redirect(reqwest::redirect::Policy::limited(MAX_REDIRECTS))
        .user_agent(concat!("dcos-e2e/", env!("CARGO_PKG_VERSION")))
}

/// What the cache records of a complete artifact (`.meta.json`) or of a part
/// (`.part.json`: `size` is the whole length if known, no `sha256`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Meta {
    url: String,
    etag: Option<String>,
    last_modified: Option<String>,
    size: Option<u64>,
    sha256: Option<String>,
}

impl Meta {
    /// The `If-Range` value: a strong ETag, else Last-Modified (a weak ETag never
    /// matches there).
    fn if_range(&self) -> Option<&str> {
        (self.etag.as_deref().filter(|e| !e.starts_with("W/"))).or(self.last_modified.as_deref())
    }
}

/// A part left by an interrupted download: its length and validators.
struct Part {
    len: u64,
    meta: Meta,
}

/// How one request ended.
enum Attempt {
    /// The artifact's path and sha256.
    Done(PathBuf, String),
    /// The server would not resume the part: drop it and ask for everything.
    StartOver,
}

/// Fetching one URL into its directory of the cache.
struct Fetch<'a> {
    client: &'a reqwest::Client,
    url: Url,
    /// The URL as given, for messages.
    shown: String,
    dir: PathBuf,
    /// The artifact's file name.
    name: String,
    progress: Option<&'a ProgressFn>,
}

impl Fetch<'_> {
    fn artifact(&self) -> PathBuf {
        self.dir.join(&self.name)
    }

    fn part_path(&self) -> PathBuf {
        self.dir.join(format!("{}.part", self.name))
    }

    async fn run(&self, expected: Option<String>) -> Result<PathBuf> {
        tokio::fs::create_dir_all(&self.dir)
            .await
            .map_err(Error::io("create", &self.dir))?;
        let _lock = lock(self.dir.join(LOCK)).await?;
        let (path, actual) = self.fetch().await?;
        if let Some(expected) = expected
            && actual != expected
        {
            // What the user says is wrong must not be used again.
            for path in [self.artifact(), self.dir.join(META)] {
                if let Err(e) = remove(&path).await {
                    tracing::warn!("cannot remove {} from the cache: {e}", path.display());
                }
            }
            return Err(Error::ChecksumMismatch {
                url: self.shown.clone(),
                expected,
                actual,
            });
        }
        Ok(path)
    }

    /// The artifact's path and sha256, once it is here and current.
    async fn fetch(&self) -> Result<(PathBuf, String)> {
        let cached = self.cached().await;
        let mut part = self.part().await;
        // At most one start-over: a second request carries no range.
        for _ in 0..2 {
            match self.attempt(cached.as_ref(), part.take()).await? {
                Attempt::Done(path, digest) => return Ok((path, digest)),
                Attempt::StartOver => {
                    remove(&self.dir.join(PART_META))
                        .await
                        .map_err(Error::io("remove", self.dir.join(PART_META)))?;
                    remove(&self.part_path())
                        .await
                        .map_err(Error::io("remove", self.part_path()))?;
                }
            }
        }
        Err(download(
            &self.shown,
            None,
            "the server answered a download without a range like a resumed one",
        ))
    }

    /// A complete cached copy, if its record is ours and its size is right.
    async fn cached(&self) -> Option<Meta> {
        let meta = read_meta(&self.dir.join(META)).await?;
        let size = tokio::fs::metadata(self.artifact()).await.ok()?.len();
        (meta.url == self.url.as_str() && meta.sha256.is_some() && meta.size == Some(size))
            .then_some(meta)
    }

    /// A part that can be resumed: its validator is known, and it is not complete.
    async fn part(&self) -> Option<Part> {
        let meta = read_meta(&self.dir.join(PART_META)).await?;
        let len = tokio::fs::metadata(self.part_path()).await.ok()?.len();
        let usable = meta.url == self.url.as_str()
            && meta.if_range().is_some()
            && len > 0
            && meta.size.is_none_or(|size| len < size);
        usable.then_some(Part { len, meta })
    }

    async fn attempt(&self, cached: Option<&Meta>, part: Option<Part>) -> Result<Attempt> {
        let mut request = self.client.get(self.url.clone());
        if let Some(part) = &part {
            let validator = part.meta.if_range().unwrap_or_default();
            request = request
                .header(header::RANGE, format!("bytes={}-", part.len))
                .header(header::IF_RANGE, validator);
            self.tell(&format!("resuming {} at {} bytes", self.shown, part.len));
        } else if let Some(meta) = cached {
            if let Some(etag) = &meta.etag {
                request = request.header(header::IF_NONE_MATCH, etag);
            } else if let Some(date) = &meta.last_modified {
                request = request.header(header::IF_MODIFIED_SINCE, date);
            }
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(e) => {
                let detail = cause(&e);
                if let Some(meta) = cached
                    && !e.is_redirect()
                {
                    tracing::warn!(url = %self.shown, "the server cannot be reached ({detail}); using the cached copy");
                    self.tell(&format!(
                        "cannot reach {}; using the cached copy",
                        self.shown
                    ));
                    return Ok(self.done_cached(meta));
                }
                return Err(download(&self.shown, None, detail));
            }
        };
        let status = response.status();
        if status == StatusCode::NOT_MODIFIED
            && part.is_none()
            && let Some(meta) = cached
        {
            self.tell(&format!("using the cached copy of {}", self.shown));
            return Ok(self.done_cached(meta));
        }
        match (status, part) {
            (StatusCode::PARTIAL_CONTENT, Some(part)) => match content_range(response.headers()) {
                Some((start, total)) if start == part.len => {
                    self.download(response, Some(part), total).await
                }
                _ => Ok(Attempt::StartOver),
            },
            // A part the server cannot continue (complete, or the file shrank), or a
            // range it sent unasked.
            (StatusCode::RANGE_NOT_SATISFIABLE, Some(_)) | (StatusCode::PARTIAL_CONTENT, None) => {
                Ok(Attempt::StartOver)
            }
            // A 200 to a range request: the artifact changed, so everything again.
            (status, _) if status.is_success() => {
                let total = response.content_length();
                self.download(response, None, total).await
            }
            (status, _) => Err(download(
                &self.shown,
                Some(status.as_u16()),
                status.canonical_reason().unwrap_or("an error answer"),
            )),
        }
    }

    fn done_cached(&self, meta: &Meta) -> Attempt {
        Attempt::Done(self.artifact(), meta.sha256.clone().unwrap_or_default())
    }

    /// Write the body to the part (appended when resuming), then move it into place.
    async fn download(
        &self,
        response: reqwest::Response,
        resume: Option<Part>,
        total: Option<u64>,
    ) -> Result<Attempt> {
        let part_path = self.part_path();
        let (mut file, mut hasher, mut have, mut meta) = match resume {
            Some(Part { len, meta }) => {
                let hasher = hash_file(part_path.clone(), Some(len)).await?;
                let file = tokio::fs::OpenOptions::new()
                    .append(true)
                    .open(&part_path)
                    .await
                    .map_err(Error::io("open", &part_path))?;
                (file, hasher, len, meta)
            }
            None => {
                // The old validators go first: they must never describe new bytes.
                remove(&self.dir.join(PART_META))
                    .await
                    .map_err(Error::io("remove", self.dir.join(PART_META)))?;
                let file = tokio::fs::File::create(&part_path)
                    .await
                    .map_err(Error::io("create", &part_path))?;
                let meta = Meta {
                    url: self.url.to_string(),
                    etag: header_text(response.headers(), header::ETAG),
                    last_modified: header_text(response.headers(), header::LAST_MODIFIED),
                    size: total,
                    sha256: None,
                };
                if meta.if_range().is_some() {
                    write_meta(&self.dir.join(PART_META), &meta).await?;
                }
                (file, Sha256::new(), 0, meta)
            }
        };
        let mut meter = Meter::new(total, have);
        let mut body = response.bytes_stream();
        let mut broke = None;
        while let Some(chunk) = body.next().await {
            let chunk = match chunk {
                Ok(chunk) => chunk,
                Err(e) => {
                    broke = Some(e);
                    break;
                }
            };
            file.write_all(&chunk)
                .await
                .map_err(Error::io("write", &part_path))?;
            hasher.update(&chunk);
            have += chunk.len() as u64;
            if meter.due(have) {
                self.tell(&format!(
                    "downloading {}: {}",
                    self.shown,
                    meter.amount(have)
                ));
            }
        }
        // A tokio file may still be writing; the part must be whole before the lock goes.
        file.flush().await.map_err(Error::io("write", &part_path))?;
        drop(file);
        let short = total.is_some_and(|t| have != t);
        if broke.is_some() || short {
            let cause = broke.map_or_else(|| "the server sent fewer".to_string(), |e| cause(&e));
            let next = if meta.if_range().is_some() {
                "the next try resumes"
            } else {
                "the server gave no validator, so the next try starts over"
            };
            return Err(download(
                &self.shown,
                None,
                format!(
                    "the transfer broke off at {} ({next}): {cause}",
                    meter.amount(have)
                ),
            ));
        }
        let digest = hex::encode(hasher.finalize());
        let artifact = self.artifact();
        // The old record goes before the new file comes, so it never describes it.
        remove(&self.dir.join(META))
            .await
            .map_err(Error::io("remove", self.dir.join(META)))?;
        tokio::fs::rename(&part_path, &artifact)
            .await
            .map_err(Error::io("move into place", &artifact))?;
        meta.size = Some(have);
        meta.sha256 = Some(digest.clone());
        write_meta(&self.dir.join(META), &meta).await?;
        remove(&self.dir.join(PART_META))
            .await
            .map_err(Error::io("remove", self.dir.join(PART_META)))?;
        self.tell(&format!("downloaded {} ({:.1} MB)", self.shown, mb(have)));
        Ok(Attempt::Done(artifact, digest))
    }

    fn tell(&self, line: &str) {
        tracing::info!("{line}");
        if let Some(progress) = self.progress {
            progress(line);
        }
    }
}

/// When a download's progress is worth a line: a second after the last, or 10% more.
struct Meter {
    total: Option<u64>,
    last_at: Instant,
    last_have: u64,
}

impl Meter {
    fn new(total: Option<u64>, have: u64) -> Self {
        Self {
            total,
            last_at: Instant::now(),
            last_have: have,
        }
    }

    fn due(&mut self, have: u64) -> bool {
        let step = self.total.map_or(u64::MAX, |t| (t / 10).max(1));
        let due = self.last_at.elapsed() >= Duration::from_secs(1)
            || have.saturating_sub(self.last_have) >= step;
        if due {
            self.last_at = Instant::now();
            self.last_have = have;
        }
        due
    }

    fn amount(&self, have: u64) -> String {
        match self.total {
            Some(total) => format!("{:.1} of {:.1} MB", mb(have), mb(total)),
            None => format!("{:.1} MB", mb(have)),
        }
    }
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

fn download(url: &str, status: Option<u16>, detail: impl Into<String>) -> Error {
    Error::Download {
        url: url.to_string(),
        status,
        detail: detail.into(),
    }
}

/// What went wrong, with reqwest's causes (its own text repeats the URL).
fn cause(e: &reqwest::Error) -> String {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else if e.is_redirect() {
        "too many redirects"
    } else if e.is_body() || e.is_decode() {
        "the body broke off"
    } else {
        "the request failed"
    };
    let mut text = what.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// The file name for the artifact: the URL's last path segment when it is a plain name.
fn file_name(url: &Url) -> String {
    let plain = |s: &&str| {
        s.len() <= 200
            && s.starts_with(|c: char| c.is_ascii_alphanumeric())
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-+".contains(c))
    };
    (url.path_segments())
        .and_then(|mut segments| segments.rfind(|s| !s.is_empty()))
        .filter(plain)
        .map_or_else(|| "artifact".to_string(), str::to_string)
}

fn header_text(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// `Content-Range: bytes START-END/TOTAL` as the start and the total (if not `*`).
fn content_range(headers: &HeaderMap) -> Option<(u64, Option<u64>)> {
    let text = headers.get(header::CONTENT_RANGE)?.to_str().ok()?;
    let (range, total) = text.strip_prefix("bytes ")?.split_once('/')?;
    let (start, _) = range.split_once('-')?;
    Some((start.trim().parse().ok()?, total.trim().parse().ok()))
}

async fn read_meta(path: &Path) -> Option<Meta> {
    let bytes = tokio::fs::read(path).await.ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Written beside, then renamed over: a reader sees the old record or the new one.
async fn write_meta(path: &Path, meta: &Meta) -> Result<()> {
    let text = serde_json::to_vec_pretty(meta).map_err(|e| Error::io("write", path)(e.into()))?;
    let fresh = path.with_extension("json.new");
    tokio::fs::write(&fresh, text)
        .await
        .map_err(Error::io("write", &fresh))?;
    tokio::fs::rename(&fresh, path)
        .await
        .map_err(Error::io("write", path))
}

/// Remove a file; one already gone is fine.
async fn remove(path: &Path) -> std::io::Result<()> {
    match tokio::fs::remove_file(path).await {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// The sha256 state of a file's first `len` bytes (all of it for `None`).
async fn hash_file(path: PathBuf, len: Option<u64>) -> Result<Sha256> {
    let shown = path.clone();
    let hashed = tokio::task::spawn_blocking(move || -> std::io::Result<Sha256> {
        use std::io::Read;
        let file = std::fs::File::open(&path)?;
        let mut hasher = Sha256::new();
        std::io::copy(&mut file.take(len.unwrap_or(u64::MAX)), &mut hasher)?;
        Ok(hasher)
    })
    .await
    .map_err(|e| Error::io("read", &shown)(std::io::Error::other(e)))?;
    hashed.map_err(Error::io("read", shown))
}

/// An exclusive `flock` on the URL's lock file, released when the file is dropped. It
/// may wait for another process's whole download, so it waits on a blocking thread.
async fn lock(path: PathBuf) -> Result<std::fs::File> {
    let shown = path.clone();
    let locked = tokio::task::spawn_blocking(move || -> std::io::Result<std::fs::File> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)?;
        // `File::lock` is `flock(LOCK_EX)` on Linux, retried on EINTR.
        file.lock()?;
        Ok(file)
    })
    .await
    .map_err(|e| Error::io("lock", &shown)(std::io::Error::other(e)))?;
    locked.map_err(Error::io("lock", shown))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::net::SocketAddr;
    use std::sync::{Arc, Mutex};

    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    use tokio::net::{TcpListener, TcpStream};

    use super::*;
    use crate::error::Parameter;

    /// One request the test server saw: its first line and headers (names lower-case).
    #[derive(Clone, Debug)]
    struct Seen {
        line: String,
        headers: HashMap<String, String>,
    }

    impl Seen {
        fn header(&self, name: &str) -> Option<&str> {
            self.headers.get(name).map(String::as_str)
        }
    }

    /// What the test server serves, like a static file server.
    #[derive(Default)]
    struct Served {
        content: Vec<u8>,
        etag: Option<String>,
        last_modified: Option<String>,
        /// Answer every request with this status.
        status: Option<u16>,
        /// Cut the next full answer after half its body.
        cut_next: bool,
        /// How many answers carried a body.
        bodies: usize,
        seen: Vec<Seen>,
    }

    struct Server {
        addr: SocketAddr,
        state: Arc<Mutex<Served>>,
        task: tokio::task::JoinHandle<()>,
    }

    impl Server {
        async fn start(content: &[u8], etag: Option<&str>) -> Server {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let state = Arc::new(Mutex::new(Served {
                content: content.to_vec(),
                etag: etag.map(str::to_string),
                ..Default::default()
            }));
            let shared = state.clone();
            let task = tokio::spawn(async move {
                loop {
                    let (stream, _) = listener.accept().await.unwrap();
                    tokio::spawn(serve(stream, shared.clone()));
                }
            });
            Server { addr, state, task }
        }

        fn url(&self, path: &str) -> String {
            format!("http://{}/{path}", self.addr)
        }

        fn with<T>(&self, f: impl FnOnce(&mut Served) -> T) -> T {
            f(&mut self.state.lock().unwrap())
        }

        fn seen(&self) -> Vec<Seen> {
            self.with(|s| s.seen.clone())
        }

        fn bodies(&self) -> usize {
            self.with(|s| s.bodies)
        }

        /// Stop listening: later connections are refused.
        async fn stop(self) {
            self.task.abort();
            let _ = self.task.await;
        }
    }

    async fn serve(stream: TcpStream, state: Arc<Mutex<Served>>) {
        let mut stream = BufReader::new(stream);
        let mut line = String::new();
        stream.read_line(&mut line).await.unwrap();
        let mut headers = HashMap::new();
        loop {
            let mut header = String::new();
            stream.read_line(&mut header).await.unwrap();
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            let (name, value) = header.split_once(':').unwrap();
            headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_string());
        }
        let seen = Seen {
            line: line.trim_end().to_string(),
            headers,
        };
        let (head, body, cut) = {
            let mut s = state.lock().unwrap();
            s.seen.push(seen.clone());
            let answer = answer(&s, &seen);
            if !answer.1.is_empty() {
                s.bodies += 1;
            }
            let cut = answer.2 && std::mem::take(&mut s.cut_next);
            (answer.0, answer.1, cut)
        };
        let stream = stream.get_mut();
        stream.write_all(head.as_bytes()).await.unwrap();
        let sent = if cut { &body[..body.len() / 2] } else { &body };
        // The client may have hung up (a refused answer); that is not the server's fault.
        let _ = stream.write_all(sent).await;
        let _ = stream.shutdown().await;
    }

    /// The head, the body, and whether it is a full answer (which `cut_next` cuts).
    fn answer(s: &Served, seen: &Seen) -> (String, Vec<u8>, bool) {
        let mut validators = String::new();
        if let Some(etag) = &s.etag {
            validators.push_str(&format!("ETag: {etag}\r\n"));
        }
        if let Some(date) = &s.last_modified {
            validators.push_str(&format!("Last-Modified: {date}\r\n"));
        }
        let head = |status: &str, extra: &str, len: usize| {
            format!(
                "HTTP/1.1 {status}\r\nConnection: close\r\nContent-Length: {len}\r\n{validators}{extra}\r\n"
            )
        };
        if let Some(code) = s.status {
            let body = b"no such artifact".to_vec();
            return (head(&format!("{code} Oops"), "", body.len()), body, false);
        }
        let matches = |v: Option<&str>| {
            v.is_some() && (v == s.etag.as_deref() || v == s.last_modified.as_deref())
        };
        if matches(seen.header("if-none-match"))
            || (s.etag.is_none() && matches(seen.header("if-modified-since")))
        {
            return (head("304 Not Modified", "", 0), Vec::new(), false);
        }
        let range = (seen.header("range"))
            .and_then(|r| r.strip_prefix("bytes="))
            .and_then(|r| r.strip_suffix('-'))
            .and_then(|n| n.parse::<usize>().ok());
        let fresh = seen.header("if-range").is_none_or(|v| matches(Some(v)));
        if let Some(start) = range
            && fresh
            && start < s.content.len()
        {
            let len = s.content.len();
            let extra = format!("Content-Range: bytes {start}-{}/{len}\r\n", len - 1);
            let body = s.content[start..].to_vec();
            return (head("206 Partial Content", &extra, body.len()), body, false);
        }
        (head("200 OK", "", s.content.len()), s.content.clone(), true)
    }

    fn client() -> reqwest::Client {
        // A proxy in the environment must not catch requests to the test server.
        client_builder().no_proxy().build().unwrap()
    }

    async fn fetch(cache: &Path, url: &str, sha256: Option<&str>) -> Result<PathBuf> {
        resolve_in(cache, Some(&client()), Path::new(url), sha256, None).await
    }

    fn content(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 % 251) as u8).collect()
    }

    fn sha(bytes: &[u8]) -> String {
        hex::encode(Sha256::digest(bytes))
    }

    #[tokio::test]
    async fn second_fetch_revalidates_and_uses_the_cache() {
        let body = content(10_000);
        let server = Server::start(&body, Some("\"v1\"")).await;
        let cache = tempfile::tempdir().unwrap();
        let url = server.url("dist/dcos_generate_config.sh");
        let first = fetch(cache.path(), &url, None).await.unwrap();
        assert_eq!(std::fs::read(&first).unwrap(), body);
        assert_eq!(
            first.file_name().unwrap(),
            "dcos_generate_config.sh",
            "named after the URL"
        );

        let lines = Arc::new(Mutex::new(Vec::<String>::new()));
        let sink = lines.clone();
        let progress: ProgressFn = Arc::new(move |l: &str| sink.lock().unwrap().push(l.into()));
        let second = resolve_in(
            cache.path(),
            Some(&client()),
            Path::new(&url),
            None,
            Some(&progress),
        )
        .await
        .unwrap();
        assert_eq!(second, first);
        assert_eq!(std::fs::read(&second).unwrap(), body);
        let seen = server.seen();
        assert_eq!(seen.len(), 2);
        assert!(
            seen[0]
                .line
                .starts_with("GET /dist/dcos_generate_config.sh "),
            "{}",
            seen[0].line
        );
        assert_eq!(seen[0].header("if-none-match"), None);
        assert_eq!(seen[1].header("if-none-match"), Some("\"v1\""));
        assert_eq!(server.bodies(), 1, "the body was sent once");
        let lines = lines.lock().unwrap();
        assert!(
            lines
                .iter()
                .any(|l| l == &format!("using the cached copy of {url}")),
            "{lines:?}"
        );
    }

    #[tokio::test]
    async fn last_modified_revalidates_without_an_etag() {
        let body = content(1000);
        let server = Server::start(&body, None).await;
        let date = "Wed, 21 Oct 2015 07:28:00 GMT";
        server.with(|s| s.last_modified = Some(date.into()));
        let cache = tempfile::tempdir().unwrap();
        let url = server.url("");
        let first = fetch(cache.path(), &url, None).await.unwrap();
        assert_eq!(first.file_name().unwrap(), "artifact");
        fetch(cache.path(), &url, None).await.unwrap();
        let seen = server.seen();
        assert_eq!(seen[1].header("if-modified-since"), Some(date));
        assert_eq!(server.bodies(), 1);
    }

    #[tokio::test]
    async fn a_changed_etag_downloads_again() {
        let server = Server::start(b"version one", Some("\"v1\"")).await;
        let cache = tempfile::tempdir().unwrap();
        let url = server.url("installer.sh");
        let first = fetch(cache.path(), &url, None).await.unwrap();
        assert_eq!(std::fs::read(&first).unwrap(), b"version one");
        server.with(|s| {
            s.content = b"version two, longer".to_vec();
            s.etag = Some("\"v2\"".into());
        });
        let second = fetch(cache.path(), &url, Some(&sha(b"version two, longer")))
            .await
            .unwrap();
        assert_eq!(std::fs::read(&second).unwrap(), b"version two, longer");
        assert_eq!(server.seen()[1].header("if-none-match"), Some("\"v1\""));
        assert_eq!(server.bodies(), 2);
        // The record is the new version's: the next use revalidates against it.
        fetch(cache.path(), &url, None).await.unwrap();
        assert_eq!(server.seen()[2].header("if-none-match"), Some("\"v2\""));
        assert_eq!(server.bodies(), 2);
    }

    #[tokio::test]
    async fn a_cut_download_resumes_with_range() {
        let body = content(200_000);
        let half = body.len() / 2;
        let server = Server::start(&body, Some("\"whole\"")).await;
        server.with(|s| s.cut_next = true);
        let cache = tempfile::tempdir().unwrap();
        let url = server.url("installer.sh");
        let err = fetch(cache.path(), &url, None).await.unwrap_err();
        match &err {
            Error::Download {
                url: named, status, ..
            } => {
                assert_eq!(named, &url);
                assert_eq!(*status, None);
            }
            other => panic!("not a download error: {other:?}"),
        }
        assert!(err.to_string().contains(&url), "{err}");

        let whole = fetch(cache.path(), &url, Some(&sha(&body))).await.unwrap();
        assert_eq!(std::fs::read(&whole).unwrap(), body);
        let seen = server.seen();
        assert_eq!(seen.len(), 2);
        assert_eq!(
            seen[1].header("range"),
            Some(format!("bytes={half}-").as_str())
        );
        assert_eq!(seen[1].header("if-range"), Some("\"whole\""));
        let leftovers: Vec<_> = std::fs::read_dir(whole.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .filter(|n| n.contains("part"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[tokio::test]
    async fn a_wrong_checksum_is_refused_and_forgotten() {
        let body = content(5000);
        let server = Server::start(&body, Some("\"x\"")).await;
        let cache = tempfile::tempdir().unwrap();
        let url = server.url("installer.sh");
        let wrong = "0".repeat(64);
        let err = fetch(cache.path(), &url, Some(&wrong)).await.unwrap_err();
        match &err {
            Error::ChecksumMismatch {
                url: named,
                expected,
                actual,
            } => {
                assert_eq!(named, &url);
                assert_eq!(expected, &wrong);
                assert_eq!(actual, &sha(&body));
            }
            other => panic!("not a checksum mismatch: {other:?}"),
        }
        let dir = cache
            .path()
            .join(hex::encode(Sha256::digest(url.as_bytes())));
        assert!(
            !dir.join("installer.sh").exists(),
            "the cached copy is gone"
        );
        assert!(!dir.join(META).exists());

        let right = sha(&body).to_uppercase();
        let path = fetch(cache.path(), &url, Some(&right)).await.unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), body);
        assert_eq!(server.bodies(), 2, "fetched again after the refusal");
        // Revalidated (304): checked against the recorded digest.
        fetch(cache.path(), &url, Some(&right)).await.unwrap();
        assert_eq!(server.bodies(), 2);

        // A path is checked too, and left alone.
        let err = fetch(cache.path(), path.to_str().unwrap(), Some(&wrong))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::ChecksumMismatch { .. }), "{err:?}");
        assert!(path.exists());
        let err = fetch(cache.path(), &url, Some("abc")).await.unwrap_err();
        assert_eq!(err.parameter(), Some(Parameter::BuildArtifact), "{err}");
    }

    #[tokio::test]
    async fn an_http_error_names_status_and_url() {
        let server = Server::start(b"", None).await;
        server.with(|s| s.status = Some(404));
        let cache = tempfile::tempdir().unwrap();
        let url = server.url("missing.sh");
        let err = fetch(cache.path(), &url, None).await.unwrap_err();
        assert!(
            matches!(
                &err,
                Error::Download {
                    status: Some(404),
                    ..
                }
            ),
            "{err:?}"
        );
        let text = err.to_string();
        assert!(text.contains(&url) && text.contains("404"), "{text}");
    }

    #[tokio::test]
    async fn a_refused_connection_has_no_status() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let cache = tempfile::tempdir().unwrap();
        let url = format!("http://127.0.0.1:{port}/installer.sh");
        let err = fetch(cache.path(), &url, None).await.unwrap_err();
        match &err {
            Error::Download {
                url: named,
                status,
                detail,
            } => {
                assert_eq!(named, &url);
                assert_eq!(*status, None);
                assert!(detail.contains("connect"), "{detail}");
            }
            other => panic!("not a download error: {other:?}"),
        }
    }

    #[tokio::test]
    async fn an_unreachable_server_falls_back_to_the_cache() {
        let body = content(3000);
        let server = Server::start(&body, Some("\"a\"")).await;
        let cache = tempfile::tempdir().unwrap();
        let url = server.url("installer.sh");
        let first = fetch(cache.path(), &url, None).await.unwrap();
        server.stop().await;
        let again = fetch(cache.path(), &url, Some(&sha(&body))).await.unwrap();
        assert_eq!(again, first);
        assert_eq!(std::fs::read(&again).unwrap(), body);
    }

    #[tokio::test]
    async fn concurrent_fetches_download_once() {
        let body = content(500_000);
        let server = Server::start(&body, Some("\"c\"")).await;
        let cache = tempfile::tempdir().unwrap();
        let url = server.url("installer.sh");
        let (a, b) = tokio::join!(
            fetch(cache.path(), &url, None),
            fetch(cache.path(), &url, None)
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(a, b);
        assert_eq!(std::fs::read(&a).unwrap(), body);
        // The lock made the second wait and then revalidate.
        assert_eq!(server.bodies(), 1);
        assert_eq!(server.seen().len(), 2);
    }

    #[tokio::test]
    async fn local_paths_and_schemes() {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("cache");
        let file = dir.path().join("installer.sh");
        std::fs::write(&file, "exit 0").unwrap();
        let file_url = format!("file://{}", file.display());
        assert_eq!(fetch(&cache, &file_url, None).await.unwrap(), file);
        let plain = file.to_str().unwrap();
        let right = sha(b"exit 0");
        assert_eq!(fetch(&cache, plain, Some(&right)).await.unwrap(), file);

        let missing = format!("file://{}", dir.path().join("none.sh").display());
        let err = fetch(&cache, &missing, None).await.unwrap_err();
        assert_eq!(err.parameter(), Some(Parameter::BuildArtifact), "{err}");
        let err = fetch(&cache, "ftp://example.invalid/x.sh", None)
            .await
            .unwrap_err();
        assert_eq!(err.parameter(), Some(Parameter::BuildArtifact), "{err}");
        let text = err.to_string();
        assert!(
            text.contains("http://") && text.contains("file://"),
            "{text}"
        );
        assert!(matches!(
            crate::params::artifact_source(Path::new("HTTPS://example.invalid/x.sh")),
            Ok(crate::params::ArtifactSource::Remote(_))
        ));
        assert!(!cache.exists(), "nothing local touches the cache");
    }

    #[test]
    fn cache_names_and_ranges() {
        let name = |u: &str| file_name(&Url::parse(u).unwrap());
        assert_eq!(
            name("http://h/a/dcos_generate_config.sh"),
            "dcos_generate_config.sh"
        );
        assert_eq!(name("http://h/a/b.sh/"), "b.sh");
        assert_eq!(name("http://h/"), "artifact");
        assert_eq!(name("http://h/..%2F..%2Fetc"), "artifact");
        assert_eq!(name("http://h/.lock"), "artifact");
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_RANGE, "bytes 10-19/20".parse().unwrap());
        assert_eq!(content_range(&headers), Some((10, Some(20))));
        headers.insert(header::CONTENT_RANGE, "bytes 10-19/*".parse().unwrap());
        assert_eq!(content_range(&headers), Some((10, None)));
    }
}
