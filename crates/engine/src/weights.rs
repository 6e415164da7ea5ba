//! VGG19 weights in stylelab's format: safetensors with keys
//! `conv1_1.weight`, `conv1_1.bias`, … (the first k convolutions, k ≤ 16) and
//! metadata `preprocess = "caffe" | "torchvision"`. Inspecting, loading,
//! converting from PyTorch `.pth`, seeded random weights, and where the
//! official checkpoints come from ([`source`]; the download itself is the
//! application's).
//!
//! Pipeline position: `preflight` (and `doctor`, and `stylelab weights
//! info`) check a file with [`WeightsInfo::read`], which reads the header
//! only; the engine then calls [`load`] to put the tensors on its device.
//! The `stylelab weights` subcommands use [`convert`], [`random`] with
//! [`save`], and [`source::Source`].

pub mod pth;
pub mod source;

use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use stylelab_core::layer::Layer;
use tch::{Device, Kind, Tensor};

/// How images are turned into network input for a given weights file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preprocess {
    /// BGR, 0..255, minus the mean (B, G, R) = (103.939, 116.779, 123.68).
    Caffe,
    /// RGB, 0..1, ImageNet mean/std.
    Torchvision,
}

impl fmt::Display for Preprocess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Preprocess::Caffe => "caffe",
            Preprocess::Torchvision => "torchvision",
        })
    }
}

/// Parses the metadata value, `caffe` or `torchvision`; the error names both.
impl FromStr for Preprocess {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "caffe" => Ok(Preprocess::Caffe),
            "torchvision" => Ok(Preprocess::Torchvision),
            other => Err(format!(
                "'{other}' is not a preprocessing convention; use \"caffe\" or \"torchvision\""
            )),
        }
    }
}

/// Everything wrong a weights file can be.
#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    /// Opening or reading the file failed (missing, permissions, …).
    #[error("{path}: cannot read the weights file: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    /// The header is not a safetensors header: too short, an impossible
    /// length, or JSON that does not parse.
    #[error("{path}: not a safetensors file ({reason})")]
    NotSafetensors { path: PathBuf, reason: String },
    /// A valid VGG19 file without the `preprocess` metadata key.
    #[error(
        "{path}: has no 'preprocess' metadata; tag it with `stylelab weights convert {path} OUT.safetensors --preprocess caffe|torchvision`"
    )]
    NoPreprocess { path: PathBuf },
    /// Readable, but not VGG19 in stylelab's format: wrong keys, shapes,
    /// dtype or metadata value. The message says which.
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
    /// libtorch or the safetensors crate could not read or encode the tensors.
    #[error("{path}: {message}")]
    Torch { path: PathBuf, message: String },
    /// The header promises more tensor bytes than the file holds.
    #[error(
        "{path}: the file is truncated: its header describes {expected} bytes of tensor data but it holds {actual} (an interrupted download or copy?); fetch or copy it again"
    )]
    Truncated { path: PathBuf, expected: u64, actual: u64 },
    /// The tensors could not be put on the device (out of memory, mostly):
    /// the file is not at fault.
    #[error("cannot put the weights of {} on {device}: {}", path.display(), stylelab_core::torch_error::summarize(&source.to_string()))]
    Device {
        path: PathBuf,
        device: String,
        source: tch::TchError,
    },
    /// The output file (or its folder) could not be written.
    #[error("cannot write {path}: {message}")]
    Write { path: PathBuf, message: String },
}

impl WeightsError {
    /// Whether the file given was at fault (a bad or missing input), as
    /// opposed to a failure to write the output. `error` uses it to pick the
    /// exit code.
    pub fn is_bad_input(&self) -> bool {
        !matches!(self, WeightsError::Write { .. } | WeightsError::Device { .. })
    }
}

/// A selected layer that a weights file cannot compute.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{layer} is not in the weights file {} (it holds {holds})", path.display())]
pub struct MissingLayer {
    /// The first selected layer the file cannot compute.
    pub layer: Layer,
    /// The weights file.
    pub path: PathBuf,
    /// What the file can compute: `conv1_1 … pool3`.
    pub holds: String,
}

/// One tensor's entry in a safetensors header.
#[derive(Debug, Clone, Deserialize)]
struct HeaderEntry {
    /// safetensors' dtype name: `F32`, `F16`, …
    dtype: String,
    /// Dimensions, outermost first.
    shape: Vec<usize>,
    /// Start and end of the tensor's bytes after the header.
    data_offsets: [u64; 2],
}

