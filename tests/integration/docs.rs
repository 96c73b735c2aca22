//! Tests: the documentation stays true.
//!
//! - Every `minidcos` command shown in a fenced shell block of `docs/*.md` or `README.md`
//!   (a line starting with `minidcos ` or `$ minidcos `, or a `$(minidcos ...)`) is
//!   accepted by the binary: it is run with `--help` inserted before any `--`, and clap,
//!   which parses left to right, rejects an unknown subcommand, flag or bad value before
//!   it reaches `--help`. Values the binary only parses later (`--privileged`,
//!   `--transport`, `--node`, mounts, ...) are checked here with the library's parsers.
//! - Every relative link in those pages points at an existing file, and every `#anchor`
//!   at a heading of the page it names.
//! - The minimal installer of `docs/installer-contract.md` installs a cluster that
//!   `wait_for_dcos` and `run_integration_tests` accept.
//!
//! The Rust examples of the pages are doc tests (`src/docs.rs`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command as Proc;
use std::time::Duration;

use dcos_e2e::blocking::Cluster;
use dcos_e2e::{Mount, Privileged, Role, TransportKind};

use crate::common;

/// What `$id` and other shell variables in the pages stand for.
const PLACEHOLDER_ID: &str = "dcos-e2e-1a2b3c4d";

fn repo() -> &'static Path {
    common::repo_root()
}

/// `README.md` and every `docs/*.md`.
fn pages() -> Vec<PathBuf> {
    let mut pages = vec![repo().join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(repo().join("docs"))
        .expect("docs/ exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    pages.extend(docs);
    pages
}

fn read(page: &Path) -> String {
    std::fs::read_to_string(page).unwrap_or_else(|e| panic!("read {}: {e}", page.display()))
}

fn shown(page: &Path) -> String {
    page.strip_prefix(repo())
        .unwrap_or(page)
        .display()
        .to_string()
}

/// A fenced code block: its info string, the line number of its first line, its lines.
struct Block {
    info: String,
    first_line: usize,
    lines: Vec<String>,
}

/// The fenced code blocks of a page (also indented ones, as in lists).
fn fenced_blocks(text: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    // The open fence (its character and length) and the block being read.
    let mut open: Option<(char, usize, Block)> = None;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        let fence_char = trimmed.chars().next().filter(|c| *c == '`' || *c == '~');
        let run = fence_char.map_or(0, |f| trimmed.chars().take_while(|c| *c == f).count());
        match open.take() {
            None => {
                if let Some(f) = fence_char.filter(|_| run >= 3) {
                    let info = trimmed[run..].trim().to_string();
                    let block = Block {
                        info,
                        first_line: i + 2,
                        lines: Vec::new(),
                    };
                    open = Some((f, run, block));
                }
            }
            Some((f, len, mut block)) => {
                if fence_char == Some(f) && run >= len && trimmed[run..].trim().is_empty() {
                    blocks.push(block);
                } else {
                    block.lines.push(line.to_string());
                    open = Some((f, len, block));
                }
            }
        }
    }
    blocks
}

fn is_shell(info: &str) -> bool {
    let lang = info.split([',', ' ']).next().unwrap_or("");
    ["sh", "bash", "shell", "console", "shell-session", "zsh"].contains(&lang)
}

/// Shell lines of the block, with `\`-continued lines joined.
fn logical_lines(block: &Block) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (i, line) in block.lines.iter().enumerate() {
        let number = block.first_line + i;
        let (start, mut text) = pending.take().unwrap_or((number, String::new()));
        match line.strip_suffix('\\') {
            Some(head) => {
                text.push_str(head);
                text.push(' ');
                pending = Some((start, text));
            }
            None => {
                text.push_str(line);
                out.push((start, text));
            }
        }
    }
    out.extend(pending);
    out
}

