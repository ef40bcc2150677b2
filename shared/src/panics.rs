//! One-line reports for the panics a lesson causes on purpose.
//!
//! Rust's default panic report takes a few lines, and with `RUST_BACKTRACE=1` (which the
//! course recommends while debugging) a backtrace of thirty lines or more follows it. For a
//! panic a lesson causes on purpose, that buries the lesson's own output under a report of
//! nothing wrong. [`quiet_hook`] installs a panic hook (lesson l1-13 shows how one is written)
//! that prints each panic on one line, with its thread, place and message, and no backtrace;
//! dropping the guard it returns puts Rust's default report back, so a panic nobody meant
//! still gets the full report.
//!
//! A hook runs for every panic of the process, on the panicking thread, before unwinding, and
//! it changes only what is printed: `join` and `catch_unwind` see the panic exactly as before.

use std::any::Any;
use std::panic::{self, PanicHookInfo};
use std::thread;

/// Installs the one-line panic hook until the returned guard is dropped.
///
/// ```
/// use shared::panics::quiet_hook;
///
/// let quiet = quiet_hook();
/// // Prints `[panic hook] thread '<unnamed>' panicked at ...: on purpose` and no backtrace.
/// let payload = std::thread::spawn(|| panic!("on purpose")).join().unwrap_err();
/// drop(quiet); // Rust's default report again, for any panic nobody meant
/// assert_eq!(shared::testing::panic_message(payload.as_ref()), "on purpose");
/// ```
#[must_use = "the hook is removed when this guard is dropped: bind it with `let _quiet = ...`"]
pub fn quiet_hook() -> QuietPanics {
    panic::set_hook(Box::new(|info: &PanicHookInfo<'_>| {
        let place = info
            .location()
            .map(|at| format!("{}:{}:{}", at.file(), at.line(), at.column()));
        eprintln!(
            "{}",
            one_line(thread::current().name(), place.as_deref(), info.payload())
        );
    }));
    QuietPanics { _private: () }
}

/// Keeps the one-line hook of [`quiet_hook`] installed; dropping it restores Rust's default
/// panic report (not any other hook installed before, which `quiet_hook` replaced).
#[derive(Debug)]
pub struct QuietPanics {
    _private: (),
}

impl Drop for QuietPanics {
    fn drop(&mut self) {
        // `take_hook` itself panics on a panicking thread; the process is then unwinding this
        // thread anyway, and the one-line hook may as well report what follows.
        if !thread::panicking() {
            drop(panic::take_hook());
        }
    }
}

/// The line the hook prints, e.g.
/// `[panic hook] thread 'crasher' panicked at src/main.rs:3:5: the disk is full`.
fn one_line(thread: Option<&str>, place: Option<&str>, payload: &(dyn Any + Send)) -> String {
    let thread = thread.unwrap_or("<unnamed>");
    let place = place.map(|p| format!(" at {p}")).unwrap_or_default();
    let message = crate::worker::panic_message(payload);
    format!("[panic hook] thread '{thread}' panicked{place}: {message}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_names_the_thread_the_place_and_the_message() {
        let literal: Box<dyn Any + Send> = Box::new("the disk is full");
        assert_eq!(
            one_line(Some("crasher"), Some("src/main.rs:3:5"), literal.as_ref()),
            "[panic hook] thread 'crasher' panicked at src/main.rs:3:5: the disk is full"
        );
        let formatted: Box<dyn Any + Send> = Box::new(format!("fib({}) overflows", 94));
        assert_eq!(
            one_line(None, None, formatted.as_ref()),
            "[panic hook] thread '<unnamed>' panicked: fib(94) overflows"
        );
        let other: Box<dyn Any + Send> = Box::new(7_u32);
        assert!(one_line(Some("t"), None, other.as_ref()).ends_with("not a string>"));
    }
}
