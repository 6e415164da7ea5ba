//! `stylelab score`: measures runs that have ended with the yardstick
//! (`engine::score`) and records the numbers in their summaries, where
//! `runs`, `compare`, sweeps and the dashboard read them without
//! recomputing anything. `--steps` also scores every snapshot, into the
//! run's `scores.csv`, for `compare --metric score.…`.

use crate::error::bad_input;
use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use stylelab_core::config;
use stylelab_core::record::{self, RunPaths, Scores, Status};
use stylelab_engine::score::{self, Scorer};

/// What to score and how.
pub struct Request<'a> {
    /// Run folders to score; each must have ended and hold a final image.
    pub dirs: &'a [PathBuf],
    /// The scoring size asked for (longest side), px; lowered to the smallest
    /// final image so that no result is enlarged.
    pub size: u32,
    /// Every run's own weights file, unless this one is given.
    pub weights: Option<&'a Path>,
    /// Also score every snapshot, into each run's `scores.csv`.
    pub steps: bool,
    /// Where the scoring network runs.
    pub device: tch::Device,
}

/// A run's scores, for `score`'s table (`review::compare::scores`).
#[derive(Debug, Clone)]
pub struct Scored {
    /// The run folder's name.
    pub run: String,
    /// The yardstick's numbers and the size they were measured at.
    pub scores: Scores,
    /// The size of the scores these replaced, when they were measured at
    /// another size.
    pub replaced: Option<u32>,
}

/// The weights file a run is scored with.
fn weights_of(dir: &Path, given: Option<&Path>) -> Result<PathBuf> {
    if let Some(w) = given {
        return Ok(w.to_path_buf());
    }
    let exp = config::load(&RunPaths::new(dir).experiment(), &[])
        .with_context(|| format!("{}: cannot read the run's experiment", dir.display()))?;
    Ok(exp.weights)
}

/// Scores every run of the request (one weights file for all, or an
/// error saying which differ) and writes the scores into their summaries.
pub fn score_runs(req: &Request) -> Result<Vec<Scored>> {
    let mut by_sha: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut weights = None;
    for dir in req.dirs {
        if !RunPaths::new(dir).final_image().is_file() {
            return Err(bad_input(stylelab_core::review::no_final_image(dir)));
        }
        let path = weights_of(dir, req.weights)?;
        let sha = stylelab_engine::weights::sha256_file(&path).map_err(|e| {
            bad_input(format!(
                "{}: its weights file {} cannot be read ({e}); score with --weights FILE",
                dir.display(),
                path.display()
            ))
        })?;
        if req.weights.is_none()
            && let Ok(summary) = record::read_summary(dir)
            && !summary.weights_sha256.is_empty()
            && summary.weights_sha256 != sha
        {
            safe_eprintln!(
                "warning: {} ran with weights of sha256 {}…, but {} now has sha256 {}…: the file changed since, \
                 so these scores are not under the network the run used",
                dir.display(),
                &summary.weights_sha256[..12.min(summary.weights_sha256.len())],
                path.display(),
                &sha[..12]
            );
        }
        by_sha.entry(sha.clone()).or_default().push(
            dir.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        );
        weights = Some((path, sha));
    }
    if by_sha.len() > 1 {
        let groups: Vec<String> = by_sha
            .iter()
            .map(|(sha, runs)| format!("{} ({})", &sha[..12.min(sha.len())], runs.join(", ")))
            .collect();
        return Err(bad_input(format!(
            "these runs were made with different weights files, and scores compare only under one: {}; \
             score them in groups, or all with --weights FILE",
            groups.join("; ")
        )));
    }
    let Some((path, sha)) = weights else {
        return Ok(Vec::new());
    };
    // One size for all, never enlarging a result: the smallest asked for or held.
    let mut size = req.size;
    for dir in req.dirs {
        let final_image = RunPaths::new(dir).final_image();
        let (w, h) =
            image::image_dimensions(&final_image).map_err(|e| bad_input(format!("{}: {e}", final_image.display())))?;
        size = size.min(w.max(h));
    }
    let scorer = Scorer::new(&path, &sha, size, req.device).map_err(|e| anyhow::anyhow!("{e}"))?;
    req.dirs.iter().map(|dir| score_run(&scorer, dir, req.steps)).collect()
}

/// An image file as RGB; the error names the file.
fn load_image(p: &Path) -> Result<image::RgbImage> {
    Ok(image::open(p)
        .with_context(|| format!("cannot read {}", p.display()))?
        .to_rgb8())
}

/// Scores one run's final image (and with `steps` its snapshots) against its
/// own experiment's targets and writes the scores into its summary. A run
/// whose process is still alive is refused.
fn score_run(scorer: &Scorer, dir: &Path, steps: bool) -> Result<Scored> {
    let paths = RunPaths::new(dir);
    let mut summary = record::read_summary(dir).map_err(|e| bad_input(e.to_string()))?;
    if summary.status == Status::Running && summary.pid.is_some_and(stylelab_core::procfs::is_stylelab) {
        return Err(bad_input(format!(
            "{} is still running; score it when it has ended",
            dir.display()
        )));
    }
    let exp = config::load(&paths.experiment(), &[])?;
    // Scores measure against the content and style images as they are now.
    for (image, then) in &summary.images_sha256 {
        let now = stylelab_engine::weights::sha256_file(Path::new(image)).ok();
        if now.as_deref() != Some(then.as_str()) {
            safe_eprintln!(
                "warning: {}: {image} {} since the run read it, so these scores measure against another image",
                dir.display(),
                if now.is_some() { "changed" } else { "cannot be read" }
            );
        }
    }
    let targets = score::experiment_targets(scorer, &exp).map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
    let measure = |img: &image::RgbImage| -> Result<Scores> {
        scorer
            .score(img, &targets)
            .map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))
    };
    let scores = measure(&load_image(&paths.final_image())?)?;
    if steps {
        let mut rows = Vec::new();
        for (iter, path) in paths.list_snapshots() {
            rows.push((iter, measure(&load_image(&path)?)?));
        }
        rows.push((summary.steps, scores.clone()));
        rows.sort_by_key(|r| r.0);
        rows.dedup_by_key(|r| r.0);
        record::write_step_scores(dir, &rows)?;
    }
    let replaced = summary.scores.as_ref().map(|s| s.size).filter(|&s| s != scores.size);
    summary.scores = Some(scores.clone());
    let json = serde_json::to_string_pretty(&summary).context("cannot write the summary as JSON")?;
    stylelab_core::files::write_atomic(&paths.summary(), json.as_bytes())?;
    Ok(Scored {
        run: dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        scores,
        replaced,
    })
}
