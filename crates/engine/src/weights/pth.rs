//! PyTorch checkpoints (`torch.save`, the zip format of PyTorch ≥ 1.6)
//! read without running them.
//!
//! A checkpoint is a pickle (`data.pkl`) that rebuilds a dict of tensors
//! from raw storages (`data/<key>`). A pickle is a program: this reader
//! knows the few operations a state dict needs — dicts (`OrderedDict` too,
//! with the `_metadata` attribute `nn.Module.state_dict()` sets), tuples,
//! lists, numbers, strings, `torch._utils._rebuild_tensor_v2`,
//! `_rebuild_parameter` and the storage types — and refuses every other
//! global before anything is called. Storages are read lazily and bounded:
//! only those of the tensors asked for, each only after its declared shape
//! is checked and its storage's declared size is plausible for it, and never
//! more bytes than declared — a zip entry that inflates to gigabytes is cut
//! at its declared size, so a small file cannot allocate a large one.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use tch::{Kind, Tensor};

/// The most `data.pkl` may hold: a VGG19 state dict's is a few kilobytes.
const PICKLE_LIMIT: u64 = 16 << 20;

/// The bytes that start a checkpoint in the legacy (non-zip) format: the
/// pickled magic number.
pub const LEGACY_MAGIC: [u8; 12] = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8];

/// A tensor as the pickle describes it; its bytes are read on demand.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorRef {
    /// The storage's key: its file is `data/<key>` in the archive.
    pub storage: String,
    /// Element type of the storage.
    pub kind: Kind,
    /// Elements the storage declares.
    pub storage_numel: u64,
    /// The tensor's view of the storage.
    pub offset: i64,
    pub size: Vec<i64>,
    pub stride: Vec<i64>,
}

/// A value on the unpickler's stack.
#[derive(Debug, Clone)]
enum Value {
    None,
    /// A bool or a float: read, never needed.
    Scalar,
    Int(i64),
    Str(String),
    Tuple(Vec<Value>),
    List(Vec<Value>),
    Dict(Vec<(Value, Value)>),
    /// An allowed global, `module.name`.
    Global(String),
    Storage {
        key: String,
        kind: Kind,
        numel: u64,
    },
    Tensor(TensorRef),
    Mark,
}

/// Globals a state dict may name; anything else is refused.
fn allowed(global: &str) -> bool {
    matches!(
        global,
        "collections.OrderedDict"
            | "torch._utils._rebuild_tensor_v2"
            | "torch._utils._rebuild_parameter"
            | "torch.FloatStorage"
            | "torch.HalfStorage"
            | "torch.BFloat16Storage"
            | "torch.DoubleStorage"
    )
}

fn storage_kind(global: &str) -> Option<Kind> {
    Some(match global {
        "torch.FloatStorage" => Kind::Float,
        "torch.HalfStorage" => Kind::Half,
        "torch.BFloat16Storage" => Kind::BFloat16,
        "torch.DoubleStorage" => Kind::Double,
        _ => return None,
    })
}

/// Bytes per element of a storage kind.
fn elem_bytes(kind: Kind) -> u64 {
    match kind {
        Kind::Half | Kind::BFloat16 => 2,
        Kind::Double => 8,
        _ => 4,
    }
}

/// Runs the restricted unpickler over `data`; the pickled object.
fn unpickle(data: &[u8]) -> Result<Value, String> {
    unpickle_at(data).map(|(v, _)| v)
}

/// The pickled object at the start of `data`, and the bytes it took.
fn unpickle_at(data: &[u8]) -> Result<(Value, usize), String> {
    let mut m = Machine {
        data,
        pos: 0,
        stack: Vec::new(),
        memo: HashMap::new(),
    };
    loop {
        let op = *m.take(1)?.first().ok_or("the pickle ends early")?;
        if op == b'.' {
            return m.pop().map(|v| (v, m.pos));
        }
        m.step(op)?;
    }
}

/// The restricted unpickler's state: the bytes, where it reads, its stack
/// and its memo.
struct Machine<'a> {
    data: &'a [u8],
    pos: usize,
    stack: Vec<Value>,
    memo: HashMap<u32, Value>,
}

