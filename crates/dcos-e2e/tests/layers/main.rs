//! The library's source files import only downwards: no file reaches another file that
//! reaches it back (a circle), and no layer reaches a higher one. A file reaches every
//! file that a path in it names: `use` trees (groups, renames, globs, `pub use`), paths
//! in code and in macro bodies, whether they start at `crate`, `self`, `super`, a child
//! module or a name a `use` brought in. Declaring `mod x;` uses nothing, and neither does
//! a module re-exporting (`pub use`) what its own sub-modules define: that is its public
//! face, not a use by its code (a private `use child::*` is a use). Tests
//! (`#[cfg(test)]` items, inline or file modules) are exempt.
//!
//! Layers, lowest first: `error`, `policy` | `params` | `node` | `backend` | `install` |
//! `cluster` | `blocking` | the crate root.

use std::path::{Path, PathBuf};

mod checker;

use checker::{check, graph};

fn sources(root: &Path) -> Vec<(PathBuf, String)> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<(PathBuf, String)>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .expect("src is readable")
            .flatten()
            .map(|e| e.path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(&path, root, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).expect("a source file is readable");
                let rel = path.strip_prefix(root).expect("under src").to_path_buf();
                out.push((rel, text));
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out
}

#[test]
fn the_library_imports_only_downwards() {
    let files = sources(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    assert!(files.len() > 20, "found only {} files", files.len());
    let violations: Vec<String> = check(&files).iter().map(ToString::to_string).collect();
    assert!(
        violations.is_empty(),
        "{} violations:\n{}",
        violations.len(),
        violations.join("\n")
    );
}

fn synthetic(sources: &[(&str, &str)]) -> Vec<(PathBuf, String)> {
    sources
        .iter()
        .map(|(p, t)| (PathBuf::from(p), t.to_string()))
        .collect()
}

/// The edges as `from -> to`, sorted.
fn edges_of(sources: &[(&str, &str)]) -> Vec<String> {
    let g = graph(&synthetic(sources));
    let mut edges: Vec<String> = (g.edges.iter())
        .flat_map(|(from, to)| to.iter().map(move |to| (from, to)))
        .map(|(from, to)| format!("{} -> {}", g.files[from], g.files[to]))
        .collect();
    edges.sort();
    edges
}

fn violations_of(sources: &[(&str, &str)]) -> Vec<String> {
    check(&synthetic(sources))
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn a_glob_pair_is_a_circle() {
    let sources = [
        ("lib.rs", "mod node;"),
        (
            "node/mod.rs",
            "mod build; mod recipe; use build::*; pub struct Options;",
        ),
        (
            "node/build.rs",
            "use super::*; fn build(_: &Options) { recipe::steps(); }",
        ),
        ("node/recipe.rs", "pub fn steps() {}"),
    ];
    let edges = [
        "node/build.rs -> node/mod.rs",
        "node/build.rs -> node/recipe.rs",
        "node/mod.rs -> node/build.rs",
    ];
    assert_eq!(edges_of(&sources), edges);
    let circle = "circle: node/mod.rs -> node/build.rs -> node/mod.rs";
    assert_eq!(violations_of(&sources), [circle]);
}

#[test]
fn re_exporting_a_child_is_not_a_use_but_calling_it_is() {
    let face = [
        ("lib.rs", "mod node;"),
        (
            "node/mod.rs",
            "mod builder; pub use builder::Builder; pub(crate) use builder::*; pub struct Cluster;",
        ),
        (
            "node/builder.rs",
            "use super::Cluster; pub struct Builder(Cluster);",
        ),
    ];
    assert_eq!(edges_of(&face), ["node/builder.rs -> node/mod.rs"]);
    assert!(violations_of(&face).is_empty());
    let called = [
        ("lib.rs", "mod node;"),
        (
            "node/mod.rs",
            "mod builder; pub use builder::Builder; pub struct Cluster; fn f() { builder::make(); }",
        ),
        (
            "node/builder.rs",
            "use super::Cluster; pub struct Builder(Cluster); pub fn make() {}",
        ),
    ];
    assert_eq!(
        violations_of(&called),
        ["circle: node/mod.rs -> node/builder.rs -> node/mod.rs"]
    );
}

#[test]
fn a_child_used_by_a_relative_path_is_an_edge_but_declaring_it_is_not() {
    let used = [
        ("lib.rs", "mod node;"),
        ("node/mod.rs", "mod role; pub fn f() { role::g(); }"),
        ("node/role.rs", "pub fn g() {}"),
    ];
    assert_eq!(edges_of(&used), ["node/mod.rs -> node/role.rs"]);
    let declared = [
        ("lib.rs", "mod node;"),
        ("node/mod.rs", "mod role; pub struct Id;"),
        ("node/role.rs", "use super::Id;"),
    ];
    assert_eq!(edges_of(&declared), ["node/role.rs -> node/mod.rs"]);
    assert!(violations_of(&declared).is_empty());
}

#[test]
fn groups_renames_and_imported_names_are_followed() {
    let sources = [
        ("lib.rs", "mod cluster; mod error; mod node;"),
        ("error.rs", "pub struct Error;"),
        ("node/mod.rs", "pub mod role; pub mod select;"),
        ("node/role.rs", "pub enum Role { Master }"),
        ("node/select.rs", "pub fn pick() {}"),
        (
            "cluster/mod.rs",
            "use crate::{error::Error as E, node::{self as n, role::Role}};
             fn f() -> Result<Role, E> { n::select::pick(); todo!() }",
        ),
    ];
    let edges = [
        "cluster/mod.rs -> error.rs",
        "cluster/mod.rs -> node/mod.rs",
        "cluster/mod.rs -> node/role.rs",
        "cluster/mod.rs -> node/select.rs",
    ];
    assert_eq!(edges_of(&sources), edges);
}

#[test]
fn inline_and_macro_paths_are_followed() {
    let sources = [
        ("lib.rs", "mod node;"),
        (
            "node/mod.rs",
            "pub mod command; pub mod logs; pub mod role; pub mod transport;",
        ),
        ("node/command.rs", "pub fn quote() {}"),
        ("node/logs.rs", "macro_rules! emit { () => {} }"),
        ("node/role.rs", "pub fn g() {}"),
        ("node/transport/mod.rs", "pub mod ssh;"),
        (
            "node/transport/ssh.rs",
            "fn f() { super::super::role::g(); crate::node::logs::emit!();
                      println!(\"{:?}\", crate::node::command::quote()); }",
        ),
    ];
    let edges = [
        "node/transport/ssh.rs -> node/command.rs",
        "node/transport/ssh.rs -> node/logs.rs",
        "node/transport/ssh.rs -> node/role.rs",
    ];
    assert_eq!(edges_of(&sources), edges);
}

#[test]
fn tests_are_exempt() {
    let sources = [
        ("lib.rs", "mod error; mod node;"),
        ("node/mod.rs", "pub struct Role;"),
        (
            "error.rs",
            "#[cfg(test)] mod tests { use crate::node::Role; }
             #[cfg(test)] mod more;
             #[cfg(test)] fn helper() { crate::node::Role; }",
        ),
        ("error/more.rs", "use crate::node::Role;"),
    ];
    assert!(edges_of(&sources).is_empty());
    assert!(violations_of(&sources).is_empty());
}

#[test]
fn a_downward_tree_passes() {
    let sources = [
        (
            "lib.rs",
            "mod backend; mod error; mod node; pub use node::Role;",
        ),
        ("error.rs", "use std::fmt; pub struct Error(fmt::Error);"),
        ("node/mod.rs", "mod role; pub use role::*;"),
        (
            "node/role.rs",
            "use crate::error::Error; pub enum Role { Master }
             fn f() -> Result<(), Error> { tokio::spawn(async {}); Ok(()) }",
        ),
        ("backend/mod.rs", "pub mod docker;"),
        (
            "backend/docker.rs",
            "use super::super::node::{self, Role}; fn f(_: Role) { node::Role::Master; }",
        ),
    ];
    // The re-exports of `lib.rs` and `node/mod.rs` are their faces, not uses.
    let edges = [
        "backend/docker.rs -> node/mod.rs",
        "node/role.rs -> error.rs",
    ];
    assert_eq!(edges_of(&sources), edges);
    assert!(violations_of(&sources).is_empty());
}

#[test]
fn an_upward_import_or_a_crate_path_circle_fails() {
    let upward = [
        ("lib.rs", "mod error; mod node;"),
        ("error.rs", "use crate::node::Role;"),
        ("node/mod.rs", "pub struct Role;"),
    ];
    assert_eq!(violations_of(&upward), ["upward: error.rs -> node/mod.rs"]);
    let circle = [
        ("lib.rs", "mod node;"),
        ("node/mod.rs", "pub(crate) mod a; pub(crate) mod b;"),
        ("node/a.rs", "use super::b::B; pub struct A;"),
        ("node/b.rs", "pub struct B; fn f() { crate::node::a::A; }"),
    ];
    let found = "circle: node/a.rs -> node/b.rs -> node/a.rs";
    assert_eq!(violations_of(&circle), [found]);
}
