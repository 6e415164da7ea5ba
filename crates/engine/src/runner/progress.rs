//! Progress within an evaluation: a tiled one can take seconds to minutes
//! at print size, and the console and dashboard say how far it has got.
//! [`Reporting`] lends the objective to an optimizer with a sink to tell,
//! at most every [`EVERY`] (each tile would flood a fast run's sinks).

use crate::loss::StyleObjective;
use crate::optim::{Evaluation, Objective};
use std::time::{Duration, Instant};
use stylelab_core::events::{EvalProgress, RunEvent};
use stylelab_core::sinks::Sink;
use tch::{TchError, Tensor};

/// The least time between two progress events.
pub const EVERY: Duration = Duration::from_millis(500);

/// Lets something through at most once per `every`, counted from its
/// creation (an evaluation shorter than `every` says nothing).
#[derive(Debug)]
pub struct Throttle {
    every: Duration,
    last: Instant,
}

impl Throttle {
    /// Nothing let through before `now + every`.
    pub fn new(every: Duration, now: Instant) -> Self {
        Throttle { every, last: now }
    }

    /// Whether `now` may go through; if so, the next must wait `every`.
    pub fn due(&mut self, now: Instant) -> bool {
        let due = now.duration_since(self.last) >= self.every;
        if due {
            self.last = now;
        }
        due
    }
}

/// The objective with a sink to tell of each tile done, throttled: what an
/// optimizer's step evaluates through. A sink that cannot take a progress
/// event loses nothing: the next step's event tells the same sink again.
pub struct Reporting<'a> {
    pub objective: &'a mut StyleObjective,
    pub sink: &'a mut dyn Sink,
    /// Steps taken before the evaluations of this step.
    pub iter: u64,
    pub throttle: Throttle,
}

impl<'a> Reporting<'a> {
    /// Reports the evaluations after step `iter`, from now on.
    pub fn new(objective: &'a mut StyleObjective, sink: &'a mut dyn Sink, iter: u64) -> Self {
        Reporting {
            objective,
            sink,
            iter,
            throttle: Throttle::new(EVERY, Instant::now()),
        }
    }
}

impl Objective for Reporting<'_> {
    fn evaluate(&mut self, x: &Tensor) -> Result<Evaluation, TchError> {
        let Reporting {
            objective,
            sink,
            iter,
            throttle,
        } = self;
        objective.evaluate_with(x, &mut |pass, done, tiles| {
            if throttle.due(Instant::now()) {
                let p = EvalProgress {
                    iter: *iter,
                    pass,
                    done,
                    tiles,
                };
                let _ = sink.handle(&RunEvent::Evaluating(p));
            }
        })
    }

    fn value(&self, values: &[f64]) -> f64 {
        self.objective.value(values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_throttle_lets_one_through_per_period_counted_from_its_start() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut t = Throttle::new(ms(500), t0);
        assert!(!t.due(t0 + ms(100)), "too soon after the start");
        assert!(t.due(t0 + ms(500)));
        assert!(!t.due(t0 + ms(900)));
        assert!(t.due(t0 + ms(1000)));
        assert!(t.due(t0 + ms(2600)));
        assert!(!t.due(t0 + ms(3000)));
    }
}
