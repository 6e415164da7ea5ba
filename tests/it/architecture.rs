//! The layout the README draws, checked against the source: no top-level
//! module uses one that uses it back, and the README's module table names
//! every module.

use crate::common;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Top-level module → the top-level modules its code (tests and comments
/// left out) names as `crate::…`.
fn uses() -> BTreeMap<String, BTreeSet<String>> {
    let src = common::root().join("src");
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut stack = vec![src.clone()];
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
            let module = top_module(&src, &path);
            if module == "main" || module == "lib" {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let code = text.split("#[cfg(test)]").next().unwrap_or("");
            let used = out.entry(module.clone()).or_default();
            for line in code.lines().filter(|l| !l.trim_start().starts_with("//")) {
                for (i, _) in line.match_indices("crate::") {
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
    let uses = uses();
    assert!(uses.len() > 15, "{uses:?}");
    // Depth-first search for a path from each module back to itself.
    for start in uses.keys() {
        let mut stack = vec![vec![start.clone()]];
        let mut seen = BTreeSet::new();
        while let Some(path) = stack.pop() {
            for next in &uses[path.last().unwrap()] {
                assert!(next != start, "module cycle: {} → {next}", path.join(" → "));
                if seen.insert(next.clone()) {
                    let mut longer = path.clone();
                    longer.push(next.clone());
                    stack.push(longer);
                }
            }
        }
    }
    // The pipeline's direction: validation never reaches for the engine.
    assert!(
        uses["config"].iter().all(|m| m == "layer"),
        "config uses {:?}",
        uses["config"]
    );
    assert!(!uses["engine"].contains("preflight") && !uses["review"].contains("ui"));
}

#[test]
fn the_readme_table_names_every_module() {
    let readme = std::fs::read_to_string(common::root().join("README.md")).unwrap();
    let table = readme.split("## How the code is laid out").nth(1).unwrap();
    for module in uses().keys() {
        assert!(
            table.contains(&format!("`{module}`")),
            "the README's module table lacks `{module}`"
        );
    }
}
