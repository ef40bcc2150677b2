//! # Project l3-p5: the hash cracker (core)
//!
//! **For learning only.** This finds a short lowercase password from its unsalted SHA-256
//! digest by trying every candidate, in parallel. It works only because SHA-256 is *fast*
//! (millions of hashes per second per core) and *unsalted* (the same password always gives
//! the same digest). Real password storage uses slow, salted hashes (argon2, bcrypt, scrypt)
//! precisely to defeat this: a salt makes every user's digest different, so nothing computed
//! for one user helps with the next, and a cost factor makes each guess take milliseconds
//! instead of nanoseconds, which turns this module's seconds into years.
//!
//! What it teaches is the shape of every parallel search:
//!
//! - **A keyspace with an index.** [`Keyspace`] numbers every candidate, shortest first and
//!   alphabetically within a length: `a` is 0, `z` is 25, `aa` is 26, and so on up to `z` × max
//!   length. [`Keyspace::candidate`] and [`Keyspace::index_of`] convert both ways (a
//!   bijection, tested), so the search can split plain integer ranges among threads.
//! - **Interleaved blocks.** The index range is cut into blocks of [`BLOCK`] candidates, and
//!   block `b` belongs to thread `b % threads`. The blocks are dealt out in *rounds*: round
//!   `r` is blocks `r * threads .. (r + 1) * threads`, one per thread. So every thread is
//!   always working near the same part of the keyspace, and a password `i` candidates in is
//!   found after about `i` hashes in total, whatever the thread count: the speedup is about
//!   the thread count (chunked ranges, one per thread, would find a password at the start of
//!   the second thread's chunk at once and one at the end of the first chunk last).
//! - **Early stop.** The thread that finds the password sets a shared `AtomicBool`; every
//!   thread checks it before each block, so no thread hashes more than one block after the
//!   flag is up. Node would `terminate()` the other workers; Rust threads stop by themselves.
//! - **A bounded lead, for a bound that holds under any scheduling.** A flag checked every
//!   block is not enough on its own: if the thread that owns the password is descheduled
//!   before it reaches it, the others can run through the rest of the keyspace meanwhile. So
//!   each thread publishes how many rounds it has finished, and a thread may start round `r`
//!   only once every other thread has finished round `r - MAX_LEAD_ROUNDS`; it sleeps on a
//!   futex (`atomic_wait`, Node's `Atomics.wait`) while one lags. The finder never finishes
//!   its round, so nobody gets more than [`MAX_LEAD_ROUNDS`] rounds past it. For a password
//!   at index `i` found with `t` threads, the candidates tried are then at most
//!
//!   ```text
//!   (i / BLOCK / t + MAX_LEAD_ROUNDS + 1) * t * BLOCK   <=   i + (MAX_LEAD_ROUNDS + 1) * t * BLOCK
//!   ```
//!
//!   for *every* interleaving of the threads, which is what the tests assert.
//!
//! ```
//! use level_3_advanced::projects::cracker::{Keyspace, Options, Target, crack};
//!
//! let target = Target::of_password("dog");
//! let keyspace = Keyspace::new(3)?;
//! let outcome = crack(&target, keyspace, &Options::with_threads(2))?;
//! let found = outcome.found.expect("dog is in the keyspace");
//! assert_eq!(found.password, "dog");
//! assert_eq!(Some(found.index), keyspace.index_of("dog"));
//! # Ok::<(), level_3_advanced::projects::cracker::CrackError>(())
//! ```

use crossbeam_utils::CachePadded;
use sha2::{Digest, Sha256};
use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};
use thiserror::Error;

/// The characters a password is made of, in index order.
pub const ALPHABET: &[u8; 26] = b"abcdefghijklmnopqrstuvwxyz";

/// The size of [`ALPHABET`], as the base of the index arithmetic.
const BASE: u64 = ALPHABET.len() as u64;

/// The longest password searched when nothing else is asked: 12,356,630 candidates, under a
/// second or two in a release build on the course's 2-core machine.
pub const DEFAULT_MAX_LEN: usize = 5;

/// The longest maximum length [`Keyspace::new`] accepts. 26^10 is about 1.4 × 10^14
/// candidates, which still fits the `u64` index with room to spare, and is already years of
/// work for this program.
pub const MAX_SUPPORTED_LEN: usize = 10;

