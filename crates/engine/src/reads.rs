//! Every read from the device to the host goes through [`read`], and is
//! counted. On CUDA a read waits for every kernel queued before it, so the
//! number of reads per step, not their size, is what stalls a GPU: the
//! optimizers batch everything one evaluation needs — the loss parts, the
//! gradient's size, the directional derivatives — into one read. The
//! count goes into each run's summary (`host_reads_per_step`) and the
//! benchmark.

use std::cell::Cell;
use tch::{Device, Kind, TchError, Tensor};

thread_local! {
    /// Reads made by this thread: the engine owns its tensors on one thread,
    /// so this is the run's count (and tests running side by side do not mix).
    static READS: Cell<u64> = const { Cell::new(0) };
}

/// Reads the numbers of several device tensors with one copy to the host:
/// each is flattened and converted to f64, and they come back concatenated
/// in order.
pub fn read(parts: &[&Tensor]) -> Result<Vec<f64>, TchError> {
    let flat = parts
        .iter()
        .map(|t| t.f_to_kind(Kind::Double)?.f_reshape([-1]))
        .collect::<Result<Vec<_>, _>>()?;
    let all = Tensor::f_cat(&flat, 0)?;
    count_one();
    let host = all.f_to_device(Device::Cpu)?;
    Vec::<f64>::try_from(&host)
}

/// Counts one read made elsewhere (an image copied back for a snapshot).
pub fn count_one() {
    READS.with(|r| r.set(r.get() + 1));
}

/// Reads counted so far on this thread.
pub fn count() -> u64 {
    READS.with(Cell::get)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_read_brings_several_tensors_back_in_order() {
        let before = count();
        let a = Tensor::from_slice(&[1.0f32, 2.0]);
        let b = Tensor::from(3.5f64);
        let c = Tensor::from_slice(&[4i64]);
        assert_eq!(read(&[&a, &b, &c]).unwrap(), vec![1.0, 2.0, 3.5, 4.0]);
        assert_eq!(count(), before + 1);
    }
}