impl<'a> Machine<'a> {
    /// The next `n` bytes.
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.data.len())
            .ok_or("the pickle ends early")?;
        let s = &self.data[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn take4(&mut self) -> Result<[u8; 4], String> {
        let b = self.take(4)?;
        Ok([b[0], b[1], b[2], b[3]])
    }

    fn pop(&mut self) -> Result<Value, String> {
        self.stack
            .pop()
            .ok_or_else(|| "the pickle pops an empty stack".to_string())
    }

    /// The items pushed since the last mark, the mark dropped.
    fn since_mark(&mut self) -> Result<Vec<Value>, String> {
        let at = self
            .stack
            .iter()
            .rposition(|v| matches!(v, Value::Mark))
            .ok_or("the pickle has no mark")?;
        let items = self.stack.split_off(at + 1);
        self.stack.pop();
        Ok(items)
    }

    fn top(&self) -> Result<Value, String> {
        self.stack
            .last()
            .cloned()
            .ok_or_else(|| "memo of an empty stack".to_string())
    }

    /// Runs one opcode other than STOP.
    fn step(&mut self, op: u8) -> Result<(), String> {
        match op {
            0x80 => drop(self.take(1)?),
            0x95 => drop(self.take(8)?),
            b'}' => self.stack.push(Value::Dict(Vec::new())),
            b']' => self.stack.push(Value::List(Vec::new())),
            b')' => self.stack.push(Value::Tuple(Vec::new())),
            b'(' => self.stack.push(Value::Mark),
            b'N' => self.stack.push(Value::None),
            0x88 | 0x89 => self.stack.push(Value::Scalar),
            b'K' | b'M' | b'J' | 0x8a | b'G' => self.number(op)?,
            b'X' | 0x8c => {
                let n = if op == b'X' {
                    u32::from_le_bytes(self.take4()?) as usize
                } else {
                    self.take(1)?[0] as usize
                };
                let s = text(self.take(n)?)?;
                self.stack.push(Value::Str(s));
            }
            b'c' | 0x93 => self.global(op)?,
            b'q' | b'r' | 0x94 | b'h' | b'j' => self.memo_op(op)?,
            b't' | 0x85..=0x87 | b'a' | b'e' | b's' | b'u' => self.build(op)?,
            b'b' => {
                // A state dict's `_metadata` attribute, a parameter's state: not needed.
                self.pop()?;
            }
            b'Q' => {
                let pid = self.pop()?;
                self.stack.push(storage(pid)?);
            }
            b'R' => {
                let args = self.pop()?;
                let callable = self.pop()?;
                self.stack.push(reduce(callable, args)?);
            }
            other => return Err(format!("pickle opcode 0x{other:02x} is not one a state dict uses")),
        }
        Ok(())
    }

    /// BININT1, BININT2, BININT, LONG1 and BINFLOAT.
    fn number(&mut self, op: u8) -> Result<(), String> {
        let v = match op {
            b'K' => Value::Int(i64::from(self.take(1)?[0])),
            b'M' => {
                let b = self.take(2)?;
                Value::Int(i64::from(u16::from_le_bytes([b[0], b[1]])))
            }
            b'J' => Value::Int(i64::from(i32::from_le_bytes(self.take4()?))),
            b'G' => {
                self.take(8)?;
                Value::Scalar
            }
            _ => {
                let n = self.take(1)?[0] as usize;
                let b = self.take(n)?;
                if n > 8 {
                    // The legacy format's magic number: read, never used.
                    Value::Scalar
                } else {
                    let mut v: i64 = 0;
                    for (i, &byte) in b.iter().enumerate() {
                        v |= i64::from(byte) << (8 * i);
                    }
                    if n > 0 && n < 8 && b[n - 1] & 0x80 != 0 {
                        v -= 1i64 << (8 * n);
                    }
                    Value::Int(v)
                }
            }
        };
        self.stack.push(v);
        Ok(())
    }

    /// GLOBAL and STACK_GLOBAL, refused unless [`allowed`].
    fn global(&mut self, op: u8) -> Result<(), String> {
        let global = if op == b'c' {
            let rest = &self.data[self.pos..];
            let mut lines = rest.splitn(3, |&b| b == b'\n');
            let (module, name) = (lines.next().unwrap_or_default(), lines.next().unwrap_or_default());
            self.pos += module.len() + name.len() + 2;
            format!("{}.{}", text(module)?, text(name)?)
        } else {
            let name = self.pop()?;
            let module = self.pop()?;
            let (Value::Str(m), Value::Str(n)) = (module, name) else {
                return Err("a global that is not named by strings".into());
            };
            format!("{m}.{n}")
        };
        if !allowed(&global) {
            return Err(format!(
                "it calls {global}, which a file of weights has no need of (a pickle can run code): refused"
            ));
        }
        self.stack.push(Value::Global(global));
        Ok(())
    }

    /// BINPUT, LONG_BINPUT, MEMOIZE, BINGET and LONG_BINGET.
    fn memo_op(&mut self, op: u8) -> Result<(), String> {
        match op {
            b'q' => {
                let i = u32::from(self.take(1)?[0]);
                let top = self.top()?;
                self.memo.insert(i, top);
            }
            b'r' => {
                let i = u32::from_le_bytes(self.take4()?);
                let top = self.top()?;
                self.memo.insert(i, top);
            }
            0x94 => {
                let i = self.memo.len() as u32;
                let top = self.top()?;
                self.memo.insert(i, top);
            }
            _ => {
                let i = if op == b'h' {
                    u32::from(self.take(1)?[0])
                } else {
                    u32::from_le_bytes(self.take4()?)
                };
                let v = self.memo.get(&i).cloned().ok_or("the pickle reads an unset memo")?;
                self.stack.push(v);
            }
        }
        Ok(())
    }

    /// TUPLE, TUPLE1–3, APPEND, APPENDS, SETITEM and SETITEMS.
    fn build(&mut self, op: u8) -> Result<(), String> {
        match op {
            b't' => {
                let items = self.since_mark()?;
                self.stack.push(Value::Tuple(items));
            }
            0x85..=0x87 => {
                let n = (op - 0x84) as usize;
                if self.stack.len() < n {
                    return Err("the pickle pops an empty stack".into());
                }
                let items = self.stack.split_off(self.stack.len() - n);
                self.stack.push(Value::Tuple(items));
            }
            b'a' | b'e' => {
                let items = if op == b'a' {
                    vec![self.pop()?]
                } else {
                    self.since_mark()?
                };
                match self.stack.last_mut() {
                    Some(Value::List(l)) => l.extend(items),
                    _ => return Err("append to what is not a list".into()),
                }
            }
            b's' => {
                let v = self.pop()?;
                let k = self.pop()?;
                match self.stack.last_mut() {
                    Some(Value::Dict(d)) => d.push((k, v)),
                    _ => return Err("an item set on what is not a dict".into()),
                }
            }
            _ => {
                let items = self.since_mark()?;
                if items.len() % 2 != 0 {
                    return Err("an odd number of dict items".into());
                }
                match self.stack.last_mut() {
                    Some(Value::Dict(d)) => {
                        let mut it = items.into_iter();
                        while let (Some(k), Some(v)) = (it.next(), it.next()) {
                            d.push((k, v));
                        }
                    }
                    _ => return Err("items set on what is not a dict".into()),
                }
            }
        }
        Ok(())
    }
}

