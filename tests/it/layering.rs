//! The layering of `src/`, checked: imports between files point to the same or a lower layer,
//! and no files import each other in a circle. docs/architecture.md draws the same table.
//!
//! An import is any `use crate::…`, `use super::…` or `use self::…` tree and any `crate::…` or
//! `super::…` path in code, resolved to the file that defines the longest prefix of the path.
//! Test code (`#[cfg(test)]` modules, inline or in their own files) may reach anywhere and is
//! not counted; comments and string literals are skipped.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Layers by path prefix under `src/`, higher layers first; the longest matching prefix wins.
const LAYERS: &[(&str, u8, &str)] = &[
    ("cli/", 7, "command line"),
    ("app.rs", 6, "wiring and supervision"),
    ("web/config.rs", 2, "module config"),
    ("web/", 5, "services"),
    ("ingest.rs", 5, "services"),
    ("engage.rs", 5, "services"),
    ("report/config.rs", 2, "module config"),
    ("report/", 5, "services"),
    ("lease.rs", 5, "services"),
    ("schedule.rs", 5, "services"),
    ("publish/config.rs", 2, "module config"),
    ("publish/", 5, "services"),
    ("listen/config.rs", 2, "module config"),
    ("listen/", 5, "services"),
    ("crisis/live.rs", 5, "services"),
    ("crisis/replay.rs", 5, "services"),
    ("crisis/notify/config.rs", 2, "module config"),
    ("crisis/notify/", 5, "services"),
    ("inbox/templates.rs", 2, "module config"),
    ("inbox/", 5, "services"),
    ("config/error.rs", 0, "foundation"),
    ("config/source.rs", 0, "foundation"),
    ("config/env.rs", 0, "foundation"),
    ("config/", 4, "assembled configuration"),
    ("store/", 3, "store"),
    ("plan/", 2, "pure cores and records"),
    ("classify/", 2, "pure cores and records"),
    ("crisis/", 2, "pure cores and records"),
    ("domain/", 2, "pure cores and records"),
    ("platform/", 1, "platform clients"),
    ("media.rs", 1, "image files"),
    ("lib.rs", 0, "foundation"),
    ("clock.rs", 0, "foundation"),
    ("rng.rs", 0, "foundation"),
    ("untrusted.rs", 0, "foundation"),
    ("lang.rs", 0, "foundation"),
    ("retry.rs", 0, "foundation"),
    ("supervise.rs", 0, "foundation"),
    ("http.rs", 0, "foundation"),
];

fn layer(file: &str) -> Option<u8> {
    LAYERS
        .iter()
        .filter(|(prefix, _, _)| file.starts_with(prefix))
        .max_by_key(|(prefix, _, _)| prefix.len())
        .map(|(_, layer, _)| *layer)
}

/// The import graph of a source tree: file → files it imports (both relative to `src/`).
struct Graph {
    edges: BTreeMap<String, BTreeSet<String>>,
    /// Where each edge was seen first: (from, to) → the path written.
    via: BTreeMap<(String, String), String>,
}

/// The module path of a file: `listen/run.rs` → `[listen, run]`, `listen/mod.rs` → `[listen]`.
fn module_of(file: &str) -> Vec<String> {
    let mut parts: Vec<String> = file
        .trim_end_matches(".rs")
        .split('/')
        .map(str::to_string)
        .collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts
}