/// What a weights file holds, read from its header alone.
#[derive(Debug, Clone)]
pub struct WeightsInfo {
    /// The file as given.
    pub path: PathBuf,
    /// From the `preprocess` metadata key.
    pub preprocess: Preprocess,
    /// Convolutions present, in forward order (always a prefix of VGG19's).
    /// Never empty in a value from [`WeightsInfo::read`].
    pub convs: Vec<Layer>,
    /// The whole `__metadata__` table (`preprocess`, `format`, and keys such
    /// as `converted_from` or `random_seed`).
    pub metadata: BTreeMap<String, String>,
    /// Bytes on disk.
    pub file_size: u64,
}

impl WeightsInfo {
    /// Reads and checks a weights file's header: keys, shapes, dtype and
    /// convention must be those of (a prefix of) VGG19.
    ///
    /// Reads the header and the file's length, never the tensor data, so it
    /// is cheap enough for `check`. Every variant of [`WeightsError`] but
    /// `Torch` and `Write` can come back; a PyTorch state dict gets an
    /// `Invalid` that says how to convert it.
    pub fn read(path: &Path) -> Result<Self, WeightsError> {
        let (header, metadata, file_size) = read_header(path)?;
        let invalid = |message: String| WeightsError::Invalid {
            path: path.to_path_buf(),
            message,
        };
        if header.keys().any(|k| k.starts_with("features.")) {
            return Err(invalid(format!(
                "looks like a PyTorch VGG state dict (keys 'features.N.weight'); convert it with `stylelab weights convert {} OUT.safetensors --preprocess caffe|torchvision`",
                path.display()
            )));
        }
        let mut convs = Vec::new();
        for conv in Layer::convs() {
            let (w, b) = (format!("{conv}.weight"), format!("{conv}.bias"));
            match (header.get(&w), header.get(&b)) {
                (None, None) => break,
                (Some(_), None) | (None, Some(_)) => {
                    return Err(invalid(format!("{conv} has a weight or a bias but not both")));
                }
                (Some(we), Some(be)) => {
                    let (o, i) = conv.conv_channels();
                    let want_w = [o as usize, i as usize, 3, 3];
                    if we.shape != want_w {
                        return Err(invalid(format!(
                            "{w} has shape {:?}, VGG19 expects {want_w:?}: this is not a VGG19 weights file",
                            we.shape
                        )));
                    }
                    if be.shape != [o as usize] {
                        return Err(invalid(format!("{b} has shape {:?}, VGG19 expects [{o}]", be.shape)));
                    }
                    for (k, e) in [(&w, we), (&b, be)] {
                        if e.dtype != "F32" {
                            return Err(invalid(format!("{k} is {}, stylelab reads F32 weights", e.dtype)));
                        }
                    }
                    convs.push(conv);
                }
            }
        }
        if convs.is_empty() {
            let sample: Vec<_> = header.keys().take(4).cloned().collect();
            return Err(invalid(format!(
                "holds no VGG19 convolution (expected keys like 'conv1_1.weight', found {sample:?})"
            )));
        }
        let known: Vec<String> = convs
            .iter()
            .flat_map(|c| [format!("{c}.weight"), format!("{c}.bias")])
            .collect();
        if let Some(extra) = header.keys().find(|k| !known.contains(k)) {
            let missing = Layer::convs()
                .get(convs.len())
                .map(|c| format!(" (layers must be a prefix: {c} is missing)"));
            return Err(invalid(format!(
                "unexpected tensor '{extra}'{}",
                missing.unwrap_or_default()
            )));
        }
        let preprocess = match metadata.get("preprocess") {
            None => {
                return Err(WeightsError::NoPreprocess {
                    path: path.to_path_buf(),
                });
            }
            Some(p) => p
                .parse()
                .map_err(|e: String| invalid(format!("metadata preprocess: {e}")))?,
        };
        Ok(WeightsInfo {
            path: path.to_path_buf(),
            preprocess,
            convs,
            metadata,
            file_size,
        })
    }

