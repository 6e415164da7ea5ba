//! `sweep --collect` (and the end of every whole sweep): the sweep's
//! `index.csv` (a row per point: its run, values, status, final losses and
//! scores), its contact sheet `sheet.png` and, when points are scored, the
//! content-against-style plot `tradeoff.png`, all in the sweep's folder.

use crate::sweep::Sweep;
use anyhow::{Context, Result};
use stylelab_core::config::sweep::{SweepPoint, value_text};
use stylelab_core::record::{Losses, RunPaths, Scores};
use stylelab_core::review::{self, RunEntry};

/// The index's columns: the point, its run, the swept keys, then how it ended.
fn header(sweep: &Sweep) -> Vec<String> {
    let mut header = vec!["point".to_string(), "run".into()];
    header.extend(sweep.spec.keys.iter().cloned());
    header.extend(["status", "total", "content", "style", "tv"].map(String::from));
    header.extend(Scores::NAMES.map(String::from));
    header
}

/// The index's row of point `p`, whose run is `rep` (None: not run yet).
fn row(p: &SweepPoint, rep: Option<&RunEntry>) -> Vec<String> {
    let mut row = vec![
        p.index.to_string(),
        rep.map(|r| r.dir.display().to_string()).unwrap_or_default(),
    ];
    row.extend(p.values.iter().map(|(_, v)| value_text(v)));
    row.push(rep.map(|r| r.state.to_string()).unwrap_or_else(|| "pending".into()));
    let l = rep.and_then(|r| r.losses());
    let parts: [fn(&Losses) -> f64; 4] = [|l| l.total, |l| l.content, |l| l.style, |l| l.tv];
    for f in parts {
        row.push(l.map(|l| format!("{:e}", f(&l))).unwrap_or_default());
    }
    for name in Scores::NAMES {
        let v = rep.and_then(|r| r.scores()).and_then(|s| s.get(name));
        row.push(v.map(|v| format!("{v:e}")).unwrap_or_default());
    }
    row
}

impl Sweep {
    /// Writes `index.csv` (point, run folder, varied values, status, final
    /// losses, scores) and, when any point has a final image, `sheet.png`,
    /// and `tradeoff.png` when any is scored. Returns how many points have
    /// completed.
    ///
    /// All go to [`Sweep::dir`], which is created if needed. A point
    /// without a run is listed with status `pending` and empty losses. The
    /// sheet holds the representative runs that have a final.png, whatever
    /// their status.
    pub fn collect(&self) -> Result<usize> {
        let dir = self.dir();
        std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let found = self.find_runs();
        // Built in memory and written by `write_atomic`: an index.csv
        // planted as a link is replaced, never written through.
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(header(self))?;
        let mut done = 0;
        let mut with_images = Vec::new();
        for (p, runs) in self.spec.points.iter().zip(&found) {
            let rep = self.representative(p, runs);
            w.write_record(row(p, rep))?;
            if let Some(r) = rep {
                done += usize::from(r.state.is_done());
                if RunPaths::new(&r.dir).final_image().exists() {
                    with_images.push(r.dir.clone());
                }
            }
        }
        let index = w
            .into_inner()
            .map_err(|e| anyhow::anyhow!("cannot write index.csv: {e}"))?;
        stylelab_core::files::write_atomic(&dir.join("index.csv"), &index)?;
        if !with_images.is_empty() {
            let cmp = review::Comparison::load(&with_images);
            review::sheet::write_sheet(&cmp, &dir.join("sheet.png"))?;
            let tradeoff = cmp.tradeoff();
            if !tradeoff.is_empty() {
                let title = format!("{}: content against style", self.name);
                review::plot::write_scatter(&dir.join("tradeoff.png"), &tradeoff, &title, (1200, 900))?;
            }
        }
        Ok(done)
    }
}
