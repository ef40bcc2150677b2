//! # Lesson l1-10: just enough shared state: `Arc<Mutex<T>>`
//!
//! No Node equivalent for shared objects: Node workers share nothing but a
//! `SharedArrayBuffer`'s bytes, and have no built-in lock (one can be built from
//! `Atomics.wait`/`notify`, level 3). Rust threads may share any value; to *change* it from
//! several threads, wrap it in a `Mutex` (one thread at a time) and share the mutex through an
//! `Arc` (several owners).
//!
//! Shows: 4 workers each count the words of their own line *outside* the lock, then lock a
//! shared `Arc<Mutex<Totals>>` to add their counts. `lock()` waits for the mutex and returns a
//! guard; the guard derefs to the data; the mutex unlocks when the guard is dropped (at the end
//! of its block, or earlier with `drop(guard)`). Two numbers that must change together (lines
//! and words) need a lock: an atomic changes one number at a time (lesson l1-12).
//!
//! Run: `cargo run --example l1-10-shared-mutex`
//!
//! Expect: each worker's count and when it unlocked, then
//! `result: 4 lines, 29 words, counted by 4 threads into one Arc<Mutex<Totals>>`.

use anyhow::{Context, anyhow};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};

const LINES: [&str; 4] = [
    "the quick brown fox jumps over the lazy dog",
    "a mutex lets one thread at a time",
    "change the data it guards",
    "and the guard unlocks it when dropped",
];

fn main() -> anyhow::Result<()> {
    // `Arc` for several owners, `Mutex` for changing the value from several threads.
    let totals = Arc::new(Mutex::new(Totals::default()));

    let mut workers = Vec::new();
    for (i, line) in LINES.into_iter().enumerate() {
        workers.push(spawn_counter(i, line, Arc::clone(&totals))?);
    }
    for worker in workers {
        worker.join().map_err(|_| anyhow!("a counter panicked"))?;
    }

    // Every worker has been joined, so nobody else holds the lock: this `lock()` cannot wait.
    // It returns a `Result` because of poisoning (lesson l1-11); a temporary guard like this
    // one is dropped, and the mutex unlocked, at the end of the statement.
    let totals = totals
        .lock()
        .map_err(|_| anyhow!("a counter panicked while locked"))?
        .clone();
    println!("[main] totals: {totals:?}");

    let expected_words: usize = LINES
        .iter()
        .map(|line| line.split_whitespace().count())
        .sum();
    assert_eq!(
        totals,
        Totals {
            lines: 4,
            words: expected_words
        }
    );
    assert_eq!(expected_words, 29);
    println!(
        "result: {} lines, {} words, counted by 4 threads into one Arc<Mutex<Totals>>",
        totals.lines, totals.words
    );
    Ok(())
}

/// Two numbers that must agree: every line counted has its words counted too.
#[derive(Debug, Clone, Default, PartialEq)]
struct Totals {
    lines: usize,
    words: usize,
}

/// A worker: the slow part (counting) runs without the lock, so the workers really run in
/// parallel; the lock is held only for the two additions.
fn spawn_counter(
    i: usize,
    line: &'static str,
    totals: Arc<Mutex<Totals>>,
) -> anyhow::Result<JoinHandle<()>> {
    thread::Builder::new()
        .name(format!("counter-{i}"))
        .spawn(move || {
            let words = line.split_whitespace().count();
            {
                // Waits while another thread holds the lock. `expect`: a `lock()` fails only
                // if a thread panicked while holding it, and none of these can.
                let mut guard = totals.lock().expect("no counter panics while locked");
                // The guard derefs to `Totals`: both fields change under one lock, so no
                // thread can ever see a line counted without its words.
                guard.lines += 1;
                guard.words += words;
                // Locking `totals` again here, on this thread, would wait for this guard
                // forever: a deadlock. Keep a guard's block short and call nothing that locks.
            } // the guard is dropped here: the mutex is unlocked
            println!("[counter-{i}] added {words} words, and unlocked");
        })
        .context("could not spawn a counter")
}
