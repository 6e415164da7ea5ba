//! Optimizers over one tensor (the generated image): L-BFGS with a
//! strong-Wolfe line search, and Adam. Both keep their state on the device
//! and carry the evaluation at the current point from step to step, so one
//! step's row describes the image after that step.
//!
//! An [`Objective`] returns its value's parts and the gradient as device
//! tensors; nothing is read until the optimizer reads, once per evaluation,
//! everything it needs from it ([`observe`]): the objective's numbers, the
//! gradient's largest and summed magnitude, and whatever directional
//! derivatives the line search wants.

mod adam;
mod lbfgs;

pub use adam::Adam;
pub use lbfgs::{Form, Lbfgs, time_direction, time_projected_direction};

use super::reads;
use tch::{Kind, TchError, Tensor};

/// A function of the image with its gradient.
pub trait Objective {
    /// The gradient and the numbers to report at `x`, on the device.
    fn evaluate(&mut self, x: &Tensor) -> Result<Evaluation, TchError>;
    /// The function's value, from the numbers of [`Evaluation::values`].
    fn value(&self, values: &[f64]) -> f64;
}

/// What an objective computed at a point, on the device.
pub struct Evaluation {
    /// ∂f/∂x, shaped like x.
    pub grad: Tensor,
    /// The objective's numbers (a 1-d tensor): what [`Objective::value`]
    /// turns into the function's value, and what a run reports.
    pub values: Tensor,
}

impl Evaluation {
    /// Another handle on the same tensors, without copying them.
    pub fn shallow_clone(&self) -> Self {
        Evaluation {
            grad: self.grad.shallow_clone(),
            values: self.values.shallow_clone(),
        }
    }
}

/// An evaluation with its numbers read back: where a step starts and ends.
pub struct Point {
    /// The evaluation, still on the device.
    pub eval: Evaluation,
    /// [`Evaluation::values`] on the host.
    pub values: Vec<f64>,
    /// The function's value.
    pub loss: f64,
    /// max |∂f/∂x|.
    pub grad_max: f64,
    /// Σ |∂f/∂x|.
    pub grad_sum: f64,
}

impl Point {
    /// Another handle on the same evaluation tensors; the numbers are copied.
    pub fn shallow_clone(&self) -> Self {
        Point {
            eval: self.eval.shallow_clone(),
            values: self.values.clone(),
            loss: self.loss,
            grad_max: self.grad_max,
            grad_sum: self.grad_sum,
        }
    }
}

/// Reads an evaluation's numbers, and `extra` device scalars with them, in
/// one read. Returns the point and the extras' values.
pub fn observe<O: Objective + ?Sized>(
    objective: &O,
    eval: Evaluation,
    extra: &[&Tensor],
) -> Result<(Point, Vec<f64>), TchError> {
    // As the two-loop L-BFGS computed them (f32 sums), so runs repeat its numbers.
    let abs = eval.grad.f_abs()?;
    let grad_max = abs.f_max()?;
    let grad_sum = abs.f_sum(eval.grad.kind())?;
    let mut parts: Vec<&Tensor> = vec![&eval.values, &grad_max, &grad_sum];
    parts.extend_from_slice(extra);
    let mut all = reads::read(&parts)?;
    let n = eval.values.numel();
    let rest = all.split_off(n);
    let point = Point {
        loss: objective.value(&all),
        values: all,
        grad_max: rest[0],
        grad_sum: rest[1],
        eval,
    };
    Ok((point, rest[2..].to_vec()))
}

/// x·y over all elements, as a device scalar (f64).
pub(crate) fn dot(a: &Tensor, b: &Tensor) -> Result<Tensor, TchError> {
    a.f_reshape([-1])?.f_dot(&b.f_reshape([-1])?)?.f_to_kind(Kind::Double)
}

/// What one step did.
pub enum StepOutcome {
    /// Moved to a new point; the evaluation there.
    Moved(Point),
    /// At a minimum: the gradient vanished, or neither the loss nor the
    /// point changes measurably any more. The point did not change.
    Converged(Point),
    /// No step along the steepest descent lowered the loss, though the
    /// gradient is far from zero: the point did not change; why, in words.
    Stalled(Point, String),
}

impl StepOutcome {
    /// The point the step ended at.
    pub fn point(self) -> Point {
        match self {
            StepOutcome::Moved(p) | StepOutcome::Converged(p) | StepOutcome::Stalled(p, _) => p,
        }
    }
}

