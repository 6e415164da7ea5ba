//! The layout the README draws, checked: the crates depend on each other
//! only downwards (app → engine → core; the compiler refuses the other
//! way, and this test refuses a dependency that would let it), the core's
//! closure holds no libtorch, no module of a crate uses one that uses it
//! back, and the README's tables name every module of every crate.

use crate::common;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The crates, by name, and their source folders.
fn crates() -> Vec<(&'static str, PathBuf)> {
    let root = common::root();
    vec![
        ("stylelab-core", root.join("crates/core/src")),
        ("stylelab-engine", root.join("crates/engine/src")),
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
}

/// Top-level module → the top-level modules of the same crate its code
/// (tests and comments left out) names as `crate::…`.
fn uses(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let module = top_module(src, &path);
            if module == "main" || module == "lib" {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let code = text.split("#[cfg(test)]").next().unwrap_or("");
            let used = out.entry(module.clone()).or_default();
            for line in code.lines().filter(|l| !l.trim_start().starts_with("//")) {
                for (i, _) in line.match_indices("crate::") {
                    // `stylelab_core::…` is another crate, not this one's `crate::`.
                    if i > 0 && line[..i].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
                        continue;
                    }
                    let name: String = line[i + 7..]
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    // Items of lib.rs itself (constants, helpers) are no module.
                    if name != module && name.chars().next().is_some_and(|c| c.is_ascii_lowercase()) {
                        used.insert(name);
                    }
                }
            }
        }
    }
    let modules: BTreeSet<String> = out.keys().cloned().collect();
    for used in out.values_mut() {
        used.retain(|m| modules.contains(m));
    }
    out
}

fn top_module(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy()
        .into_owned();
    first.trim_end_matches(".rs").to_string()
}

#[test]
fn no_module_uses_one_that_uses_it() {
    for (name, src) in crates() {
        let uses = uses(&src);
        assert!(uses.len() > 5, "{name}: {uses:?}");
        // Depth-first search for a path from each module back to itself.
        for start in uses.keys() {
            let mut stack = vec![vec![start.clone()]];
            let mut seen = BTreeSet::new();
            while let Some(path) = stack.pop() {
                for next in &uses[path.last().unwrap()] {
                    assert!(next != start, "{name}: module cycle: {} → {next}", path.join(" → "));
                    if seen.insert(next.clone()) {
                        let mut longer = path.clone();
                        longer.push(next.clone());
                        stack.push(longer);
                    }
                }
            }
        }
    }
    // The pipeline's direction inside the crates: validation reaches for
    // nothing but layer names, colour names and the bounded file reader
    // (three leaves); the run loop never calls the preflight.
    let core = uses(&crates()[0].1);
    assert!(
        core["config"]
            .iter()
            .all(|m| m == "layer" || m == "mask" || m == "files"),
        "config uses {:?}",
        core["config"]
    );
    assert!(core["mask"].is_empty(), "mask uses {:?}", core["mask"]);
    assert!(core["files"].is_empty(), "files uses {:?}", core["files"]);
    let engine = uses(&crates()[1].1);
    assert!(!engine["runner"].contains("preflight"), "{:?}", engine["runner"]);
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
