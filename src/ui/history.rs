//! A bounded, downsampled loss history: whatever the run's length, at most
//! `cap` points per series are kept, so a 100 000-step run draws as fast as
//! a 100-step one. When full, every other point is dropped and the stride
//! between kept steps doubles; the newest row is always kept apart.
//!
//! Reading side, dashboard only: the Live and Compare views push each metrics row the
//! follower reads from a run folder and asks for chart points when the
//! state is updated, never while drawing.

use stylelab_core::record::StepMetrics;

/// Points kept per chart series, in Live and in Compare.
pub const HISTORY_POINTS: usize = 1024;

/// One run's loss curves for the dashboard: kept steps, their values, and
/// the newest row.
#[derive(Debug, Clone)]
pub struct History {
    /// Most kept steps before the stride doubles (at least 4).
    cap: usize,
    /// Only steps that are multiples of this are kept; a power of two.
    stride: u64,
    /// Kept steps.
    pub iters: Vec<u64>,
    /// One vector of values per kept step: total, content, style, tv, then
    /// the per-layer columns.
    pub rows: Vec<Vec<f64>>,
    /// The newest row, kept even between strides.
    pub latest: Option<(u64, Vec<f64>)>,
}

/// The values a history keeps from a metrics row: total, content, style, tv,
/// then the per-layer losses. A column index into this is what
/// [`History::log_points`] takes.
pub fn values(row: &StepMetrics) -> Vec<f64> {
    let mut v = vec![row.total, row.content, row.style, row.tv];
    v.extend(&row.layers);
    v
}

impl History {
    /// An empty history keeping at most `cap` steps (raised to 4 if smaller).
    pub fn new(cap: usize) -> Self {
        History {
            cap: cap.max(4),
            stride: 1,
            iters: Vec::new(),
            rows: Vec::new(),
            latest: None,
        }
    }

    /// Adds a row. It is kept if its step is a multiple of the stride, and
    /// always becomes `latest`. Rows are expected in increasing step order.
    pub fn push(&mut self, row: &StepMetrics) {
        let v = values(row);
        if row.iter.is_multiple_of(self.stride) {
            self.iters.push(row.iter);
            self.rows.push(v.clone());
            if self.iters.len() > self.cap {
                self.stride *= 2;
                let keep: Vec<bool> = self.iters.iter().map(|i| i.is_multiple_of(self.stride)).collect();
                let mut k = keep.iter();
                self.iters.retain(|_| *k.next().expect("same length"));
                let mut k = keep.iter();
                self.rows.retain(|_| *k.next().expect("same length"));
            }
        }
        self.latest = Some((row.iter, v));
    }

    /// Kept steps, not counting `latest`.
    pub fn len(&self) -> usize {
        self.iters.len()
    }

    /// Whether no row has been pushed at all (unlike `len`, this counts `latest`).
    pub fn is_empty(&self) -> bool {
        self.iters.is_empty() && self.latest.is_none()
    }

    /// (step, log10 value) points of column `col`, newest row included;
    /// non-positive values (log undefined) are skipped.
    ///
    /// Non-finite values and a `col` past a row's end are skipped too. The
    /// newest row is added only when it is newer than the last kept step, so
    /// steps strictly increase.
    pub fn log_points(&self, col: usize) -> Vec<(f64, f64)> {
        let mut pts: Vec<(f64, f64)> = self
            .iters
            .iter()
            .zip(&self.rows)
            .filter_map(|(&i, v)| {
                v.get(col)
                    .filter(|x| **x > 0.0 && x.is_finite())
                    .map(|x| (i as f64, x.log10()))
            })
            .collect();
        if let Some((i, v)) = &self.latest
            && pts.last().is_none_or(|p| p.0 < *i as f64)
            && let Some(x) = v.get(col).filter(|x| **x > 0.0 && x.is_finite())
        {
            pts.push((*i as f64, x.log10()));
        }
        pts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(iter: u64, total: f64) -> StepMetrics {
        StepMetrics {
            iter,
            evals: iter,
            elapsed_s: 0.0,
            total,
            content: 0.0,
            style: total / 2.0,
            tv: 1.0,
            layers: vec![],
            content_weight: 1.0,
            style_weight: 1.0,
            tv_weight: 1.0,
            width: 0,
            height: 0,
        }
    }

    #[test]
    fn a_long_run_stays_bounded_and_spans_the_whole_range() {
        let mut h = History::new(256);
        for i in 0..100_000 {
            h.push(&row(i, 1e6 / (i + 1) as f64));
        }
        assert!(h.len() <= 256 && h.len() > 128, "{}", h.len());
        assert_eq!(h.iters[0], 0);
        let pts = h.log_points(0);
        assert_eq!(pts.last().unwrap().0, 99_999.0, "the newest row is always drawn");
        assert!(pts.windows(2).all(|w| w[0].0 < w[1].0));
        // content = 0 is skipped on a log axis.
        assert!(h.log_points(1).is_empty());
    }
}
