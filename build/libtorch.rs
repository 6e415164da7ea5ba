//! Links stylelab against the libtorch in `$LIBTORCH` (the PyPI torch wheel):
//! an rpath so the binary runs with no environment variables, and
//! `torch_cuda` kept with `--no-as-needed` so CUDA is seen when present.
use std::{env, fs, path::PathBuf};

fn main() {
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    let Ok(root) = env::var("LIBTORCH") else {
        println!("cargo:warning=LIBTORCH is not set; run `make setup` first");
        println!("cargo:rustc-env=STYLELAB_LIBTORCH_VERSION=unknown");
        return;
    };
    let root = fs::canonicalize(&root).unwrap_or_else(|_| PathBuf::from(&root));
    let lib = root.join("lib");
    println!("cargo:rustc-link-search=native={}", lib.display());
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display());
    if lib.join("libtorch_cuda.so").exists() {
        // Nothing references torch_cuda's symbols directly: without this the
        // linker drops it and libtorch never registers its CUDA backend.
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed,-ltorch_cuda,--as-needed");
    }
    let version = fs::read_to_string(root.join("version.py"))
        .ok()
        .and_then(|text| {
            text.lines().find_map(|l| {
                l.strip_prefix("__version__ = ")
                    .map(|v| v.trim_matches(['\'', '"']).to_string())
            })
        })
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=STYLELAB_LIBTORCH_VERSION={version}");
    println!("cargo:rerun-if-changed={}", root.join("version.py").display());
}