    /// Every layer these weights can compute, in forward order: up to the
    /// relu of the last conv, or the pool after it when the block is complete.
    ///
    /// # Panics
    ///
    /// If `convs` is empty, which [`WeightsInfo::read`] never returns.
    pub fn available_layers(&self) -> Vec<Layer> {
        let last = *self.convs.last().expect("read() guarantees one conv");
        Layer::all()
            .into_iter()
            .filter(|l| l.conv_at_or_before() <= last)
            .collect()
    }

    /// Checks that every layer of `layers` can be computed; the first that
    /// cannot (in the order given) is the error.
    pub fn check_layers(&self, layers: &[Layer]) -> Result<(), MissingLayer> {
        match layers.iter().find(|l| !self.has_layer(**l)) {
            None => Ok(()),
            Some(&layer) => Err(MissingLayer {
                layer,
                path: self.path.clone(),
                holds: self.layer_range(),
            }),
        }
    }

    /// Whether `layer` can be computed from these weights.
    pub fn has_layer(&self, layer: Layer) -> bool {
        self.convs.contains(&layer.conv_at_or_before())
    }

    /// "conv1_1 … pool3" style summary of the computable layers: the first
    /// and the last of [`WeightsInfo::available_layers`].
    pub fn layer_range(&self) -> String {
        let avail = self.available_layers();
        format!("{} … {}", avail[0], avail[avail.len() - 1])
    }
}

/// Tensor entries by key, the `__metadata__` table, and the file's size in bytes.
type Header = (BTreeMap<String, HeaderEntry>, BTreeMap<String, String>, u64);

/// Reads a safetensors header: an 8-byte little-endian length, then that
/// many bytes of JSON. Lengths over 100 MB are refused before allocating;
/// `Truncated` when the data the entries point to runs past the file's end.
fn read_header(path: &Path) -> Result<Header, WeightsError> {
    let io = |source| WeightsError::Io {
        path: path.to_path_buf(),
        source,
    };
    let not = |reason: String| WeightsError::NotSafetensors {
        path: path.to_path_buf(),
        reason,
    };
    stylelab_core::files::regular_file(path).map_err(io)?;
    let mut f = std::fs::File::open(path).map_err(io)?;
    let file_size = f.metadata().map_err(io)?.len();
    let mut len = [0u8; 8];
    f.read_exact(&mut len)
        .map_err(|_| not("file is shorter than a header".into()))?;
    let n = u64::from_le_bytes(len);
    if n > 100_000_000 {
        return Err(not(format!(
            "its header claims {n} bytes, implausibly large (a VGG19 header is a few kilobytes; over 100 MB is refused)"
        )));
    }
    if n + 8 > file_size {
        return Err(not(format!("header length {n} does not fit a {file_size}-byte file")));
    }
    let mut buf = vec![0u8; n as usize];
    f.read_exact(&mut buf).map_err(io)?;
    let json: HashMap<String, serde_json::Value> =
        serde_json::from_slice(&buf).map_err(|e| not(format!("header is not JSON: {e}")))?;
    let mut header = BTreeMap::new();
    let mut metadata = BTreeMap::new();
    for (k, v) in json {
        if k == "__metadata__" {
            metadata = serde_json::from_value(v).map_err(|e| not(format!("bad metadata: {e}")))?;
        } else {
            let e: HeaderEntry = serde_json::from_value(v).map_err(|e| not(format!("bad entry '{k}': {e}")))?;
            header.insert(k, e);
        }
    }
    // The header alone is cheap to read; the data must all be there too.
    let expected = header.values().map(|e| e.data_offsets[1]).max().unwrap_or(0);
    let actual = file_size - 8 - n;
    if expected > actual {
        return Err(WeightsError::Truncated {
            path: path.to_path_buf(),
            expected,
            actual,
        });
    }
    Ok((header, metadata, file_size))
}

/// `stylelab weights info`: a weights file's size, sha256, convention,
/// layers with their shapes, and its other metadata, a line each.
pub fn describe_file(file: &Path) -> Result<String, WeightsError> {
    let info = WeightsInfo::read(file)?;
    let sha = sha256_file(file).map_err(|source| WeightsError::Io {
        path: file.to_path_buf(),
        source,
    })?;
    let mut out = format!(
        "file        {}\nsize        {} bytes\nsha256      {sha}\npreprocess  {}\nlayers      {} ({} convolutions)\n",
        file.display(),
        info.file_size,
        info.preprocess,
        info.layer_range(),
        info.convs.len()
    );
    for conv in &info.convs {
        let (o, i) = conv.conv_channels();
        out += &format!("  {conv:<8} weight [{o}, {i}, 3, 3]  bias [{o}]\n");
    }
    for (k, v) in info.metadata.iter().filter(|(k, _)| k.as_str() != "preprocess") {
        out += &format!("{k:<11} {v}\n");
    }
    Ok(out)
}

