//! Maps dotted keys to lines of the experiment file and back, so every
//! message can say `file:line: key: …`.

use toml::de::{DeTable, DeValue};

/// The parsed document with spans, kept beside its source text.
pub struct Locator<'a> {
    /// The experiment file's text.
    src: &'a str,
    /// Its top-level table with spans; None when the text is not valid TOML,
    /// and then no key can be located.
    root: Option<DeTable<'a>>,
}

impl<'a> Locator<'a> {
    /// Parses `src` once; text that does not parse gives a locator that finds
    /// no key (but still counts lines).
    pub fn new(src: &'a str) -> Self {
        let root = DeTable::parse(src).ok().map(|t| t.into_inner());
        Locator { src, root }
    }

    /// 1-based line of a byte offset.
    pub fn line_of(&self, offset: usize) -> usize {
        self.src[..offset.min(self.src.len())].matches('\n').count() + 1
    }

    /// Line where the dotted `key` is written, or the nearest enclosing key
    /// that is (`loss.style_layers.relu9_1` → its own line; a missing
    /// `images.content` → the `[images]` header).
    pub fn line_of_key(&self, key: &str) -> Option<usize> {
        let mut table = self.root.as_ref()?;
        let mut line = None;
        for part in key.split('.') {
            let Some((k, v)) = table.iter().find(|(k, _)| k.get_ref().as_ref() == part) else {
                break;
            };
            line = Some(self.line_of(k.span().start));
            match v.get_ref() {
                DeValue::Table(t) => table = t,
                _ => break,
            }
        }
        line
    }

    /// Line where `key` (dotted) is written in the `[sweep]` table — quoted
    /// as one key (`"loss.style_weight" = …`), bare, or as a path of tables
    /// (`output = { results = … }`) — else the `[sweep]` header's line.
    pub fn line_of_sweep_key(&self, key: &str) -> Option<usize> {
        let mut in_sweep = false;
        let forms = [format!("\"{key}\""), format!("{key} "), format!("{key}=")];
        for (i, line) in self.src.lines().enumerate() {
            let t = line.trim_start();
            if t.starts_with('[') {
                in_sweep = t.starts_with("[sweep]") || t.starts_with("[sweep.");
                continue;
            }
            if in_sweep && forms.iter().any(|f| t.starts_with(f.as_str())) {
                return Some(i + 1);
            }
        }
        self.line_of_key(&format!("sweep.{key}"))
    }

    /// The dotted key whose key or value covers `offset`, deepest first.
    pub fn key_at(&self, offset: usize) -> Option<String> {
        fn walk(table: &DeTable<'_>, offset: usize, prefix: &str) -> Option<String> {
            for (k, v) in table.iter() {
                let name = if prefix.is_empty() {
                    k.get_ref().to_string()
                } else {
                    format!("{prefix}.{}", k.get_ref())
                };
                if let DeValue::Table(t) = v.get_ref()
                    && let Some(found) = walk(t, offset, &name)
                {
                    return Some(found);
                }
                if k.span().contains(&offset) || v.span().contains(&offset) {
                    return Some(name);
                }
            }
            None
        }
        walk(self.root.as_ref()?, offset, "")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "name = \"x\"\n[images]\ncontent = \"a.png\"\nsize = 64\n[loss]\nstyle_layers = { relu1_1 = 1.0, relu9_1 = 2.0 }\n";

    #[test]
    fn finds_lines_of_keys() {
        let loc = Locator::new(DOC);
        assert_eq!(loc.line_of_key("name"), Some(1));
        assert_eq!(loc.line_of_key("images.size"), Some(4));
        assert_eq!(loc.line_of_key("loss.style_layers.relu9_1"), Some(6));
        // Missing keys fall back to their table.
        assert_eq!(loc.line_of_key("images.init"), Some(2));
        assert_eq!(loc.line_of_key("optim.seed"), None);
    }

    #[test]
    fn finds_key_at_offset() {
        let loc = Locator::new(DOC);
        let off = DOC.find("64").unwrap();
        assert_eq!(loc.key_at(off).as_deref(), Some("images.size"));
        let off = DOC.find("relu9_1").unwrap();
        assert_eq!(loc.key_at(off).as_deref(), Some("loss.style_layers.relu9_1"));
    }
}
