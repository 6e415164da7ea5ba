//! The docs a newcomer walks hold together: every relative Markdown link in
//! `README.md` and `docs/**/*.md` reaches an existing file (and its
//! `#anchor` a heading there, by GitHub's slug rule), and every repository
//! path named in backticks exists. `http(s)://` links are not followed.

use crate::common;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Where a code span may name a path of the repository.
const PATH_PREFIXES: [&str; 10] = [
    "src/",
    "crates/",
    "tests/",
    "scripts/",
    "experiments/",
    "examples/",
    "build/",
    "docs/",
    ".ci/",
    "Makefile",
];

/// `README.md` and every Markdown file under `docs/`, relative to `root`.
fn doc_files(root: &Path) -> Vec<PathBuf> {
    let mut files = vec![PathBuf::from("README.md")];
    let mut stack = vec![root.join("docs")];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "md") {
                files.push(path.strip_prefix(root).unwrap().to_path_buf());
            }
        }
    }
    files.sort();
    files
}

/// GitHub's anchor for a heading: lowercase, punctuation dropped except
/// `-` and `_`, each space a `-`.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The text outside fenced code blocks, as paragraphs (blank-line separated),
/// so that an inline code span broken over two lines stays one span.
fn paragraphs(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        if line.trim().is_empty() {
            out.push(std::mem::take(&mut current));
        } else {
            current.push_str(line);
            current.push('\n');
        }
    }
    out.push(current);
    out.retain(|p| !p.is_empty());
    out
}

/// A heading's visible text: link targets and backticks dropped.
fn heading_text(line: &str) -> Option<String> {
    let rest = line.trim_start_matches('#');
    if rest.len() == line.len() || !rest.starts_with(' ') {
        return None;
    }
    let mut text = String::new();
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        if c == ']' && chars.peek() == Some(&'(') {
            for d in chars.by_ref() {
                if d == ')' {
                    break;
                }
            }
        } else if c != '[' && c != '`' {
            text.push(c);
        }
    }
    Some(text)
}

/// The anchors of a Markdown text's headings, with GitHub's `-1`, `-2`, …
/// for repeated ones.
fn anchors(text: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    for para in paragraphs(text) {
        for line in para.lines() {
            let Some(heading) = heading_text(line) else { continue };
            let base = slug(&heading);
            let mut anchor = base.clone();
            let mut n = 0;
            while seen.contains(&anchor) {
                n += 1;
                anchor = format!("{base}-{n}");
            }
            seen.insert(anchor);
        }
    }
    seen
}

/// A paragraph cut at its backticks: (text outside code, code spans).
fn split_code(para: &str) -> (String, Vec<String>) {
    let mut prose = String::new();
    let mut spans = Vec::new();
    for (i, part) in para.split('`').enumerate() {
        if i % 2 == 0 {
            prose.push_str(part);
            prose.push(' ');
        } else {
            spans.push(part.replace('\n', " "));
        }
    }
    (prose, spans)
}

/// Every `](target)` of a text: links and images.
fn link_targets(prose: &str) -> Vec<String> {
    prose
        .match_indices("](")
        .filter_map(|(i, _)| {
            let rest = &prose[i + 2..];
            rest.find(')').map(|end| rest[..end].trim().to_string())
        })
        .collect()
}

/// The repository path a code span names, if it looks like one: a trailing
/// `:line` or `:line-line` stripped; globs and placeholders are not paths.
fn code_path(span: &str) -> Option<&str> {
    let span = span.trim();
    let named = span == "Cargo.toml" || PATH_PREFIXES.iter().any(|p| span.starts_with(p));
    if !named || span.contains(['*', '<']) || span.contains(char::is_whitespace) {
        return None;
    }
    let path = match span.rsplit_once(':') {
        Some((path, line)) if !line.is_empty() && line.chars().all(|c| c.is_ascii_digit() || c == '-') => path,
        _ => span,
    };
    Some(path)
}