/// The `minidcos` command lines of a shell line: the line itself when it starts with
/// `minidcos ` (or `$ minidcos `), and each `$(minidcos ...)` in it.
fn minidcos_commands(line: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut trimmed = line.trim_start();
    trimmed = trimmed.strip_prefix("$ ").unwrap_or(trimmed);
    // Leading environment assignments (`DCOS_E2E_KEEP=1 minidcos ...`).
    while let Some((word, rest)) = trimmed.split_once(' ')
        && let Some((name, _)) = word.split_once('=')
        && !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        trimmed = rest.trim_start();
    }
    if trimmed.starts_with("minidcos ") {
        found.push(trimmed.to_string());
    }
    let mut rest = line;
    while let Some(at) = rest.find("$(minidcos ") {
        let inner = &rest[at + 2..];
        let mut depth = 1;
        let mut end = inner.len();
        let (mut single, mut double) = (false, false);
        for (j, c) in inner.char_indices() {
            match c {
                '\'' if !double => single = !single,
                '"' if !single => double = !double,
                '(' if !single && !double => depth += 1,
                ')' if !single && !double => {
                    depth -= 1;
                    if depth == 0 {
                        end = j;
                        break;
                    }
                }
                _ => {}
            }
        }
        found.push(inner[..end].to_string());
        rest = &inner[end..];
    }
    found
}

/// What a shell variable in the pages stands for.
fn variable(name: &str) -> String {
    match name {
        "id" | "ID" => PLACEHOLDER_ID.to_string(),
        "tag" => "dcos-e2e/node:0123456789ab".to_string(),
        _ => "x".to_string(),
    }
}

/// Split a command line into words as a POSIX shell would, for the simple lines the
/// pages show: quotes, backslashes, `$var`, `${var}` and `$(...)` (as a placeholder);
/// a comment or a pipe, redirection or list operator ends the command.
fn shell_words(line: &str) -> Vec<String> {
    let chars: Vec<char> = line.chars().collect();
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut i = 0;
    let expand = |i: &mut usize, out: &mut String| {
        // chars[*i] == '$'
        let next = chars.get(*i + 1).copied();
        match next {
            Some('{') => {
                let end = chars[*i..].iter().position(|&c| c == '}').map(|p| *i + p);
                let end = end.unwrap_or(chars.len() - 1);
                let name: String = chars[*i + 2..end].iter().collect();
                out.push_str(&variable(&name));
                *i = end + 1;
            }
            Some('(') => {
                let mut depth = 0;
                let mut j = *i + 1;
                while j < chars.len() {
                    match chars[j] {
                        '(' => depth += 1,
                        ')' => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                    j += 1;
                }
                out.push('x');
                *i = j + 1;
            }
            Some(c) if c.is_ascii_alphabetic() || c == '_' => {
                let mut j = *i + 1;
                while j < chars.len() && (chars[j].is_ascii_alphanumeric() || chars[j] == '_') {
                    j += 1;
                }
                let name: String = chars[*i + 1..j].iter().collect();
                out.push_str(&variable(&name));
                *i = j;
            }
            _ => {
                out.push('$');
                *i += 1;
            }
        }
    };
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' => {
                words.extend(word.take());
                i += 1;
            }
            '#' if word.is_none() => break,
            '|' | ';' | '&' | '>' | '<' => break,
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                i += 1;
                while i < chars.len() && chars[i] != '\'' {
                    w.push(chars[i]);
                    i += 1;
                }
                i += 1;
            }
            '"' => {
                let w = word.get_or_insert_with(String::new);
                i += 1;
                while i < chars.len() && chars[i] != '"' {
                    match chars[i] {
                        '\\' if matches!(chars.get(i + 1), Some('"' | '\\' | '$' | '`')) => {
                            w.push(chars[i + 1]);
                            i += 2;
                        }
                        '$' => expand(&mut i, w),
                        other => {
                            w.push(other);
                            i += 1;
                        }
                    }
                }
                i += 1;
            }
            '\\' => {
                if let Some(&next) = chars.get(i + 1) {
                    word.get_or_insert_with(String::new).push(next);
                }
                i += 2;
            }
            '$' => expand(&mut i, word.get_or_insert_with(String::new)),
            other => {
                word.get_or_insert_with(String::new).push(other);
                i += 1;
            }
        }
    }
    words.extend(word);
    words
}

