//! The parallel search, [`crack`]: threads that take interleaved blocks of the keyspace round
//! by round, stop at the next block once one finds the password, and never run more than
//! [`MAX_LEAD_ROUNDS`] rounds ahead of the slowest (the bound is in the
//! [module documentation](super)). It hashes with `target.rs` and walks `keyspace.rs`.

use super::CrackError;
use super::keyspace::{Cursor, Keyspace};
use super::target::{Target, sha256};
use crossbeam_utils::CachePadded;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// The most threads [`crack`] starts, the projects' common limit (its documentation says
/// why). More than the machine has cores only adds switching.
pub const MAX_THREADS: usize = crate::projects::cli::MAX_THREADS;

/// Candidates per block: each thread checks the stop flag once per block, so this is how many
/// hashes a thread may still do after another has found the password.
pub const BLOCK: u64 = 4096;

/// How many rounds a thread may get ahead of the slowest one. Large enough that a thread
/// almost never waits (the threads hash at the same speed), small enough that the early-stop
/// bound in the [module documentation](super) stays tight.
pub const MAX_LEAD_ROUNDS: u64 = 8;

/// How to search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// How many threads search (1 to [`MAX_THREADS`]).
    pub threads: usize,
    /// Whether each thread prints a line when it stops (`[cracker-1] found ...`).
    pub announce: bool,
}

impl Options {
    /// `threads` threads that print nothing.
    pub fn with_threads(threads: usize) -> Self {
        Self {
            threads,
            announce: false,
        }
    }
}

/// The password, once found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The password.
    pub password: String,
    /// Its index in the keyspace.
    pub index: u64,
    /// The thread that found it (0-based; its name is `cracker-N`).
    pub thread: usize,
}

/// What a search did.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The password, or `None` if no candidate has the target's digest.
    pub found: Option<Found>,
    /// Candidates hashed, all threads together.
    pub tried: u64,
    /// Candidates hashed by each thread, in thread order.
    pub tried_per_thread: Vec<u64>,
    /// How many candidates the keyspace has.
    pub keyspace: u64,
    /// How many threads searched.
    pub threads: usize,
    /// How long the search took, from before the threads started to after they all ended.
    pub elapsed: Duration,
}

impl Outcome {
    /// Hashes per second over the whole search, all threads together.
    pub fn hashes_per_second(&self) -> f64 {
        self.tried as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// What the search threads share.
struct Shared<'a> {
    target: &'a Target,
    keyspace: Keyspace,
    threads: u64,
    /// How many blocks the keyspace makes (the last may be short).
    blocks: u64,
    announce: bool,
    /// Up once the password is found, or a thread failed: every thread stops at its next
    /// block.
    stop: AtomicBool,
    found: OnceLock<Found>,
    /// Rounds each thread has finished; `u64::MAX` once it has stopped. Padded so that each
    /// thread's counter has a cache line of its own: they are written once a block, and read
    /// by everyone.
    progress: Vec<CachePadded<AtomicU64>>,
    /// Bumped after every change to `progress` or `stop`; threads that must wait for a
    /// laggard sleep on it (a futex: `Atomics.wait` in Node).
    changes: AtomicU32,
}

impl Shared<'_> {
    /// Wakes the threads waiting for a change (there are rarely any).
    fn announce_change(&self) {
        // Release: a thread woken by (or reading) the new value also sees the `progress` or
        // `stop` write made before it.
        self.changes.fetch_add(1, Ordering::Release);
        atomic_wait::wake_all(&self.changes);
    }

    /// Waits until thread `me` may start `round`: no thread is more than `MAX_LEAD_ROUNDS`
    /// behind it. Returns `false` if the search is to stop instead.
    fn may_start(&self, round: u64) -> bool {
        loop {
            // Read the change counter first: if anything changes after this read, the counter
            // moves on, and `wait` below returns at once instead of missing the wake-up.
            let seen = self.changes.load(Ordering::Acquire);
            // Acquire: a thread that has stopped stored `u64::MAX` after raising `stop`, so
            // seeing that `u64::MAX` here means the `stop` load below sees it raised.
            let slowest = self
                .progress
                .iter()
                .map(|p| p.load(Ordering::Acquire))
                .min()
                .unwrap_or(u64::MAX);
            if self.stop.load(Ordering::Acquire) {
                return false;
            }
            if slowest.saturating_add(MAX_LEAD_ROUNDS) >= round {
                return true;
            }
            atomic_wait::wait(&self.changes, seen);
        }
    }

    /// One thread's search: its blocks, round by round, until the keyspace ends or the stop
    /// flag is up. Returns how many candidates it hashed.
    fn search(&self, me: usize) -> u64 {
        // However this thread leaves, even by a panic, no one may wait for it afterwards.
        let _leaving = Leaving { shared: self, me };
        let mut tried = 0u64;
        let mut round = 0u64;
        loop {
            let block = round * self.threads + me as u64;
            if block >= self.blocks || !self.may_start(round) {
                break;
            }
            let start = block * BLOCK;
            let end = (start + BLOCK).min(self.keyspace.size());
            if self.search_block(me, start, end, &mut tried) {
                break;
            }
            round += 1;
            self.progress[me].store(round, Ordering::Release);
            self.announce_change();
        }
        tried
    }

