//! The server crate's modules form layers: no module reaches, through `crate::` or
//! `super::` paths, a module that reaches it back. A cycle would tie layers together
//! (plumbing that knows the features, a core that knows the routes), so it fails here.
//!
//! Reads `src/` as text: every `crate::a::…`, `crate::{a, b::…}` and `super::…` outside
//! the test module at the bottom of a file (doc links count too, they name a dependency)
//! is an edge from the file's module to the module it names.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Modules, at a depth, and the modules each one names.
type Graph = BTreeMap<String, BTreeSet<String>>;

#[test]
fn top_level_modules_form_no_cycle() {
    let graph = graph(1);
    assert!(
        graph.contains_key("core"),
        "the scan found the modules: {graph:?}"
    );
    assert_eq!(
        cycles(&graph),
        Vec::<Vec<String>>::new(),
        "top-level module cycles"
    );
}

#[test]
fn modules_inside_a_folder_form_no_cycle() {
    let graph = graph(2);
    assert_eq!(
        cycles(&graph),
        Vec::<Vec<String>>::new(),
        "second-level module cycles"
    );
}

#[test]
fn the_scan_sees_grouped_and_relative_paths() {
    let module = ["http".to_string(), "error".to_string()];
    let text = "use crate::{routes, core::Core};\nuse super::{envelope, dto::Rfc3339};\n\
                /// see [`crate::ws`]\nfn f() {}\n#[cfg(test)]\nmod tests {\n use crate::gray;\n}\n";
    let named: BTreeSet<String> = named_paths(&module, without_test_module(text))
        .iter()
        .map(|path| cut(path, 2))
        .collect();
    let expected = ["core", "http::dto", "http::envelope", "routes", "ws"];
    assert_eq!(
        named,
        expected.iter().map(|name| name.to_string()).collect()
    );
}

#[test]
fn a_cycle_is_found() {
    let mut graph = Graph::new();
    for (from, to) in [("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")] {
        graph.entry(from.into()).or_default().insert(to.into());
    }
    assert_eq!(cycles(&graph), vec![vec!["a", "b", "c"]]);
}

fn source_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every module of `src/` (cut to `depth` path segments) and what it names.
fn graph(depth: usize) -> Graph {
    let root = source_root();
    let mut graph = Graph::new();
    for path in rust_files(&root) {
        let Some(module) = module_path(&root, &path) else {
            continue;
        };
        let text = fs::read_to_string(&path).expect("a readable source file");
        let from = cut(&module, depth);
        for named in named_paths(&module, without_test_module(&text)) {
            let Some(to) = enclosing_module(&root, &named, depth) else {
                continue;
            };
            let nested =
                to.starts_with(&format!("{from}::")) || from.starts_with(&format!("{to}::"));
            if to != from && !nested {
                graph.entry(from.clone()).or_default().insert(to);
            }
        }
    }
    graph
}

fn rust_files(directory: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in fs::read_dir(directory).expect("a readable directory") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            files.push(path);
        }
    }
    files
}

/// `src/http/error.rs` → `["http", "error"]`, `src/ws/mod.rs` → `["ws"]`; the crate
/// roots (`lib.rs`, `main.rs`) are no module.
fn module_path(root: &Path, path: &Path) -> Option<Vec<String>> {
    let relative = path.strip_prefix(root).ok()?.with_extension("");
    let mut segments: Vec<String> = relative
        .components()
        .map(|component| component.as_os_str().to_string_lossy().into_owned())
        .collect();
    if segments.last().is_some_and(|last| last == "mod") {
        segments.pop();
    }
    let root_file = segments.len() == 1 && (segments[0] == "lib" || segments[0] == "main");
    (!root_file && !segments.is_empty()).then_some(segments)
}

/// The longest prefix of `path`, at most `depth` segments, that is a module of the crate:
/// `crate::storage::start_guard` names `storage`.
fn enclosing_module(root: &Path, path: &[String], depth: usize) -> Option<String> {
    let longest = depth.min(path.len());
    (1..=longest)
        .rev()
        .map(|length| cut(&path[..length], length))
        .find(|name| is_module(root, name))
}

/// Whether `name` (`a` or `a::b`) is a module file or folder under `root`.
fn is_module(root: &Path, name: &str) -> bool {
    let path = root.join(name.replace("::", "/"));
    path.with_extension("rs").is_file() || path.join("mod.rs").is_file()
}

fn cut<S: AsRef<str>>(segments: &[S], depth: usize) -> String {
    let kept: Vec<&str> = segments.iter().take(depth).map(AsRef::as_ref).collect();
    kept.join("::")
}

