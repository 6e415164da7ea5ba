//! A small seeded generator (SplitMix64) for random weights and noise
//! images: the same numbers on every device and in every thread, unlike
//! libtorch's global generator.
//!
//! A leaf: `engine` draws the noise initial image from the run's seed and
//! `weights::random` draws seeded VGG19 weights for tests and benchmarks.

/// SplitMix64 state: the whole generator is one `u64`, so a seed fixes
/// every number that follows.
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// Any seed is fine, 0 included.
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    /// The next 64 random bits (Steele, Lea & Flood's SplitMix64 step).
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1), from the top 53 bits of one `next_u64`.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box–Muller), using two uniforms per value (the
    /// second Box–Muller output is discarded).
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.uniform();
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// `n` uniforms as `f32`. Rounding to `f32` can turn a value just below 1
    /// into 1.0, so the range is [0, 1].
    pub fn uniform_vec(&mut self, n: usize) -> Vec<f32> {
        (0..n).map(|_| self.uniform() as f32).collect()
    }

    /// `n` normals with mean 0 and standard deviation `std`, as `f32`.
    pub fn normal_vec(&mut self, n: usize, std: f64) -> Vec<f32> {
        (0..n).map(|_| (self.normal() * std) as f32).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normals_have_unit_variance_and_repeat() {
        let v = SplitMix64::new(5).normal_vec(20_000, 1.0);
        let mean = v.iter().map(|&x| x as f64).sum::<f64>() / v.len() as f64;
        let var = v.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / v.len() as f64;
        assert!(mean.abs() < 0.03 && (var - 1.0).abs() < 0.05, "mean {mean} var {var}");
        assert_eq!(SplitMix64::new(5).normal_vec(3, 1.0), v[..3]);
        assert!(
            SplitMix64::new(1)
                .uniform_vec(1000)
                .iter()
                .all(|&u| (0.0..1.0).contains(&u))
        );
    }
}
