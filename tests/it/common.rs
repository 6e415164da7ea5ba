//! Helpers shared by the integration tests: random VGG19 weights written
//! once per test binary, and experiment files in temporary folders.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The project's Python, with the torch `make test` installs into `.venv`.
pub fn venv_python() -> PathBuf {
    let python = root().join(".venv/bin/python");
    assert!(
        python.exists(),
        "make test installs torch into .venv: {} is missing",
        python.display()
    );
    python
}

pub fn example(name: &str) -> PathBuf {
    root().join("examples").join(name)
}

/// A seeded random VGG19 up to relu5_1 (caffe convention), written once.
pub fn random_weights() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("stylelab-tests-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("vgg19-random.safetensors");
        let convs = stylelab_engine::weights::random(0, "relu5_1".parse().unwrap());
        stylelab_engine::weights::save(&path, &convs, stylelab_engine::weights::Preprocess::Caffe, &[]).unwrap();
        path
    })
}

/// The real partial VGG19 (conv1_1 … conv3_4) as ../shared holds it.
pub fn shared_weights() -> PathBuf {
    root().join("../shared/weights/vgg19_conv1_1-conv3_4_caffe_bgr.safetensors")
}

/// The real partial VGG19 from ../shared, converted once. The tests that
/// call it are `#[ignore = "needs ../shared/weights …"]`: `make test` (and
/// so CI, which has ../shared) runs them with `--include-ignored`, and
/// without the file they fail saying so.
pub fn partial_weights() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let shared = shared_weights();
        assert!(
            shared.exists(),
            "this test needs {} (the real partial VGG19; CI provides it)",
            shared.display()
        );
        let dir = std::env::temp_dir().join(format!("stylelab-tests-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("vgg19-partial.safetensors");
        stylelab_engine::weights::convert(&shared, &path, stylelab_engine::weights::Preprocess::Caffe).unwrap();
        path
    })
}

/// The random network with conv1_1's weights multiplied by `factor`, in
/// `dir`: features (and so losses) large enough to overflow fp32 without
/// any weight beyond what `check` allows.
pub fn amplified_weights(dir: &Path, factor: f64) -> PathBuf {
    let path = dir.join(format!("vgg19-amplified-{factor:e}.safetensors"));
    let mut convs = stylelab_engine::weights::random(0, "relu5_1".parse().unwrap());
    convs[0].1 = &convs[0].1 * factor;
    stylelab_engine::weights::save(&path, &convs, stylelab_engine::weights::Preprocess::Caffe, &[]).unwrap();
    path
}

/// Random weights up to `upto`, written into `dir`.
pub fn random_weights_upto(dir: &Path, name: &str, upto: &str) -> PathBuf {
    let path = dir.join(name);
    let convs = stylelab_engine::weights::random(1, upto.parse().unwrap());
    stylelab_engine::weights::save(&path, &convs, stylelab_engine::weights::Preprocess::Caffe, &[]).unwrap();
    path
}

/// A small, quick experiment on the random network: 64 px, classic layers.
pub fn tiny_experiment(dir: &Path, name: &str, extra: &str) -> PathBuf {
    let text = format!(
        r#"name = "{name}"
[images]
content = {content}
style = [{style}]
size = 64
{images_extra}
[model]
weights = {weights}
[loss]
content_layers = {{ relu4_2 = 1.0 }}
style_layers = {{ relu1_1 = 1.0, relu2_1 = 1.0, relu3_1 = 1.0, relu4_1 = 1.0, relu5_1 = 1.0 }}
[optim]
iterations = 8
seed = 3
[output]
snapshot_every = 4
score = false
results = {results}
"#,
        content = toml_path(&example("chelsea.png")),
        style = toml_path(&example("starry_night.jpg")),
        weights = toml_path(random_weights()),
        results = toml_path(&dir.join("results")),
        images_extra = extra,
    );
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

/// A path as a TOML string, escaped (a path may hold quotes, newlines, …).
pub fn toml_path(path: &Path) -> String {
    toml::Value::String(path.to_str().expect("a UTF-8 path").to_string()).to_string()
}

/// The single run folder under `dir/results`.
pub fn only_run(dir: &Path) -> PathBuf {
    let runs: Vec<PathBuf> = std::fs::read_dir(dir.join("results"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(runs.len(), 1, "expected one run folder, found {runs:?}");
    runs[0].clone()
}

/// Runs a command that must succeed; its standard output.
pub fn stdout_of(cmd: &mut assert_cmd::Command) -> String {
    String::from_utf8(cmd.assert().success().get_output().stdout.clone()).expect("utf-8 output")
}

/// Runs a command that must exit with `code`; its standard error.
pub fn stderr_of(cmd: &mut assert_cmd::Command, code: i32) -> String {
    String::from_utf8(cmd.assert().code(code).get_output().stderr.clone()).expect("utf-8 output")
}

/// Runs `cmd`, reads one byte of its stdout and closes it, as `| head -c1`
/// does; returns whether that byte came, and how the command ended.
pub fn read_one_byte_and_close(cmd: &mut std::process::Command) -> (bool, std::process::Output) {
    use std::io::Read;
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut one = [0u8; 1];
    let read = child.stdout.take().unwrap().read_exact(&mut one);
    (read.is_ok(), child.wait_with_output().unwrap())
}
