//! Raw → validated, one section of the experiment file at a time. Each
//! step checks its own keys and says which key is wrong; paths are made
//! absolute here (against the file's folder, or the current folder for
//! `--set`). Nothing here touches the file system: whether the images
//! decode and the weights fit is the preflight's business.

use super::raw::{
    self, IntOrList, OneOrMany, RawExperiment, RawImages, RawLoss, RawOptim, RawOutput, RawRegion, RawStyleLayer,
    RawStyleLayerSpec,
};
use super::{
    DEFAULT_WEIGHTS, DeviceChoice, Experiment, Init, Invalid, MAX_SIZE, MAX_TILED_SIZE, MIN_SIZE, MIN_TILE, Region,
    Regions, StyleImage, StyleLayer, TILE_ALIGN, Tiling, WeightedLayers, absolute, clean, file_dir, invalid,
    project_root,
};
use crate::layer::Layer;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Makes the paths an experiment names absolute.
struct Paths<'a> {
    /// The experiment file's folder, absolute: relative paths in the file resolve here.
    file_dir: PathBuf,
    /// The project root: default weights and `results/` live under it.
    root: PathBuf,
    /// Whether a dotted key was set with `--set`.
    from_cli: &'a dyn Fn(&str) -> bool,
}

impl Paths<'_> {
    /// `p` as given for `key`: absolute as is, else against the current
    /// folder when it came from `--set`, else against the file's folder.
    fn resolve(&self, key: &str, p: &str) -> PathBuf {
        let p = Path::new(p);
        if p.is_absolute() {
            clean(p)
        } else if (self.from_cli)(key) {
            absolute(p)
        } else {
            clean(&self.file_dir.join(p))
        }
    }
}

impl Experiment {
    /// Validates a raw experiment read from `file`. `from_cli(key)` says
    /// whether a key came from `--set`: its paths resolve against the
    /// current directory rather than the file's folder.
    pub fn from_raw(file: &Path, raw: RawExperiment, from_cli: &dyn Fn(&str) -> bool) -> Result<Self, Invalid> {
        let paths = Paths {
            file_dir: file_dir(file),
            root: project_root(file),
            from_cli,
        };
        let name = name(file, raw.name.as_deref())?;
        let images = images(&raw.images, &paths)?;
        let regions = regions(&raw.images, raw.regions.as_ref(), &paths)?;
        let weights = match &raw.model.weights {
            None => paths.root.join(DEFAULT_WEIGHTS),
            Some(w) => paths.resolve("model.weights", w),
        };
        let loss = loss(&raw.loss)?;
        let optim = optim(&raw.optim, images.sizes.len())?;
        let (images, optim) = schedule(raw.optim.schedule, images, optim)?;
        let tile = tiling(raw.model.tile, &loss.style_layers, &images)?;
        let (snapshot_every, results) = output(&raw.output, &paths)?;
        let exp = Experiment {
            name,
            source: file.to_path_buf(),
            content: images.content,
            styles: images.styles,
            regions,
            init: images.init,
            sizes: images.sizes,
            style_scale: images.style_scale,
            preserve_colors: raw.images.preserve_colors,
            weights,
            pooling: raw.model.pooling,
            memory_format: raw.model.memory_format,
            tile,
            content_weight: loss.content_weight,
            style_weight: loss.style_weight,
            tv_weight: loss.tv_weight,
            normalize: raw.loss.normalize,
            content_layers: loss.content_layers,
            style_loss: raw.loss.style_loss,
            style_layers: loss.style_layers,
            optimizer: raw.optim.optimizer,
            iterations: optim.iterations,
            learning_rate: optim.learning_rate,
            history: optim.history,
            seed: optim.seed,
            device: optim.device,
            precision: raw.optim.precision,
            schedule: raw.optim.schedule,
            stop: optim.stop,
            precondition: raw.optim.precondition,
            bounds: raw.optim.bounds,
            snapshot_every,
            results,
            score: raw.output.score,
            tensorboard: raw.output.tensorboard,
            sweep: raw.sweep,
            overridden: Vec::new(),
        };
        utf8_paths(&exp)?;
        Ok(exp)
    }
}

