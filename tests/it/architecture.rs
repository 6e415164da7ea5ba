//! The layout the README draws, checked: the crates depend on each other
//! only downwards (app → engine → core, app → tensorboard → core; the
//! compiler refuses the other way, and this test refuses a dependency that
//! would let it), the core's closure holds no libtorch nor protobuf, no module of a crate uses one that uses it
//! back — at every depth, through `crate::`, `super::`, `self::`, use
//! groups and re-exports — and the layout tables name every module.

use crate::common;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The crates, by name, and their source folders.
fn crates() -> Vec<(&'static str, PathBuf)> {
    let root = common::root();
    vec![
        ("stylelab-core", root.join("crates/core/src")),
        ("stylelab-engine", root.join("crates/engine/src")),
        ("stylelab-tensorboard", root.join("crates/tensorboard/src")),
        ("stylelab", root.join("src")),
    ]
}

/// Every package Cargo.lock says `name` depends on, directly or not.
fn closure(name: &str) -> BTreeSet<String> {
    let lock: toml::Table =
        toml::from_str(&std::fs::read_to_string(common::root().join("Cargo.lock")).unwrap()).unwrap();
    let deps: BTreeMap<String, Vec<String>> = lock["package"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let p = p.as_table().unwrap();
            let list = p
                .get("dependencies")
                .and_then(|d| d.as_array())
                .map(|d| {
                    d.iter()
                        .map(|s| s.as_str().unwrap().split(' ').next().unwrap().to_string())
                        .collect()
                })
                .unwrap_or_default();
            (p["name"].as_str().unwrap().to_string(), list)
        })
        .collect();
    let mut seen = BTreeSet::new();
    let mut stack = vec![name.to_string()];
    while let Some(n) = stack.pop() {
        for d in deps.get(&n).into_iter().flatten() {
            if seen.insert(d.clone()) {
                stack.push(d.clone());
            }
        }
    }
    seen
}

#[test]
fn the_crates_depend_only_downwards_and_the_core_holds_no_libtorch() {
    let core = closure("stylelab-core");
    for forbidden in ["tch", "torch-sys", "stylelab-engine", "stylelab"] {
        assert!(!core.contains(forbidden), "the core depends on {forbidden}");
    }
    let engine = closure("stylelab-engine");
    assert!(engine.contains("stylelab-core") && engine.contains("tch"));
    assert!(!engine.contains("stylelab"), "the engine depends on the application");
    let app = closure("stylelab");
    assert!(app.contains("stylelab-engine") && app.contains("stylelab-core"));
    // The TensorBoard sink: on the core, beside the engine, never under
    // either; its protobuf stays out of the core.
    let tensorboard = closure("stylelab-tensorboard");
    assert!(tensorboard.contains("stylelab-core") && tensorboard.contains("prost"));
    for forbidden in ["tch", "torch-sys", "stylelab-engine", "stylelab"] {
        assert!(
            !tensorboard.contains(forbidden),
            "the TensorBoard crate depends on {forbidden}"
        );
    }
    assert!(app.contains("stylelab-tensorboard"));
    assert!(!core.contains("prost") && !engine.contains("stylelab-tensorboard"));
}

/// A crate's modules, each with the modules its code names.
///
/// Every `.rs` file is a module (`lib.rs` the root, `a/b.rs` is `a::b`).
/// Its code — comments, string literals and `#[cfg(test)]` items left out —
/// is scanned for paths that start with `crate::`, `super::`, `self::` or
/// the name of one of its child modules, use groups (`super::{a, b::c}`)
/// included. Each path is resolved to the deepest module it names; a path
/// through a `pub use` re-export is followed to the module that defines the
/// item, so a re-export cannot hide an arrow.
struct Graph {
    modules: BTreeSet<Vec<String>>,
    /// module → the modules it names.
    edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
}

