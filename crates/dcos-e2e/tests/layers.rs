//! The library's source files import only downwards: no file reaches another file that
//! reaches it back (a circle), and no layer reaches a higher one. A file reaches every
//! file that a path in it names: `use` trees (groups, renames, globs, `pub use`), paths
//! in code and in macro bodies, whether they start at `crate`, `self`, `super`, a child
//! module or a name a `use` brought in. Declaring `mod x;` uses nothing. Tests
//! (`#[cfg(test)]` items, inline or file modules) are exempt.
//!
//! Layers, lowest first: `error`, `policy` | `params` | `node` | `backend` | `install` |
//! `cluster` | `blocking` | the crate root.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;
use std::path::{Path, PathBuf};

use syn::buffer::{Cursor, TokenBuffer};
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

/// An absolute path inside the crate, without `crate`: a module, or an item in one.
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

/// What the checker finds wrong; files are named by their path under `src`.
#[derive(Debug, PartialEq, Eq)]
enum Violation {
    /// Files that reach each other in this order, the last reaching the first.
    Circle(Vec<String>),
    /// A file that reaches a file of a higher layer.
    Upward { from: String, to: String },
    /// A file whose top-level module is not in the layer table.
    NoLayer(String),
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Circle(files) => write!(f, "circle: {} -> {}", files.join(" -> "), files[0]),
            Self::Upward { from, to } => write!(f, "upward: {from} -> {to}"),
            Self::NoLayer(file) => write!(f, "{file} is in no layer"),
        }
    }
}

/// What a name in a module's scope stands for: an absolute path once known, or the
/// path a `use` wrote until it resolves (it never does if it leaves the crate).
#[derive(Clone)]
enum Name {
    At(Module),
    Pending(Vec<String>),
}

/// The names a module defines or imports, and the modules it glob-imports.
#[derive(Default)]
struct Scope {
    names: BTreeMap<String, Name>,
    globs: Vec<Name>,
}

fn is_test(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("cfg")
            && a.parse_args::<syn::Meta>()
                .is_ok_and(|m| m.path().is_ident("test"))
    })
}

/// An item's attributes and the name it defines in its module, if any.
fn item_parts(item: &syn::Item) -> (&[syn::Attribute], Option<&syn::Ident>) {
    use syn::Item as I;
    match item {
        I::Const(i) => (&i.attrs, Some(&i.ident)),
        I::Enum(i) => (&i.attrs, Some(&i.ident)),
        I::Fn(i) => (&i.attrs, Some(&i.sig.ident)),
        I::Mod(i) => (&i.attrs, Some(&i.ident)),
        I::Static(i) => (&i.attrs, Some(&i.ident)),
        I::Struct(i) => (&i.attrs, Some(&i.ident)),
        I::Trait(i) => (&i.attrs, Some(&i.ident)),
        I::TraitAlias(i) => (&i.attrs, Some(&i.ident)),
        I::Type(i) => (&i.attrs, Some(&i.ident)),
        I::Union(i) => (&i.attrs, Some(&i.ident)),
        I::Impl(i) => (&i.attrs, None),
        I::Use(i) => (&i.attrs, None),
        I::Macro(i) => (&i.attrs, None),
        I::ForeignMod(i) => (&i.attrs, None),
        I::ExternCrate(i) => (&i.attrs, None),
        _ => (&[], None),
    }
}

/// One file's walk: fills the scopes of its modules (inline ones too) and lists every
/// path it names, with the module it is named in.
struct Collector<'a> {
    module: Module,
    scopes: &'a mut BTreeMap<Module, Scope>,
    paths: Vec<(Module, Vec<String>)>,
    /// Modules declared `#[cfg(test)] mod x;`, whose files are exempt.
    test_modules: &'a mut BTreeSet<Module>,
}

impl Collector<'_> {
    fn scope(&mut self) -> &mut Scope {
        self.scopes.entry(self.module.clone()).or_default()
    }

    fn named(&mut self, path: Vec<String>) {
        self.paths.push((self.module.clone(), path));
    }

    fn use_tree(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree) {
        let join = |ident: &syn::Ident| -> Vec<String> {
            let mut path = prefix.clone();
            if ident != "self" {
                path.push(ident.to_string());
            }
            path
        };
        let (name, path) = match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.use_tree(prefix, &p.tree);
                prefix.pop();
                return;
            }
            syn::UseTree::Group(g) => {
                for t in &g.items {
                    self.use_tree(prefix, t);
                }
                return;
            }
            syn::UseTree::Glob(_) => {
                self.scope().globs.push(Name::Pending(prefix.clone()));
                self.named(prefix.clone());
                return;
            }
            syn::UseTree::Name(n) => (join(&n.ident).last().cloned(), join(&n.ident)),
            syn::UseTree::Rename(r) => (Some(r.rename.to_string()), join(&r.ident)),
        };
        if let Some(name) = name {
            // A name the module defines itself wins over an import (see `visit_item`).
            let binding = Name::Pending(path.clone());
            self.scope().names.entry(name).or_insert(binding);
        }
        self.named(path);
    }
}