/// Every path the experiment names must be UTF-8: the run records its
/// resolved experiment as TOML text, which cannot hold other bytes, and a
/// path converted lossily would name another file when the run is re-run.
/// (A relative path inside a folder whose name is not UTF-8 resolves to one.)
fn utf8_paths(exp: &Experiment) -> Result<(), Invalid> {
    let mut named: Vec<(&str, &Path)> = vec![("images.content", &exp.content)];
    named.extend(exp.styles.iter().map(|s| ("images.style", s.path.as_path())));
    if let Some(r) = &exp.regions {
        named.push(("images.mask", &r.mask));
        for region in &r.list {
            named.extend(region.styles.iter().map(|s| ("regions.style", s.path.as_path())));
            named.extend(region.style_masks.iter().map(|m| ("regions.style_mask", m.as_path())));
        }
    }
    named.push(("model.weights", &exp.weights));
    named.push(("output.results", &exp.results));
    match named.into_iter().find(|(_, p)| p.to_str().is_none()) {
        Some((key, p)) => Err(invalid(
            key,
            format!(
                "{} is not valid UTF-8, which the run's experiment.toml cannot record (re-running it would \
                 name another file); use a path whose folders' names are UTF-8",
                p.to_string_lossy()
            ),
        )),
        None => Ok(()),
    }
}

/// `name`, or the file's stem.
///
/// A name is shown on terminals and names the run's folder (with a time
/// stamp before it and a point number after it in a sweep), so it holds no
/// control characters and at most [`MAX_NAME`] characters.
fn name(file: &Path, name: Option<&str>) -> Result<String, Invalid> {
    let (n, whose) = match name {
        Some(n) if n.trim().is_empty() => return Err(invalid("name", "must not be empty")),
        Some(n) => (n.to_string(), "it"),
        None => (
            file.file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "run".into()),
            "the file's name, the default name,",
        ),
    };
    if let Some((i, c)) = n.chars().enumerate().find(|(_, c)| c.is_control()) {
        return Err(invalid(
            "name",
            format!(
                "{whose} holds a control character ({}) at position {}: names are printed on terminals; use letters, digits, spaces and punctuation",
                c.escape_default(),
                i + 1
            ),
        ));
    }
    let count = n.chars().count();
    if count > MAX_NAME {
        return Err(invalid(
            "name",
            format!("{whose} is {count} characters long; use at most {MAX_NAME} (it names the run's folder)"),
        ));
    }
    Ok(n)
}

/// The longest run name: a run folder's name adds 16 characters of time
/// stamp, a sweep point 5 and a second run in the same second 3, within
/// the 255 bytes a file name may have.
pub const MAX_NAME: usize = 200;

/// `[images]`, validated.
struct Images {
    content: PathBuf,
    styles: Vec<StyleImage>,
    init: Init,
    sizes: Vec<u32>,
    style_scale: f64,
}

/// Checks `[images]`: a content path, the styles and their blends, the
/// init, the sizes, and a `style_scale` that keeps every style size within
/// [`MIN_SIZE`]..=[`MAX_SIZE`].
fn images(img: &RawImages, paths: &Paths) -> Result<Images, Invalid> {
    if img.content.trim().is_empty() {
        return Err(invalid("images.content", "must name the content image"));
    }
    let content = paths.resolve("images.content", &img.content);
    let styles = match &img.style {
        // With `[regions]`, each region names its styles (checked there).
        None => Vec::new(),
        Some(style) => styles("images", style, img.style_blend.as_deref(), paths)?,
    };
    let init = match img.init.as_str() {
        "content" => Init::Content,
        "noise" => Init::Noise,
        "" => {
            return Err(invalid(
                "images.init",
                "must be \"content\", \"noise\" or an image path",
            ));
        }
        p => Init::Image(paths.resolve("images.init", p)),
    };
    let sizes = sizes(&img.size)?;
    if !(img.style_scale.is_finite() && img.style_scale > 0.0 && img.style_scale <= 8.0) {
        return Err(invalid(
            "images.style_scale",
            format!("{} is out of range; use a number in (0, 8]", img.style_scale),
        ));
    }
    for &size in &sizes {
        let style_px = (size as f64 * img.style_scale).round() as i64;
        if !(MIN_SIZE..=MAX_TILED_SIZE).contains(&style_px) {
            return Err(invalid(
                "images.style_scale",
                format!("size × style_scale = {style_px} px is out of range {MIN_SIZE}..={MAX_TILED_SIZE}"),
            ));
        }
    }
    Ok(Images {
        content,
        styles,
        init,
        sizes,
        style_scale: img.style_scale,
    })
}

