//! The library's source files import only downwards: no file reaches (through `crate::`,
//! `super::` or `self::` paths, in `use` or inline) another file that reaches it back,
//! and no layer reaches a higher one. Tests inside files (`#[cfg(test)]`) are exempt.
//!
//! Layers, lowest first: `error`, `policy` | `params` | `node` | `backend` | `install` |
//! `cluster` | `blocking` | the crate root.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use syn::visit::Visit;

/// A top-level module's layer; the crate root (`lib.rs`) is above all.
fn layer(top: &str) -> Option<usize> {
    Some(match top {
        "error" | "policy" | "docs" => 0,
        "params" => 1,
        "node" => 2,
        "backend" => 3,
        "install" => 4,
        "cluster" => 5,
        "blocking" => 6,
        "" => 7,
        _ => return None,
    })
}

type Module = Vec<String>;

/// The module a source file holds: `lib.rs` is the root, `a/mod.rs` and `a.rs` are `a`.
fn module_of(rel: &Path) -> Module {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().to_string())
        .collect();
    let last = parts.pop().unwrap_or_default();
    match last.as_str() {
        "lib.rs" | "mod.rs" => {}
        file => parts.push(file.trim_end_matches(".rs").to_string()),
    }
    parts
}

/// Every path a file names, as written, outside its test modules.
#[derive(Default)]
struct Paths(Vec<Vec<String>>);

fn is_test_module(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("cfg")
            && a.parse_args::<syn::Meta>()
                .is_ok_and(|m| m.path().is_ident("test"))
    })
}

fn use_paths(prefix: &mut Vec<String>, tree: &syn::UseTree, out: &mut Vec<Vec<String>>) {
    match tree {
        syn::UseTree::Path(p) => {
            prefix.push(p.ident.to_string());
            use_paths(prefix, &p.tree, out);
            prefix.pop();
        }
        syn::UseTree::Name(n) => {
            let mut full = prefix.clone();
            full.push(n.ident.to_string());
            out.push(full);
        }
        syn::UseTree::Rename(r) => {
            let mut full = prefix.clone();
            full.push(r.ident.to_string());
            out.push(full);
        }
        syn::UseTree::Glob(_) => out.push(prefix.clone()),
        syn::UseTree::Group(g) => {
            for t in &g.items {
                use_paths(prefix, t, out);
            }
        }
    }
}

impl<'ast> Visit<'ast> for Paths {
    fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
        if !is_test_module(&m.attrs) {
            syn::visit::visit_item_mod(self, m);
        }
    }

    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        use_paths(&mut Vec::new(), &u.tree, &mut self.0);
    }

    // `pub(crate)` and `pub(super)` name modules but import nothing.
    fn visit_visibility(&mut self, _: &'ast syn::Visibility) {}

    fn visit_path(&mut self, p: &'ast syn::Path) {
        self.0
            .push(p.segments.iter().map(|s| s.ident.to_string()).collect());
        syn::visit::visit_path(self, p);
    }
}

/// The module a path names, made absolute, or `None` for paths outside the crate.
fn resolve(from: &Module, is_dir_module: bool, path: &[String]) -> Option<Module> {
    let first = path.first()?;
    let (mut base, rest) = match first.as_str() {
        "crate" => (Vec::new(), &path[1..]),
        "self" | "super" => {
            // In `a/b.rs` (module a::b), `super` is `a`; in `a/mod.rs` (module a) too:
            // only the module itself counts, not the file kind.
            let _ = is_dir_module;
            let mut base = from.clone();
            let mut i = 0;
            while path.get(i).map(String::as_str) == Some("super") {
                base.pop()?;
                i += 1;
            }
            if path.get(i).map(String::as_str) == Some("self") {
                i += 1;
            }
            (base, &path[i..])
        }
        _ => return None,
    };
    base.extend(rest.iter().cloned());
    Some(base)
}

