//! Adam (Kingma & Ba) on one tensor, with bias correction.

use super::{Evaluation, Objective, StepOutcome};
use tch::{TchError, Tensor};

pub struct Adam {
    lr: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    t: i32,
    m: Option<Tensor>,
    v: Option<Tensor>,
}

impl Adam {
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

    pub fn step<O: Objective>(
        &mut self,
        objective: &mut O,
        x: &mut Tensor,
        current: Evaluation<O::Info>,
    ) -> Result<StepOutcome<O::Info>, TchError> {
        let _guard = tch::no_grad_guard();
        let g = &current.grad;
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
        Ok(StepOutcome::Moved(objective.evaluate(x)?))
    }
}
