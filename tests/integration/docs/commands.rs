//! Every `minidcos` command the pages show is accepted by the binary.

use std::process::Command as Proc;

use dcos_e2e::{Mount, Privileged, Role, TransportKind};

use super::{Block, fenced_blocks, is_shell, pages, read, shown};
use crate::common;

/// What `$id` and other shell variables in the pages stand for.
const PLACEHOLDER_ID: &str = "dcos-e2e-1a2b3c4d";

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
