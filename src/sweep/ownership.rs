//! A sweep's folder belongs to one sweep: its [`OWNER_FILE`] names the
//! experiment file and the `[sweep]` table whose points run there, and a
//! sweep of the same name but another table is refused, so points of two
//! sweeps are never mixed up.

use crate::error::bad_input;
use crate::sweep::{OWNER_FILE, Sweep};
use anyhow::{Context, Result};
use stylelab_core::config;

impl Sweep {
    /// Checks that the sweep's folder belongs to this sweep: no other
    /// sweep of the same name with a different `[sweep]` table uses it.
    /// Bad-input error otherwise. Writes nothing.
    pub fn check_folder(&self) -> Result<()> {
        self.bind(false)
    }

    /// As [`Sweep::check_folder`], then records that the folder is this
    /// sweep's ([`OWNER_FILE`]) if nothing did yet: before anything runs.
    pub fn claim_folder(&self) -> Result<()> {
        self.bind(true)
    }

    fn bind(&self, write: bool) -> Result<()> {
        let dir = self.dir();
        let path = dir.join(OWNER_FILE);
        match stylelab_core::files::read_text_bounded(&path, stylelab_core::files::TEXT_LIMIT) {
            Ok(text) => self.check_owner(&path, &text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if write {
                    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
                    let mut owner = toml::Table::new();
                    owner.insert(
                        "source".into(),
                        toml::Value::String(config::absolute(&self.source).display().to_string()),
                    );
                    owner.insert("sweep".into(), toml::Value::Table(self.spec.table.clone()));
                    stylelab_core::files::write_atomic(&path, toml::to_string(&owner)?.as_bytes())?;
                }
                Ok(())
            }
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    /// Refuses the folder when its owner file (`text`, read from `path`)
    /// names another `[sweep]` table.
    fn check_owner(&self, path: &std::path::Path, text: &str) -> Result<()> {
        let stored: toml::Table =
            toml::from_str(text).map_err(|e| bad_input(format!("{}: {}", path.display(), e.message())))?;
        let theirs = stored.get("sweep").and_then(toml::Value::as_table);
        if theirs == Some(&self.spec.table) {
            return Ok(());
        }
        let source = stored.get("source").and_then(toml::Value::as_str).unwrap_or("?");
        Err(bad_input(format!(
            "{}: this results folder already holds the sweep \"{}\" of {source}, over {}; {} sweeps {}. \
             Give this experiment another name (--set name=…) or another results folder (--results …)",
            self.dir().display(),
            self.name,
            theirs
                .map(describe_table)
                .unwrap_or_else(|| "an unreadable table".into()),
            self.source.display(),
            describe_table(&self.spec.table),
        )))
    }
}

/// `loss.style_weight = [10.0, 1000.0]; mode = "zip"`.
fn describe_table(table: &toml::Table) -> String {
    config::dotted_keys(table)
        .into_iter()
        .map(|(k, v)| format!("{k} = {v}"))
        .collect::<Vec<_>>()
        .join("; ")
}
