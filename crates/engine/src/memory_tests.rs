//! The memory model counts what the optimizer allocates.

use crate::optim::{Evaluation, Form, Lbfgs, Objective, observe};
use stylelab_core::memory::{MIB, Target, estimate, lbfgs_pairs};
use tch::{Device, Kind, Tensor};

/// f(x) = Σ a·(x − c)², shaped like an image.
struct Bowl {
    a: Tensor,
    c: Tensor,
}

impl Objective for Bowl {
    fn evaluate(&mut self, x: &Tensor) -> Result<Evaluation, tch::TchError> {
        let d = x - &self.c;
        Ok(Evaluation {
            values: (&self.a * d.square()).sum(Kind::Double).reshape([1]),
            grad: &self.a * &d * 2.0,
        })
    }
    fn value(&self, values: &[f64]) -> f64 {
        values[0]
    }
}

#[test]
fn the_estimate_counts_the_history_the_optimizer_allocates() {
    let text = "[images]\ncontent = \"c.png\"\nstyle = \"s.png\"\nsize = 32\n[optim]\nhistory = 10\n";
    let (w, h) = (32u32, 21u32);
    let n = 3 * w as i64 * h as i64;
    for (steps, precondition) in [
        (1u64, "none"),
        (2, "spectral"),
        (3, "none"),
        (6, "spectral"),
        (40, "none"),
    ] {
        let sets = [
            stylelab_core::config::Override::parse(&format!("optim.iterations={steps}")).unwrap(),
            stylelab_core::config::Override::parse(&format!("optim.precondition=\"{precondition}\"")).unwrap(),
        ];
        let exp = stylelab_core::config::parse(std::path::Path::new("m.toml"), text, &sets).unwrap();
        let pairs = lbfgs_pairs(exp.history, steps);
        // The estimate's image and optimizer part: x, its gradient, the
        // trial, the kept copy, d, the gradient before, q/r, scratch, and
        // s and y per pair; preconditioned, d and g in z and the FFT's
        // half spectrum; kept in [0, 1] (the default), the clamped image
        // and its 1-byte mask, and the projection's free mask, moving
        // direction, projected point and the held values' 1-byte mask.
        let est = estimate(&exp, 451, 300, Target::Cpu);
        let image_mib = n as f64 * 4.0 / MIB;
        let counted = est.scales[0].optimizer_mib / image_mib;
        let spectral = if precondition == "spectral" { 3.0 } else { 0.0 };
        assert!(
            (counted - (8.0 + spectral + 2.0 * pairs as f64 + 4.5)).abs() < 1e-9,
            "{steps} steps, {precondition}: {counted}"
        );
        for (form, boxed) in [(Form::TwoLoop, false), (Form::Compact, false), (Form::TwoLoop, true)] {
            // A bowl that no step finishes: every step adds a pair (its
            // minimum inside [0, 1], for the projected L-BFGS).
            let a = Tensor::linspace(1.0, 1e4, n, (Kind::Float, Device::Cpu)).reshape([1, 3, h as i64, w as i64]);
            let mut bowl = Bowl {
                c: a.ones_like() * 0.5,
                a,
            };
            let mut x = Tensor::zeros([1, 3, h as i64, w as i64], (Kind::Float, Device::Cpu));
            let mut opt = Lbfgs::with_form(1.0, pairs.max(1), form)
                .with_precondition(exp.precondition)
                .with_box(boxed);
            let eval = bowl.evaluate(&x).unwrap();
            let mut cur = observe(&bowl, eval, &[]).unwrap().0;
            for _ in 0..steps {
                cur = opt.step(&mut bowl, &mut x, cur).unwrap().point();
            }
            assert_eq!(opt.allocated_pairs(), pairs, "{form} (box {boxed}) after {steps} steps");
        }
    }
}

/// The model's style targets are the bytes the objective holds, for every
/// statistic, with and without regions.
#[test]
fn the_estimate_counts_the_style_targets_the_objective_holds() {
    use crate::loss::{LossWeights, RegionStyles, StyleInputs, StyleObjective};
    use crate::vgg::Vgg19;
    use stylelab_core::config::{MemoryFormat, Pooling, Precision};
    let weights = crate::weights::VggWeights::random(2, "relu3_1".parse().unwrap());
    let (w, h) = (40i64, 28i64);
    let content = crate::imaging::noise(7, h, w);
    let style = crate::imaging::noise(8, 30, 36);
    // Region a: the left 3/5 of the image, b the rest.
    let labels = Tensor::arange(w, (Kind::Int64, Device::Cpu))
        .ge(w * 3 / 5)
        .to_kind(Kind::Int64)
        .view([1, w])
        .expand([h, w], false)
        .contiguous();
    for loss in ["gram", "mean_std", "histogram", "sliced_wasserstein"] {
        for regions in [false, true] {
            let images = if regions {
                "mask = \"m.png\"\n[regions.a]\ncolor = \"white\"\nstyle = \"s.png\"\n[regions.b]\ncolor = \"black\"\nstyle = \"s.png\"\n"
            } else {
                "style = \"s.png\"\n"
            };
            let text = format!(
                "[images]\ncontent = \"c.png\"\n{images}[loss]\nstyle_loss = \"{loss}\"\ncontent_layers = {{ relu2_2 = 1.0 }}\nstyle_layers = {{ relu1_1 = 1.0, relu2_1 = 1.0, relu3_1 = 1.0 }}\n"
            );
            let exp = stylelab_core::config::parse(std::path::Path::new("m.toml"), &text, &[]).unwrap();
            let styles = if regions {
                StyleInputs {
                    regions: ["a", "b"]
                        .iter()
                        .map(|n| RegionStyles {
                            name: Some(n.to_string()),
                            weight: 1.0,
                            styles: vec![(style.shallow_clone(), 1.0, None)],
                        })
                        .collect(),
                    labels: Some(labels.shallow_clone()),
                }
            } else {
                StyleInputs::everywhere(vec![(style.shallow_clone(), 1.0)])
            };
            let net = Vgg19::new(&weights, Pooling::Max, Device::Cpu, Precision::Fp32, MemoryFormat::Nchw);
            let weights = LossWeights {
                content: 1.0,
                style: 1.0,
                tv: 0.0,
            };
            let obj = StyleObjective::new(
                net,
                &content,
                &styles,
                &exp.content_layers,
                &exp.style_layers,
                weights,
                0,
                None,
                false,
            )
            .unwrap();
            let model = stylelab_core::memory::style_target_bytes(&exp, h as u32, w as u32);
            assert_eq!(obj.style_target_bytes() as f64, model, "{loss}, regions {regions}");
            assert!(model > 0.0);
        }
    }
}