/// Pickle text, which must be UTF-8.
fn text(b: &[u8]) -> Result<String, String> {
    String::from_utf8(b.to_vec()).map_err(|_| "a string that is not UTF-8".to_string())
}

/// A persistent id: `('storage', torch.FloatStorage, key, location, numel)`.
fn storage(pid: Value) -> Result<Value, String> {
    let Value::Tuple(t) = pid else {
        return Err("a persistent id that is not a tuple".into());
    };
    // The zip format's five fields; the legacy one adds view metadata (None).
    let fields = match t.as_slice() {
        [head @ .., Value::None] if t.len() == 6 => head,
        all => all,
    };
    match fields {
        [
            Value::Str(tag),
            Value::Global(g),
            Value::Str(key),
            _location,
            Value::Int(numel),
        ] if tag == "storage" => Ok(Value::Storage {
            key: key.clone(),
            kind: storage_kind(g).ok_or_else(|| format!("storage type {g} is not one weights use"))?,
            numel: u64::try_from(*numel).map_err(|_| "a negative storage size")?,
        }),
        _ => Err("a persistent id that is not a storage".into()),
    }
}

fn ints(v: &Value) -> Result<Vec<i64>, String> {
    match v {
        Value::Tuple(items) | Value::List(items) => items
            .iter()
            .map(|i| match i {
                Value::Int(n) => Ok(*n),
                _ => Err("a size that is not integers".to_string()),
            })
            .collect(),
        _ => Err("a size that is not a tuple".into()),
    }
}