/// Removes comments, string and char literals (their insides become spaces), so that neither
/// can fake or hide an import.
fn code_only(text: &str) -> String {
    let b: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < b.len() && b[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == '/' && b.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if b[i] == '*' && b.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            out.push(' ');
        } else if c == 'r' && (next == Some('"') || next == Some('#')) && !ident_before(&b, i) {
            // A raw string: r"…" or r#"…"#.
            let mut j = i + 1;
            let mut hashes = 0;
            while b.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if b.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            loop {
                if j >= b.len() {
                    break;
                }
                if b[j] == '"' && (0..hashes).all(|k| b.get(j + 1 + k) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            out.push_str("\"\"");
            i = j;
        } else if c == '"' {
            i += 1;
            while i < b.len() && b[i] != '"' {
                if b[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            out.push_str("\"\"");
        } else if c == '\'' {
            // A char literal ('x', '\n', '\u{..}') or a lifetime ('a).
            if next == Some('\\') {
                let mut j = i + 2;
                while j < b.len() && b[j] != '\'' {
                    j += 1;
                }
                i = j + 1;
                out.push_str("' '");
            } else if b.get(i + 2) == Some(&'\'') {
                i += 3;
                out.push_str("' '");
            } else {
                out.push(c);
                i += 1;
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn ident_before(b: &[char], i: usize) -> bool {
    i > 0 && (b[i - 1].is_alphanumeric() || b[i - 1] == '_')
}

/// Cuts inline `#[cfg(test)] mod name { … }` blocks out of code (comments already removed).
fn without_test_modules(code: &str) -> String {
    let mut out = code.to_string();
    while let Some(at) = find_test_module(&out) {
        let Some(open) = out[at..].find('{').map(|o| at + o) else {
            break;
        };
        let mut depth = 0;
        let mut end = out.len();
        for (k, ch) in out[open..].char_indices() {
            match ch {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = open + k + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        out.replace_range(at..end, "");
    }
    out
}

/// Where the next `#[cfg(test)]` that is followed by an inline `mod name {` starts.
fn find_test_module(code: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(pos) = code[from..].find("#[cfg(test)]") {
        let at = from + pos;
        let rest = code[at + "#[cfg(test)]".len()..].trim_start();
        let rest = skip_attributes(rest);
        let rest = rest
            .strip_prefix("pub(crate) ")
            .or_else(|| rest.strip_prefix("pub "))
            .unwrap_or(rest);
        if let Some(after_mod) = rest.strip_prefix("mod ") {
            let name_end = after_mod
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(after_mod.len());
            if after_mod[name_end..].trim_start().starts_with('{') {
                return Some(at);
            }
        }
        from = at + 1;
    }
    None
}

fn skip_attributes(mut s: &str) -> &str {
    while s.starts_with("#[") {
        match s.find(']') {
            Some(e) => s = s[e + 1..].trim_start(),
            None => return s,
        }
    }
    s
}

/// The files declared as `#[cfg(test)] mod name;` by `file`, as module paths.
fn test_only_children(file: &str, code: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(pos) = code[from..].find("#[cfg(test)]") {
        let at = from + pos;
        let rest = skip_attributes(code[at + "#[cfg(test)]".len()..].trim_start());
        let rest = rest.strip_prefix("pub ").unwrap_or(rest);
        if let Some(after) = rest.strip_prefix("mod ") {
            let end = after
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            if after[end..].trim_start().starts_with(';') {
                let mut m = module_of(file);
                m.push(after[..end].to_string());
                out.push(m);
            }
        }
        from = at + 1;
    }
    out
}

/// Expands a use tree (`a::{b, c::{d, e}}`) into full paths, each prefixed by `base`.
fn expand_use(base: &[String], tree: &str, out: &mut Vec<Vec<String>>) {
    let tree = tree.trim();
    // Split at top-level commas.
    let mut depth = 0;
    let mut start = 0;
    let mut items = Vec::new();
    for (i, ch) in tree.char_indices() {
        match ch {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&tree[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&tree[start..]);
    for item in items {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        if let Some(open) = item.find('{') {
            let prefix: Vec<String> = item[..open]
                .split("::")
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect();
            let inner = item[open + 1..].trim_end();
            let inner = inner.strip_suffix('}').unwrap_or(inner);
            let mut b = base.to_vec();
            b.extend(prefix);
            expand_use(&b, inner, out);
        } else {
            let item = item.split(" as ").next().unwrap_or(item);
            let mut path = base.to_vec();
            path.extend(
                item.split("::")
                    .map(str::trim)
                    .filter(|s| !s.is_empty() && *s != "self" && *s != "*")
                    .map(str::to_string),
            );
            out.push(path);
        }
    }
}

/// The module paths a file's code refers to (crate-absolute).
fn referenced_paths(file: &str, code: &str) -> Vec<Vec<String>> {
    let me = module_of(file);
    let parent: Vec<String> = me[..me.len().saturating_sub(1)].to_vec();
    let mut out = Vec::new();
    let use_re = regex::Regex::new(r"\buse\s+(crate|super|self)::([^;]*);").expect("regex");
    for cap in use_re.captures_iter(code) {
        let base = match &cap[1] {
            "crate" => Vec::new(),
            "super" => parent.clone(),
            _ => me.clone(),
        };
        let body = cap[2].trim();
        let body = body
            .strip_prefix('{')
            .and_then(|b| b.strip_suffix('}'))
            .unwrap_or(body);
        expand_use(&base, body, &mut out);
    }
    let path_re = regex::Regex::new(r"(?:^|[^:\w])(crate|super)((?:::\w+)+)").expect("regex");
    for cap in path_re.captures_iter(code) {
        let mut path = if &cap[1] == "crate" {
            Vec::new()
        } else {
            parent.clone()
        };
        path.extend(
            cap[2]
                .split("::")
                .filter(|s| !s.is_empty())
                .map(str::to_string),
        );
        // A call names a function, never a module: `super::run(…)` is the parent's `run`, even
        // when a child module is also called `run`.
        let end = cap.get(0).map_or(0, |m| m.end());
        if code[end..].trim_start().starts_with('(') {
            path.pop();
        }
        out.push(path);
    }
    out
}

/// Builds the graph of `files` (path under `src/` → text).
fn graph(files: &BTreeMap<String, String>) -> Graph {
    let by_module: BTreeMap<Vec<String>, &String> =
        files.keys().map(|f| (module_of(f), f)).collect();
    let mut tests_only = BTreeSet::new();
    let mut code = BTreeMap::new();
    for (file, text) in files {
        let c = code_only(text);
        for m in test_only_children(file, &c) {
            if let Some(f) = by_module.get(&m) {
                tests_only.insert((*f).clone());
            }
        }
        code.insert(file.clone(), without_test_modules(&c));
    }
    let mut g = Graph {
        edges: BTreeMap::new(),
        via: BTreeMap::new(),
    };
    for (file, c) in &code {
        if tests_only.contains(file) {
            continue;
        }
        let entry = g.edges.entry(file.clone()).or_default();
        for path in referenced_paths(file, c) {
            let target = (0..=path.len())
                .rev()
                .find_map(|n| by_module.get(&path[..n]));
            if let Some(target) = target {
                if *target != file {
                    entry.insert((*target).clone());
                    g.via
                        .entry((file.clone(), (*target).clone()))
                        .or_insert_with(|| path.join("::"));
                }
            }
        }
    }
    g
}

/// Every problem with the graph: files without a layer, upward imports, circles.
fn problems(g: &Graph) -> Vec<String> {
    let mut out = Vec::new();
    for (from, tos) in &g.edges {
        let Some(lf) = layer(from) else {
            out.push(format!("{from}: has no layer in LAYERS"));
            continue;
        };
        for to in tos {
            let Some(lt) = layer(to) else { continue };
            if lt > lf {
                let via = g
                    .via
                    .get(&(from.clone(), to.clone()))
                    .cloned()
                    .unwrap_or_default();
                out.push(format!(
                    "{from} (layer {lf}) imports {to} (layer {lt}) via crate::{via}"
                ));
            }
        }
    }
    for circle in circles(&g.edges) {
        out.push(format!("import circle: {}", circle.join(" → ")));
    }
    out
}

/// The strongly connected components with more than one file (Tarjan).
fn circles(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct T<'a> {
        edges: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on: BTreeSet<&'a str>,
        next: usize,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(t: &mut T<'a>, v: &'a str) {
        t.index.insert(v, t.next);
        t.low.insert(v, t.next);
        t.next += 1;
        t.stack.push(v);
        t.on.insert(v);
        let edges = t.edges;
        for w in edges.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !t.index.contains_key(w) {
                visit(t, w);
                let lw = t.low[w];
                let lv = t.low[v];
                t.low.insert(v, lv.min(lw));
            } else if t.on.contains(w) {
                let iw = t.index[w];
                let lv = t.low[v];
                t.low.insert(v, lv.min(iw));
            }
        }
        if t.low[v] == t.index[v] {
            let mut scc = Vec::new();
            while let Some(w) = t.stack.pop() {
                t.on.remove(w);
                scc.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if scc.len() > 1 {
                scc.sort();
                t.out.push(scc);
            }
        }
    }
    let mut t = T {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in edges.keys() {
        if !t.index.contains_key(v.as_str()) {
            visit(&mut t, v);
        }
    }
    t.out
}

fn read_tree(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        let rel = path
            .strip_prefix(root)
            .expect("under src")
            .to_string_lossy()
            .replace('\\', "/");
        if path.is_dir() {
            // Binaries are crates of their own that use the library by name.
            if rel != "bin" {
                read_tree(root, &path, out);
            }
        } else if rel.ends_with(".rs") && rel != "main.rs" {
            out.insert(rel, std::fs::read_to_string(&path).expect("read file"));
        }
    }
}

#[test]
fn imports_point_down_the_layers_and_never_in_a_circle() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = BTreeMap::new();
    read_tree(&root, &root, &mut files);
    assert!(files.len() > 50, "read the whole tree: {}", files.len());
    let g = graph(&files);
    let edges: usize = g.edges.values().map(BTreeSet::len).sum();
    assert!(edges > 100, "found the imports: {edges}");
    let problems = problems(&g);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The checker itself finds what it must: an upward import, a circle through `super::`, and
/// imports hidden in comments, strings or test modules do not count.
#[test]
fn the_checker_sees_upward_imports_and_circles() {
    let files: BTreeMap<String, String> = [
        ("store/mod.rs", "use crate::web::Page;\n"),
        ("web/mod.rs", "pub struct Page;\n"),
        ("listen/mod.rs", "pub fn f() { crate::listen::run::g() }\n"),
        ("listen/run.rs", "use super::f;\npub fn g() {}\n"),
        ("cli/run.rs", "pub fn go() { super::run() }\n"),
        (
            "plan/mod.rs",
            "// use crate::app::x;\nconst S: &str = \"crate::cli::y\";\n\
             #[cfg(test)]\nmod tests {\n    use crate::app::Ready;\n}\n",
        ),
        ("app.rs", "pub struct Ready;\n"),
        ("cli/mod.rs", "pub fn y() {}\n"),
    ]
    .into_iter()
    .map(|(f, t)| (f.to_string(), t.to_string()))
    .collect();
    let g = graph(&files);
    let problems = problems(&g);
    assert_eq!(
        problems,
        [
            "store/mod.rs (layer 3) imports web/mod.rs (layer 5) via crate::web::Page",
            "import circle: listen/mod.rs → listen/run.rs",
        ],
        "{problems:#?}"
    );
    assert!(g.edges["plan/mod.rs"].is_empty(), "{:?}", g.edges);
}
