//! # Lesson l2-10: waiting on several channels at once with `select!`
//!
//! Replaces a Node worker with several `on('message')` listeners plus a `setInterval` and a
//! `setTimeout`: Node's event loop waits on all of them at once. A Rust thread has no event
//! loop, so it waits explicitly, on exactly the sources it names, with
//! `crossbeam_channel::select!`, where timers are channels too: `tick` (an interval), `at`
//! and `after` (one-shot deadlines). `select!` runs the arm of whichever is ready first.
//!
//! Shows: a monitor thread whose `select!` waits on two input channels, a `tick` heartbeat and
//! an idle deadline; the main thread waiting for the monitor's reports with `select!`'s
//! `default(timeout)` arm, so that no wait is endless; the monitor ending when its inputs close.
//!
//! Run: `cargo run --release --example l2-10-select-timeouts-and-ticks`
//!
//! Expect: the monitor's words and its idle report, then `result: monitor handled 5 numbers
//! (sum 14) and 3 words, went idle, ticked N times`. N depends on timing and is not checked.

use anyhow::{Context, anyhow, bail};
use crossbeam_channel::{Receiver, Sender, select};
use std::thread;
use std::time::{Duration, Instant};

/// The monitor's heartbeat, and how long without input before it reports itself idle.
const TICK: Duration = Duration::from_millis(20);
const IDLE: Duration = Duration::from_millis(100);
/// How long the main thread waits for any one message before it calls the run a failure.
/// Only a bug reaches it; it never decides an outcome.
const WAIT: Duration = Duration::from_secs(10);

fn main() -> anyhow::Result<()> {
    let (number_tx, numbers) = crossbeam_channel::unbounded::<i64>();
    let (word_tx, words) = crossbeam_channel::unbounded::<String>();
    let (idle_tx, idle_reports) = crossbeam_channel::unbounded::<usize>();
    let monitor = thread::Builder::new()
        .name("monitor".to_owned())
        .spawn(move || monitor(numbers, words, idle_tx))
        .context("could not spawn the monitor")?;

    let sent_numbers = [3, 1, 4, 1, 5];
    let sent_words = ["alpha", "beta", "gamma"];
    for n in sent_numbers {
        number_tx
            .send(n)
            .map_err(|_| anyhow!("the monitor is gone"))?;
    }
    for word in sent_words {
        word_tx
            .send(word.to_owned())
            .map_err(|_| anyhow!("the monitor is gone"))?;
    }
    // Wait until the monitor reports idle with every input handled. (It may report idle
    // earlier too, if this thread is slow to send.)
    let inputs = sent_numbers.len() + sent_words.len();
    while next(&idle_reports, "idle report")? < inputs {}
    println!("[main] the monitor is idle with all {inputs} inputs handled");

    drop((number_tx, word_tx)); // a closed input ends the monitor
    let seen = monitor
        .join()
        .map_err(|_| anyhow!("the monitor panicked"))?;

    assert_eq!(seen.numbers, sent_numbers.len());
    assert_eq!(seen.sum, sent_numbers.iter().sum::<i64>());
    assert_eq!(seen.words, sent_words);
    assert!(seen.idle_reports >= 1, "main waited for an idle report");
    println!(
        "result: monitor handled {} numbers (sum {}) and {} words, went idle, ticked {} times",
        seen.numbers,
        seen.sum,
        seen.words.len(),
        seen.ticks
    );
    Ok(())
}

/// What the monitor did.
#[derive(Debug, Default)]
struct Seen {
    numbers: usize,
    sum: i64,
    words: Vec<String>,
    ticks: u32,
    idle_reports: u32,
}

/// The monitor: two inputs, a heartbeat and an idle deadline, in one `select!`. Reports to
/// `idle_reports` how many inputs it had handled each time it goes idle.
fn monitor(numbers: Receiver<i64>, words: Receiver<String>, idle_reports: Sender<usize>) -> Seen {
    let mut seen = Seen::default();
    // `tick` is a channel that delivers the time every `TICK`: a `setInterval`.
    let heartbeat = crossbeam_channel::tick(TICK);
    let mut idle_at = Instant::now() + IDLE;
    loop {
        // The idle timeout is a deadline, not a `default(IDLE)` arm: `default(IDLE)` fires
        // only if *nothing* is ready for `IDLE`, and the heartbeat is ready every `TICK`, so
        // it would never fire. `at` fires once, at the deadline, which only input moves.
        let idle = crossbeam_channel::at(idle_at);
        select! {
            recv(numbers) -> n => {
                let Ok(n) = n else { break }; // the input was closed
                seen.numbers += 1;
                seen.sum += n;
                idle_at = Instant::now() + IDLE;
            }
            recv(words) -> word => {
                let Ok(word) = word else { break };
                println!("[monitor] word {word:?}");
                seen.words.push(word);
                idle_at = Instant::now() + IDLE;
            }
            recv(heartbeat) -> _ => seen.ticks += 1,
            recv(idle) -> _ => {
                seen.idle_reports += 1;
                let handled = seen.numbers + seen.words.len();
                println!("[monitor] idle for {IDLE:?} after {handled} inputs");
                if idle_reports.send(handled).is_err() {
                    break;
                }
                idle_at = Instant::now() + IDLE;
            }
        }
    }
    println!(
        "[monitor] leaving after {} ticks and {} idle reports",
        seen.ticks, seen.idle_reports
    );
    seen
}

/// Receives one message, or fails after `WAIT`: `select!` with one channel and a
/// `default(timeout)` arm is `recv_timeout`, and the same arm works with any number of them.
fn next<T>(rx: &Receiver<T>, what: &str) -> anyhow::Result<T> {
    select! {
        recv(rx) -> msg => msg.map_err(|_| anyhow!("every sender of {what} is gone")),
        default(WAIT) => bail!("no {what} within {WAIT:?}"),
    }
}
