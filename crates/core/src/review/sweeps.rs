//! What a results folder says about its sweeps: a sweep's folder
//! (`<results>/<name>-sweep/`), the [`OWNER_FILE`] in it that names the
//! `[sweep]` table its points ran, and each point's values of the keys
//! that table sweeps. The application writes these folders; review and the
//! dashboard read them here.

use super::RunEntry;
use crate::config::sweep::SweepSpec;
use std::collections::{BTreeMap, BTreeSet, HashMap};
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

/// What the Runs view shows of each sweep: its points' values, and how
/// many settings sets its runs hold.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SweepValues {
    /// Each sweep point's values of its sweep's keys, as `style_weight=1e3
    /// layers=…` (keys without their section), then the keys that tell its
    /// sweep's settings sets apart, by run folder.
    pub by_run: HashMap<PathBuf, String>,
    /// Each sweep's number of settings sets: more than one when a point
    /// ran with other settings (the base experiment or `--set` changed
    /// between two sweeps of the same `[sweep]` table).
    pub settings: HashMap<String, usize>,
}

/// A sweep's run, its point and its flattened config.
type Member<'a> = (&'a RunEntry, usize, BTreeMap<String, String>);

/// [`SweepValues`] for the runs of every sweep whose folder
/// (`<results>/<name>-sweep/sweep.toml`) says which keys it sweeps. Runs of
/// sweeps without one are left out.
///
/// A settings set is a run's config less its swept keys and the noise
/// keys (`name`, `output.*`): the keys that differ between runs of the same
/// point are what tells the sets apart.
pub fn point_values(results: &Path, runs: &[RunEntry]) -> SweepValues {
    let mut keys_of: HashMap<String, Option<Vec<String>>> = HashMap::new();
    // Per sweep: (run, point, config) of its runs.
    let mut members: HashMap<String, Vec<Member>> = HashMap::new();
    for r in runs {
        let Some(member) = r.sweep() else { continue };
        let keys = keys_of
            .entry(member.name.clone())
            .or_insert_with(|| swept_keys(results, &member.name));
        if keys.is_none() {
            continue;
        }
        members
            .entry(member.name.clone())
            .or_default()
            .push((r, member.point, super::flat_config(&r.dir)));
    }
    let mut out = SweepValues::default();
    for (name, runs) in &members {
        let Some(Some(keys)) = keys_of.get(name) else { continue };
        let swept = |k: &str| keys.iter().any(|s| k == s || k.starts_with(&format!("{s}.")));
        // Keys that differ between two runs of one point.
        let mut setting_keys: BTreeSet<String> = BTreeSet::new();
        for (i, (_, p, a)) in runs.iter().enumerate() {
            for (_, q, b) in &runs[..i] {
                if p != q {
                    continue;
                }
                for k in a.keys().chain(b.keys()) {
                    if !swept(k) && !super::is_noise_key(k) && a.get(k) != b.get(k) {
                        setting_keys.insert(k.clone());
                    }
                }
            }
        }
        let sets: BTreeSet<Vec<Option<&String>>> = runs
            .iter()
            .map(|(_, _, c)| setting_keys.iter().map(|k| c.get(k)).collect())
            .collect();
        out.settings.insert(name.clone(), sets.len().max(1));
        for (r, _, config) in runs {
            let text: Vec<String> = keys
                .iter()
                .chain(setting_keys.iter())
                .map(|k| {
                    let short = k.rsplit('.').next().unwrap_or(k);
                    let v = config.get(k).cloned().unwrap_or_else(|| {
                        // A table swept whole: its entries, as `relu1_1,relu2_1`.
                        let prefix = format!("{k}.");
                        let parts: Vec<&str> = config.keys().filter_map(|c| c.strip_prefix(&prefix)).collect();
                        if parts.is_empty() {
                            "—".to_string()
                        } else {
                            parts.join(",")
                        }
                    });
                    format!("{short}={}", crate::text::compact_number(&v))
                })
                .collect();
            out.by_run.insert(r.dir.clone(), text.join(" "));
        }
    }
    out
}