/// Checks `model.tile` against the style statistics and the sizes: a
/// size in pixels is a multiple of [`TILE_ALIGN`] within
/// [`MIN_TILE`]..=[`MAX_TILED_SIZE`]; tiles need statistics that sum over
/// positions; sizes above [`MAX_SIZE`] need tiles.
fn tiling(tile: Tiling, style_layers: &[StyleLayer], images: &Images) -> Result<Tiling, Invalid> {
    if let Tiling::Px(px) = tile
        && (px % TILE_ALIGN != 0 || !(MIN_TILE..=MAX_TILED_SIZE).contains(&px))
    {
        let near = (px / TILE_ALIGN * TILE_ALIGN).clamp(MIN_TILE, MAX_TILED_SIZE);
        return Err(invalid(
            "model.tile",
            format!(
                "{px} px: tiles are a multiple of {TILE_ALIGN} px (VGG19's poolings) within {MIN_TILE}..={MAX_TILED_SIZE}, e.g. {near}; or \"auto\", or \"off\""
            ),
        ));
    }
    let unsummed = style_layers.iter().find(|s| !s.loss.sums_over_positions());
    if let (Tiling::Px(_), Some(s)) = (tile, unsummed) {
        return Err(invalid(
            "model.tile",
            format!(
                "{} (at {}) cannot be tiled: it sorts every position of the image at once; tiles need gram or mean_std, or use model.tile = \"off\"",
                s.loss, s.layer
            ),
        ));
    }
    let largest = images.sizes.iter().copied().max().unwrap_or(0) as i64;
    let style_px = (largest as f64 * images.style_scale).round() as i64;
    if largest.max(style_px) > MAX_SIZE {
        let why = match (tile, unsummed) {
            (Tiling::Off, _) => Some("model.tile = \"off\"".to_string()),
            (_, Some(s)) => Some(format!(
                "{} (at {}) sorts every position at once and cannot be tiled",
                s.loss, s.layer
            )),
            _ => None,
        };
        if let Some(why) = why {
            let (key, what) = if largest > MAX_SIZE {
                ("images.size", format!("{largest} px"))
            } else {
                ("images.style_scale", format!("size × style_scale = {style_px} px"))
            };
            return Err(invalid(
                key,
                format!(
                    "{what} is more than one pass takes ({MAX_SIZE} px), and {why}; larger images are evaluated tile by tile with gram or mean_std"
                ),
            ));
        }
    }
    Ok(tile)
}

/// The sizes and steps of `optim.schedule`: as written for `fixed`; for
/// `coarse-to-fine`, from one size S and one step count N, scales S/4,
/// S/2, S (those of at least [`COARSEST`] px), the last taking a fifth of
/// the steps (at least one) and the coarser ones sharing the rest.
fn schedule(schedule: super::Schedule, images: Images, optim: Optim) -> Result<(Images, Optim), Invalid> {
    if schedule == super::Schedule::Fixed {
        return Ok((images, optim));
    }
    let (&[size], &[steps]) = (images.sizes.as_slice(), optim.iterations.as_slice()) else {
        let key = if images.sizes.len() > 1 {
            "images.size"
        } else {
            "optim.iterations"
        };
        return Err(invalid(
            key,
            "optim.schedule = \"coarse-to-fine\" derives the scales and their steps: give one size and one step count",
        ));
    };
    let mut sizes: Vec<u32> = [size / 4, size / 2, size]
        .into_iter()
        .filter(|&s| s >= COARSEST || s == size)
        .collect();
    // Every scale takes a step: with fewer steps than scales, the coarsest go.
    let drop = sizes.len().saturating_sub(steps as usize);
    sizes.drain(..drop);
    let iterations = split_steps(steps, sizes.len());
    Ok((Images { sizes, ..images }, Optim { iterations, ..optim }))
}