/// Check the values `minidcos` parses only when it runs, with the library's parsers.
fn check_late_values(args: &[String]) -> Result<(), String> {
    let mut i = 0;
    while i < args.len() {
        let (flag, inline) = match args[i].split_once('=') {
            Some((f, v)) if args[i].starts_with("--") => (f, Some(v.to_string())),
            _ => (args[i].as_str(), None),
        };
        let takes_value = [
            "--privileged",
            "--transport",
            "--node",
            "--custom-master-volume",
            "--custom-agent-volume",
            "--custom-public-agent-volume",
            "--env",
            "--copy-to-genconf",
        ];
        if !takes_value.contains(&flag) {
            i += 1;
            continue;
        }
        let value = match inline {
            Some(v) => v,
            None => {
                i += 1;
                args.get(i).cloned().unwrap_or_default()
            }
        };
        i += 1;
        let ok = match flag {
            "--privileged" => value
                .parse::<Privileged>()
                .map(drop)
                .map_err(|e| e.to_string()),
            "--transport" => value
                .parse::<TransportKind>()
                .map(drop)
                .map_err(|e| e.to_string()),
            "--custom-master-volume" | "--custom-agent-volume" | "--custom-public-agent-volume" => {
                value.parse::<Mount>().map(drop).map_err(|e| e.to_string())
            }
            "--env" => value
                .split_once('=')
                .filter(|(k, _)| !k.is_empty())
                .map(drop)
                .ok_or_else(|| "expected K=V".to_string()),
            "--copy-to-genconf" => value
                .rsplit_once(':')
                .filter(|(_, dst)| dst.starts_with("/genconf/"))
                .map(drop)
                .ok_or_else(|| "expected SRC:/genconf/DST".to_string()),
            "--node" => node_spec(&value),
            _ => Ok(()),
        };
        ok.map_err(|e| format!("{flag} {value}: {e}"))?;
    }
    Ok(())
}

/// The `--node` forms `minidcos` accepts.
fn node_spec(spec: &str) -> Result<(), String> {
    if ["all", "all-masters", "all-agents", "all-public-agents"].contains(&spec)
        || spec.parse::<std::net::IpAddr>().is_ok()
    {
        return Ok(());
    }
    let (role, n) = spec
        .split_once(':')
        .ok_or("expected an IP, ROLE:N, all-masters, all-agents, all-public-agents or all")?;
    role.parse::<Role>().map_err(|e| e.to_string())?;
    match n.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(()),
        _ => Err(format!("`{n}` is not a node number from 1")),
    }
}

