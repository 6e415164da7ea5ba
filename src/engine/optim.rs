//! Optimizers over one tensor (the generated image): L-BFGS with a
//! strong-Wolfe line search, and Adam. Both carry the evaluation at the
//! current point from step to step, so one step's row describes the image
//! after that step.

mod adam;
mod lbfgs;

pub use adam::Adam;
pub use lbfgs::Lbfgs;

use tch::{TchError, Tensor};

/// A function of the image with its gradient.
pub trait Objective {
    /// Extra numbers reported with each evaluation (the loss breakdown).
    type Info: Clone;
    fn evaluate(&mut self, x: &Tensor) -> Result<Evaluation<Self::Info>, TchError>;
}

/// Value and gradient at a point.
pub struct Evaluation<I> {
    pub loss: f64,
    pub grad: Tensor,
    pub info: I,
}

impl<I: Clone> Evaluation<I> {
    pub fn shallow_clone(&self) -> Self {
        Evaluation {
            loss: self.loss,
            grad: self.grad.shallow_clone(),
            info: self.info.clone(),
        }
    }
}

/// What one step did.
pub enum StepOutcome<I> {
    /// Moved to a new point; the evaluation there.
    Moved(Evaluation<I>),
    /// No descent direction is left: the gradient vanished or the line
    /// search could not improve. The point did not change.
    Converged(Evaluation<I>),
}

/// The optimizer a run uses.
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
        current: Evaluation<O::Info>,
    ) -> Result<StepOutcome<O::Info>, TchError> {
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
        type Info = ();
        fn evaluate(&mut self, x: &Tensor) -> Result<Evaluation<()>, TchError> {
            self.evals += 1;
            let d = x - &self.c;
            let loss = (&self.a * d.square()).sum(Kind::Double).double_value(&[]);
            Ok(Evaluation {
                loss,
                grad: &self.a * &d * 2.0,
                info: (),
            })
        }
    }

    /// Rosenbrock in 2-D: (1 − x)² + 100 (y − x²)², minimum 0 at (1, 1).
    struct Rosenbrock;

    impl Objective for Rosenbrock {
        type Info = ();
        fn evaluate(&mut self, p: &Tensor) -> Result<Evaluation<()>, TchError> {
            let (x, y) = (p.double_value(&[0]), p.double_value(&[1]));
            let loss = (1.0 - x).powi(2) + 100.0 * (y - x * x).powi(2);
            let gx = -2.0 * (1.0 - x) - 400.0 * x * (y - x * x);
            let gy = 200.0 * (y - x * x);
            Ok(Evaluation {
                loss,
                grad: Tensor::from_slice(&[gx, gy]),
                info: (),
            })
        }
    }

    fn minimise<O: Objective>(opt: &mut Optimizer, obj: &mut O, x: &mut Tensor, steps: usize) -> f64 {
        let mut cur = obj.evaluate(x).unwrap();
        for _ in 0..steps {
            match opt.step(obj, x, cur).unwrap() {
                StepOutcome::Moved(e) => cur = e,
                StepOutcome::Converged(e) => {
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
        let start = obj.evaluate(&x).unwrap().loss;
        let mut opt = Optimizer::Adam(Adam::new(0.05));
        let loss = minimise(&mut opt, &mut obj, &mut x, 300);
        assert!(loss < start * 1e-4, "loss {loss} from {start}");
        // One evaluation per step, plus `start` and minimise's first.
        assert_eq!(obj.evals, 302);
    }
}