/// The smallest scale a coarse-to-fine schedule starts at, px.
pub const COARSEST: u32 = 128;

/// `steps` over `scales` scales: a fifth (at least one) to the last, the
/// rest shared equally by the others (the first taking what does not
/// divide); every scale at least one step when there are enough.
pub fn split_steps(steps: u64, scales: usize) -> Vec<u64> {
    if scales <= 1 {
        return vec![steps];
    }
    let top = (steps / 5).max(1).min(steps.saturating_sub(scales as u64 - 1)).max(1);
    let rest = steps.saturating_sub(top);
    let others = (scales - 1) as u64;
    let mut split: Vec<u64> = (0..others).map(|_| rest / others).collect();
    split[0] += rest % others;
    split.push(top);
    split
}

/// The output's longest side at each scale: one size, or a list that grows.
fn sizes(size: &IntOrList) -> Result<Vec<u32>, Invalid> {
    let sizes = size.to_vec();
    if sizes.is_empty() {
        return Err(invalid(
            "images.size",
            "the list is empty; give one size, or sizes from coarse to fine such as [256, 512]",
        ));
    }
    for &s in &sizes {
        if !(MIN_SIZE..=MAX_TILED_SIZE).contains(&s) {
            return Err(invalid(
                "images.size",
                format!(
                    "{s} px is out of range; use {MIN_SIZE}..={MAX_TILED_SIZE} (the longest side of the output; above {MAX_SIZE}, evaluated tile by tile)"
                ),
            ));
        }
    }
    if let Some(w) = sizes.windows(2).find(|w| w[1] <= w[0]) {
        return Err(invalid(
            "images.size",
            format!(
                "{} px comes after {} px; a multi-scale run goes from coarse to fine, so each size must be larger than the one before",
                w[1], w[0]
            ),
        ));
    }
    Ok(sizes.into_iter().map(|s| s as u32).collect())
}

/// The style images of `section` (`images` or `regions.NAME`) with their
/// blend weights (1 each by default).
fn styles(section: &str, style: &OneOrMany, blend: Option<&[f64]>, paths: &Paths) -> Result<Vec<StyleImage>, Invalid> {
    let (style_key, blend_key) = (format!("{section}.style"), format!("{section}.style_blend"));
    let style_paths = style.to_vec();
    if style_paths.is_empty() {
        return Err(invalid(style_key, "needs at least one style image"));
    }
    let blends = match blend {
        None => vec![1.0; style_paths.len()],
        Some(b) if b.len() != style_paths.len() => {
            return Err(invalid(
                blend_key,
                format!(
                    "has {} value(s) but {style_key} lists {} image(s); give one blend weight per style image",
                    b.len(),
                    style_paths.len()
                ),
            ));
        }
        Some(b) => b.to_vec(),
    };
    for &b in &blends {
        check_weight(&blend_key, b)?;
    }
    if blends.iter().sum::<f64>() <= 0.0 {
        return Err(invalid(blend_key, "all blend weights are 0; at least one must be > 0"));
    }
    Ok(style_paths
        .iter()
        .zip(blends)
        .map(|(p, blend)| StyleImage {
            path: paths.resolve(&style_key, p),
            blend,
        })
        .collect())
}

/// Checks `images.mask` against `[regions]`: both or neither; with them,
/// no `images.style`; each region a name fit for a metrics column, a
/// colour of its own, styles, a weight, and a mask per style image if any.
fn regions(
    img: &RawImages,
    regions: Option<&std::collections::BTreeMap<String, RawRegion>>,
    paths: &Paths,
) -> Result<Option<Regions>, Invalid> {
    let regions = match (regions, &img.mask) {
        (None, None) => {
            if img.style.is_none() {
                return Err(invalid(
                    "images.style",
                    "needs at least one style image (or images.mask and a [regions.NAME] table per colour)",
                ));
            }
            return Ok(None);
        }
        (None, Some(_)) => {
            return Err(invalid(
                "images.mask",
                "names a mask but no [regions.NAME] table says which style goes on which of its colours",
            ));
        }
        (Some(r), _) if r.is_empty() => {
            return Err(invalid(
                "regions",
                "is empty; add a [regions.NAME] table per colour of the mask",
            ));
        }
        (Some(_), None) => {
            return Err(invalid(
                "images.mask",
                "is missing: [regions] name colours of a mask image; set images.mask to it",
            ));
        }
        (Some(r), Some(_)) => r,
    };
    if img.style.is_some() || img.style_blend.is_some() {
        let key = if img.style.is_some() {
            "images.style"
        } else {
            "images.style_blend"
        };
        return Err(invalid(
            key,
            "is not used with [regions]: each region names its own style images; move them to a region",
        ));
    }
    let mask = img.mask.as_deref().unwrap_or_default();
    if mask.trim().is_empty() {
        return Err(invalid("images.mask", "must name the mask image"));
    }
    let mut list: Vec<Region> = Vec::new();
    for (name, r) in regions {
        let region = region(name, r, &list, paths)?;
        list.push(region);
    }
    if list.len() > u8::MAX as usize {
        return Err(invalid("regions", format!("has {} regions; at most 255", list.len())));
    }
    Ok(Some(Regions {
        mask: paths.resolve("images.mask", mask),
        list,
    }))
}

