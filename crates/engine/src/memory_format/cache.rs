//! The memory formats `model.memory_format = "auto"` measured, kept in the
//! user's cache folder so that each kind of run measures once. Measuring
//! builds the network twice and times passes at up to 256 px: 1–10 s on a
//! CPU, ~7.5 s on an H200 (cuDNN tunes both networks), against a run's
//! first step of a second or two. A choice is kept per machine (CPU model
//! and threads, or GPU name), libtorch version, precision, pooling,
//! selected layers and probe size, in `memory-formats.json` under
//! `$STYLELAB_CACHE_DIR`, else `$XDG_CACHE_HOME/stylelab`, else
//! `~/.cache/stylelab`. Delete the file to measure again. A cache that
//! cannot be read or written is no error: the run measures.

use super::FormatChoice;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;
use stylelab_core::config::{Experiment, MemoryFormat};
use stylelab_core::layer::Layer;

/// The cache file's name in the cache folder.
pub const FILE: &str = "memory-formats.json";

/// How the probe measures and decides, in the key: entries of an earlier
/// probe (formats timed one after the other, the faster kept however
/// close) are measured again.
const PROBE: &str = "interleaved, 5 % to leave the default";

/// What a measurement depends on, as one line of text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key(String);

impl Key {
    /// The key of a probe of `exp`'s network at `side` px on `device`.
    pub fn new(exp: &Experiment, device: tch::Device, side: u32, layers: &[Layer]) -> Key {
        let machine = match device {
            tch::Device::Cuda(n) => stylelab_core::gpu::name(n).unwrap_or_else(|| format!("cuda:{n}")),
            _ => format!("{} ({} threads)", cpu_model(), tch::get_num_threads()),
        };
        let layers: Vec<String> = layers.iter().map(Layer::to_string).collect();
        Key(format!(
            "{machine} | libtorch {} | {} | {:?} pooling | {} | {side} px | {PROBE}",
            crate::LIBTORCH_VERSION,
            exp.precision,
            exp.pooling,
            layers.join(",")
        ))
    }
}

/// `model name` from /proc/cpuinfo, or `cpu`.
fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
            })
        })
        .unwrap_or_else(|| "cpu".into())
}

/// One kept measurement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Entry {
    /// `nchw` or `channels_last`.
    format: String,
    /// What was measured: `measured at 256 px: nchw 455 ms, channels_last 300 ms`.
    how: String,
    /// When, RFC 3339.
    when: String,
}

/// The cache folder (see the module's notes); None without a home.
pub fn dir() -> Option<PathBuf> {
    let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    var("STYLELAB_CACHE_DIR")
        .or_else(|| var("XDG_CACHE_HOME").map(|d| d.join("stylelab")))
        .or_else(|| var("HOME").map(|h| h.join(".cache/stylelab")))
}

/// The kept choices; none when the file cannot be read. Read without
/// blocking and within bounds: a FIFO, a device or a file of more than
/// [`stylelab_core::files::TEXT_LIMIT`] bytes in its place is no cache.
fn read() -> BTreeMap<String, Entry> {
    dir()
        .and_then(|d| stylelab_core::files::read_text_bounded(&d.join(FILE), stylelab_core::files::TEXT_LIMIT).ok())
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

/// The choice kept for `key`, saying it came from the cache.
pub fn lookup(key: &Key) -> Option<FormatChoice> {
    let entry = read().remove(&key.0)?;
    let format = match entry.format.as_str() {
        "nchw" => MemoryFormat::Nchw,
        "channels_last" => MemoryFormat::ChannelsLast,
        _ => return None,
    };
    Some(FormatChoice {
        format,
        how: format!("cached, {} on {}", entry.how, entry.when),
    })
}

/// Keeps a measured choice; failures to write are ignored (the next run
/// measures again). Concurrent runs may race: the last writer's file
/// stands, and each entry is a measurement as good as another.
pub fn store(key: &Key, choice: &FormatChoice) {
    let Some(dir) = dir() else { return };
    let mut all = read();
    all.insert(
        key.0.clone(),
        Entry {
            format: choice.format.to_string(),
            how: choice.how.clone(),
            when: stylelab_core::record::now_rfc3339(),
        },
    );
    let Ok(text) = serde_json::to_string_pretty(&all) else {
        return;
    };
    // A cache: a write that fails is forgotten.
    if std::fs::create_dir_all(&dir).is_ok() {
        let _ = stylelab_core::files::write_atomic(&dir.join(FILE), text.as_bytes());
    }
}