    /// Hashes the candidates `start..end`; returns `true` if the password was among them.
    fn search_block(&self, me: usize, start: u64, end: u64, tried: &mut u64) -> bool {
        let Some(mut cursor) = Cursor::at(self.keyspace, start) else {
            return false;
        };
        for index in start..end {
            *tried += 1;
            if sha256(cursor.word()) == *self.target.bytes() {
                let password = String::from_utf8_lossy(cursor.word()).into_owned();
                if self.announce {
                    println!("[cracker-{me}] found it: {password:?} at index {index}");
                }
                let _ = self.found.set(Found {
                    password,
                    index,
                    thread: me,
                });
                // Release: a thread that sees the flag also sees `found` set.
                self.stop.store(true, Ordering::Release);
                return true;
            }
            cursor.advance();
        }
        false
    }
}

/// Retires a search thread when it leaves `search`: its progress becomes `u64::MAX`, so the
/// others never wait for it again; if it leaves by a panic, the whole search stops too.
struct Leaving<'s, 'a> {
    shared: &'s Shared<'a>,
    me: usize,
}

impl Drop for Leaving<'_, '_> {
    fn drop(&mut self) {
        if thread::panicking() {
            self.shared.stop.store(true, Ordering::Release);
        }
        self.shared.progress[self.me].store(u64::MAX, Ordering::Release);
        self.shared.announce_change();
    }
}

/// Searches `keyspace` for the password whose SHA-256 digest is `target`, with
/// `options.threads` threads (named `cracker-0`, `cracker-1`, ...), stopping them all as soon
/// as one finds it. Returns what was found and how much work it took; a `found` of `None`
/// means every candidate was tried.
///
/// # Errors
/// [`CrackError::Threads`] for a thread count outside `1..=MAX_THREADS`;
/// [`CrackError::Spawn`] if a thread cannot be started (the others are stopped first);
/// [`CrackError::Panicked`] if a search thread panicked.
pub fn crack(
    target: &Target,
    keyspace: Keyspace,
    options: &Options,
) -> Result<Outcome, CrackError> {
    let threads = options.threads;
    if !(1..=MAX_THREADS).contains(&threads) {
        return Err(CrackError::Threads(threads));
    }
    let shared = Shared {
        target,
        keyspace,
        threads: threads as u64,
        blocks: keyspace.size().div_ceil(BLOCK),
        announce: options.announce,
        stop: AtomicBool::new(false),
        found: OnceLock::new(),
        progress: (0..threads)
            .map(|_| CachePadded::new(AtomicU64::new(0)))
            .collect(),
        changes: AtomicU32::new(0),
    };
    let start = Instant::now();
    let tried_per_thread = thread::scope(|scope| {
        let mut handles = Vec::with_capacity(threads);
        for me in 0..threads {
            let shared = &shared;
            let spawned = thread::Builder::new()
                .name(format!("cracker-{me}"))
                .spawn_scoped(scope, move || {
                    let tried = shared.search(me);
                    if shared.announce {
                        println!("[cracker-{me}] stopping after {tried} candidates");
                    }
                    tried
                });
            match spawned {
                Ok(handle) => handles.push(handle),
                Err(source) => {
                    // Stop the threads already running before reporting the failure.
                    shared.stop.store(true, Ordering::Release);
                    shared.announce_change();
                    return Err(CrackError::Spawn { thread: me, source });
                }
            }
        }
        let mut tried = Vec::with_capacity(threads);
        for (thread, handle) in handles.into_iter().enumerate() {
            match handle.join() {
                Ok(count) => tried.push(count),
                Err(payload) => {
                    shared.stop.store(true, Ordering::Release);
                    shared.announce_change();
                    return Err(CrackError::Panicked {
                        thread,
                        message: shared::testing::panic_message(payload.as_ref()),
                    });
                }
            }
        }
        Ok(tried)
    })?;
    let elapsed = start.elapsed();
    Ok(Outcome {
        found: shared.found.into_inner(),
        tried: tried_per_thread.iter().sum(),
        tried_per_thread,
        keyspace: keyspace.size(),
        threads,
        elapsed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_count_of_zero_is_refused() {
        let keyspace = Keyspace::new(1).unwrap();
        let target = Target::of_password("a");
        assert!(matches!(
            crack(&target, keyspace, &Options::with_threads(0)),
            Err(CrackError::Threads(0))
        ));
        assert!(matches!(
            crack(&target, keyspace, &Options::with_threads(MAX_THREADS + 1)),
            Err(CrackError::Threads(_))
        ));
    }

    #[test]
    fn more_threads_than_blocks_still_finds_the_password() {
        let keyspace = Keyspace::new(2).unwrap();
        let outcome = crack(
            &Target::of_password("zz"),
            keyspace,
            &Options::with_threads(8),
        )
        .unwrap();
        assert_eq!(outcome.found.unwrap().password, "zz");
        assert_eq!(outcome.tried, keyspace.size());
    }
}