/// Calls one of the allowed globals.
fn reduce(callable: Value, args: Value) -> Result<Value, String> {
    let (Value::Global(g), Value::Tuple(args)) = (callable, args) else {
        return Err("a call of something that is not an allowed global".into());
    };
    match (g.as_str(), args.as_slice()) {
        ("collections.OrderedDict", []) => Ok(Value::Dict(Vec::new())),
        (
            "torch._utils._rebuild_tensor_v2",
            [
                Value::Storage { key, kind, numel },
                Value::Int(offset),
                size,
                stride,
                ..,
            ],
        ) => Ok(Value::Tensor(TensorRef {
            storage: key.clone(),
            kind: *kind,
            storage_numel: *numel,
            offset: *offset,
            size: ints(size)?,
            stride: ints(stride)?,
        })),
        ("torch._utils._rebuild_parameter", [t @ Value::Tensor(_), ..]) => Ok(t.clone()),
        _ => Err(format!("{g} called with arguments a state dict does not use")),
    }
}

/// Where a checkpoint's storages are.
enum Storages {
    /// The zip format: `<prefix>data/<key>` entries.
    Zip {
        archive: zip::ZipArchive<std::fs::File>,
        /// `archive/` — the folder inside the zip that holds `data.pkl`.
        prefix: String,
    },
    /// The legacy format: each storage's file offset of its data, by key
    /// (after its 8-byte element count, which was checked).
    Legacy {
        file: std::fs::File,
        offsets: HashMap<String, u64>,
    },
}

/// A checkpoint's tensors by key, before any storage is read.
pub struct Checkpoint {
    storages: Storages,
    /// Every tensor the pickle names, by key (nested dicts as `a.b`).
    pub tensors: HashMap<String, TensorRef>,
}

impl Checkpoint {
    /// Opens a zip checkpoint and runs its pickle. Errors say why in words.
    pub fn open(path: &Path) -> Result<Checkpoint, String> {
        let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
        let mut archive = zip::ZipArchive::new(file).map_err(|e| format!("not a readable zip: {e}"))?;
        let name = archive
            .file_names()
            .find(|n| *n == "data.pkl" || n.ends_with("/data.pkl"))
            .map(str::to_string)
            .ok_or("a zip without data.pkl is not a PyTorch checkpoint")?;
        let prefix = name.trim_end_matches("data.pkl").to_string();
        let mut pickle = Vec::new();
        archive
            .by_name(&name)
            .map_err(|e| e.to_string())?
            .take(PICKLE_LIMIT + 1)
            .read_to_end(&mut pickle)
            .map_err(|e| e.to_string())?;
        if pickle.len() as u64 > PICKLE_LIMIT {
            return Err(format!(
                "its data.pkl holds more than {PICKLE_LIMIT} bytes: not a state dict"
            ));
        }
        Ok(Checkpoint {
            tensors: tensors_of(unpickle(&pickle)?)?,
            storages: Storages::Zip { archive, prefix },
        })
    }