/// One `[regions.NAME]` table, checked against the regions before it.
fn region(name: &str, r: &RawRegion, before: &[Region], paths: &Paths) -> Result<Region, Invalid> {
    let section = format!("regions.{name}");
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        return Err(invalid(
            &section,
            format!("'{name}' is not a region name; use letters, digits, '_' and '-' (it names metrics columns)"),
        ));
    }
    let color = crate::mask::parse_color(&r.color).ok_or_else(|| {
        invalid(
            format!("{section}.color"),
            format!(
                "'{}' is not a colour; use \"white\", \"black\", \"red\", \"green\", \"blue\", \"yellow\", \"cyan\", \"magenta\", \"gray\" or \"#rrggbb\"",
                r.color
            ),
        )
    })?;
    if let Some(other) = before.iter().find(|o| o.color == color) {
        return Err(invalid(
            format!("{section}.color"),
            format!(
                "{} is region '{}''s colour already; each region needs its own",
                crate::mask::color_name(color),
                other.name
            ),
        ));
    }
    let styles = styles(&section, &r.style, r.style_blend.as_deref(), paths)?;
    let style_weight = check_weight(&format!("{section}.style_weight"), r.style_weight)?;
    let mask_key = format!("{section}.style_mask");
    let style_masks: Vec<PathBuf> = match &r.style_mask {
        None => Vec::new(),
        Some(m) => {
            let m = m.to_vec();
            if m.len() != styles.len() {
                return Err(invalid(
                    &mask_key,
                    format!(
                        "has {} mask(s) but {section}.style lists {} image(s); give one mask per style image",
                        m.len(),
                        styles.len()
                    ),
                ));
            }
            m.iter().map(|p| paths.resolve(&mask_key, p)).collect()
        }
    };
    Ok(Region {
        name: name.to_string(),
        color,
        styles,
        style_weight,
        style_masks,
    })
}

/// `[loss]`, validated.
struct Loss {
    content_weight: f64,
    style_weight: f64,
    tv_weight: f64,
    content_layers: WeightedLayers,
    style_layers: Vec<StyleLayer>,
}

/// Checks `[loss]`: weights finite and >= 0, layer names known, and at
/// least one layer selected between the two terms.
fn loss(l: &RawLoss) -> Result<Loss, Invalid> {
    let out = Loss {
        content_weight: check_weight("loss.content_weight", l.content_weight)?,
        style_weight: check_weight("loss.style_weight", l.style_weight)?,
        tv_weight: check_weight("loss.tv_weight", l.tv_weight)?,
        content_layers: check_layers("loss.content_layers", &l.content_layers)?,
        style_layers: style_layers(l)?,
    };
    if out.content_layers.is_empty() && out.style_layers.is_empty() {
        return Err(invalid(
            "loss",
            "selects no layers; set content_layers and/or style_layers",
        ));
    }
    Ok(out)
}

/// A weight must be finite, >= 0 and at most [`crate::config::MAX_WEIGHT`];
/// 0 turns its term (or layer) off.
fn check_weight(key: &str, w: f64) -> Result<f64, Invalid> {
    if !w.is_finite() {
        return Err(invalid(key, format!("{w} is not a finite number")));
    }
    if w < 0.0 {
        return Err(invalid(key, format!("{w} is negative; weights must be >= 0")));
    }
    if w > crate::config::MAX_WEIGHT {
        return Err(invalid(key, crate::config::too_large_weight(w)));
    }
    Ok(w)
}