/// Hex SHA-256 of a file, lower case, read in 1 MiB chunks. Recorded as
/// `weights_sha256` in each run's summary.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    stylelab_core::files::regular_file(path)?;
    let mut f = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

/// Lower-case hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Loaded convolution weights, on a device, never requiring gradients.
pub struct VggWeights {
    /// The checked header of the file they came from.
    pub info: WeightsInfo,
    /// `(layer, weight, bias)` in forward order.
    pub convs: Vec<(Layer, Tensor, Tensor)>,
}

impl VggWeights {
    /// A seeded random VGG19 up to `upto`, in memory, as if loaded from a
    /// caffe file (the bench's network, and tests').
    pub fn random(seed: u64, upto: Layer) -> Self {
        let convs = random(seed, upto);
        VggWeights {
            info: WeightsInfo {
                path: "random".into(),
                preprocess: Preprocess::Caffe,
                convs: convs.iter().map(|c| c.0).collect(),
                metadata: Default::default(),
                file_size: 0,
            },
            convs,
        }
    }
}

/// Loads the convolutions up to and including `deepest` (all when None).
///
/// `deepest` may be any layer: its conv (see [`Layer::conv_at_or_before`])
/// is the last one loaded. The header is checked first ([`WeightsInfo::read`]);
/// libtorch then reads every tensor of the file, and only those kept are
/// moved to `device`. Does not check that `deepest` is in the file: callers
/// use [`WeightsInfo::check_layers`].
pub fn load(path: &Path, deepest: Option<Layer>, device: Device) -> Result<VggWeights, WeightsError> {
    let info = WeightsInfo::read(path)?;
    let tensors: HashMap<String, Tensor> = Tensor::read_safetensors(path)
        .map_err(|e| WeightsError::Torch {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?
        .into_iter()
        .collect();
    let limit = deepest.map(|l| l.conv_at_or_before());
    let mut convs = Vec::new();
    for &conv in &info.convs {
        if limit.is_some_and(|lim| conv > lim) {
            break;
        }
        // read() checked that both tensors of every conv are in the file.
        let get = |k: String| {
            tensors[&k]
                .f_to_device(device)
                .map(|t| t.set_requires_grad(false))
                .map_err(|source| WeightsError::Device {
                    path: path.to_path_buf(),
                    device: match device {
                        Device::Cuda(n) => format!("cuda:{n}"),
                        other => format!("{other:?}").to_lowercase(),
                    },
                    source,
                })
        };
        convs.push((conv, get(format!("{conv}.weight"))?, get(format!("{conv}.bias"))?));
    }
    Ok(VggWeights { info, convs })
}

/// Writes convolutions in stylelab's format.
///
/// Tensors are copied to the CPU as F32; the metadata holds `preprocess`,
/// `format = "stylelab-vgg19"` and `extra_metadata` (which may override
/// them). Creates the parent folder. `Write` for I/O failures, `Torch` for
/// tensors that cannot be encoded.
pub fn save(
    path: &Path,
    convs: &[(Layer, Tensor, Tensor)],
    preprocess: Preprocess,
    extra_metadata: &[(&str, String)],
) -> Result<(), WeightsError> {
    let torch = |message: String| WeightsError::Torch {
        path: path.to_path_buf(),
        message,
    };
    let mut data: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
    for (layer, w, b) in convs {
        for (suffix, t) in [("weight", w), ("bias", b)] {
            let t = t.to_device(Device::Cpu).to_kind(Kind::Float).contiguous();
            let shape: Vec<usize> = t.size().iter().map(|&d| d as usize).collect();
            let values = Vec::<f32>::try_from(t.flatten(0, -1)).map_err(|e| torch(e.to_string()))?;
            let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
            data.push((format!("{layer}.{suffix}"), shape, bytes));
        }
    }
    let views = data
        .iter()
        .map(|(k, shape, bytes)| {
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.clone(), bytes)
                .map(|v| (k.clone(), v))
                .map_err(|e| torch(format!("{e:?}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut meta: HashMap<String, String> = HashMap::from([
        ("preprocess".to_string(), preprocess.to_string()),
        ("format".to_string(), "stylelab-vgg19".to_string()),
    ]);
    for (k, v) in extra_metadata {
        meta.insert(k.to_string(), v.clone());
    }
    let write = |message: String| WeightsError::Write {
        path: path.to_path_buf(),
        message,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| write(format!("cannot create {}: {e}", dir.display())))?;
    }
    let bytes = safetensors::tensor::serialize(views, Some(meta)).map_err(|e| torch(format!("{e:?}")))?;
    // Whole or not at all, mode from the umask (0644 typically: weights are
    // shared on a server), never through a link planted at `path`.
    stylelab_core::files::write_atomic(path, &bytes).map_err(|e| write(format!("{e:#}")))
}

/// Converts a PyTorch VGG19 checkpoint (`.pth`, read with libtorch's own
/// pickle loader; keys `features.N.*`) or an untagged safetensors file with
/// `convA_B.*` keys into stylelab's format. Returns the layers written.
///
/// Keeps the convolutions up to the first one missing, checks their shapes
/// against VGG19, and records the input's file name as `converted_from`.
/// `Invalid` when no VGG19 convolution is found or a shape is wrong.
pub fn convert(input: &Path, output: &Path, preprocess: Preprocess) -> Result<Vec<Layer>, WeightsError> {
    let named = read_any(input)?;
    let convs = vgg_convs(&named);
    if convs.is_empty() {
        let mut sample: Vec<_> = named.keys().take(5).cloned().collect();
        sample.sort();
        return Err(WeightsError::Invalid {
            path: input.to_path_buf(),
            message: format!(
                "holds no VGG19 convolutions (found keys {sample:?}, expected 'features.0.weight' or 'conv1_1.weight')"
            ),
        });
    }
    for (conv, w, b) in &convs {
        let (o, i) = conv.conv_channels();
        if w.size() != [o, i, 3, 3] || b.size() != [o] {
            return Err(WeightsError::Invalid {
                path: input.to_path_buf(),
                message: format!(
                    "{conv} has weight {:?} and bias {:?}, VGG19 expects [{o}, {i}, 3, 3] and [{o}]: not a VGG19 checkpoint",
                    w.size(),
                    b.size()
                ),
            });
        }
    }
    let source = input
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    save(output, &convs, preprocess, &[("converted_from", source)])?;
    Ok(convs.iter().map(|(l, _, _)| *l).collect())
}

/// Every named tensor of a PyTorch checkpoint (a zip, read by libtorch's
/// own pickle loader) or a safetensors file.
///
/// The first two bytes decide: `PK` (zip) is read as a checkpoint, anything
/// else as safetensors.
fn read_any(input: &Path) -> Result<HashMap<String, Tensor>, WeightsError> {
    let torch = |message: String| WeightsError::Torch {
        path: input.to_path_buf(),
        message,
    };
    let invalid = |message: String| WeightsError::Invalid {
        path: input.to_path_buf(),
        message,
    };
    let io = |source| WeightsError::Io {
        path: input.to_path_buf(),
        source,
    };
    stylelab_core::files::regular_file(input).map_err(io)?;
    let mut magic = [0u8; 12];
    let mut f = std::fs::File::open(input).map_err(io)?;
    let n = f.read(&mut magic).map_err(io)?;
    if magic[..n].starts_with(b"PK") {
        return read_checkpoint(input, pth::Checkpoint::open)
            .map_err(|e| invalid(format!("cannot read it as a PyTorch checkpoint: {e}")));
    }
    if magic[..n] == pth::LEGACY_MAGIC {
        return read_checkpoint(input, pth::Checkpoint::open_legacy).map_err(|e| {
            invalid(format!(
                "cannot read it as a PyTorch checkpoint (legacy format, before PyTorch 1.6): {e}; \
                 re-saving it in the zip format may help: torch.save(torch.load(F, weights_only=True), OUT)"
            ))
        });
    }
    // A safetensors header is read (and bounded) first: its errors are clearer.
    read_header(input)?;
    let named = Tensor::read_safetensors(input).map_err(|e| torch(e.to_string()))?;
    Ok(named.into_iter().collect())
}

/// The VGG19 convolutions of a zip checkpoint, under either naming, each
/// read only after its declared shape is VGG19's (see [`pth::Checkpoint`]).
fn read_checkpoint(
    input: &Path,
    open: fn(&Path) -> Result<pth::Checkpoint, String>,
) -> Result<HashMap<String, Tensor>, String> {
    let mut cp = open(input)?;
    let mut out = HashMap::new();
    for (index, layer) in Layer::all().into_iter().enumerate() {
        if layer.kind != stylelab_core::layer::LayerKind::Conv {
            continue;
        }
        let (o, i) = layer.conv_channels();
        for name in [format!("{layer}"), format!("features.{index}")] {
            for (suffix, shape) in [("weight", vec![o, i, 3, 3]), ("bias", vec![o])] {
                let key = format!("{name}.{suffix}");
                if cp.tensors.contains_key(&key) {
                    out.insert(key.clone(), cp.read(&key, &shape)?);
                }
            }
        }
    }
    if out.is_empty() {
        let mut sample: Vec<_> = cp.tensors.keys().take(5).cloned().collect();
        sample.sort();
        return Err(format!(
            "it holds no VGG19 convolutions (found keys {sample:?}, expected 'features.0.weight' or 'conv1_1.weight')"
        ));
    }
    Ok(out)
}

/// The convolutions found under our names (`conv1_1.weight`) or
/// torchvision's (`features.0.weight`), in forward order, up to the first
/// one missing.
fn vgg_convs(named: &HashMap<String, Tensor>) -> Vec<(Layer, Tensor, Tensor)> {
    let mut convs = Vec::new();
    // A conv's index in torchvision's `features` is its position among all layers.
    for (index, layer) in Layer::all().into_iter().enumerate() {
        if layer.kind != stylelab_core::layer::LayerKind::Conv {
            continue;
        }
        let candidates = [format!("{layer}"), format!("features.{index}")];
        let found = candidates.iter().find_map(|p| {
            Some((
                named.get(&format!("{p}.weight"))?.shallow_clone(),
                named.get(&format!("{p}.bias"))?.shallow_clone(),
            ))
        });
        match found {
            Some((w, b)) => convs.push((layer, w, b)),
            None => break,
        }
    }
    convs
}

/// A seeded random VGG19 (He-normal weights, zero biases) up to `upto`:
/// the same shapes as the real network, for tests and benchmarks.
///
/// Every conv up to `upto`'s (see [`Layer::conv_at_or_before`]), F32 on the
/// CPU, weights drawn with std √(2 / (in_channels·9)) from `rng::SplitMix64`.
pub fn random(seed: u64, upto: Layer) -> Vec<(Layer, Tensor, Tensor)> {
    let mut rng = stylelab_core::rng::SplitMix64::new(seed);
    let upto = upto.conv_at_or_before();
    Layer::convs()
        .into_iter()
        .filter(|c| *c <= upto)
        .map(|c| {
            let (o, i) = c.conv_channels();
            let std = (2.0 / (i as f64 * 9.0)).sqrt();
            let w = Tensor::from_slice(&rng.normal_vec((o * i * 9) as usize, std)).view([o, i, 3, 3]);
            (c, w, Tensor::zeros([o], (Kind::Float, Device::Cpu)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_weights_round_trip_with_metadata() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.safetensors");
        let convs = random(3, "relu2_1".parse().unwrap());
        save(&path, &convs, Preprocess::Torchvision, &[]).unwrap();
        let info = WeightsInfo::read(&path).unwrap();
        assert_eq!(info.preprocess, Preprocess::Torchvision);
        assert_eq!(info.convs.len(), 3);
        assert!(info.has_layer("relu2_1".parse().unwrap()));
        assert!(!info.has_layer("relu2_2".parse().unwrap()));
        assert!(!info.has_layer("pool2".parse().unwrap()));
        assert_eq!(info.layer_range(), "conv1_1 … relu2_1");
        let loaded = load(&path, None, Device::Cpu).unwrap();
        let diff = (&loaded.convs[2].1 - &convs[2].1).abs().max().double_value(&[]);
        assert_eq!(diff, 0.0);
    }

    #[test]
    fn same_seed_same_weights() {
        let a = random(7, "relu1_2".parse().unwrap());
        let b = random(7, "relu1_2".parse().unwrap());
        assert!(a[1].1.equal(&b[1].1));
    }
}