/// The most threads [`crack`] starts. More than the machine has cores only adds switching.
pub const MAX_THREADS: usize = 256;

/// Candidates per block: each thread checks the stop flag once per block, so this is how many
/// hashes a thread may still do after another has found the password.
pub const BLOCK: u64 = 4096;

/// How many rounds a thread may get ahead of the slowest one. Large enough that a thread
/// almost never waits (the threads hash at the same speed), small enough that the early-stop
/// bound in the [module documentation](self) stays tight.
pub const MAX_LEAD_ROUNDS: u64 = 8;

/// What can go wrong before or during a search.
#[derive(Debug, Error)]
pub enum CrackError {
    /// A SHA-256 digest is 32 bytes, written as 64 hexadecimal digits.
    #[error("a SHA-256 hash is 64 hex digits, this one has {0}")]
    HashLength(usize),
    /// A character of the hash is not a hexadecimal digit.
    #[error(
        "a SHA-256 hash is made of hex digits (0-9, a-f), found {found:?} at position {position}"
    )]
    NotHex {
        /// Where it is, counting characters from 1.
        position: usize,
        /// The character.
        found: char,
    },
    /// The maximum length is outside `1..=MAX_SUPPORTED_LEN`.
    #[error("the maximum password length must be 1 to {MAX_SUPPORTED_LEN}, got {0}")]
    MaxLen(usize),
    /// A password to hash is not 1 to `max_len` letters `a`-`z`.
    #[error("the password {password:?} {reason}")]
    BadPassword {
        /// The password as given.
        password: String,
        /// What is wrong with it, to follow the password in a sentence.
        reason: String,
    },
    /// The thread count is outside `1..=MAX_THREADS`.
    #[error("the thread count must be 1 to {MAX_THREADS}, got {0}")]
    Threads(usize),
    /// The operating system refused to start a search thread.
    #[error("could not start search thread {thread}")]
    Spawn {
        /// Which thread.
        thread: usize,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// A search thread panicked (a bug in this module).
    #[error("search thread {thread} panicked: {message}")]
    Panicked {
        /// Which thread.
        thread: usize,
        /// The panic's message.
        message: String,
    },
}

/// A SHA-256 digest to find the password of.
///
/// ```
/// use level_3_advanced::projects::cracker::Target;
///
/// let target: Target = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824".parse()?;
/// assert_eq!(target, Target::of_password("hello"));
/// assert_eq!(target.to_string(), "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
/// assert!("2cf2".parse::<Target>().is_err());
/// # Ok::<(), level_3_advanced::projects::cracker::CrackError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Target([u8; 32]);

impl Target {
    /// Parses 64 hexadecimal digits, upper or lower case, surrounding whitespace ignored (as
    /// `sha256sum` output, with its file name removed, has none but a newline might).
    ///
    /// # Errors
    /// [`CrackError::HashLength`] for anything but 64 digits, [`CrackError::NotHex`] for a
    /// character that is not a hex digit.
    pub fn from_hex(hex: &str) -> Result<Self, CrackError> {
        let hex = hex.trim();
        let digits: Vec<char> = hex.chars().collect();
        // Report a bad character first: "hello" is better told "not hex" than "wrong length".
        for (position, &c) in digits.iter().enumerate() {
            if !c.is_ascii_hexdigit() {
                return Err(CrackError::NotHex {
                    position: position + 1,
                    found: c,
                });
            }
        }
        if digits.len() != 64 {
            return Err(CrackError::HashLength(digits.len()));
        }
        let mut bytes = [0u8; 32];
        for (byte, pair) in bytes.iter_mut().zip(digits.chunks_exact(2)) {
            // Both are hex digits: checked above.
            let high = pair[0].to_digit(16).unwrap_or(0);
            let low = pair[1].to_digit(16).unwrap_or(0);
            *byte = u8::try_from(high * 16 + low).unwrap_or(0);
        }
        Ok(Self(bytes))
    }

    /// The SHA-256 digest of `password`'s bytes (any text: it is the demo's way of making a
    /// target, not a check of the alphabet).
    pub fn of_password(password: &str) -> Self {
        Self(sha256(password.as_bytes()))
    }

    /// The 32 bytes of the digest.
    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl FromStr for Target {
    type Err = CrackError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_hex(s)
    }
}

