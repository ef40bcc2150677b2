//! # Lesson l3-34: catching SIGTERM and SIGINT as channel messages
//!
//! Replaces the Node course's `process.on('SIGTERM', ...)` handler. Shows: the signal thread.
//! A signal handler may only do async-signal-safe things (no locks, no allocation, no
//! `println!`), so the safe pattern is to let the handler record the signal and a normal thread
//! act on it. New here: the `signal-hook` crate. `signal_hook::iterator::Signals` installs
//! handlers for the signals named, and its `forever()` is an iterator of the signals received,
//! on a thread of our own; each becomes a message on a channel, which `main` can wait on (and
//! `select!` on, beside its other work: lesson l3-35). The lesson raises the signals on itself
//! with `signal_hook::low_level::raise`, as `kill -TERM <pid>` or Ctrl-C would send them.
//!
//! Run: `cargo run --release --example l3-34-signals-to-channel`
//!
//! Expect: `[signals] received SIGTERM`, `[signals] received SIGINT`, then `result: SIGTERM and
//! SIGINT arrived as channel messages, in order; the signal thread ended on close`.

use anyhow::Context;
use crossbeam_channel::Receiver;
use shared::testing::{TIMEOUT, join_within};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::{Handle, Signals};
use signal_hook::low_level::{raise, signal_name};
use std::thread::{self, JoinHandle};

fn main() -> anyhow::Result<()> {
    // From here on, SIGTERM and SIGINT no longer end the process at once.
    let (signals, handle, thread) = watch_signals()?;
    println!("[main] raising SIGTERM on myself");
    raise(SIGTERM).context("could not raise SIGTERM")?;
    let first = signals
        .recv_timeout(TIMEOUT)
        .context("SIGTERM never arrived")?;
    println!(
        "[main] got {} from the channel",
        signal_name(first).unwrap_or("?")
    );
    println!("[main] raising SIGINT on myself (what Ctrl-C sends)");
    raise(SIGINT).context("could not raise SIGINT")?;
    let second = signals
        .recv_timeout(TIMEOUT)
        .context("SIGINT never arrived")?;
    println!(
        "[main] got {} from the channel",
        signal_name(second).unwrap_or("?")
    );
    // `close` ends the `forever` iterator: the signal thread returns.
    handle.close();
    join_within(thread, TIMEOUT, "the signal thread")
        .map_err(|_| anyhow::anyhow!("the signal thread panicked"))?;

    assert_eq!((first, second), (SIGTERM, SIGINT));
    assert!(signals.try_recv().is_err(), "one message per signal");
    println!(
        "result: SIGTERM and SIGINT arrived as channel messages, in order; the signal thread \
         ended on close"
    );
    Ok(())
}

/// The signal thread: every SIGTERM or SIGINT becomes a message on the returned channel. The
/// handlers are installed before this returns, so a signal raised afterwards is never lost.
fn watch_signals() -> anyhow::Result<(Receiver<i32>, Handle, JoinHandle<()>)> {
    let mut signals =
        Signals::new([SIGTERM, SIGINT]).context("could not install the signal handlers")?;
    let handle = signals.handle();
    let (tx, rx) = crossbeam_channel::unbounded();
    let thread = thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            for signal in signals.forever() {
                println!(
                    "[signals] received {}",
                    signal_name(signal).unwrap_or("a signal")
                );
                if tx.send(signal).is_err() {
                    break;
                }
            }
        })
        .context("could not spawn the signal thread")?;
    Ok((rx, handle, thread))
}
