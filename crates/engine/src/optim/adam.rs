//! Adam (Kingma & Ba) on one tensor, with bias correction. Its moments live
//! on the device; a step reads only what its new evaluation reports.

use super::{Objective, Point, StepOutcome, observe};
use tch::{TchError, Tensor};

/// Adam on one tensor (the image), as `torch.optim.Adam` without weight decay.
pub struct Adam {
    /// Step size.
    lr: f64,
    /// Decay of the first moment estimate.
    beta1: f64,
    /// Decay of the second moment estimate.
    beta2: f64,
    /// Added to √v̂ so the update never divides by zero.
    eps: f64,
    /// Steps taken, for the bias correction.
    t: i32,
    /// First and second moment estimates, shaped like the image.
    m: Option<Tensor>,
    v: Option<Tensor>,
}

impl Adam {
    /// Adam with step size `lr` and the usual β₁ = 0.9, β₂ = 0.999, ε = 1e-8.
    pub fn new(lr: f64) -> Self {
        Adam {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            t: 0,
            m: None,
            v: None,
        }
    }

    /// One update of `x` from the gradient at `current`, then one
    /// evaluation at the new point.
    pub fn step<O: Objective>(
        &mut self,
        objective: &mut O,
        x: &mut Tensor,
        current: Point,
    ) -> Result<StepOutcome, TchError> {
        let _guard = tch::no_grad_guard();
        let g = &current.eval.grad;
        self.t += 1;
        let m = match self.m.take() {
            Some(m) => m * self.beta1 + g * (1.0 - self.beta1),
            None => g * (1.0 - self.beta1),
        };
        let v = match self.v.take() {
            Some(v) => v * self.beta2 + g.square() * (1.0 - self.beta2),
            None => g.square() * (1.0 - self.beta2),
        };
        let m_hat_scale = 1.0 / (1.0 - self.beta1.powi(self.t));
        let v_hat_scale = 1.0 / (1.0 - self.beta2.powi(self.t));
        let update = (&m * m_hat_scale) / ((&v * v_hat_scale).sqrt() + self.eps) * self.lr;
        *x -= update;
        self.m = Some(m);
        self.v = Some(v);
        let eval = objective.evaluate(x)?;
        Ok(StepOutcome::Moved(observe(objective, eval, &[])?.0))
    }
}