impl fmt::Display for Target {
    /// The 64 lowercase hex digits, as `sha256sum` prints them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

/// The SHA-256 digest of `bytes`.
fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Every password of 1 to `max_len` letters `a`-`z`, numbered from 0: shortest first, then
/// alphabetically.
///
/// ```
/// use level_3_advanced::projects::cracker::Keyspace;
///
/// let keyspace = Keyspace::new(2)?;
/// assert_eq!(keyspace.size(), 26 + 26 * 26);
/// assert_eq!(keyspace.candidate(0).as_deref(), Some("a"));
/// assert_eq!(keyspace.candidate(26).as_deref(), Some("aa"));
/// assert_eq!(keyspace.candidate(701).as_deref(), Some("zz"));
/// assert_eq!(keyspace.candidate(702), None);
/// assert_eq!(keyspace.index_of("ab"), Some(27));
/// # Ok::<(), level_3_advanced::projects::cracker::CrackError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keyspace {
    max_len: usize,
}

impl Keyspace {
    /// The passwords of 1 to `max_len` letters.
    ///
    /// # Errors
    /// [`CrackError::MaxLen`] unless `1 <= max_len <= MAX_SUPPORTED_LEN`.
    pub fn new(max_len: usize) -> Result<Self, CrackError> {
        if (1..=MAX_SUPPORTED_LEN).contains(&max_len) {
            Ok(Self { max_len })
        } else {
            Err(CrackError::MaxLen(max_len))
        }
    }

    /// The longest password in the keyspace.
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// How many candidates there are: 26 + 26² + ... + 26^max_len.
    pub fn size(&self) -> u64 {
        Self::first_of_length(self.max_len + 1)
    }

    /// The index of the first password of `len` letters (`a`, `aa`, `aaa`, ...): the number
    /// of shorter ones.
    fn first_of_length(len: usize) -> u64 {
        (1..len).map(|l| BASE.pow(l as u32)).sum()
    }

    /// The candidate at `index`, or `None` past the end.
    pub fn candidate(&self, index: u64) -> Option<String> {
        let cursor = Cursor::at(*self, index)?;
        // Only ASCII letters are ever written into a cursor.
        Some(String::from_utf8_lossy(cursor.word()).into_owned())
    }

    /// The index of `word`, or `None` if it is not in this keyspace (empty, too long, or not
    /// made of `a`-`z`). The inverse of [`candidate`](Self::candidate).
    pub fn index_of(&self, word: &str) -> Option<u64> {
        let len = word.len();
        if len == 0 || len > self.max_len {
            return None;
        }
        let mut rank = 0u64;
        for byte in word.bytes() {
            if !byte.is_ascii_lowercase() {
                return None;
            }
            rank = rank * BASE + u64::from(byte - b'a');
        }
        Some(Self::first_of_length(len) + rank)
    }

    /// Checks that `password` is in this keyspace, saying why not if it is not: for a front
    /// end that hashes a password given on the command line, where a password that cannot be
    /// found should be an error at once, not a long search.
    ///
    /// # Errors
    /// [`CrackError::BadPassword`], with the reason.
    pub fn check_password(&self, password: &str) -> Result<(), CrackError> {
        let bad = |reason: String| CrackError::BadPassword {
            password: password.to_owned(),
            reason,
        };
        if password.is_empty() {
            return Err(bad("is empty: give 1 or more letters a-z".to_owned()));
        }
        if let Some(c) = password.chars().find(|c| !c.is_ascii_lowercase()) {
            return Err(bad(format!(
                "has {c:?}: only lowercase letters a-z are searched"
            )));
        }
        if password.len() > self.max_len {
            return Err(bad(format!(
                "has {} letters, more than the maximum length {} searched (raise --max-len)",
                password.len(),
                self.max_len
            )));
        }
        Ok(())
    }
}

/// One candidate, kept as bytes and advanced in place, so the search loop allocates nothing.
#[derive(Debug, Clone)]
struct Cursor {
    /// One byte more than the longest password: advancing past the keyspace's last word
    /// (which the search never hashes) must not overflow.
    letters: [u8; MAX_SUPPORTED_LEN + 1],
    len: usize,
}

