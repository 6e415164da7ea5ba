//! Numbers and sizes as people read them, the same everywhere they are
//! printed: the console, the dashboard, `check`.

/// `1.23e4`-style short number: 4 significant digits; zero and non-finite
/// values as Rust prints them (`0`, `NaN`, `inf`).
pub fn short(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        format!("{v}")
    } else {
        format!("{v:.3e}")
    }
}

/// `12.3 GiB` or `850 MiB`.
pub fn mib_text(mib: f64) -> String {
    if mib >= 1024.0 {
        format!("{:.1} GiB", mib / 1024.0)
    } else {
        format!("{mib:.0} MiB")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_short() {
        assert_eq!(short(3.09e6), "3.090e6");
        assert_eq!(short(0.0), "0");
        assert_eq!(mib_text(850.0), "850 MiB");
        assert_eq!(mib_text(2560.0), "2.5 GiB");
    }
}
