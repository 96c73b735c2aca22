//! Tests: the documentation stays true, one file per check.
//!
//! - Every `minidcos` command shown in a fenced shell block of `docs/*.md` or `README.md`
//!   (a line starting with `minidcos ` or `$ minidcos `, or a `$(minidcos ...)`) is
//!   accepted by the binary: it is run with `--help` inserted before any `--`, and clap,
//!   which parses left to right, rejects an unknown subcommand, flag or bad value before
//!   it reaches `--help`. Values the binary only parses later (`--privileged`,
//!   `--transport`, `--node`, mounts, ...) are checked here with the library's parsers
//!   (`commands`).
//! - Every relative link in those pages points at an existing file, and every `#anchor`
//!   at a heading of the page it names (`links`).
//! - The minimal installer of `docs/installer-contract.md` installs a cluster that
//!   `wait_for_dcos` and `run_integration_tests` accept (`installer`).
//!
//! The Rust examples of the pages are doc tests (`src/docs.rs`).

use std::path::{Path, PathBuf};

use crate::common;

mod commands;
mod installer;
mod links;

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
