//! What a results folder says about its sweeps: a sweep's folder
//! (`<results>/<name>-sweep/`), the [`OWNER_FILE`] in it that names the
//! `[sweep]` table its points ran, and each point's values of the keys
//! that table sweeps. The application writes these folders; review and the
//! dashboard read them here.

use super::RunEntry;
use crate::config::sweep::SweepSpec;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The file in a sweep's folder that names the sweep it belongs to: its
/// experiment file and `[sweep]` table. Another sweep of the same name but a
/// different table is refused there, so points are never mixed up.
pub const OWNER_FILE: &str = "sweep.toml";

/// The folder of the sweep `name` in `results`: `<results>/<name>-sweep/`.
pub fn folder(results: &Path, name: &str) -> PathBuf {
    results.join(format!("{}-sweep", crate::record::slug(name)))
}

/// The keys the sweep `name` in `results` varies, as its folder's
/// [`OWNER_FILE`] records them; None when it records none that expand.
pub fn swept_keys(results: &Path, name: &str) -> Option<Vec<String>> {
    let owner = folder(results, name).join(OWNER_FILE);
    let text = crate::files::read_text_bounded(&owner, crate::files::TEXT_LIMIT).ok()?;
    let table: toml::Table = toml::from_str(&text).ok()?;
    let sweep = table.get("sweep")?.as_table()?;
    SweepSpec::expand(sweep).ok().map(|s| s.keys)
}

/// Each sweep point's values of its sweep's keys, as `style_weight=1e3
/// layers=…` (keys without their section), by run folder: for the runs of
/// every sweep whose folder (`<results>/<name>-sweep/sweep.toml`) says
/// which keys it sweeps. Runs of sweeps without one are left out.
pub fn point_values(results: &Path, runs: &[RunEntry]) -> HashMap<PathBuf, String> {
    let mut keys_of: HashMap<String, Option<Vec<String>>> = HashMap::new();
    let mut out = HashMap::new();
    for r in runs {
        let Some(member) = r.sweep() else { continue };
        let keys = keys_of
            .entry(member.name.clone())
            .or_insert_with(|| swept_keys(results, &member.name));
        let Some(keys) = keys else { continue };
        let config = super::flat_config(&r.dir);
        let text: Vec<String> = keys
            .iter()
            .map(|k| {
                let short = k.rsplit('.').next().unwrap_or(k);
                let v = config.get(k).cloned().unwrap_or_else(|| {
                    // A table swept whole: its entries, as `relu1_1,relu2_1`.
                    let prefix = format!("{k}.");
                    config
                        .keys()
                        .filter_map(|c| c.strip_prefix(&prefix))
                        .collect::<Vec<_>>()
                        .join(",")
                });
                format!("{short}={}", crate::text::compact_number(&v))
            })
            .collect();
        out.insert(r.dir.clone(), text.join(" "));
    }
    out
}
