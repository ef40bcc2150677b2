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
//!
//! # The code
//!
//! | file | holds |
//! |---|---|
//! | `keyspace.rs` | [`Keyspace`]: every candidate numbered, and the cursor the search advances in place |
//! | `target.rs` | [`Target`]: the digest to find, parsed from hex |
//! | `search.rs` | [`crack`]: the threads, the interleaved blocks, the early stop and the bounded lead |
//! | `distributed.rs` | [`crack_distributed`]: the same search as a timely dataflow over several processes |
//! | `launch.rs` | [`launch`]: process 0 starts, watches and reaps the other processes |
//! | `mod.rs` | [`CrackError`], and this tour |

mod distributed;
mod keyspace;
mod launch;
mod search;
mod target;

pub use distributed::{CONNECT_DEADLINE, Cluster, MAX_PROCESSES, crack_distributed};
pub use keyspace::{ALPHABET, DEFAULT_MAX_LEN, Keyspace, MAX_SUPPORTED_LEN};
pub use launch::{EXIT_DEADLINE, RUN_DEADLINE, launch, quiet_timely_network_panics};
pub use search::{BLOCK, Found, MAX_LEAD_ROUNDS, MAX_THREADS, Options, Outcome, crack};
pub use target::Target;

use thiserror::Error;

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
    /// The process count of a distributed search is outside `1..=MAX_PROCESSES`, or this
    /// process's number is not below it.
    #[error("process {index} of {processes}: the process count must be 1 to {MAX_PROCESSES}")]
    Processes {
        /// This process's number.
        index: usize,
        /// How many processes were given.
        processes: usize,
    },
    /// The processes of a distributed search could not connect to each other.
    #[error("process {process} could not connect to the others")]
    Network {
        /// Which process.
        process: usize,
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
