//! Relative links and `#anchors` in the pages resolve; the README links every page.

use std::collections::BTreeMap;

use super::{pages, read, repo, shown};

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
        "docs/faults.md",
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
