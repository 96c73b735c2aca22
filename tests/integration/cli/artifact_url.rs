//! An artifact by URL, from a server this test starts on loopback: installed from, kept
//! in the cache and revalidated on the next use, refused on a wrong checksum or a 404.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command as Proc;
use std::sync::{Arc, Mutex};

use sha2::Digest;

use super::{Destroy, create_one_master, extra_config};
use crate::common;

/// What the server was asked: (path, If-None-Match) per request, and how many bodies it
/// sent.
#[derive(Default)]
struct Seen {
    requests: Vec<(String, Option<String>)>,
    bodies: usize,
}

/// Serves `content` at `/dcos_generate_config.sh` with an ETag (304 when it matches),
/// 404 elsewhere. Returns its base URL.
fn serve(content: Vec<u8>, seen: Arc<Mutex<Seen>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
            let mut etag = None;
            loop {
                let mut header = String::new();
                if reader.read_line(&mut header).unwrap_or(0) == 0 || header.trim().is_empty() {
                    break;
                }
                if let Some((k, v)) = header.split_once(':')
                    && k.eq_ignore_ascii_case("if-none-match")
                {
                    etag = Some(v.trim().to_string());
                }
            }
            let mut out = stream;
            let mut seen = seen.lock().unwrap();
            seen.requests.push((path.clone(), etag.clone()));
            let _ = if path != "/dcos_generate_config.sh" {
                out.write_all(
                    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                )
            } else if etag.as_deref() == Some("\"v1\"") {
                out.write_all(
                    b"HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\nConnection: close\r\n\r\n",
                )
            } else {
                seen.bodies += 1;
                let head = format!(
                    "HTTP/1.1 200 OK\r\nETag: \"v1\"\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    content.len()
                );
                out.write_all(head.as_bytes())
                    .and_then(|()| out.write_all(&content))
            };
        }
    });
    base
}

fn minidcos(cache: &Path, args: &[&str]) -> std::process::Output {
    Proc::new(common::minidcos())
        .args(args)
        .env("DCOS_E2E_CACHE_DIR", cache)
        .output()
        .unwrap()
}

#[test]
fn an_artifact_by_url_is_fetched_once_checked_and_named_when_missing() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let content = std::fs::read(common::sample_installer()).unwrap();
    let sha = hex::encode(sha2::Sha256::digest(&content));
    let seen = Arc::new(Mutex::new(Seen::default()));
    let base = serve(content, seen.clone());
    let url = format!("{base}/dcos_generate_config.sh");
    let extra = extra_config(dir.path(), 0);
    let extra = extra.to_str().unwrap();

    // A wrong checksum: refused before anything runs, and named.
    let id = format!("dcos-e2e-url-{}", std::process::id());
    let wrong = "0".repeat(64);
    let mut args = create_one_master(&id).to_vec();
    args.extend([url.as_str(), "--sha256", &wrong, "--extra-config", extra]);
    let out = minidcos(&cache, &args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains(&sha) && stderr.contains(&wrong) && stderr.contains(&url),
        "{stderr}"
    );
    assert_eq!(common::containers_of(&id), 0, "nothing is left of it");

    // The right one: downloaded and installed from.
    let mut args = create_one_master(&id).to_vec();
    args.extend([
        url.as_str(),
        "--sha256",
        &sha,
        "--extra-config",
        extra,
        "--wait",
    ]);
    let out = minidcos(&cache, &args);
    let _destroy = Destroy(id.clone());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The first try downloaded it too (then the checksum refused it, and it was dropped).
    assert_eq!(seen.lock().unwrap().bodies, 2);

    // The next use asks whether it changed, and is told it did not: no body again.
    let out = minidcos(
        &cache,
        &["docker", "upgrade", &id, &url, "--extra-config", extra],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    {
        let seen = seen.lock().unwrap();
        assert_eq!(seen.bodies, 2);
        let last = seen.requests.last().unwrap();
        assert_eq!(last.1.as_deref(), Some("\"v1\""), "{:?}", seen.requests);
    }

    // A URL with nothing there: its status and the URL, and nothing is made.
    let missing = format!("{base}/no-such-installer.sh");
    let other = format!("{id}-b");
    let mut args = create_one_master(&other).to_vec();
    args.push(missing.as_str());
    let out = minidcos(&cache, &args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains(&missing) && stderr.contains("404"),
        "{stderr}"
    );
    assert_eq!(common::containers_of(&other), 0);
}