/// Layer names → layers in forward order, each weight checked.
fn check_layers(key: &str, map: &BTreeMap<String, f64>) -> Result<WeightedLayers, Invalid> {
    let mut out = Vec::with_capacity(map.len());
    for (name, &w) in map {
        let k = format!("{key}.{name}");
        let layer: Layer = name
            .parse()
            .map_err(|e: crate::layer::UnknownLayer| invalid(&k, e.to_string()))?;
        out.push((layer, check_weight(&k, w)?));
    }
    out.sort_by_key(|(l, _)| *l);
    Ok(out)
}

/// `loss.style_layers`: names known, weights checked, each layer's loss
/// its own or `loss.style_loss`.
fn style_layers(l: &RawLoss) -> Result<Vec<StyleLayer>, Invalid> {
    let weights: BTreeMap<String, f64> = l.style_layers.iter().map(|(k, v)| (k.clone(), v.weight())).collect();
    let layers = check_layers("loss.style_layers", &weights)?;
    Ok(layers
        .into_iter()
        .map(|(layer, weight)| {
            let own = match l.style_layers.get(&layer.to_string()) {
                Some(RawStyleLayer::Spec(RawStyleLayerSpec { loss: Some(loss), .. })) => Some(*loss),
                _ => None,
            };
            StyleLayer {
                layer,
                weight,
                loss: own.unwrap_or(l.style_loss),
            }
        })
        .collect())
}

/// `[optim]`, validated.
struct Optim {
    /// Steps at each scale.
    iterations: Vec<u64>,
    stop: Option<super::Stop>,
    learning_rate: f64,
    history: usize,
    seed: u64,
    device: DeviceChoice,
}

/// Checks `[optim]`. `iterations` is one count for all `scales` or one per
/// scale, each in 1..=10 000 000; `history` is in 1..=1000.
fn optim(o: &RawOptim, scales: usize) -> Result<Optim, Invalid> {
    let iterations = match &o.iterations {
        IntOrList::One(n) => vec![*n; scales],
        IntOrList::Many(list) if list.len() == scales => list.clone(),
        IntOrList::Many(list) => {
            return Err(invalid(
                "optim.iterations",
                format!(
                    "has {} value(s) but images.size lists {scales} scale(s); give one number per scale, or one for all",
                    list.len()
                ),
            ));
        }
    };
    if let Some(n) = iterations.iter().find(|n| !(1..=10_000_000).contains(*n)) {
        return Err(invalid(
            "optim.iterations",
            format!("{n} is out of range; use 1..=10000000"),
        ));
    }
    if !(o.learning_rate.is_finite() && o.learning_rate > 0.0) {
        return Err(invalid(
            "optim.learning_rate",
            format!("{} must be a positive number", o.learning_rate),
        ));
    }
    if !(1..=1000).contains(&o.history) {
        return Err(invalid(
            "optim.history",
            format!("{} is out of range; use 1..=1000", o.history),
        ));
    }
    if o.seed < 0 {
        return Err(invalid(
            "optim.seed",
            format!("{} is negative; use a seed >= 0", o.seed),
        ));
    }
    let device = DeviceChoice::parse(&o.device).ok_or_else(|| {
        invalid(
            "optim.device",
            format!(
                "'{}' is not a device; use \"auto\", \"cpu\", \"cuda\" or \"cuda:N\"",
                o.device
            ),
        )
    })?;
    let stop = match o.stop {
        None => None,
        Some(s) if !(s.rel_change.is_finite() && s.rel_change > 0.0 && s.rel_change <= 0.5) => {
            return Err(invalid(
                "optim.stop.rel_change",
                format!(
                    "{} is out of range; use a relative change in (0, 0.5], e.g. 1e-4",
                    s.rel_change
                ),
            ));
        }
        Some(s) if !(2..=100_000).contains(&s.window) => {
            return Err(invalid(
                "optim.stop.window",
                format!("{} is out of range; use 2..=100000 steps", s.window),
            ));
        }
        Some(s) => Some(super::Stop {
            rel_change: s.rel_change,
            window: s.window as u64,
        }),
    };
    Ok(Optim {
        stop,
        iterations: iterations.into_iter().map(|n| n as u64).collect(),
        learning_rate: o.learning_rate,
        history: o.history as usize,
        seed: o.seed as u64,
        device,
    })
}

