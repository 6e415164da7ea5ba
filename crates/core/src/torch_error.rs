//! libtorch's errors made readable. Its messages carry a C++ backtrace of
//! dozens of frames; a user sees one line of cause (and advice when memory
//! ran out), and the whole text goes to the run folder's `debug.log`.
//!
//! tch's infallible methods panic on a libtorch error. Inside the engine
//! such a panic is caught and ends the run as `failed`; [`catch`] keeps the
//! panic hook from printing it (with its backtrace) on the terminal.

use std::cell::{Cell, RefCell};

/// The first line of a libtorch error without its prefix, and for running
/// out of memory what to change.
pub fn summarize(text: &str) -> String {
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or(text).trim();
    let first = first
        .strip_prefix("Internal torch error:")
        .unwrap_or(first)
        .trim()
        .to_string();
    if is_out_of_memory(text) {
        format!(
            "out of memory ({first}); `stylelab check` estimates what a run needs: try a smaller images.size, a \
             smaller optim.history, adam, or a multi-scale schedule that ends at the size you want"
        )
    } else {
        first
    }
}

/// Whether a libtorch error says memory ran out (CPU or CUDA).
pub fn is_out_of_memory(text: &str) -> bool {
    text.contains("out of memory") || text.contains("can't allocate memory")
}

/// The whole text when it says more than [`summarize`] shows (a backtrace,
/// further lines); None for a one-line message.
pub fn detail(text: &str) -> Option<String> {
    (text.trim().lines().count() > 1).then(|| text.to_string())
}

thread_local! {
    /// Set while [`catch`] runs its closure on this thread.
    static CATCHING: Cell<bool> = const { Cell::new(false) };
    /// The message and place of the last panic caught on this thread.
    static CAUGHT: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// A panic that [`catch`] stopped: its message, whole.
#[derive(Debug)]
pub struct Caught(pub String);

impl Caught {
    /// One line of what went wrong.
    pub fn summary(&self) -> String {
        format!("internal error: {}", summarize(&self.0))
    }
}

/// Runs `f`; a panic inside it becomes `Err` without being printed.
pub fn catch<R>(f: impl FnOnce() -> R) -> Result<R, Caught> {
    let was = CATCHING.with(|c| c.replace(true));
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    CATCHING.with(|c| c.set(was));
    outcome.map_err(|payload| {
        let text = CAUGHT
            .with(|c| c.borrow_mut().take())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "unknown panic".into());
        Caught(text)
    })
}

/// Installs a panic hook that stays quiet inside [`catch`] (keeping the
/// message for it) and otherwise prints as Rust's default hook does.
pub fn install_panic_hook() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if CATCHING.with(Cell::get) {
            let message = info
                .payload()
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| info.payload().downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".into());
            let place = info.location().map(|l| format!(" (at {l})")).unwrap_or_default();
            CAUGHT.with(|c| *c.borrow_mut() = Some(format!("{message}{place}")));
        } else {
            default(info);
        }
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_caught_panic_is_returned_not_printed() {
        install_panic_hook();
        let caught = catch(|| -> u32 { panic!("boom\nframe #0: somewhere") }).expect_err("it panicked");
        assert!(caught.0.starts_with("boom\nframe #0"), "{}", caught.0);
        assert_eq!(caught.summary(), "internal error: boom");
        assert_eq!(catch(|| 7).expect("no panic"), 7);
    }
}
