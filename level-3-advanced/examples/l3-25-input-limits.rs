//! # Lesson l3-25: refusing oversized input before any work
//!
//! Replaces the Node course's `resourceLimits`, which caps a worker's heap: a Rust thread has
//! no memory cap, so a job that must not fill memory checks its input's size itself. Shows: a
//! typed error (`InputError::TooLarge`) before any work is done, and a reader capped with
//! `Read::take`, so that an endless input stream is cut off after the limit instead of filling
//! memory.
//!
//! Run: `cargo run --release --example l3-25-input-limits`
//!
//! Expect: each input's outcome, then `result: 2 oversized inputs refused before any work; a
//! stream of exactly 65536 bytes accepted`.

use std::io::{self, Read};
use std::sync::atomic::{AtomicUsize, Ordering};
use thiserror::Error;

/// The largest input a job accepts.
const MAX_INPUT: usize = 64 * 1024;

fn main() -> anyhow::Result<()> {
    let small = b"the quick brown fox".as_slice();
    let words = count_words(small)?;
    println!("[main] {} bytes: {words} words", small.len());

    let started_before = WORK_STARTED.load(Ordering::Relaxed);
    let huge = vec![b'a'; 10 * 1024 * 1024];
    let too_large = count_words(&huge);
    let started_after = WORK_STARTED.load(Ordering::Relaxed);
    match &too_large {
        Err(e) => println!("[main] {} bytes: {e}", huge.len()),
        Ok(n) => println!(
            "[main] {} bytes: {n} words (should have been refused)",
            huge.len()
        ),
    }
    // `io::repeat` never ends. `read_to_end` on it would fill memory until the process died;
    // read through `take`, it stops one byte past the limit.
    let endless = read_limited(io::repeat(b'x'), MAX_INPUT);
    match &endless {
        Err(e) => println!("[main] an endless stream: {e}"),
        Ok(bytes) => println!("[main] an endless stream: {} bytes read", bytes.len()),
    }
    let exact = read_limited(io::repeat(b'x').take(MAX_INPUT as u64), MAX_INPUT)?;
    println!("[main] a stream of exactly {} bytes: accepted", exact.len());

    assert_eq!(words, 4);
    assert!(matches!(
        too_large,
        Err(InputError::TooLarge { len, max: MAX_INPUT }) if len == huge.len()
    ));
    assert_eq!(
        started_after, started_before,
        "no work started on the oversized input"
    );
    assert!(matches!(
        endless,
        Err(InputError::StreamTooLarge { max: MAX_INPUT })
    ));
    assert_eq!(exact.len(), MAX_INPUT);
    println!(
        "result: 2 oversized inputs refused before any work; a stream of exactly {} bytes \
         accepted",
        exact.len()
    );
    Ok(())
}

/// Why an input was refused. Checked before any work starts.
#[derive(Debug, Error)]
enum InputError {
    #[error("input of {len} bytes refused: the limit is {max} bytes")]
    TooLarge { len: usize, max: usize },
    #[error("input stream refused: it goes on past the limit of {max} bytes")]
    StreamTooLarge { max: usize },
    #[error("could not read the input")]
    Io(#[from] io::Error),
}

/// How many times a job's real work started: a refused input must leave it unchanged.
static WORK_STARTED: AtomicUsize = AtomicUsize::new(0);

/// An untrusted job's entry point: checks the size first, then works (counts the words).
fn count_words(input: &[u8]) -> Result<usize, InputError> {
    if input.len() > MAX_INPUT {
        return Err(InputError::TooLarge {
            len: input.len(),
            max: MAX_INPUT,
        });
    }
    WORK_STARTED.fetch_add(1, Ordering::Relaxed);
    Ok(input
        .split(|b| b.is_ascii_whitespace())
        .filter(|w| !w.is_empty())
        .count())
}

/// Reads at most `max` bytes from an untrusted stream. `take(max + 1)` reads one byte more
/// than allowed, which is how an input that is too long is told apart from one exactly at the
/// limit; an endless stream costs at most `max + 1` bytes of memory.
fn read_limited(reader: impl Read, max: usize) -> Result<Vec<u8>, InputError> {
    let mut buffer = Vec::new();
    reader.take(max as u64 + 1).read_to_end(&mut buffer)?;
    if buffer.len() > max {
        return Err(InputError::StreamTooLarge { max });
    }
    Ok(buffer)
}