/// The text before a `#[cfg(test)]` that opens a module at the start of a line.
fn without_test_module(text: &str) -> &str {
    let mut offset = 0;
    let mut lines = text.split_inclusive('\n').peekable();
    while let Some(line) = lines.next() {
        let opens_module = lines.peek().is_some_and(|next| next.starts_with("mod "));
        if line.trim_end() == "#[cfg(test)]" && opens_module {
            return &text[..offset];
        }
        offset += line.len();
    }
    text
}

/// Every `crate::…` and `super::…` path in `text`, as absolute module paths.
fn named_paths(module: &[String], text: &str) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    let bytes = text.as_bytes();
    let mut index = 0;
    while index < bytes.len() {
        let starts_word = index == 0 || !is_identifier_byte(bytes[index - 1]);
        // Both prefixes are ASCII, so a match starts on a character boundary.
        let at = |prefix: &str| starts_word && bytes[index..].starts_with(prefix.as_bytes());
        if at("crate::") {
            paths.extend(group(&text[index + "crate::".len()..]));
            index += "crate::".len();
        } else if at("super::") {
            let rest = &text[index..];
            let mut base = module.to_vec();
            let mut tail = rest;
            while let Some(after) = tail.strip_prefix("super::") {
                base.pop();
                tail = after;
            }
            for path in group(tail) {
                paths.push(base.iter().cloned().chain(path).collect());
            }
            index += rest.len() - tail.len();
        } else {
            index += 1;
        }
    }
    paths
}

/// The paths a `use` tree names: `a::b::Item` → `[a, b]`, `a::{b, c::d}` → `[a, b]`,
/// `[a, c, d]`. Segments are lowercase names (modules, functions), never items.
fn group(text: &str) -> Vec<Vec<String>> {
    let mut prefix = Vec::new();
    let mut rest = text;
    loop {
        if let Some(inner) = rest.strip_prefix('{') {
            let paths = members(inner).into_iter().flat_map(group);
            return paths
                .map(|path| prefix.iter().cloned().chain(path).collect())
                .collect();
        }
        let length = rest
            .find(|character: char| !(character.is_ascii_alphanumeric() || character == '_'))
            .unwrap_or(rest.len());
        let name = &rest[..length];
        if !name.starts_with(|first: char| first.is_ascii_lowercase()) || name == "self" {
            return vec![prefix];
        }
        prefix.push(name.to_owned());
        match rest[length..].strip_prefix("::") {
            Some(after) => rest = after,
            None => return vec![prefix],
        }
    }
}

/// The members of a `{…}` group, `inner` being the text after its `{`.
fn members(inner: &str) -> Vec<&str> {
    let mut members = Vec::new();
    let mut depth = 0;
    let mut start = 0;
    for (offset, character) in inner.char_indices() {
        match character {
            '{' => depth += 1,
            '}' if depth == 0 => {
                members.push(inner[start..offset].trim_start());
                break;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                members.push(inner[start..offset].trim_start());
                start = offset + 1;
            }
            _ => {}
        }
    }
    members
}

fn is_identifier_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_' || byte == b':'
}

/// The strongly connected components of more than one module (Tarjan), each sorted.
fn cycles(graph: &Graph) -> Vec<Vec<String>> {
    let mut search = Tarjan {
        graph,
        next_index: 0,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        components: Vec::new(),
    };
    for node in graph.keys() {
        if !search.index.contains_key(node.as_str()) {
            search.visit(node);
        }
    }
    search.components.sort();
    search.components
}

struct Tarjan<'a> {
    graph: &'a Graph,
    next_index: usize,
    index: BTreeMap<&'a str, usize>,
    low: BTreeMap<&'a str, usize>,
    stack: Vec<&'a str>,
    components: Vec<Vec<String>>,
}

impl<'a> Tarjan<'a> {
    fn visit(&mut self, node: &'a str) {
        self.index.insert(node, self.next_index);
        self.low.insert(node, self.next_index);
        self.next_index += 1;
        self.stack.push(node);
        for next in self.graph.get(node).into_iter().flatten() {
            let next = next.as_str();
            if !self.index.contains_key(next) {
                self.visit(next);
                let low = self.low[node].min(self.low[next]);
                self.low.insert(node, low);
            } else if self.stack.contains(&next) {
                let low = self.low[node].min(self.index[next]);
                self.low.insert(node, low);
            }
        }
        if self.low[node] == self.index[node] {
            self.pop_component(node);
        }
    }

    fn pop_component(&mut self, root: &str) {
        let mut component = Vec::new();
        while let Some(member) = self.stack.pop() {
            component.push(member.to_owned());
            if member == root {
                break;
            }
        }
        if component.len() > 1 {
            component.sort();
            self.components.push(component);
        }
    }
}
