//! The checker: each file's module, the paths it names resolved to files, the edges
//! between files, and the circles and upward imports among them.

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
pub(crate) type Module = Vec<String>;

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
pub(crate) enum Violation {
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
    /// Each path with the module it is named in, and whether a `pub use` names it.
    paths: Vec<(Module, Vec<String>, bool)>,
    /// Inside a `pub use` item.
    reexport: bool,
    /// Modules declared `#[cfg(test)] mod x;`, whose files are exempt.
    test_modules: &'a mut BTreeSet<Module>,
}

impl Collector<'_> {
    fn scope(&mut self) -> &mut Scope {
        self.scopes.entry(self.module.clone()).or_default()
    }

    fn named(&mut self, path: Vec<String>) {
        self.paths.push((self.module.clone(), path, self.reexport));
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
            self.reexport = !matches!(u.vis, syn::Visibility::Inherited);
            self.use_tree(&mut Vec::new(), &u.tree);
            self.reexport = false;
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
pub(crate) struct Graph {
    /// Each file's module and its path under `src`.
    pub files: BTreeMap<Module, String>,
    /// Every file has an entry, if only an empty one.
    pub edges: BTreeMap<Module, BTreeSet<Module>>,
}

pub(crate) fn graph(sources: &[(PathBuf, String)]) -> Graph {
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
            reexport: false,
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
        for (module, path, reexport) in &named[from] {
            let Some(at) = resolve(&scopes, module, path) else {
                continue;
            };
            // The deepest file the path names: an item's path names its module's file.
            let target = (0..=at.len())
                .rev()
                .map(|n| &at[..n])
                .find(|m| files.contains_key(*m));
            // A re-export of a sub-module's item is the module's face (see the top).
            if let Some(target) = target
                && target != from.as_slice()
                && !(*reexport && target.starts_with(from))
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
pub(crate) fn check(sources: &[(PathBuf, String)]) -> Vec<Violation> {
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