impl Graph {
    fn of(src: &Path) -> Graph {
        let mut files = Vec::new();
        let mut stack = vec![src.to_path_buf()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let code = without_tests(&strip_comments_and_strings(&std::fs::read_to_string(&path).unwrap()));
                    files.push((module_path(src, &path), code));
                }
            }
        }
        let modules: BTreeSet<Vec<String>> = files.iter().map(|(m, _)| m.clone()).collect();
        // Re-exports first: (module, item) → the module defining the item.
        let mut aliases: BTreeMap<(Vec<String>, String), Vec<String>> = BTreeMap::new();
        for (module, code) in &files {
            for at in reexports(code) {
                for path in use_tree(code, at) {
                    if let Some((item, parent)) = path.split_last()
                        && let Some(target) = resolve(&modules, &BTreeMap::new(), module, parent)
                    {
                        aliases.insert((module.clone(), item.clone()), target);
                    }
                }
            }
        }
        let mut edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
        for (module, code) in &files {
            let named = edges.entry(module.clone()).or_default();
            for at in path_starts(code, module, &modules) {
                for path in use_tree(code, at) {
                    if let Some(target) = resolve(&modules, &aliases, module, &path)
                        && target != *module
                    {
                        named.insert(target);
                    }
                }
            }
        }
        Graph { modules, edges }
    }

    /// The arrows between siblings: an arrow from `a::x::p` to `a::y::q`
    /// is one from `a::x` to `a::y` (children of their nearest common
    /// ancestor). A module naming its own ancestor (a child using its
    /// parent's items) or descendant is no arrow between siblings.
    fn sibling_arrows(&self) -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
        let mut out: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
        for (from, targets) in &self.edges {
            for to in targets {
                let common = from.iter().zip(to).take_while(|(a, b)| a == b).count();
                if common == from.len() || common == to.len() {
                    continue;
                }
                out.entry(from[..=common].to_vec())
                    .or_default()
                    .insert(to[..=common].to_vec());
            }
        }
        out
    }

    /// Every circle among siblings, as `a → b → a`.
    fn circles(&self) -> Vec<String> {
        let arrows = self.sibling_arrows();
        let mut found = Vec::new();
        for start in arrows.keys() {
            let mut stack = vec![vec![start.clone()]];
            let mut seen = BTreeSet::new();
            while let Some(path) = stack.pop() {
                for next in arrows.get(path.last().unwrap()).into_iter().flatten() {
                    if next == start {
                        let mut names: Vec<String> = path.iter().map(|m| m.join("::")).collect();
                        names.push(start.join("::"));
                        found.push(names.join(" → "));
                    } else if seen.insert(next.clone()) {
                        let mut longer = path.clone();
                        longer.push(next.clone());
                        stack.push(longer);
                    }
                }
            }
        }
        found
    }
}

/// `src/a/b.rs` → `["a", "b"]`; `lib.rs` and `main.rs` → the root, `[]`.
fn module_path(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts == ["lib"] || parts == ["main"] {
        Vec::new()
    } else {
        parts
    }
}