/// `[output]`: the snapshot interval and the results folder.
fn output(out: &RawOutput, paths: &Paths) -> Result<(u64, PathBuf), Invalid> {
    if out.snapshot_every < 0 {
        return Err(invalid(
            "output.snapshot_every",
            format!("{} is negative; use 0 for no snapshots", out.snapshot_every),
        ));
    }
    let results = match &out.results {
        None => paths.root.join("results"),
        Some(r) => paths.resolve("output.results", r),
    };
    Ok((out.snapshot_every as u64, results))
}

impl Experiment {
    /// The experiment as a raw file again, with every default filled in
    /// and every path absolute: what a run stores as `experiment.toml`.
    /// Validating it gives this experiment back.
    pub fn to_raw(&self) -> RawExperiment {
        let path = |p: &Path| p.display().to_string();
        let layers = |ls: &WeightedLayers| ls.iter().map(|(l, w)| (l.to_string(), *w)).collect();
        RawExperiment {
            name: Some(self.name.clone()),
            images: RawImages {
                content: path(&self.content),
                style: (self.regions.is_none())
                    .then(|| OneOrMany::Many(self.styles.iter().map(|s| path(&s.path)).collect())),
                style_blend: (self.regions.is_none()).then(|| self.styles.iter().map(|s| s.blend).collect()),
                mask: self.regions.as_ref().map(|r| path(&r.mask)),
                init: match &self.init {
                    Init::Content => "content".into(),
                    Init::Noise => "noise".into(),
                    Init::Image(p) => path(p),
                },
                // A coarse-to-fine schedule is written as it was given: the
                // final size and the total steps, from which it derives the rest.
                size: if self.schedule == super::Schedule::CoarseToFine {
                    IntOrList::One(self.final_size() as i64)
                } else {
                    IntOrList::from_vec(self.sizes.iter().map(|&s| s as i64).collect())
                },
                style_scale: self.style_scale,
                preserve_colors: self.preserve_colors,
            },
            model: raw::RawModel {
                weights: Some(path(&self.weights)),
                pooling: self.pooling,
                memory_format: self.memory_format,
                tile: self.tile,
            },
            loss: RawLoss {
                content_weight: self.content_weight,
                style_weight: self.style_weight,
                tv_weight: self.tv_weight,
                normalize: self.normalize,
                content_layers: layers(&self.content_layers),
                style_loss: self.style_loss,
                style_layers: self.raw_style_layers(),
            },
            optim: RawOptim {
                optimizer: self.optimizer,
                iterations: match self.iterations.as_slice() {
                    _ if self.schedule == super::Schedule::CoarseToFine => {
                        IntOrList::One(self.total_iterations() as i64)
                    }
                    // The same count at every scale reads back as one number.
                    [first, rest @ ..] if rest.iter().all(|n| n == first) => IntOrList::One(*first as i64),
                    all => IntOrList::Many(all.iter().map(|&n| n as i64).collect()),
                },
                learning_rate: self.learning_rate,
                history: self.history as i64,
                seed: self.seed as i64,
                device: self.device.to_string(),
                precision: self.precision,
                schedule: self.schedule,
                stop: self.stop.map(|s| raw::RawStop {
                    rel_change: s.rel_change,
                    window: s.window as i64,
                }),
                precondition: self.precondition,
                bounds: self.bounds,
            },
            output: RawOutput {
                snapshot_every: self.snapshot_every as i64,
                results: Some(path(&self.results)),
                score: self.score,
                tensorboard: self.tensorboard,
            },
            regions: self.raw_regions(),
            sweep: self.sweep.clone(),
        }
    }