impl Cursor {
    /// The candidate at `index`, or `None` past the end of `keyspace`.
    fn at(keyspace: Keyspace, index: u64) -> Option<Self> {
        if index >= keyspace.size() {
            return None;
        }
        let mut len = 1;
        while index >= Keyspace::first_of_length(len + 1) {
            len += 1;
        }
        let mut rank = index - Keyspace::first_of_length(len);
        let mut letters = [b'a'; MAX_SUPPORTED_LEN + 1];
        for slot in letters[..len].iter_mut().rev() {
            *slot = ALPHABET[(rank % BASE) as usize];
            rank /= BASE;
        }
        Some(Self { letters, len })
    }

    fn word(&self) -> &[u8] {
        &self.letters[..self.len]
    }

    /// Moves to the next index: like an odometer, `abz` becomes `aca`, and `zzz` becomes
    /// `aaaa`.
    fn advance(&mut self) {
        for slot in self.letters[..self.len].iter_mut().rev() {
            if *slot < b'z' {
                *slot += 1;
                return;
            }
            *slot = b'a';
        }
        // Every letter wrapped: the next word is one letter longer, all `a`.
        if self.len < self.letters.len() {
            self.letters[self.len] = b'a';
            self.len += 1;
        }
    }
}

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
            if sha256(cursor.word()) == self.target.0 {
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
    fn the_keyspace_sizes_add_up_the_lengths() {
        assert_eq!(Keyspace::new(1).unwrap().size(), 26);
        assert_eq!(Keyspace::new(3).unwrap().size(), 26 + 676 + 17_576);
        assert_eq!(Keyspace::new(5).unwrap().size(), 12_356_630);
    }

    #[test]
    fn a_maximum_length_outside_the_supported_range_is_refused() {
        assert!(matches!(Keyspace::new(0), Err(CrackError::MaxLen(0))));
        assert!(matches!(Keyspace::new(11), Err(CrackError::MaxLen(11))));
        assert!(Keyspace::new(MAX_SUPPORTED_LEN).is_ok());
    }

    #[test]
    fn the_cursor_advances_like_an_odometer() {
        let keyspace = Keyspace::new(4).unwrap();
        let mut cursor = Cursor::at(keyspace, keyspace.index_of("abz").unwrap()).unwrap();
        cursor.advance();
        assert_eq!(cursor.word(), b"aca");
        let mut cursor = Cursor::at(keyspace, keyspace.index_of("zzz").unwrap()).unwrap();
        cursor.advance();
        assert_eq!(cursor.word(), b"aaaa");
    }

    #[test]
    fn advancing_past_the_largest_keyspace_does_not_overflow() {
        let keyspace = Keyspace::new(MAX_SUPPORTED_LEN).unwrap();
        let mut cursor = Cursor::at(keyspace, keyspace.size() - 1).unwrap();
        assert_eq!(cursor.word(), [b'z'; MAX_SUPPORTED_LEN]);
        cursor.advance();
        assert_eq!(cursor.len, MAX_SUPPORTED_LEN + 1);
    }

    #[test]
    fn hex_parsing_accepts_upper_case_and_surrounding_whitespace() {
        let lower = Target::of_password("abc");
        let upper = format!("  {}\n", lower.to_string().to_uppercase());
        assert_eq!(Target::from_hex(&upper).unwrap(), lower);
    }

    #[test]
    fn malformed_hashes_say_what_is_wrong() {
        assert!(matches!(
            Target::from_hex("abc"),
            Err(CrackError::HashLength(3))
        ));
        assert!(matches!(
            Target::from_hex(""),
            Err(CrackError::HashLength(0))
        ));
        let with_g = format!("{}g", "0".repeat(63));
        assert!(matches!(
            Target::from_hex(&with_g),
            Err(CrackError::NotHex {
                position: 64,
                found: 'g'
            })
        ));
        let message = Target::from_hex("hello").unwrap_err().to_string();
        assert!(message.contains("hex digits"), "{message}");
    }

    #[test]
    fn passwords_outside_the_keyspace_are_refused_with_a_reason() {
        let keyspace = Keyspace::new(4).unwrap();
        assert!(keyspace.check_password("dog").is_ok());
        for bad in ["", "Dog", "d0g", "dogs!", "abcde"] {
            let error = keyspace.check_password(bad).unwrap_err();
            assert!(
                matches!(error, CrackError::BadPassword { .. }),
                "{bad:?}: {error}"
            );
        }
        let message = keyspace.check_password("abcde").unwrap_err().to_string();
        assert!(message.contains("--max-len"), "{message}");
    }

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
