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
    for steps in [1u64, 2, 3, 6, 40] {
        let sets = [stylelab_core::config::Override::parse(&format!("optim.iterations={steps}")).unwrap()];
        let exp = stylelab_core::config::parse(std::path::Path::new("m.toml"), text, &sets).unwrap();
        let pairs = lbfgs_pairs(exp.history, steps);
        // The estimate's image and optimizer part: x, its gradient, the
        // trial, the kept copy, d, the gradient before, q/r, scratch, and
        // s and y per pair.
        let est = estimate(&exp, 451, 300, Target::Cpu);
        let image_mib = n as f64 * 4.0 / MIB;
        let counted = est.scales[0].optimizer_mib / image_mib;
        assert!(
            (counted - (8.0 + 2.0 * pairs as f64)).abs() < 1e-9,
            "{steps} steps: {counted}"
        );
        for form in [Form::TwoLoop, Form::Compact] {
            // A bowl that no step finishes: every step adds a pair.
            let a = Tensor::linspace(1.0, 1e4, n, (Kind::Float, Device::Cpu)).reshape([1, 3, h as i64, w as i64]);
            let mut bowl = Bowl { c: a.ones_like(), a };
            let mut x = Tensor::zeros([1, 3, h as i64, w as i64], (Kind::Float, Device::Cpu));
            let mut opt = Lbfgs::with_form(1.0, pairs.max(1), form);
            let eval = bowl.evaluate(&x).unwrap();
            let mut cur = observe(&bowl, eval, &[]).unwrap().0;
            for _ in 0..steps {
                cur = opt.step(&mut bowl, &mut x, cur).unwrap().point();
            }
            assert_eq!(opt.allocated_pairs(), pairs, "{form} after {steps} steps");
        }
    }
}