/// The file-level import graph of a crate given as (relative path, source) pairs.
fn graph(files: &[(PathBuf, String)]) -> BTreeMap<Module, BTreeSet<Module>> {
    let modules: BTreeSet<Module> = files.iter().map(|(p, _)| module_of(p)).collect();
    let mut edges: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    for (rel, text) in files {
        let from = module_of(rel);
        let syntax = syn::parse_file(text)
            .unwrap_or_else(|e| panic!("{} does not parse: {e}", rel.display()));
        let mut paths = Paths::default();
        paths.visit_file(&syntax);
        let dir_module = rel.ends_with("mod.rs");
        let targets = edges.entry(from.clone()).or_default();
        for path in paths.0 {
            let Some(absolute) = resolve(&from, dir_module, &path) else {
                continue;
            };
            // The longest prefix that is a file of the crate.
            let target = (0..=absolute.len())
                .rev()
                .map(|n| absolute[..n].to_vec())
                .find(|m| modules.contains(m));
            if let Some(target) = target
                && target != from
            {
                targets.insert(target);
            }
        }
    }
    edges
}

fn name(m: &Module) -> String {
    if m.is_empty() {
        "crate".into()
    } else {
        m.join("::")
    }
}

/// A cycle in the graph, as the modules along it.
fn find_cycle(edges: &BTreeMap<Module, BTreeSet<Module>>) -> Option<Vec<Module>> {
    fn visit(
        m: &Module,
        edges: &BTreeMap<Module, BTreeSet<Module>>,
        state: &mut BTreeMap<Module, u8>,
        stack: &mut Vec<Module>,
    ) -> Option<Vec<Module>> {
        state.insert(m.clone(), 1);
        stack.push(m.clone());
        for next in edges.get(m).into_iter().flatten() {
            match state.get(next).copied().unwrap_or(0) {
                1 => {
                    let start = stack.iter().position(|s| s == next).unwrap_or(0);
                    let mut cycle = stack[start..].to_vec();
                    cycle.push(next.clone());
                    return Some(cycle);
                }
                0 => {
                    if let Some(c) = visit(next, edges, state, stack) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(m.clone(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for m in edges.keys() {
        if state.get(m).copied().unwrap_or(0) == 0
            && let Some(c) = visit(m, edges, &mut state, &mut Vec::new())
        {
            return Some(c);
        }
    }
    None
}

/// Edges that go up a layer.
fn upward(edges: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<String> {
    let top = |m: &Module| m.first().cloned().unwrap_or_default();
    let mut bad = Vec::new();
    for (from, targets) in edges {
        for to in targets {
            match (layer(&top(from)), layer(&top(to))) {
                (Some(a), Some(b)) if b > a => bad.push(format!("{} -> {}", name(from), name(to))),
                (None, _) => bad.push(format!("{} is in no layer", name(from))),
                _ => {}
            }
        }
    }
    bad
}

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
    let edges = graph(&files);
    if let Some(cycle) = find_cycle(&edges) {
        let names: Vec<String> = cycle.iter().map(name).collect();
        panic!("import cycle: {}", names.join(" -> "));
    }
    let bad = upward(&edges);
    assert!(bad.is_empty(), "imports that go up a layer: {bad:#?}");
}

#[test]
fn a_cycle_or_an_upward_import_is_found() {
    let file = |p: &str, t: &str| (PathBuf::from(p), t.to_string());
    let cyclic = [
        file("lib.rs", "mod node; mod error;"),
        file("node/mod.rs", "pub(crate) mod a; pub(crate) mod b;"),
        file("node/a.rs", "use super::b::B; pub struct A;"),
        file(
            "node/b.rs",
            "pub struct B; fn f() { let _ = crate::node::a::A; }",
        ),
    ];
    let cycle = find_cycle(&graph(&cyclic)).expect("the cycle is found");
    let names: Vec<String> = cycle.iter().map(name).collect();
    assert!(names.contains(&"node::a".to_string()) && names.contains(&"node::b".to_string()));

    let upward_use = [
        file("lib.rs", "mod node; mod error;"),
        file("error.rs", "use crate::node::Role;"),
        file("node/mod.rs", "pub struct Role;"),
    ];
    let edges = graph(&upward_use);
    assert!(find_cycle(&edges).is_none());
    assert_eq!(upward(&edges), vec!["error -> node".to_string()]);

    let tests_are_exempt = [
        file("lib.rs", "mod node; mod error;"),
        file(
            "error.rs",
            "#[cfg(test)] mod tests { use crate::node::Role; }",
        ),
        file("node/mod.rs", "pub struct Role;"),
    ];
    assert!(upward(&graph(&tests_are_exempt)).is_empty());
}
