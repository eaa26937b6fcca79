//! The layers run one way (ARCHITECTURE.md): front-ends (`http`, `gateway`, `fixtures`) →
//! `domain` → `delivery` → `store` ports → adapters → the Shiku `documents` → `config`; `startup`
//! assembles them all. This test reads `src/` with `syn`, builds the graph of which file uses
//! which (following `pub use` re-exports to the file that defines the item), and fails on an
//! upward or sideways import and on any cycle between files. Test modules are not counted.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use syn::visit::Visit;

/// A module path from the crate root (`["domain", "users"]`).
type ModPath = Vec<String>;

struct Module {
    file: PathBuf,
    /// Names defined in this file (types, traits, functions, constants, statics, macros).
    defined: BTreeSet<String>,
    /// `pub use` re-exports: visible name → the path it stands for (relative to the crate).
    reexports: BTreeMap<String, ModPath>,
    /// `pub use x::*`: the paths whose items this module re-exports.
    globs: Vec<ModPath>,
    /// Every path this file uses, made absolute (use trees and paths in code).
    uses: Vec<ModPath>,
}

fn is_test_only(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("cfg")
            && a.meta
                .require_list()
                .map(|l| l.tokens.to_string().trim() == "test")
                .unwrap_or(false)
    })
}

/// Collects the module tree from the files under `src/` (`main.rs` is the binary, not the
/// library, and imports the library by name).
fn module_files(src: &Path) -> BTreeMap<ModPath, PathBuf> {
    let mut out = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read src") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().and_then(|e| e.to_str()) != Some("rs") {
                continue;
            }
            let rel = path.strip_prefix(src).expect("under src");
            let mut segs: ModPath = rel
                .with_extension("")
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            match segs.last().map(String::as_str) {
                Some("main") if segs.len() == 1 => continue,
                Some("lib") if segs.len() == 1 => segs.clear(),
                Some("mod") => {
                    segs.pop();
                }
                _ => {}
            }
            out.insert(segs, path);
        }
    }
    out
}

/// Flattens a use tree into absolute paths (before resolution), with the visible name of each.
fn flatten(tree: &syn::UseTree, prefix: &mut ModPath, out: &mut Vec<(ModPath, Option<String>)>) {
    match tree {
        syn::UseTree::Path(p) => {
            prefix.push(p.ident.to_string());
            flatten(&p.tree, prefix, out);
            prefix.pop();
        }
        syn::UseTree::Name(n) => {
            let name = n.ident.to_string();
            if name == "self" {
                let visible = prefix.last().cloned();
                out.push((prefix.clone(), visible));
            } else {
                let mut p = prefix.clone();
                p.push(name.clone());
                out.push((p, Some(name)));
            }
        }
        syn::UseTree::Rename(r) => {
            let mut p = prefix.clone();
            let name = r.ident.to_string();
            if name != "self" {
                p.push(name);
            }
            out.push((p, Some(r.rename.to_string())));
        }
        syn::UseTree::Glob(_) => out.push((prefix.clone(), None)),
        syn::UseTree::Group(g) => {
            for t in &g.items {
                flatten(t, prefix, out);
            }
        }
    }
}

/// Makes a path absolute from the module `here`: `crate::`, `super::`, `self::`, or a child
/// module of `here`. Other paths (std, external crates, local items) give None.
fn absolute(here: &ModPath, segs: &[String], modules: &BTreeSet<ModPath>) -> Option<ModPath> {
    let first = segs.first()?;
    let mut out: ModPath;
    let mut rest = segs;
    match first.as_str() {
        "crate" => {
            out = Vec::new();
            rest = &segs[1..];
        }
        "self" => {
            out = here.clone();
            rest = &segs[1..];
        }
        "super" => {
            out = here.clone();
            while rest.first().map(String::as_str) == Some("super") {
                out.pop();
                rest = &rest[1..];
            }
        }
        _ => {
            let mut child = here.clone();
            child.push(first.clone());
            if !modules.contains(&child) {
                return None;
            }
            out = here.clone();
        }
    }
    out.extend(rest.iter().cloned());
    Some(out)
}

/// Paths named in code (calls, types, patterns), outside test modules.
struct CodePaths<'a> {
    here: &'a ModPath,
    modules: &'a BTreeSet<ModPath>,
    found: Vec<ModPath>,
}

impl<'ast> Visit<'ast> for CodePaths<'_> {
    fn visit_path(&mut self, p: &'ast syn::Path) {
        let segs: Vec<String> = p.segments.iter().map(|s| s.ident.to_string()).collect();
        if segs.len() > 1 {
            if let Some(abs) = absolute(self.here, &segs, self.modules) {
                self.found.push(abs);
            }
        }
        syn::visit::visit_path(self, p);
    }

    fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
        if !is_test_only(&m.attrs) {
            syn::visit::visit_item_mod(self, m);
        }
    }

    fn visit_item_fn(&mut self, f: &'ast syn::ItemFn) {
        if !is_test_only(&f.attrs) {
            syn::visit::visit_item_fn(self, f);
        }
    }

    fn visit_item_use(&mut self, _: &'ast syn::ItemUse) {}
}

