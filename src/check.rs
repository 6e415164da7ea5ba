//! `stylelab check`: what a run of an experiment would be, and whether it
//! can be — its images, weights, layers, steps, device and memory — as
//! text, as JSON, or as the dashboard's short description. The checks
//! themselves are the engine's preflight; this module says what they found.

use stylelab_core::config::Experiment;
use stylelab_core::review::export::{Cell, Export, Tabular};
use stylelab_core::text::mib_text;
use stylelab_engine::device;
use stylelab_engine::preflight::Preflight;

/// What `check` prints about an experiment that passed its preflight.
pub struct Checked<'a> {
    /// The experiment file, as given.
    pub path: &'a std::path::Path,
    /// The validated experiment.
    pub exp: &'a Experiment,
    /// What the preflight found.
    pub checked: &'a Preflight,
}

impl Checked<'_> {
    /// Whether it fits in memory (the run would start without `--force`).
    fn fits(&self) -> bool {
        self.checked.guard(self.exp).is_ok()
    }

    /// `check --json`: one object with the estimate per scale as data.
    pub fn json(&self) -> String {
        let c = self.checked;
        let report = Tabular {
            columns: [
                "experiment",
                "ok",
                "device",
                "estimated_peak_mib",
                "available_mib",
                "memory",
            ]
            .map(String::from)
            .to_vec(),
            rows: vec![vec![
                Cell::text(self.path.display().to_string()),
                Cell::data(self.fits().into()),
                Cell::text(device::describe(c.device)),
                Cell::number(Some(c.estimate.estimated_peak_mib), |v| format!("{v:.0}")),
                Cell::number(c.available_mib, |v| format!("{v:.0}")),
                Cell::data(serde_json::to_value(&c.estimate).unwrap_or_default()),
            ]],
        };
        report.render(&Export::JsonObject)
    }

    /// `check`'s text: the experiment line by line, then the memory
    /// estimate, one line per scale.
    pub fn text(&self) -> String {
        let (exp, c) = (self.exp, self.checked);
        let layers: Vec<String> = exp.layers().iter().map(|l| l.to_string()).collect();
        let steps: Vec<String> = exp.iterations.iter().map(u64::to_string).collect();
        let mut out = vec![
            format!("{}: ok", self.path.display()),
            format!("  name     {}", exp.name),
            format!(
                "  images   content + {} style image(s), {} px longest side",
                exp.all_styles().len(),
                exp.describe_sizes()
            ),
            format!(
                "  weights  {} ({}, {})",
                exp.weights.display(),
                c.weights.preprocess,
                c.weights.layer_range()
            ),
            format!("  layers   {}", layers.join(", ")),
            format!("  style    {}", exp.describe_style_losses()),
            format!(
                "  run      {} × {} in {} on {}",
                steps.join(" + "),
                exp.optimizer,
                exp.precision,
                device::describe(c.device)
            ),
        ];
        if let Some(r) = &exp.regions {
            out.push(format!("  regions  of {}:", r.mask.display()));
            out.extend(exp.describe_regions().into_iter().map(|l| format!("    {l}")));
        }
        out.extend(memory_lines(c));
        out.join("\n") + "\n"
    }

    /// The dashboard's description of an experiment that can run.
    pub fn describe(&self) -> String {
        let (exp, c) = (self.exp, self.checked);
        let layers = |ls: &stylelab_core::config::WeightedLayers| {
            ls.iter().map(|(l, _)| l.to_string()).collect::<Vec<_>>().join(" ")
        };
        let regions: String = exp.describe_regions().iter().map(|r| format!("\nregion {r}")).collect();
        format!(
            "{}\n{} px, {} {} step{} on {}\ncontent {}\nstyle {}{regions}\nweights {} ({})\nmemory about {}{}\nresults {}",
            exp.name,
            exp.describe_sizes(),
            exp.total_iterations(),
            exp.optimizer,
            if exp.total_iterations() == 1 { "" } else { "s" },
            device::describe(c.device),
            layers(&exp.content_layers),
            exp.describe_style_losses(),
            exp.weights
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            c.weights.layer_range(),
            mib_text(c.estimate.estimated_peak_mib),
            c.available_mib
                .map(|m| format!(" of {} free", mib_text(m)))
                .unwrap_or_default(),
            exp.results.display()
        )
    }
}

/// The memory estimate: the peak and what it is made of, then one line per scale.
fn memory_lines(c: &Preflight) -> Vec<String> {
    let est = &c.estimate;
    let free = c
        .available_mib
        .map(|m| format!(", {} free", mib_text(m)))
        .unwrap_or_default();
    let mut lines = vec![format!(
        "  memory   estimated peak {} on {}{free} (fixed {}, weights {})",
        mib_text(est.estimated_peak_mib),
        est.device,
        mib_text(est.fixed_mib),
        mib_text(est.weights_mib)
    )];
    for (i, s) in est.scales.iter().enumerate() {
        let part = |what: &str, mib: f64| {
            if mib > 0.0 {
                format!(", {what} {}", mib_text(mib))
            } else {
                String::new()
            }
        };
        let workspace = part("cuDNN workspaces", s.workspace_mib) + &part("freed blocks kept", s.kept_mib);
        lines.push(format!(
            "    scale {} {}×{}: {} (activations {}{workspace}, targets {}, image and optimizer {})",
            i + 1,
            s.width,
            s.height,
            mib_text(s.estimated_peak_mib),
            mib_text(s.activations_mib),
            mib_text(s.targets_mib),
            mib_text(s.optimizer_mib)
        ));
        if let Some(t) = &s.tiling {
            lines.push(format!("      {}", tiling_line(t, s)));
        }
    }
    lines
}

/// A tiled scale's plan: the tiles, their halo, the overlap's cost, where
/// the image's state lives, and the one-pass estimate it replaces.
fn tiling_line(t: &stylelab_core::memory::TileChoice, s: &stylelab_core::memory::ScaleEstimate) -> String {
    let host = if s.host_mib > 0.0 {
        format!(
            "; image, optimizer state and content targets in host memory ({})",
            mib_text(s.host_mib)
        )
    } else {
        String::new()
    };
    format!(
        "tiled: {} tiles of {} px with a {} px halo ({:+.0} % pixels evaluated){host}; in one pass {}",
        t.tiles,
        t.tile,
        t.halo,
        (t.overlap - 1.0) * 100.0,
        mib_text(s.one_pass_mib)
    )
}

/// One line saying what an experiment will do, or why it cannot run: the
/// dashboard's Experiments view.
pub fn describe(path: &std::path::Path) -> Result<String, String> {
    let exp = stylelab_core::config::load(path, &[]).map_err(|e| e.to_string())?;
    // The dashboard marks a sweep invalid when one of its points is.
    stylelab_core::config::sweep::SweepSpec::load(&exp, &[]).map_err(|e| e.to_string())?;
    let checked = stylelab_engine::preflight::check(&exp).map_err(|e| e.to_string())?;
    checked.guard(&exp).map_err(|e| e.to_string())?;
    Ok(Checked {
        path,
        exp: &exp,
        checked: &checked,
    }
    .describe())
}