    /// Opens a checkpoint in the legacy format (`torch.save` before 1.6,
    /// as torchvision's published VGG19 is): five pickles — magic number,
    /// protocol, system info, the object, the storage keys — then each
    /// storage as an 8-byte element count and its bytes. Only the pickles
    /// are read here (at most `PICKLE_LIMIT` bytes); the storages'
    /// places are found by their declared sizes, each count checked.
    pub fn open_legacy(path: &Path) -> Result<Checkpoint, String> {
        use std::io::{Seek, SeekFrom};
        let mut file = std::fs::File::open(path).map_err(|e| e.to_string())?;
        let len = file.metadata().map_err(|e| e.to_string())?.len();
        let mut head = Vec::new();
        (&mut file)
            .take(PICKLE_LIMIT)
            .read_to_end(&mut head)
            .map_err(|e| e.to_string())?;
        let mut pos = 0;
        let mut next = || -> Result<Value, String> {
            let (v, n) = unpickle_at(&head[pos..])?;
            pos += n;
            Ok(v)
        };
        next()?; // the magic number
        next()?; // the protocol version
        next()?; // system information
        let object = next()?;
        let Value::List(keys) = next()? else {
            return Err("its list of storages is not a list".into());
        };
        let tensors = tensors_of(object)?;
        let mut numel: HashMap<String, (u64, Kind)> = HashMap::new();
        for t in tensors.values() {
            numel.insert(t.storage.clone(), (t.storage_numel, t.kind));
        }
        let mut offsets = HashMap::new();
        let mut at = pos as u64;
        for key in keys {
            let Value::Str(key) = key else {
                return Err("a storage key that is not a string".into());
            };
            let (declared, kind) = *numel
                .get(&key)
                .ok_or_else(|| format!("storage {key} belongs to no tensor"))?;
            let mut count = [0u8; 8];
            file.seek(SeekFrom::Start(at))
                .and_then(|_| file.read_exact(&mut count))
                .map_err(|_| format!("the file ends before storage {key}"))?;
            if u64::from_le_bytes(count) != declared {
                return Err(format!(
                    "storage {key} holds {} elements, its tensor declares {declared}",
                    u64::from_le_bytes(count)
                ));
            }
            offsets.insert(key, at + 8);
            at = at
                .checked_add(8 + declared.saturating_mul(elem_bytes(kind)))
                .filter(|&a| a <= len)
                .ok_or("the file ends inside a storage")?;
        }
        Ok(Checkpoint {
            tensors,
            storages: Storages::Legacy { file, offsets },
        })
    }

    /// Reads the tensor `key`, which must have shape `expected`, as F32 on
    /// the CPU. Its storage is read only when the shape matches and the
    /// storage is no larger than the tensor needs (plus a little slack),
    /// and never past its declared size.
    pub fn read(&mut self, key: &str, expected: &[i64]) -> Result<Tensor, String> {
        let t = self.tensors.get(key).ok_or_else(|| format!("no tensor {key}"))?.clone();
        if t.size != expected {
            return Err(format!("{key} has shape {:?}, VGG19 expects {expected:?}", t.size));
        }
        let numel: i64 = expected.iter().product();
        // The furthest element the view reaches.
        let extent = t.offset
            + t.size
                .iter()
                .zip(&t.stride)
                .map(|(s, st)| (s - 1).max(0) * st)
                .sum::<i64>()
            + 1;
        let bytes = t.storage_numel.saturating_mul(elem_bytes(t.kind));
        let needed = (numel as u64).saturating_mul(elem_bytes(t.kind));
        if t.offset < 0 || t.stride.iter().any(|&s| s < 0) || extent as u64 > t.storage_numel {
            return Err(format!("{key} reaches past its storage"));
        }
        if bytes > needed.saturating_mul(4).max(1 << 20) {
            return Err(format!(
                "{key} ({needed} bytes) declares a storage of {bytes} bytes: implausible for these weights, refused"
            ));
        }
        let mut data = Vec::with_capacity(bytes as usize);
        let name = match &mut self.storages {
            Storages::Zip { archive, prefix } => {
                let name = format!("{prefix}data/{}", t.storage);
                archive
                    .by_name(&name)
                    .map_err(|e| format!("{name}: {e}"))?
                    .take(bytes)
                    .read_to_end(&mut data)
                    .map_err(|e| format!("{name}: {e}"))?;
                name
            }
            Storages::Legacy { file, offsets } => {
                use std::io::{Seek, SeekFrom};
                let name = format!("storage {}", t.storage);
                let at = *offsets
                    .get(&t.storage)
                    .ok_or_else(|| format!("{name} is not in the file"))?;
                file.seek(SeekFrom::Start(at)).map_err(|e| format!("{name}: {e}"))?;
                file.take(bytes)
                    .read_to_end(&mut data)
                    .map_err(|e| format!("{name}: {e}"))?;
                name
            }
        };
        if data.len() as u64 != bytes {
            return Err(format!(
                "{name} holds {} bytes, its tensor declares {bytes}",
                data.len()
            ));
        }
        let storage = Tensor::from_data_size(&data, &[t.storage_numel as i64], t.kind);
        Ok(storage
            .as_strided(&t.size, &t.stride, Some(t.offset))
            .to_kind(Kind::Float)
            .contiguous())
    }
}