#[test]
fn every_minidcos_command_in_the_docs_is_accepted() {
    let mut checked = 0;
    let mut failures = Vec::new();
    for page in pages() {
        for block in fenced_blocks(&read(&page)) {
            if !is_shell(&block.info) {
                continue;
            }
            for (number, line) in logical_lines(&block) {
                for command in minidcos_commands(&line) {
                    let where_ = format!("{}:{number}: {command}", shown(&page));
                    let words = shell_words(&command);
                    assert_eq!(
                        words.first().map(String::as_str),
                        Some("minidcos"),
                        "{where_}"
                    );
                    let mut args: Vec<String> = words[1..].to_vec();
                    let own_args = args.iter().position(|a| a == "--").unwrap_or(args.len());
                    if let Err(e) = check_late_values(&args[..own_args]) {
                        failures.push(format!("{where_}\n    {e}"));
                    }
                    args.insert(own_args, "--help".into());
                    let out = Proc::new(common::minidcos())
                        .args(&args)
                        .env_remove("DOCKER_HOST")
                        .output()
                        .expect("minidcos runs");
                    let stdout = String::from_utf8_lossy(&out.stdout);
                    if !out.status.success() || !stdout.contains("Usage:") {
                        failures.push(format!(
                            "{where_}\n    `minidcos {}` exited {}: {}",
                            args.join(" "),
                            out.status,
                            String::from_utf8_lossy(&out.stderr).trim()
                        ));
                    }
                    checked += 1;
                }
            }
        }
    }
    assert!(
        checked >= 40,
        "only {checked} minidcos commands found in the docs"
    );
    assert!(
        failures.is_empty(),
        "{} of {checked} documented minidcos commands are not accepted:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The anchors of a page's headings (outside code blocks), with GitHub's `-1`, `-2`
/// suffixes for repeated ones.
fn anchors(text: &str) -> Vec<String> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut out = Vec::new();
    let mut in_code = false;
    for line in text.lines() {
        let t = line.trim_start();
        if t.starts_with("```") || t.starts_with("~~~") {
            in_code = !in_code;
            continue;
        }
        if in_code || !t.starts_with('#') {
            continue;
        }
        let heading = t.trim_start_matches('#');
        if !heading.starts_with(' ') {
            continue;
        }
        let base = slug(heading);
        let n = seen.entry(base.clone()).or_insert(0);
        out.push(if *n == 0 {
            base.clone()
        } else {
            format!("{base}-{n}")
        });
        *n += 1;
    }
    out
}

/// Inline link targets `[text](target)` outside code blocks and code spans, with their
/// line numbers.
fn links(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut in_code = false;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim_start();
        if t.starts_with("```") || t.starts_with("~~~") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            continue;
        }
        // Drop code spans (`...` and ``...``) so their brackets do not count.
        let mut plain = String::new();
        let mut rest = line;
        while let Some(start) = rest.find('`') {
            plain.push_str(&rest[..start]);
            let ticks = rest[start..].chars().take_while(|&c| c == '`').count();
            let fence = "`".repeat(ticks);
            let after = &rest[start + ticks..];
            match after.find(&fence) {
                Some(end) => rest = &after[end + ticks..],
                None => {
                    rest = after;
                    break;
                }
            }
        }
        plain.push_str(rest);
        let mut rest = plain.as_str();
        while let Some(at) = rest.find("](") {
            let target_start = &rest[at + 2..];
            let end = target_start.find(')').unwrap_or(target_start.len());
            let target = target_start[..end].split_whitespace().next().unwrap_or("");
            out.push((i + 1, target.to_string()));
            rest = &target_start[end..];
        }
    }
    out
}

#[test]
fn every_relative_link_in_the_docs_resolves() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for page in pages() {
        let text = read(&page);
        for (line, target) in links(&text) {
            if target.contains("://") || target.starts_with("mailto:") || target.is_empty() {
                continue;
            }
            checked += 1;
            let (path, anchor) = match target.split_once('#') {
                Some((p, a)) => (p, Some(a)),
                None => (target.as_str(), None),
            };
            let file = if path.is_empty() {
                page.clone()
            } else {
                page.parent().unwrap_or(repo()).join(path)
            };
            let where_ = format!("{}:{line}: ({target})", shown(&page));
            if !file.exists() {
                failures.push(format!("{where_}: {} does not exist", file.display()));
                continue;
            }
            if let Some(anchor) = anchor
                && file.extension().is_some_and(|e| e == "md")
                && !anchors(&read(&file)).iter().any(|a| a == anchor)
            {
                failures.push(format!(
                    "{where_}: no heading with anchor #{anchor} in {}",
                    shown(&file)
                ));
            }
        }
    }
    assert!(checked > 20, "only {checked} relative links found");
    assert!(
        failures.is_empty(),
        "broken links in the docs:\n{}",
        failures.join("\n")
    );
}