/// What is wrong with the docs under `root`, one line per problem naming
/// the doc file, the link or path, and why.
fn problems(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for doc in doc_files(root) {
        let text = std::fs::read_to_string(root.join(&doc)).unwrap();
        let here = doc.parent().unwrap_or(Path::new(""));
        let name = doc.display();
        for para in paragraphs(&text) {
            let (prose, spans) = split_code(&para);
            for target in link_targets(&prose) {
                if target.starts_with("http://") || target.starts_with("https://") || target.starts_with("mailto:") {
                    continue;
                }
                let (file, anchor) = match target.split_once('#') {
                    Some((file, anchor)) => (file, Some(anchor)),
                    None => (target.as_str(), None),
                };
                let linked = if file.is_empty() { doc.clone() } else { here.join(file) };
                if !root.join(&linked).exists() {
                    out.push(format!("{name}: link ({target}): {} does not exist", linked.display()));
                    continue;
                }
                let Some(anchor) = anchor else { continue };
                if linked.extension().is_none_or(|e| e != "md") {
                    out.push(format!(
                        "{name}: link ({target}): an anchor into a file that is not Markdown"
                    ));
                    continue;
                }
                let heads = anchors(&std::fs::read_to_string(root.join(&linked)).unwrap());
                if !heads.contains(anchor) {
                    out.push(format!(
                        "{name}: link ({target}): {} has no heading with the anchor #{anchor}",
                        linked.display()
                    ));
                }
            }
            for span in spans {
                if let Some(path) = code_path(&span)
                    && !root.join(path).exists()
                {
                    out.push(format!("{name}: `{span}`: {path} does not exist in the repository"));
                }
            }
        }
    }
    out
}

#[test]
fn every_link_and_named_path_in_the_docs_exists() {
    let problems = problems(&common::root());
    assert!(
        problems.is_empty(),
        "the docs point at nothing:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_docs_folder_holds_the_promised_files() {
    let root = common::root();
    for name in [
        "guide",
        "reference",
        "FAQ",
        "BENCHMARKS",
        "ARCHITECTURE",
        "CONTRIBUTING",
    ] {
        let path = root.join("docs").join(format!("{name}.md"));
        assert!(path.is_file(), "{} is missing", path.display());
    }
}

#[test]
fn slugs_follow_githubs_rule() {
    assert_eq!(slug("On a GPU server: the GPU check"), "on-a-gpu-server-the-gpu-check");
    assert_eq!(slug("A run's record"), "a-runs-record");
    assert_eq!(slug("Sweeps with --jobs"), "sweeps-with---jobs");
    assert_eq!(slug("bf16 and fp16: a line search"), "bf16-and-fp16-a-line-search");
    assert_eq!(slug("memory_format, auto"), "memory_format-auto");
    let text = "# Top\n\n## Notes\n\n```\n# not a heading\n```\n\n## Notes\n\n### The `runs` table\n";
    let found = anchors(text);
    let want: BTreeSet<String> = ["top", "notes", "notes-1", "the-runs-table"].map(String::from).into();
    assert_eq!(found, want);
}

#[test]
fn a_broken_link_anchor_or_path_is_named_with_its_doc_and_why() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("docs")).unwrap();
    std::fs::create_dir_all(root.join("src")).unwrap();
    std::fs::write(root.join("src/lib.rs"), "").unwrap();
    std::fs::write(
        root.join("README.md"),
        "# Title\n\nSee [the guide](docs/guide.md#usage), [gone](docs/gone.md),\n\
         [bad anchor](docs/guide.md#nowhere), [web](https://example.com/x.md),\n\
         `src/lib.rs:10-12`, `src/missing.rs:3`, `src/*.rs`, `src/<module>.rs`.\n\n\
         ```sh\nsee [ignored](nothing.md) and `src/ignored.rs`\n```\n",
    )
    .unwrap();
    std::fs::write(
        root.join("docs/guide.md"),
        "# Guide\n\n## Usage\n\nBack to [top](../README.md#title) and [here](#usage),\n`src/lib.rs`, \
         `tests/a\nb.rs` spans lines.\n",
    )
    .unwrap();
    let found = problems(root);
    assert_eq!(
        found,
        [
            "README.md: link (docs/gone.md): docs/gone.md does not exist",
            "README.md: link (docs/guide.md#nowhere): docs/guide.md has no heading with the anchor #nowhere",
            "README.md: `src/missing.rs:3`: src/missing.rs does not exist in the repository",
        ],
        "{found:#?}"
    );
}