    /// The style layers as written: a layer with the common loss reads
    /// back as its weight alone.
    fn raw_style_layers(&self) -> std::collections::BTreeMap<String, RawStyleLayer> {
        self.style_layers
            .iter()
            .map(|s| {
                let v = if s.loss == self.style_loss {
                    RawStyleLayer::Weight(s.weight)
                } else {
                    RawStyleLayer::Spec(RawStyleLayerSpec {
                        weight: s.weight,
                        loss: Some(s.loss),
                    })
                };
                (s.layer.to_string(), v)
            })
            .collect()
    }

    /// `[regions]` as written, paths absolute.
    fn raw_regions(&self) -> Option<std::collections::BTreeMap<String, RawRegion>> {
        let path = |p: &Path| p.display().to_string();
        self.regions.as_ref().map(|r| {
            r.list
                .iter()
                .map(|g| {
                    let raw = RawRegion {
                        color: crate::mask::color_name(g.color),
                        style: OneOrMany::Many(g.styles.iter().map(|s| path(&s.path)).collect()),
                        style_blend: Some(g.styles.iter().map(|s| s.blend).collect()),
                        style_weight: g.style_weight,
                        style_mask: (!g.style_masks.is_empty())
                            .then(|| OneOrMany::Many(g.style_masks.iter().map(|p| path(p)).collect())),
                    };
                    (g.name.clone(), raw)
                })
                .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_raw_form_validates_back_to_the_same_experiment() {
        let text = r#"
[images]
content = "a.png"
style = "b.png"
init = "noise"
[loss]
style_layers = { relu2_1 = 0.5, relu1_1 = 1.0 }
[optim]
device = "cuda"
"#;
        let file = Path::new("/p/experiments/x.toml");
        let exp = super::super::parse(file, text, &[]).expect("valid");
        assert_eq!(exp.name, "x");
        assert_eq!(exp.weights, Path::new("/p").join(DEFAULT_WEIGHTS));
        let again = Experiment::from_raw(file, exp.to_raw(), &|_| false).expect("still valid");
        assert_eq!(again, exp);
        assert_eq!(exp.to_raw().optim.device, "cuda:0");
    }

    #[test]
    fn a_coarse_to_fine_schedule_derives_its_scales_and_steps_and_reads_back() {
        let text = r#"
[images]
content = "a.png"
style = "b.png"
size = 512
[optim]
schedule = "coarse-to-fine"
iterations = 500
stop = { rel_change = 1e-4 }
precision = "auto"
"#;
        let file = Path::new("/p/experiments/x.toml");
        let exp = super::super::parse(file, text, &[]).expect("valid");
        assert_eq!(exp.sizes, [128, 256, 512]);
        assert_eq!(exp.iterations, [200, 200, 100]);
        assert_eq!(exp.total_iterations(), 500);
        let stop = exp.stop.expect("a stop rule");
        assert_eq!((stop.rel_change, stop.window), (1e-4, 20), "the window's default");
        // Written as given: one size, one count, the schedule, which derives the same.
        let raw = exp.to_raw();
        assert_eq!(raw.images.size, IntOrList::One(512));
        assert_eq!(raw.optim.iterations, IntOrList::One(500));
        let again = Experiment::from_raw(file, raw, &|_| false).expect("still valid");
        assert_eq!(again, exp);
        // Small sizes keep the scales of 128 px or more; few steps, the finest.
        let small = super::super::parse(file, &text.replace("512", "256"), &[]).expect("valid");
        assert_eq!(small.sizes, [128, 256]);
        let few = super::super::parse(file, &text.replace("iterations = 500", "iterations = 2"), &[]).expect("valid");
        assert_eq!(
            (few.sizes.as_slice(), few.iterations.as_slice()),
            (&[256u32, 512][..], &[1u64, 1][..])
        );
    }

    #[test]
    fn steps_split_a_fifth_to_the_top() {
        assert_eq!(split_steps(500, 3), [200, 200, 100]);
        assert_eq!(split_steps(101, 3), [41, 40, 20]);
        assert_eq!(split_steps(3, 3), [1, 1, 1]);
        assert_eq!(split_steps(7, 1), [7]);
        for n in 3..200u64 {
            let s = split_steps(n, 3);
            assert_eq!(s.iter().sum::<u64>(), n);
            assert!(s.iter().all(|&k| k >= 1), "{n}: {s:?}");
        }
    }
}