/// The code with comments removed and string and char literals emptied.
fn strip_comments_and_strings(text: &str) -> String {
    let b: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        let at = i;
        let rest = |k: usize| b.get(at + k).copied().unwrap_or('\0');
        if b[i] == '/' && rest(1) == '/' {
            while i < b.len() && b[i] != '\n' {
                i += 1;
            }
        } else if b[i] == '/' && rest(1) == '*' {
            i += 2;
            while i < b.len() && !(b[i] == '*' && b.get(i + 1) == Some(&'/')) {
                i += 1;
            }
            i += 2;
        } else if b[i] == 'r'
            && (rest(1) == '"' || (rest(1) == '#' && (rest(2) == '"' || rest(2) == '#')))
            && (i == 0 || !is_ident(b[i - 1]))
        {
            let hashes = (1..).take_while(|&k| rest(k) == '#').count();
            i += 2 + hashes;
            let close: String = std::iter::once('"').chain(std::iter::repeat_n('#', hashes)).collect();
            while i < b.len() && !b[i..].iter().take(close.len()).copied().eq(close.chars()) {
                i += 1;
            }
            i += close.len();
            out.push_str("\"\"");
        } else if b[i] == '"' {
            i += 1;
            while i < b.len() && b[i] != '"' {
                i += if b[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else if b[i] == '\'' && (rest(1) == '\\' || rest(2) == '\'') {
            // A char literal ('x', '\n', '\u{1F600}'), not a lifetime.
            i += 1;
            while i < b.len() && b[i] != '\'' {
                i += if b[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("' '");
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

/// The code without its `#[cfg(test)]` items: a `mod x;` line, or a block
/// to its closing brace.
fn without_tests(code: &str) -> String {
    let mut out = String::new();
    let mut rest = code;
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        let after = &rest[at..];
        let semi = after.find(';').unwrap_or(after.len());
        let open = after.find('{').unwrap_or(after.len());
        if semi < open {
            rest = &after[(semi + 1).min(after.len())..];
            continue;
        }
        let mut depth = 0usize;
        let mut end = after.len();
        for (k, c) in after.char_indices().skip(open) {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = k + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Where the paths of `pub use` items start.
fn reexports(code: &str) -> Vec<usize> {
    let mut out = Vec::new();
    for pat in ["pub use ", "pub(crate) use ", "pub(super) use "] {
        for (i, _) in code.match_indices(pat) {
            if i == 0 || !is_ident(code[..i].chars().next_back().unwrap_or(' ')) {
                out.push(i + pat.len());
            }
        }
    }
    out
}

/// Where paths start: `crate::`, `super::`, `self::`, or a child module's
/// name followed by `::`, not preceded by an identifier, `::` or `$`.
fn path_starts(code: &str, module: &[String], modules: &BTreeSet<Vec<String>>) -> Vec<usize> {
    let chars: Vec<(usize, char)> = code.char_indices().collect();
    let mut out = Vec::new();
    for (n, &(i, c)) in chars.iter().enumerate() {
        if !(c.is_ascii_lowercase() || c == '_') {
            continue;
        }
        let before = if n > 0 { chars[n - 1].1 } else { ' ' };
        if is_ident(before) || before == '$' || (before == ':' && n > 1 && chars[n - 2].1 == ':') {
            continue;
        }
        let word: String = code[i..].chars().take_while(|&c| is_ident(c)).collect();
        if !code[i + word.len()..].starts_with("::") {
            continue;
        }
        let child = || {
            let mut m = module.to_vec();
            m.push(word.clone());
            modules.contains(&m)
        };
        if matches!(word.as_str(), "crate" | "super" | "self") || child() {
            out.push(i);
        }
    }
    out
}

/// The paths of the use tree (or plain path) that starts at `at`:
/// `super::{a, b::{c, d}}` → `super::a`, `super::b::c`, `super::b::d`.
fn use_tree(code: &str, at: usize) -> Vec<Vec<String>> {
    fn tree(s: &[u8], i: &mut usize, mut prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
        let skip = |i: &mut usize| {
            while *i < s.len() && (s[*i] as char).is_whitespace() {
                *i += 1;
            }
        };
        loop {
            skip(i);
            if *i < s.len() && s[*i] == b'{' {
                *i += 1;
                loop {
                    skip(i);
                    if *i >= s.len() || s[*i] == b'}' {
                        *i += 1;
                        return;
                    }
                    tree(s, i, prefix.clone(), out);
                    skip(i);
                    if *i < s.len() && s[*i] == b',' {
                        *i += 1;
                    }
                }
            }
            let start = *i;
            while *i < s.len() && is_ident(s[*i] as char) {
                *i += 1;
            }
            let word = String::from_utf8_lossy(&s[start..*i]).into_owned();
            if !word.is_empty() && word != "self" {
                prefix.push(word);
            }
            if s[*i..].starts_with(b"::") {
                *i += 2;
            } else {
                // `as alias`, `*`, `(`, `;` or anything else ends the path.
                while *i < s.len() && !matches!(s[*i], b',' | b'}' | b';' | b'(' | b')') {
                    *i += 1;
                    if s[*i - 1] == b'\n' {
                        break;
                    }
                }
                out.push(prefix);
                return;
            }
        }
    }
    let mut out = Vec::new();
    tree(code.as_bytes(), &mut at.clone(), Vec::new(), &mut out);
    out
}

/// The deepest module `path` names from `module`, following re-exports;
/// None for a path into another crate.
fn resolve(
    modules: &BTreeSet<Vec<String>>,
    aliases: &BTreeMap<(Vec<String>, String), Vec<String>>,
    module: &[String],
    path: &[String],
) -> Option<Vec<String>> {
    let mut segments = path.iter().peekable();
    let mut base: Vec<String> = match segments.peek().map(|s| s.as_str()) {
        Some("crate") => {
            segments.next();
            Vec::new()
        }
        Some("super") => {
            let mut base = module.to_vec();
            while segments.peek().is_some_and(|s| *s == "super") {
                segments.next();
                base.pop();
            }
            base
        }
        Some("self") => {
            segments.next();
            module.to_vec()
        }
        Some(_) => module.to_vec(),
        None => return None,
    };
    for seg in segments {
        let mut deeper = base.clone();
        deeper.push(seg.clone());
        if modules.contains(&deeper) {
            base = deeper;
        } else if let Some(target) = aliases.get(&(base.clone(), seg.clone())) {
            base = target.clone();
            break;
        } else {
            break;
        }
    }
    Some(base)
}

/// Top-level module → the other top-level modules of the same crate it
/// (or any of its submodules) names.
fn uses(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let graph = Graph::of(src);
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for module in graph.modules.iter().filter(|m| !m.is_empty()) {
        out.entry(module[0].clone()).or_default();
    }
    for (from, to) in graph.sibling_arrows() {
        if from.len() == 1 {
            let used = out.entry(from[0].clone()).or_default();
            used.extend(to.into_iter().map(|m| m[0].clone()));
        }
    }
    out
}

#[test]
fn no_module_uses_one_that_uses_it() {
    for (name, src) in crates() {
        let graph = Graph::of(&src);
        assert!(graph.modules.len() > 5, "{name}: {:?}", graph.modules);
        let circles = graph.circles();
        assert!(circles.is_empty(), "{name}: module circles:\n{}", circles.join("\n"));
    }
    // The pipeline's direction inside the crates: validation reaches for
    // nothing but layer names, colour names, the bounded file reader and
    // the number format (four leaves); the run loop never calls the preflight.
    let core = uses(&crates()[0].1);
    assert!(
        core["config"]
            .iter()
            .all(|m| m == "layer" || m == "mask" || m == "files" || m == "text"),
        "config uses {:?}",
        core["config"]
    );
    assert!(core["mask"].is_empty(), "mask uses {:?}", core["mask"]);
    assert!(core["files"].is_empty(), "files uses {:?}", core["files"]);
    assert!(core["text"].is_empty(), "text uses {:?}", core["text"]);
    let engine = uses(&crates()[1].1);
    assert!(!engine["runner"].contains("preflight"), "{:?}", engine["runner"]);
}

/// A file tree written for the test: (path under src, contents).
fn planted(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in files {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

#[test]
fn the_test_sees_circles_through_super_self_groups_and_reexports() {
    let base = [
        ("lib.rs", "pub mod review;\n"),
        ("review.rs", "pub mod sort;\npub mod table;\npub use table::Cell;\n"),
    ];
    let circles = |sort: &str, table: &str| {
        let mut files = base.to_vec();
        files.push(("review/sort.rs", sort));
        files.push(("review/table.rs", table));
        Graph::of(planted(&files).path()).circles()
    };
    let table = "use super::sort::COLUMNS;\npub struct Cell;\n";
    // A planted circle through `super::`, through a use group, through
    // `crate::` and through the parent's re-export: each is seen.
    for sort in [
        "pub fn note() { let _ = super::table::Cell; }\n",
        "use super::{RunEntry, table::{self, Cell}};\n",
        "use crate::review::table::Cell;\n",
        "use super::Cell; // re-exported from table\n",
    ] {
        let found = circles(sort, table);
        assert_eq!(found.len(), 2, "{sort}: {found:?}");
        assert!(
            found.iter().any(|c| c == "review::sort → review::table → review::sort"),
            "{found:?}"
        );
    }
    // Not circles: a comment, a string, a test module, a child using its
    // parent's items, and another crate's module of the same name.
    for sort in [
        "// super::table::Cell\n",
        "const S: &str = \"super::table::Cell\";\n",
        "#[cfg(test)]\nmod tests {\n    use super::super::table::Cell;\n}\n",
        "use super::RunEntry;\n",
        "use stylelab_core::review::table::Cell;\n",
    ] {
        assert_eq!(circles(sort, table), Vec::<String>::new(), "{sort}");
    }
    // Deeper down, an arrow is lifted to the siblings it runs between.
    let files = [
        ("lib.rs", ""),
        ("a.rs", "pub mod x;\n"),
        ("a/x.rs", "pub fn f() { crate::b::g() }\n"),
        ("b.rs", "pub fn g() { self::inner::h() }\npub mod inner;\n"),
        ("b/inner.rs", "pub fn h() { let _ = crate::a::x::f; }\n"),
    ];
    assert_eq!(Graph::of(planted(&files).path()).circles(), ["a → b → a", "b → a → b"]);
}

#[test]
fn the_readme_table_names_every_module() {
    let readme = std::fs::read_to_string(common::root().join("docs/ARCHITECTURE.md")).unwrap();
    let table = readme.split("## How the code is laid out").nth(1).unwrap();
    for (name, src) in crates() {
        assert!(
            table.contains(&format!("`{name}`")),
            "docs/ARCHITECTURE.md lacks the crate `{name}`"
        );
        for module in uses(&src).keys() {
            assert!(
                table.contains(&format!("`{module}`")),
                "docs/ARCHITECTURE.md's module table lacks `{module}` of {name}"
            );
        }
    }
}
