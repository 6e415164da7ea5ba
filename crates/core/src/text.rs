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

/// `1 step`, `2 steps`: a count and its noun, plural unless one.
pub fn count(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
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

/// A config value as people read it, the one number format of every
/// human-facing output (tables, labels, the dry-run; CSV and JSON keep the
/// value as written): a number in exponent form at or above 1e4 or below
/// 1e-3 (`800000000.0` → `8e8`, `0.0001` → `1e-4`), plainly otherwise and
/// without a bare `.0` (`1000.0` → `1000`, `0.5`). Exact: the shortest
/// form that reads back the same. Whole numbers written without a point
/// (a seed, a size) and other text unchanged.
pub fn compact_number(v: &str) -> String {
    if v.parse::<i64>().is_ok() {
        return v.to_string();
    }
    match v.parse::<f64>() {
        Ok(x) if x.is_finite() => number(x),
        _ => v.to_string(),
    }
}

/// An f64 in [`compact_number`]'s form.
pub fn number(x: f64) -> String {
    if x.abs() >= 1e4 || (x != 0.0 && x.abs() < 1e-3) {
        format!("{x:e}")
    } else {
        format!("{x}")
    }
}

/// Text from outside (a path, a key, a value, metadata, a claim, an
/// error that quotes any of them) made safe to print on a terminal: every
/// control character but newline and tab — ESC and the C1 controls that
/// start terminal sequences, carriage returns, bells — shown as its
/// escape (`\u{1b}`). The one rule for every printer; tables and other
/// one-line fields use [`crate::record::printable`], which escapes newlines too.
pub fn terminal_safe(text: &str) -> String {
    let bad = |c: char| c.is_control() && c != '\n' && c != '\t';
    if !text.chars().any(bad) {
        return text.to_string();
    }
    text.chars()
        .map(|c| {
            if bad(c) {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_text_keeps_lines_and_shows_escapes() {
        assert_eq!(terminal_safe("a\tb\nc"), "a\tb\nc");
        assert_eq!(
            terminal_safe("x\u{1b}]0;t\u{7}\r\u{9b}2J"),
            "x\\u{1b}]0;t\\u{7}\\r\\u{9b}2J"
        );
        assert!(!terminal_safe("\u{0}\u{1f}\u{7f}").chars().any(char::is_control));
    }

    #[test]
    fn config_numbers_read_compact_and_exact() {
        assert_eq!(compact_number("800000000.0"), "8e8");
        assert_eq!(compact_number("10000.0"), "1e4");
        assert_eq!(compact_number("2500.0"), "2500");
        assert_eq!(compact_number("1000.0"), "1000");
        assert_eq!(compact_number("0.5"), "0.5");
        assert_eq!(compact_number("0.0001"), "1e-4");
        assert_eq!(compact_number("0.00012345678"), "1.2345678e-4");
        assert_eq!(compact_number("100000"), "100000");
        assert_eq!(compact_number("gram"), "gram");
    }

    #[test]
    fn numbers_read_short() {
        assert_eq!(short(3.09e6), "3.090e6");
        assert_eq!(short(0.0), "0");
        assert_eq!(mib_text(850.0), "850 MiB");
        assert_eq!(mib_text(2560.0), "2.5 GiB");
    }
}