/// The optimizer a run uses.
// One a scale, made once and stepped in place: its size never moves.
#[allow(clippy::large_enum_variant)]
pub enum Optimizer {
    Adam(Adam),
    Lbfgs(Lbfgs),
}

impl Optimizer {
    /// One step from `x` (updated in place), whose evaluation is `current`.
    pub fn step<O: Objective>(
        &mut self,
        objective: &mut O,
        x: &mut Tensor,
        current: Point,
    ) -> Result<StepOutcome, TchError> {
        match self {
            Optimizer::Adam(a) => a.step(objective, x, current),
            Optimizer::Lbfgs(l) => l.step(objective, x, current),
        }
    }

    /// Forget curvature history: the objective changed (steering, rescaling).
    pub fn reset(&mut self) {
        if let Optimizer::Lbfgs(l) = self {
            l.reset();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    /// f(x) = Σ a_i (x_i − c_i)², in f64.
    struct Quadratic {
        a: Tensor,
        c: Tensor,
        evals: usize,
    }

    impl Objective for Quadratic {
        fn evaluate(&mut self, x: &Tensor) -> Result<Evaluation, TchError> {
            self.evals += 1;
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

    /// Rosenbrock in 2-D: (1 − x)² + 100 (y − x²)², minimum 0 at (1, 1).
    struct Rosenbrock;

    impl Objective for Rosenbrock {
        fn evaluate(&mut self, p: &Tensor) -> Result<Evaluation, TchError> {
            let (x, y) = (p.double_value(&[0]), p.double_value(&[1]));
            let loss = (1.0 - x).powi(2) + 100.0 * (y - x * x).powi(2);
            let gx = -2.0 * (1.0 - x) - 400.0 * x * (y - x * x);
            let gy = 200.0 * (y - x * x);
            Ok(Evaluation {
                values: Tensor::from_slice(&[loss]),
                grad: Tensor::from_slice(&[gx, gy]),
            })
        }
        fn value(&self, values: &[f64]) -> f64 {
            values[0]
        }
    }

    fn minimise<O: Objective>(opt: &mut Optimizer, obj: &mut O, x: &mut Tensor, steps: usize) -> f64 {
        let eval = obj.evaluate(x).unwrap();
        let mut cur = observe(obj, eval, &[]).unwrap().0;
        for _ in 0..steps {
            match opt.step(obj, x, cur).unwrap() {
                StepOutcome::Moved(e) => cur = e,
                StepOutcome::Converged(e) | StepOutcome::Stalled(e, _) => {
                    cur = e;
                    break;
                }
            }
        }
        cur.loss
    }

    #[test]
    fn lbfgs_solves_an_ill_conditioned_quadratic() {
        let opts = (Kind::Double, Device::Cpu);
        let a = Tensor::from_slice(&[1.0f64, 10.0, 100.0, 1000.0]);
        let c = Tensor::from_slice(&[1.0f64, -2.0, 3.0, -4.0]);
        let mut obj = Quadratic {
            a,
            c: c.shallow_clone(),
            evals: 0,
        };
        let mut x = Tensor::zeros([4], opts);
        let mut opt = Optimizer::Lbfgs(Lbfgs::new(1.0, 10));
        let loss = minimise(&mut opt, &mut obj, &mut x, 30);
        // It stops once gᵀd > −1e-9 (PyTorch's tolerance_change).
        assert!(loss < 1e-8, "loss {loss}");
        assert!(x.allclose(&c, 1e-4, 1e-4, false), "{x}");
        // A quasi-Newton method needs few evaluations on a 4-D quadratic.
        assert!(obj.evals < 40, "{} evaluations", obj.evals);
    }

    #[test]
    fn lbfgs_finds_the_rosenbrock_minimum() {
        let mut x = Tensor::from_slice(&[-1.5f64, 2.0]);
        let mut opt = Optimizer::Lbfgs(Lbfgs::new(1.0, 100));
        let loss = minimise(&mut opt, &mut Rosenbrock, &mut x, 200);
        assert!(loss < 1e-8, "loss {loss}");
        assert!(
            (x.double_value(&[0]) - 1.0).abs() < 1e-3 && (x.double_value(&[1]) - 1.0).abs() < 1e-3,
            "{x}"
        );
    }

    /// A quadratic on a large offset whose value carries deterministic
    /// "rounding noise" of ±`amplitude` (a hash of x), its gradient exact:
    /// what a bf16 loss looks like to the line search.
    struct NoisyQuadratic {
        inner: Quadratic,
        offset: f64,
        amplitude: f64,
    }

    impl Objective for NoisyQuadratic {
        fn evaluate(&mut self, x: &Tensor) -> Result<Evaluation, TchError> {
            let e = self.inner.evaluate(x)?;
            let h = (x.sum(Kind::Double).double_value(&[]) * 12_345.678).sin() * 43_758.545;
            let noise = self.amplitude * (2.0 * (h - h.floor()) - 1.0);
            Ok(Evaluation {
                values: e.values + self.offset + noise,
                grad: e.grad,
            })
        }
        fn value(&self, values: &[f64]) -> f64 {
            values[0]
        }
    }

    #[test]
    fn a_noisy_loss_stalls_the_strong_wolfe_search_but_not_the_approximate_one() {
        // Noise ±0.4 on a loss of ~1e4: 4e-5 of it, under bf16's 1e-4.
        let quadratic_left = |lbfgs: Lbfgs| {
            let n = 100;
            let opts = (Kind::Double, Device::Cpu);
            let c = Tensor::linspace(-1.0, 1.0, n, opts);
            let mut obj = NoisyQuadratic {
                inner: Quadratic {
                    a: Tensor::linspace(1.0, 10.0, n, opts),
                    c: c.shallow_clone(),
                    evals: 0,
                },
                offset: 1e4,
                amplitude: 0.4,
            };
            let mut x = Tensor::zeros([n], opts);
            minimise(&mut Optimizer::Lbfgs(lbfgs), &mut obj, &mut x, 60);
            let clean = obj.inner.evaluate(&x).unwrap().values.double_value(&[0]);
            (clean, obj.inner.evals)
        };
        let (strict, _) = quadratic_left(Lbfgs::new(1.0, 10));
        let (tolerant, evals) =
            quadratic_left(Lbfgs::new(1.0, 10).with_precision(stylelab_core::config::Precision::Bf16));
        assert!(strict > 1e-3, "the strict search got to {strict}");
        assert!(tolerant < 1e-6, "the noise-tolerant search got to {tolerant}");
        assert!(evals < 40, "{evals} evaluations");
    }

    #[test]
    fn adam_descends_a_quadratic() {
        let a = Tensor::from_slice(&[1.0f64, 2.0]);
        let c = Tensor::from_slice(&[0.5f64, -0.5]);
        let mut obj = Quadratic {
            a,
            c: c.shallow_clone(),
            evals: 0,
        };
        let mut x = Tensor::zeros([2], (Kind::Double, Device::Cpu));
        let eval = obj.evaluate(&x).unwrap();
        let start = observe(&obj, eval, &[]).unwrap().0.loss;
        let mut opt = Optimizer::Adam(Adam::new(0.05));
        let loss = minimise(&mut opt, &mut obj, &mut x, 300);
        assert!(loss < start * 1e-4, "loss {loss} from {start}");
        // One evaluation per step, plus `start` and minimise's first.
        assert_eq!(obj.evals, 302);
    }

    #[test]
    fn a_step_that_takes_its_first_trial_reads_the_device_once() {
        // A quadratic in 1000 dimensions, well conditioned: after a few
        // steps the line search accepts its first trial.
        let n = 1000;
        let a = Tensor::linspace(1.0, 3.0, n, (Kind::Double, Device::Cpu));
        let c = Tensor::linspace(-1.0, 1.0, n, (Kind::Double, Device::Cpu));
        let mut obj = Quadratic { a, c, evals: 0 };
        let mut x = Tensor::zeros([n], (Kind::Double, Device::Cpu));
        let mut opt = Optimizer::Lbfgs(Lbfgs::new(1.0, 10));
        let eval = obj.evaluate(&x).unwrap();
        let mut cur = observe(&obj, eval, &[]).unwrap().0;
        let mut one_read_steps = 0;
        for _ in 0..8 {
            let (reads_before, evals_before) = (reads::count(), obj.evals);
            cur = opt.step(&mut obj, &mut x, cur).unwrap().point();
            let (evals, reads) = ((obj.evals - evals_before) as u64, reads::count() - reads_before);
            assert_eq!(reads, evals, "one read per evaluation");
            one_read_steps += usize::from(evals == 1);
        }
        assert!(one_read_steps >= 3, "{one_read_steps} steps read once");
    }
}