/// The tensors of an unpickled checkpoint, which must be a dict.
fn tensors_of(object: Value) -> Result<HashMap<String, TensorRef>, String> {
    let mut tensors = HashMap::new();
    match object {
        Value::Dict(d) => flatten("", d, &mut tensors),
        _ => {
            return Err("it holds something other than a dict of tensors (a whole model?); \
                 save its state_dict() instead: torch.save(model.state_dict(), F)"
                .into());
        }
    }
    Ok(tensors)
}

/// Tensors of a (possibly nested) dict, keyed `outer.inner`.
fn flatten(prefix: &str, dict: Vec<(Value, Value)>, out: &mut HashMap<String, TensorRef>) {
    for (k, v) in dict {
        let key = match k {
            Value::Str(s) => s,
            Value::Int(i) => i.to_string(),
            _ => continue,
        };
        let full = if prefix.is_empty() {
            key
        } else {
            format!("{prefix}.{key}")
        };
        match v {
            Value::Tensor(t) => {
                out.insert(full, t);
            }
            Value::Dict(d) => flatten(&full, d, out),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_globals_a_state_dict_does_not_need() {
        // cos.system('id') as protocol 0: GLOBAL, MARK, string, TUPLE, REDUCE.
        let evil = b"cos\nsystem\n(S'id'\ntR.";
        let err = unpickle(evil).unwrap_err();
        assert!(err.contains("os.system"), "{err}");
    }

    #[test]
    fn reads_a_hand_made_ordered_dict_of_one_tensor() {
        // OrderedDict() with BUILD state, then one item whose value is
        // _rebuild_tensor_v2(storage('0', float, 4), 0, (2, 2), (2, 1), False, OrderedDict()).
        // SHORT_BINUNICODE: a length byte, then the text.
        let text = |p: &mut Vec<u8>, t: &str| {
            p.push(0x8c);
            p.push(t.len() as u8);
            p.extend(t.as_bytes());
        };
        let mut p: Vec<u8> = vec![0x80, 2];
        p.extend(b"ccollections\nOrderedDict\n)R");
        p.extend(b"}b"); // BUILD with an empty state
        p.extend(b"(");
        text(&mut p, "w");
        p.extend(b"ctorch._utils\n_rebuild_tensor_v2\n(");
        p.extend(b"(");
        text(&mut p, "storage");
        p.extend(b"ctorch\nFloatStorage\n");
        text(&mut p, "0");
        text(&mut p, "cpu");
        p.extend(b"K\x04tQ");
        p.extend(b"K\x00");
        p.extend(b"K\x02K\x02\x86");
        p.extend(b"K\x02K\x01\x86");
        p.push(0x89);
        p.extend(b"ccollections\nOrderedDict\n)R");
        p.extend(b"tR");
        p.extend(b"u.");
        let Value::Dict(d) = unpickle(&p).unwrap() else {
            panic!("not a dict")
        };
        let mut out = HashMap::new();
        flatten("", d, &mut out);
        let t = &out["w"];
        assert_eq!(
            (t.size.clone(), t.stride.clone(), t.storage_numel),
            (vec![2, 2], vec![2, 1], 4)
        );
        assert_eq!(t.storage, "0");
    }
}