impl<'ast> Visit<'ast> for Collector<'_> {
    fn visit_item(&mut self, item: &'ast syn::Item) {
        let (attrs, name) = item_parts(item);
        if is_test(attrs) {
            if let syn::Item::Mod(m) = item {
                let mut module = self.module.clone();
                module.push(m.ident.to_string());
                self.test_modules.insert(module);
            }
            return;
        }
        if let Some(name) = name {
            let mut at = self.module.clone();
            at.push(name.to_string());
            self.scope().names.insert(name.to_string(), Name::At(at));
        }
        syn::visit::visit_item(self, item);
    }

    // A file module is walked as its own file; an inline one here, as a module.
    fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
        if let Some((_, items)) = &m.content {
            self.module.push(m.ident.to_string());
            for item in items {
                self.visit_item(item);
            }
            self.module.pop();
        }
    }

    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        if u.leading_colon.is_none() {
            self.use_tree(&mut Vec::new(), &u.tree);
        }
    }

    // `pub(crate)` and `pub(super)` name modules but import nothing; attributes (docs,
    // derives) are not followed.
    fn visit_visibility(&mut self, _: &'ast syn::Visibility) {}
    fn visit_attribute(&mut self, _: &'ast syn::Attribute) {}

    // One segment names something already imported (or a local): it adds no file.
    fn visit_path(&mut self, p: &'ast syn::Path) {
        if p.leading_colon.is_none() && p.segments.len() > 1 {
            self.named(p.segments.iter().map(|s| s.ident.to_string()).collect());
        }
        syn::visit::visit_path(self, p);
    }

    // syn leaves macro bodies as tokens; `a::b` runs in them are paths all the same.
    fn visit_macro(&mut self, m: &'ast syn::Macro) {
        self.visit_path(&m.path);
        let buffer = TokenBuffer::new2(m.tokens.clone());
        let mut found = Vec::new();
        token_paths(buffer.begin(), &mut found);
        for path in found {
            self.named(path);
        }
    }
}

/// The `a::b(::c)*` runs in a token stream, groups included.
fn token_paths(mut c: Cursor<'_>, out: &mut Vec<Vec<String>>) {
    let mut run: Vec<String> = Vec::new();
    let mut after_colons = false;
    let flush = |run: &mut Vec<String>, out: &mut Vec<Vec<String>>| {
        if run.len() > 1 {
            out.push(std::mem::take(run));
        }
        run.clear();
    };
    while !c.eof() {
        if let Some((inside, _, _, next)) = c.any_group() {
            flush(&mut run, out);
            token_paths(inside, out);
            c = next;
        } else if let Some((ident, next)) = c.ident() {
            if !after_colons {
                flush(&mut run, out);
            }
            run.push(ident.to_string());
            after_colons = false;
            c = next;
        } else if let Some(next) = c
            .punct()
            .filter(|(p, _)| p.as_char() == ':' && !run.is_empty() && !after_colons)
            .and_then(|(_, next)| next.punct())
            .filter(|(p, _)| p.as_char() == ':')
            .map(|(_, next)| next)
        {
            after_colons = true;
            c = next;
        } else {
            flush(&mut run, out);
            after_colons = false;
            c = c.token_tree().map_or(c, |(_, next)| next);
        }
    }
    flush(&mut run, out);
}

/// What `name` stands for in `module`: its own names first, then its globs' modules.
fn lookup(
    scopes: &BTreeMap<Module, Scope>,
    module: &Module,
    name: &str,
    seen: &mut BTreeSet<Module>,
) -> Option<Module> {
    if !seen.insert(module.clone()) {
        return None;
    }
    let scope = scopes.get(module)?;
    match scope.names.get(name) {
        Some(Name::At(at)) => return Some(at.clone()),
        // An import not known yet (or from outside) hides the globs' names.
        Some(Name::Pending(_)) => return None,
        None => {}
    }
    scope.globs.iter().find_map(|g| match g {
        Name::At(target) => lookup(scopes, target, name, seen),
        Name::Pending(_) => None,
    })
}

/// The absolute path a path written in `module` names, or `None` outside the crate.
fn resolve(scopes: &BTreeMap<Module, Scope>, module: &Module, path: &[String]) -> Option<Module> {
    let mut base = module.clone();
    let mut i = 0;
    match path.first()?.as_str() {
        "crate" => {
            base.clear();
            i = 1;
        }
        "self" | "super" => {
            while let Some(s) = path.get(i) {
                match s.as_str() {
                    "self" => {}
                    "super" => {
                        base.pop()?;
                    }
                    _ => break,
                }
                i += 1;
            }
        }
        "Self" => return None,
        first => {
            base = lookup(scopes, module, first, &mut BTreeSet::new())?;
            i = 1;
        }
    }
    base.extend_from_slice(&path[i..]);
    Some(base)
}

/// Which import of a scope resolved.
enum Key {
    Name(String),
    Glob(usize),
}

/// Resolve every `use` (names and globs) that can be, until nothing more resolves:
/// one `use` may name what another brought in. What never resolves is outside.
fn resolve_imports(scopes: &mut BTreeMap<Module, Scope>) {
    loop {
        let mut done = Vec::new();
        for (module, scope) in scopes.iter() {
            let names = scope.names.iter().map(|(n, v)| (Key::Name(n.clone()), v));
            let globs = scope
                .globs
                .iter()
                .enumerate()
                .map(|(i, g)| (Key::Glob(i), g));
            for (key, name) in names.chain(globs) {
                if let Name::Pending(path) = name
                    && let Some(at) = resolve(scopes, module, path)
                {
                    done.push((module.clone(), key, at));
                }
            }
        }
        if done.is_empty() {
            return;
        }
        for (module, key, at) in done {
            let scope = scopes.get_mut(&module).expect("a known module");
            match key {
                Key::Name(n) => {
                    scope.names.insert(n, Name::At(at));
                }
                Key::Glob(i) => scope.globs[i] = Name::At(at),
            }
        }
    }
}

/// A crate's (non-test) files and the file-level edges between them.
struct Graph {
    /// Each file's module and its path under `src`.
    files: BTreeMap<Module, String>,
    /// Every file has an entry, if only an empty one.
    edges: BTreeMap<Module, BTreeSet<Module>>,
}

fn graph(sources: &[(PathBuf, String)]) -> Graph {
    let mut scopes = BTreeMap::new();
    let mut test_modules = BTreeSet::new();
    let mut files = BTreeMap::new();
    let mut named = BTreeMap::new();
    for (rel, text) in sources {
        let file = rel.display().to_string();
        let syntax = syn::parse_file(text).unwrap_or_else(|e| panic!("{file} does not parse: {e}"));
        let mut collector = Collector {
            module: module_of(rel),
            scopes: &mut scopes,
            paths: Vec::new(),
            test_modules: &mut test_modules,
        };
        collector.visit_file(&syntax);
        named.insert(module_of(rel), collector.paths);
        files.insert(module_of(rel), file);
    }
    files.retain(|m, _| !test_modules.iter().any(|t| m.starts_with(t)));
    resolve_imports(&mut scopes);
    let mut edges: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    for from in files.keys() {
        let targets = edges.entry(from.clone()).or_default();
        for (module, path) in &named[from] {
            let Some(at) = resolve(&scopes, module, path) else {
                continue;
            };
            // The deepest file the path names: an item's path names its module's file.
            let target = (0..=at.len())
                .rev()
                .map(|n| &at[..n])
                .find(|m| files.contains_key(*m));
            if let Some(target) = target
                && target != from.as_slice()
            {
                targets.insert(target.to_vec());
            }
        }
    }
    Graph { files, edges }
}

/// The shortest path from `start` to `goal`, both included.
fn shortest_path(
    edges: &BTreeMap<Module, BTreeSet<Module>>,
    start: &Module,
    goal: &Module,
) -> Option<Vec<Module>> {
    let mut parent: BTreeMap<&Module, &Module> = BTreeMap::from([(start, start)]);
    let mut queue = VecDeque::from([start]);
    while let Some(m) = queue.pop_front() {
        if m == goal {
            let back = std::iter::successors(Some(m), |&at| (at != start).then(|| parent[at]));
            let mut path: Vec<Module> = back.cloned().collect();
            path.reverse();
            return Some(path);
        }
        for next in edges.get(m).into_iter().flatten() {
            if !parent.contains_key(next) {
                parent.insert(next, m);
                queue.push_back(next);
            }
        }
    }
    None
}

/// Every circle that is the shortest through one of its edges, so that each edge on a
/// circle shows in one; each circle once, starting at its least module.
fn circles(edges: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<Vec<Module>> {
    let mut found = BTreeSet::new();
    for (from, targets) in edges {
        for to in targets {
            // `to` .. `from`, closed by the edge `from -> to`.
            if let Some(mut circle) = shortest_path(edges, to, from) {
                let least = (0..circle.len()).min_by_key(|&i| &circle[i]).unwrap_or(0);
                circle.rotate_left(least);
                found.insert(circle);
            }
        }
    }
    found.into_iter().collect()
}

/// The checker: the circles and upward imports among a crate's source files, given as
/// (path under `src`, text) pairs.
fn check(sources: &[(PathBuf, String)]) -> Vec<Violation> {
    let Graph { files, edges } = graph(sources);
    let mut violations = Vec::new();
    let file = |m: &Module| files[m].clone();
    for circle in circles(&edges) {
        violations.push(Violation::Circle(circle.iter().map(file).collect()));
    }
    let layer_of = |m: &Module| layer(m.first().map_or("", String::as_str));
    for (from, targets) in &edges {
        let Some(low) = layer_of(from) else {
            violations.push(Violation::NoLayer(file(from)));
            continue;
        };
        for to in targets {
            if layer_of(to).is_some_and(|high| high > low) {
                let (from, to) = (file(from), file(to));
                violations.push(Violation::Upward { from, to });
            }
        }
    }
    violations
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
            "mod build; mod recipe; pub use build::*; pub struct Options;",
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
    let edges = [
        "backend/docker.rs -> node/mod.rs",
        "lib.rs -> node/mod.rs",
        "node/mod.rs -> node/role.rs",
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