#[test]
fn the_readme_links_to_every_docs_page() {
    let readme = read(&repo().join("README.md"));
    let linked: Vec<String> = links(&readme).into_iter().map(|(_, t)| t).collect();
    for page in [
        "docs/backends.md",
        "docs/installer-contract.md",
        "docs/node-image.md",
        "docs/troubleshooting.md",
    ] {
        assert!(
            linked.iter().any(|t| t == page),
            "README.md does not link to {page}"
        );
        assert!(repo().join(page).is_file(), "{page} is missing");
    }
}

/// The block after `<!-- docs-test: minimal-installer -->` in the installer contract.
fn minimal_installer() -> String {
    let text = read(&repo().join("docs/installer-contract.md"));
    let marker = "<!-- docs-test: minimal-installer -->";
    let after = text
        .split_once(marker)
        .expect("the installer contract marks its minimal installer")
        .1;
    let block = fenced_blocks(after)
        .into_iter()
        .next()
        .expect("a code block follows the marker");
    assert!(
        is_shell(&block.info),
        "the minimal installer is a shell block"
    );
    block.lines.join("\n") + "\n"
}

fn write_minimal_installer(dir: &Path) -> PathBuf {
    let path = dir.join("my_installer.sh");
    std::fs::write(&path, minimal_installer()).expect("write the installer");
    path
}

#[test]
fn the_minimal_installer_refuses_what_the_contract_says_it_must() {
    let dir = tempfile::tempdir().expect("temp dir");
    let installer = write_minimal_installer(dir.path());
    // Without --genconf: usage, exit 2.
    let out = Proc::new("bash")
        .arg(&installer)
        .args(["--offline", "-v"])
        .current_dir(dir.path())
        .output()
        .expect("bash runs");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    // No genconf/ to read: a message, exit 1, and nothing written.
    let out = Proc::new("bash")
        .arg(&installer)
        .args(["--offline", "-v", "--genconf"])
        .current_dir(dir.path())
        .output()
        .expect("bash runs");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("genconf/config.yaml"));
    // A config without master_list is refused.
    std::fs::create_dir_all(dir.path().join("genconf/serve")).unwrap();
    std::fs::write(dir.path().join("genconf/config.yaml"), "agent_list: []\n").unwrap();
    std::fs::write(dir.path().join("genconf/ip-detect"), "#!/bin/sh\n").unwrap();
    let out = Proc::new("bash")
        .arg(&installer)
        .args(["--offline", "-v", "--genconf"])
        .current_dir(dir.path())
        .output()
        .expect("bash runs");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("master_list"));
    assert!(!dir.path().join("genconf/serve/dcos_install.sh").exists());
}

#[test]
fn the_minimal_installer_of_the_docs_installs_a_cluster() {
    let dir = tempfile::tempdir().expect("temp dir");
    let installer = write_minimal_installer(dir.path());
    let cluster = Cluster::builder(common::docker())
        .build_artifact(&installer)
        .masters(1)
        .agents(1)
        .public_agents(1)
        .create()
        .expect("the minimal installer installs");
    let id = cluster.id().to_string();
    let workspace = cluster.workspace().map(Path::to_path_buf);
    cluster
        .wait_for_dcos(Duration::from_secs(120))
        .expect("wait_for_dcos accepts the minimal installation");
    let out = cluster
        .run_integration_tests(["pytest", "-q"], BTreeMap::new())
        .expect("the minimal installation's tests pass");
    assert!(
        out.stdout_text().contains("1 passed"),
        "{}",
        out.stdout_text()
    );
    // The contract: the serve directory is read-only on nodes.
    let node = &cluster.agents()[0];
    let write = node
        .output(["touch", "/opt/dcos_install_tmp/x"])
        .expect("the command runs");
    assert_ne!(write.status, 0, "/opt/dcos_install_tmp is writable");
    cluster.destroy().expect("destroy");
    common::assert_gone(&id, workspace.as_deref());
}
