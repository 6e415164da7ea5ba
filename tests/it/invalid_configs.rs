//! Every file in tests/invalid_configs/ is a bad experiment. Its first lines
//! say what the message must contain (`# expect: …`) and whether the error
//! shows at load time or only when files are checked (`# stage: check`).
//! `{examples}` and `{dir}` stand for the example images and a temporary
//! folder holding the weights fixtures.

use crate::common;

use std::path::Path;
use tch::{Kind, Tensor};

fn fixtures(dir: &Path) {
    common::random_weights_upto(dir, "w-relu2_1.safetensors", "relu2_1");
    std::fs::copy(common::random_weights(), dir.join("w-relu5_1.safetensors")).unwrap();
    // conv1_2 with half its output channels.
    let mut convs = stylelab_engine::weights::random(0, "relu1_2".parse().unwrap());
    convs[1].1 = Tensor::zeros([32, 64, 3, 3], (Kind::Float, tch::Device::Cpu));
    stylelab_engine::weights::save(
        &dir.join("w-wrong-shapes.safetensors"),
        &convs,
        stylelab_engine::weights::Preprocess::Caffe,
        &[],
    )
    .unwrap();
    let other = [
        ("encoder.weight", Tensor::zeros([4, 4], (Kind::Float, tch::Device::Cpu))),
        ("encoder.bias", Tensor::zeros([4], (Kind::Float, tch::Device::Cpu))),
    ];
    Tensor::write_safetensors(&other, dir.join("w-other-net.safetensors")).unwrap();
    let untagged: Vec<(String, Tensor)> = stylelab_engine::weights::random(0, "relu1_1".parse().unwrap())
        .into_iter()
        .flat_map(|(l, w, b)| [(format!("{l}.weight"), w), (format!("{l}.bias"), b)])
        .collect();
    Tensor::write_safetensors(&untagged, dir.join("w-untagged.safetensors")).unwrap();
    std::fs::write(dir.join("not-an-image.png"), "this is text, not a PNG").unwrap();
    // Masks for chelsea.png (451×300): halves white and black; a tenth red
    // besides; square (the wrong shape).
    let halves = |w: u32, h: u32| {
        image::RgbImage::from_fn(w, h, |x, _| {
            if x < w / 2 {
                image::Rgb([255; 3])
            } else {
                image::Rgb([0; 3])
            }
        })
    };
    halves(451, 300).save(dir.join("mask-halves.png")).unwrap();
    let mut red = halves(451, 300);
    for y in 0..30 {
        for x in 0..451 {
            red.put_pixel(x, y, image::Rgb([255, 0, 0]));
        }
    }
    red.save(dir.join("mask-red.png")).unwrap();
    halves(300, 300).save(dir.join("mask-square.png")).unwrap();
    image::RgbImage::from_pixel(40, 40, image::Rgb([0; 3]))
        .save(dir.join("mask-black.png"))
        .unwrap();
}

#[test]
fn every_invalid_config_gets_its_message() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    fixtures(dir);
    let examples = common::root().join("examples");
    let subst = |s: &str| {
        s.replace("{examples}", &examples.display().to_string())
            .replace("{dir}", &dir.display().to_string())
    };
    let mut files: Vec<_> = std::fs::read_dir(common::root().join("tests/invalid_configs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 25, "the folder holds {} cases", files.len());
    let mut failures = Vec::new();
    for file in &files {
        let text = subst(&std::fs::read_to_string(file).unwrap());
        let expect = text
            .lines()
            .find_map(|l| l.strip_prefix("# expect: "))
            .unwrap_or_else(|| panic!("{} has no '# expect:' line", file.display()));
        let check_stage = text.lines().any(|l| l.trim() == "# stage: check");
        let path = dir.join(file.file_name().unwrap());
        std::fs::write(&path, &text).unwrap();
        let result = stylelab_core::config::load(&path, &[]);
        let message = match (result, check_stage) {
            (Err(e), false) => e.to_string(),
            (Ok(exp), true) => match stylelab_engine::preflight::check(&exp) {
                Err(e) => e.to_string(),
                Ok(_) => "no error at check time".into(),
            },
            (Ok(_), false) => "no error at load time".into(),
            (Err(e), true) => format!("failed at load time, not check time: {e}"),
        };
        if !message.contains(expect) {
            failures.push(format!(
                "{}\n  expected: {expect}\n  got:      {message}",
                file.display()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn overrides_are_validated_and_named() {
    let tmp = tempfile::tempdir().unwrap();
    let path = common::tiny_experiment(tmp.path(), "o", "");
    let set = |s: &str| stylelab_core::config::Override::parse(s).unwrap();
    let err = stylelab_core::config::load(&path, &[set("loss.style_weight=\"heavy\"")])
        .unwrap_err()
        .to_string();
    assert!(
        err.ends_with("o.toml: --set loss.style_weight: invalid type: string \"heavy\", expected f64"),
        "{err}"
    );
    let err = stylelab_core::config::load(&path, &[set("loss.style_layers.relu7_1=1")])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("--set loss.style_layers.relu7_1: 'relu7_1' is not a VGG19 layer"),
        "{err}"
    );
    let exp = stylelab_core::config::load(&path, &[set("loss.style_weight=1e3"), set("optim.iterations=3")]).unwrap();
    assert_eq!((exp.style_weight, exp.iterations), (1e3, vec![3]));
    assert!(
        stylelab_core::config::Override::parse("nokey")
            .unwrap_err()
            .contains("expected KEY=VALUE")
    );
}