fn read_module(here: &ModPath, file: &Path, modules: &BTreeSet<ModPath>) -> Module {
    let text = std::fs::read_to_string(file).expect("read file");
    let parsed = syn::parse_file(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let mut m = Module {
        file: file.to_path_buf(),
        defined: BTreeSet::new(),
        reexports: BTreeMap::new(),
        globs: Vec::new(),
        uses: Vec::new(),
    };
    for item in &parsed.items {
        let (attrs, name) = match item {
            syn::Item::Struct(i) => (&i.attrs, Some(&i.ident)),
            syn::Item::Enum(i) => (&i.attrs, Some(&i.ident)),
            syn::Item::Trait(i) => (&i.attrs, Some(&i.ident)),
            syn::Item::Fn(i) => (&i.attrs, Some(&i.sig.ident)),
            syn::Item::Const(i) => (&i.attrs, Some(&i.ident)),
            syn::Item::Static(i) => (&i.attrs, Some(&i.ident)),
            syn::Item::Type(i) => (&i.attrs, Some(&i.ident)),
            syn::Item::Union(i) => (&i.attrs, Some(&i.ident)),
            syn::Item::Macro(i) => (&i.attrs, i.ident.as_ref()),
            syn::Item::Use(i) => (&i.attrs, None),
            syn::Item::Mod(i) => (&i.attrs, None),
            syn::Item::Impl(i) => (&i.attrs, None),
            _ => continue,
        };
        if is_test_only(attrs) {
            continue;
        }
        if let Some(name) = name {
            m.defined.insert(name.to_string());
        }
        if let syn::Item::Use(u) = item {
            let mut flat = Vec::new();
            flatten(&u.tree, &mut Vec::new(), &mut flat);
            let public = !matches!(u.vis, syn::Visibility::Inherited);
            for (path, visible) in flat {
                let Some(abs) = absolute(here, &path, modules) else {
                    continue;
                };
                if public {
                    match visible {
                        Some(name) => {
                            m.reexports.insert(name, abs.clone());
                        }
                        None => m.globs.push(abs.clone()),
                    }
                }
                m.uses.push(abs);
            }
        }
    }
    let mut code = CodePaths {
        here,
        modules,
        found: Vec::new(),
    };
    for item in &parsed.items {
        code.visit_item(item);
    }
    m.uses.extend(code.found);
    m
}

struct Crate {
    modules: BTreeMap<ModPath, Module>,
}

impl Crate {
    fn read(src: &Path) -> Crate {
        let files = module_files(src);
        let names: BTreeSet<ModPath> = files.keys().cloned().collect();
        let modules = files
            .iter()
            .map(|(path, file)| (path.clone(), read_module(path, file, &names)))
            .collect();
        Crate { modules }
    }

    /// The module whose file defines what `path` names (following re-exports), or the deepest
    /// module on the path when the item is not found (an enum variant, a method).
    fn resolve(&self, path: &[String], depth: usize) -> Option<ModPath> {
        let mut module: ModPath = Vec::new();
        let mut i = 0;
        while i < path.len() {
            let mut child = module.clone();
            child.push(path[i].clone());
            if !self.modules.contains_key(&child) {
                break;
            }
            module = child;
            i += 1;
        }
        if i == path.len() || depth > 16 {
            return Some(module);
        }
        let m = &self.modules[&module];
        let name = &path[i];
        if m.defined.contains(name) {
            return Some(module);
        }
        if let Some(target) = m.reexports.get(name) {
            let mut t = target.clone();
            t.extend(path[i + 1..].iter().cloned());
            return self.resolve(&t, depth + 1);
        }
        for glob in &m.globs {
            let mut t = glob.clone();
            t.extend(path[i..].iter().cloned());
            if let Some(found) = self.resolve(&t, depth + 1) {
                if found != *glob {
                    return Some(found);
                }
            }
        }
        Some(module)
    }

    /// File-level edges: who uses whom (self-uses dropped).
    fn edges(&self) -> BTreeMap<ModPath, BTreeSet<ModPath>> {
        let mut out: BTreeMap<ModPath, BTreeSet<ModPath>> = BTreeMap::new();
        for (here, m) in &self.modules {
            let targets = out.entry(here.clone()).or_default();
            for used in &m.uses {
                if let Some(to) = self.resolve(used, 0) {
                    if to != *here {
                        targets.insert(to);
                    }
                }
            }
        }
        out
    }

    fn file(&self, m: &ModPath) -> String {
        self.modules[m].file.display().to_string()
    }
}

/// The layer of a module: higher may use lower, never the other way; modules of one layer but
/// different packages (`store` ports and `files`) do not use each other. The adapters implement
/// the ports (so they sit above them), and only `startup` picks one.
fn layer(m: &ModPath) -> (u8, String) {
    let top = m.first().map(String::as_str).unwrap_or("");
    let adapter =
        top == "store" && matches!(m.get(1).map(String::as_str), Some("sqlite" | "mongo"));
    let rank = match top {
        "" => 9,
        "startup" => 8,
        "http" | "gateway" | "fixtures" => 7,
        "domain" => 6,
        "delivery" => 5,
        "store" if adapter => 4,
        "store" | "files" => 3,
        "documents" => 2,
        "config" => 1,
        other => {
            panic!("module {other} has no layer: add it to tests/layers.rs and ARCHITECTURE.md")
        }
    };
    let package = if adapter {
        format!("store/{}", m[1])
    } else {
        top.to_string()
    };
    (rank, package)
}

/// Whether `from` may use the store adapter `to` at all: only the start-up chooses one.
fn may_pick_adapter(from: &ModPath, to: &ModPath) -> bool {
    let adapter = |m: &ModPath| {
        m.first().map(String::as_str) == Some("store")
            && matches!(m.get(1).map(String::as_str), Some("sqlite" | "mongo"))
    };
    !adapter(to)
        || adapter(from)
        || matches!(from.first().map(String::as_str), None | Some("startup"))
}

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn every_import_points_down() {
    let krate = Crate::read(&src_dir());
    let mut wrong = Vec::new();
    for (from, targets) in krate.edges() {
        let (rank, package) = layer(&from);
        for to in targets {
            let (to_rank, to_package) = layer(&to);
            let upward = to_rank > rank;
            let sideways = to_rank == rank && to_package != package;
            if upward || sideways || !may_pick_adapter(&from, &to) {
                wrong.push(format!("{} uses {}", krate.file(&from), krate.file(&to)));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the layers:\n{}",
        wrong.join("\n")
    );
}

/// The node a file counts as in the cycle check: itself, except that each store adapter is one
/// unit (its files are split by port and share the adapter's private helpers and connection
/// through `super::*`; nothing outside the adapter sees inside it).
fn node(m: &ModPath) -> ModPath {
    match (m.first().map(String::as_str), m.get(1).map(String::as_str)) {
        (Some("store"), Some("sqlite" | "mongo")) => m[..2].to_vec(),
        _ => m.clone(),
    }
}

#[test]
fn no_files_import_each_other() {
    let krate = Crate::read(&src_dir());
    let mut edges: BTreeMap<ModPath, BTreeSet<ModPath>> = BTreeMap::new();
    for (from, targets) in krate.edges() {
        let from = node(&from);
        let out = edges.entry(from.clone()).or_default();
        out.extend(targets.iter().map(node).filter(|t| *t != from));
    }
    // Tarjan's strongly connected components: every component of more than one file is a cycle.
    struct Search<'a> {
        edges: &'a BTreeMap<ModPath, BTreeSet<ModPath>>,
        index: BTreeMap<&'a ModPath, (usize, usize)>,
        stack: Vec<&'a ModPath>,
        on_stack: BTreeSet<&'a ModPath>,
        next: usize,
        cycles: Vec<Vec<&'a ModPath>>,
    }
    impl<'a> Search<'a> {
        fn visit(&mut self, n: &'a ModPath) {
            self.index.insert(n, (self.next, self.next));
            self.next += 1;
            self.stack.push(n);
            self.on_stack.insert(n);
            let edges = self.edges;
            for m in edges.get(n).into_iter().flatten() {
                if !self.index.contains_key(m) {
                    self.visit(m);
                    let low = self.index[n].1.min(self.index[m].1);
                    self.index.get_mut(n).expect("visited").1 = low;
                } else if self.on_stack.contains(m) {
                    let low = self.index[n].1.min(self.index[m].0);
                    self.index.get_mut(n).expect("visited").1 = low;
                }
            }
            if self.index[n].0 == self.index[n].1 {
                let mut component = Vec::new();
                while let Some(m) = self.stack.pop() {
                    self.on_stack.remove(m);
                    component.push(m);
                    if m == n {
                        break;
                    }
                }
                if component.len() > 1 {
                    self.cycles.push(component);
                }
            }
        }
    }
    let mut search = Search {
        edges: &edges,
        index: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        next: 0,
        cycles: Vec::new(),
    };
    for n in edges.keys() {
        if !search.index.contains_key(n) {
            search.visit(n);
        }
    }
    let report: Vec<String> = search
        .cycles
        .iter()
        .map(|c| {
            let files: Vec<String> = c.iter().map(|m| krate.file(m)).collect();
            format!("- {}", files.join(", "))
        })
        .collect();
    assert!(
        report.is_empty(),
        "files that import each other (directly or round a cycle):\n{}",
        report.join("\n")
    );
}

#[test]
fn the_checker_sees_re_exports_and_relative_paths() {
    // The graph must catch what it is for: a use through a re-export reaches the defining file,
    // and a child module named without `crate::` counts.
    let krate = Crate::read(&src_dir());
    let edges = krate.edges();
    let users: ModPath = vec!["domain".into(), "users".into()];
    let error: ModPath = vec!["domain".into(), "error".into()];
    assert!(
        edges[&users].contains(&error),
        "domain/users.rs uses domain::Error (re-exported from domain/error.rs)"
    );
    let domain: ModPath = vec!["domain".into()];
    assert!(edges[&domain].contains(&error));
}
