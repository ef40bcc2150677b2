//! # Lesson l3-04: synchronisation patterns
//!
//! Replaces the Node course's hand-built mutex, semaphore, barrier and read-write lock, each
//! made of `Atomics.wait`/`notify` over a `SharedArrayBuffer`. Several of those are unsound:
//! their constructors re-initialise the shared state, so every worker that builds one resets
//! the lock the others hold, and unlocking relies on `finally`. Rust's standard library has
//! the real thing, and a guard unlocks when it goes out of scope, also during a panic.
//!
//! Shows, each with its result checked:
//! 1. `Mutex`: 4 threads update a balance and its history together, one update at a time;
//! 2. `RwLock`: every reader inside the lock at once (proved with a `Barrier` that only opens
//!    when all of them are in), then readers and a writer, no reader ever seeing a half-made
//!    update;
//! 3. `Barrier`: a parallel prefix sum in phases, each phase reading what every thread wrote
//!    in the one before;
//! 4. a counting semaphore from `Mutex` + `Condvar` (std has none): 9 threads, 3 permits,
//!    3 inside at once and never more;
//! 5. `OnceLock`: 8 threads race to initialise one value; it is built exactly once;
//! 6. lock ordering: transfers in both directions between two accounts, each account behind
//!    its own `Mutex`, locked in one global order so that no two threads can wait on each
//!    other (the deadlock itself is lesson l2-06).
//!
//! Run: `cargo run --release --example l3-04-sync-patterns`
//!
//! Expect: a few lines per pattern, then `result: mutex 4000 updates, rwlock 4 readers at once
//! and 0 torn reads, barrier prefix sums ok, semaphore peak 3 of 3, OnceLock built 1 time for 8
//! threads, 20000 transfers with no deadlock and 2000 conserved`.

use anyhow::{Context, anyhow, bail};
use shared::testing::ConcurrencyProbe;
use shared::workload::fib;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Barrier, Condvar, Mutex, MutexGuard, OnceLock, PoisonError, RwLock};
use std::thread;

/// The name of the thread this runs on.
fn me() -> String {
    thread::current().name().unwrap_or("<unnamed>").to_owned()
}

/// Spawns `n` threads named `{name}-{i}` in scope `s`, each running `body(i)`. The scope joins
/// them when it ends, and a panic in one of them fails the program there.
fn run_threads<'scope, F>(s: &'scope thread::Scope<'scope, '_>, name: &str, n: usize, body: F)
where
    F: Fn(usize) + Send + Copy + 'scope,
{
    for i in 0..n {
        thread::Builder::new()
            .name(format!("{name}-{i}"))
            .spawn_scoped(s, move || body(i))
            .expect("could not spawn a thread");
    }
}

/// Part 1, `Mutex`: two fields that must change together. With separate atomics a reader could
/// see the new balance with the old history; under one lock, never.
fn mutex_account() -> (i64, usize) {
    #[derive(Debug, Default)]
    struct Account {
        balance: i64,
        history: Vec<i64>,
    }
    const THREADS: usize = 4;
    const DEPOSITS: usize = 1_000;
    let account = Mutex::new(Account::default());
    thread::scope(|s| {
        run_threads(s, "depositor", THREADS, |_| {
            for _ in 0..DEPOSITS {
                // The guard is the lock: it unlocks when dropped at the end of the loop body,
                // whatever happens inside (no `finally`). `unwrap_or_else` takes the
                // data even if another thread panicked while holding the lock (poisoning).
                let mut account = account.lock().unwrap_or_else(PoisonError::into_inner);
                account.balance += 1;
                account.history.push(1);
            }
        });
    });
    let account = account.into_inner().unwrap_or_else(PoisonError::into_inner);
    println!(
        "[main] balance {} after {} deposits recorded",
        account.balance,
        account.history.len()
    );
    (account.balance, account.history.len())
}

/// What `rwlock_config` saw.
#[derive(Debug)]
struct RwOutcome {
    readers_at_once: usize,
    reads: u64,
    torn: u64,
    final_version: u64,
}

/// Part 2, `RwLock`: a configuration many threads read and one thread updates.
fn rwlock_config() -> RwOutcome {
    /// Two fields that must agree: `doubled == version * 2` in every published state.
    #[derive(Debug)]
    struct Config {
        version: u64,
        doubled: u64,
    }
    const READERS: usize = 4;
    const UPDATES: u64 = 1_000;
    let config = RwLock::new(Config {
        version: 0,
        doubled: 0,
    });
    let probe = ConcurrencyProbe::new();
    let all_inside = Barrier::new(READERS);

    // Phase 1: every reader takes the read lock and then waits at a barrier that opens only
    // when all READERS are there, so they all hold the lock at the same time. With a mutex
    // (or a lock that let only one reader in) this would never finish. No writer runs yet: a
    // waiting writer would make std's lock turn new readers away, and the barrier would never
    // fill.
    thread::scope(|s| {
        run_threads(s, "reader", READERS, |_| {
            let _config = config.read().unwrap_or_else(PoisonError::into_inner);
            let _inside = probe.enter();
            all_inside.wait();
        });
    });
    println!("[main] {} readers held the read lock at once", probe.max());

    // Phase 2: the writer updates while the readers read. A writer holds the lock alone, so
    // a reader sees a whole update or none of it: never `doubled != version * 2`.
    let reads = AtomicU64::new(0);
    let torn = AtomicU64::new(0);
    let writer_done = AtomicBool::new(false);
    thread::scope(|s| {
        thread::Builder::new()
            .name("writer".into())
            .spawn_scoped(s, || {
                for _ in 0..UPDATES {
                    let mut config = config.write().unwrap_or_else(PoisonError::into_inner);
                    config.version += 1;
                    // Between these two lines the state is inconsistent; nobody can see it.
                    config.doubled = config.version * 2;
                }
                // Release: pairs with the readers' Acquire load, so a reader that sees `true`
                // has the writer's last unlock behind it, and its next read sees the final
                // version.
                writer_done.store(true, Ordering::Release);
                println!("[{}] made {UPDATES} updates", me());
            })
            .expect("could not spawn the writer");
        run_threads(s, "reader", READERS, |_| {
            let mut last = 0;
            loop {
                // Acquire: see the writer's Release store. Checked before the read, so the
                // last read comes after the final update.
                let done = writer_done.load(Ordering::Acquire);
                let config = config.read().unwrap_or_else(PoisonError::into_inner);
                // Relaxed: statistics, read after the scope joins the threads.
                reads.fetch_add(1, Ordering::Relaxed);
                if config.doubled != config.version * 2 || config.version < last {
                    torn.fetch_add(1, Ordering::Relaxed);
                }
                last = config.version;
                if done {
                    break;
                }
            }
        });
    });
    let final_version = config
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner)
        .version;
    let outcome = RwOutcome {
        readers_at_once: probe.max(),
        reads: reads.load(Ordering::Relaxed),
        torn: torn.load(Ordering::Relaxed),
        final_version,
    };
    println!(
        "[main] {} reads during {UPDATES} updates; {} saw a half-made update; final version {}",
        outcome.reads, outcome.torn, outcome.final_version
    );
    outcome
}

/// Part 3, `Barrier`: a prefix sum (each element replaced by the sum of itself and all before
/// it) in two phases. Phase 1: each thread makes the running sums of its own chunk. Phase 2:
/// each thread adds the totals of the chunks before it, which needs *every* phase-1 total:
/// the barrier between the phases guarantees they are all there.
fn barrier_prefix_sum() -> anyhow::Result<Vec<u64>> {
    const THREADS: usize = 4;
    let input: Vec<u64> = (1..=10_000).collect();
    let chunk_len = input.len().div_ceil(THREADS);
    let mut output = input.clone();
    let totals: Vec<AtomicU64> = (0..THREADS).map(|_| AtomicU64::new(0)).collect();
    let barrier = Barrier::new(THREADS);
    thread::scope(|s| {
        for (i, chunk) in output.chunks_mut(chunk_len).enumerate() {
            let (totals, barrier) = (&totals, &barrier);
            thread::Builder::new()
                .name(format!("prefix-{i}"))
                .spawn_scoped(s, move || {
                    // Phase 1: running sums within the chunk.
                    let mut running = 0;
                    for x in chunk.iter_mut() {
                        running += *x;
                        *x = running;
                    }
                    // Relaxed: the barrier orders this store before every read in phase 2.
                    totals[i].store(running, Ordering::Relaxed);
                    if barrier.wait().is_leader() {
                        println!("[{}] phase 1 done by all {THREADS} threads", me());
                    }
                    // Phase 2: add what every chunk before this one adds up to.
                    let offset: u64 = totals[..i].iter().map(|t| t.load(Ordering::Relaxed)).sum();
                    for x in chunk.iter_mut() {
                        *x += offset;
                    }
                    if barrier.wait().is_leader() {
                        println!("[{}] phase 2 done by all {THREADS} threads", me());
                    }
                })
                .with_context(|| format!("could not spawn prefix thread {i}"))?;
        }
        Ok::<(), anyhow::Error>(())
    })?;
    let expected: Vec<u64> = input
        .iter()
        .scan(0, |sum, x| {
            *sum += x;
            Some(*sum)
        })
        .collect();
    if output != expected {
        bail!("the parallel prefix sum differs from the sequential one");
    }
    println!(
        "[main] prefix sum of 1..=10000 in {THREADS} chunks matches the sequential one; last = {}",
        output[output.len() - 1]
    );
    Ok(output)
}

/// Part 4, a counting semaphore: at most `permits` holders at once. Std has none; a `Mutex`
/// around the count and a `Condvar` to wait for a permit make one.
///
/// Made once and shared by reference: no thread can "construct" it again over the others'
/// state, which is what broke the Node course's version.
#[derive(Debug)]
struct Semaphore {
    available: Mutex<usize>,
    released: Condvar,
}

/// A permit; dropping it gives the permit back.
#[derive(Debug)]
#[must_use = "the permit is given back as soon as it is dropped"]
struct Permit<'a> {
    semaphore: &'a Semaphore,
}

impl Semaphore {
    fn new(permits: usize) -> Self {
        Self {
            available: Mutex::new(permits),
            released: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, usize> {
        // The count is one integer, never left half-updated: a poisoned lock holds a valid one.
        self.available
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits for a permit.
    fn acquire(&self) -> Permit<'_> {
        let available = self.lock();
        // `wait_while` is the predicate loop: it sleeps while no permit is free, and looks
        // again after every wake-up, spurious or not.
        let mut available = self
            .released
            .wait_while(available, |available| *available == 0)
            .unwrap_or_else(PoisonError::into_inner);
        *available -= 1;
        Permit { semaphore: self }
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        *self.semaphore.lock() += 1;
        // One permit freed: one waiter can have it.
        self.semaphore.released.notify_one();
    }
}

/// Runs threads through a semaphore of 3 permits; returns the most that were ever inside at
/// once, and how many tasks ran.
///
/// First round: each thread takes one permit and, holding it, waits at a barrier for 3. Only
/// permit holders can reach the barrier, so each group of 3 that passes it was inside at the
/// same time: the semaphore lets 3 in, not fewer. Then each thread runs many short tasks
/// under the semaphore, and the probe checks that no more than 3 were ever inside.
fn semaphore_limit() -> (usize, usize) {
    const PERMITS: usize = 3;
    const THREADS: usize = 3 * PERMITS; // the first round forms whole groups of 3
    const TASKS: usize = 50;
    let semaphore = Semaphore::new(PERMITS);
    let probe = ConcurrencyProbe::new();
    let group = Barrier::new(PERMITS);
    thread::scope(|s| {
        run_threads(s, "limited", THREADS, |_| {
            {
                let _permit = semaphore.acquire();
                let _inside = probe.enter();
                group.wait();
            }
            for _ in 0..TASKS {
                let _permit = semaphore.acquire();
                let _inside = probe.enter();
                // Some real work while holding the permit.
                std::hint::black_box(fib(std::hint::black_box(18)));
            }
        });
    });
    println!(
        "[main] {} tasks on {THREADS} threads; at most {} inside at once ({PERMITS} permits)",
        probe.total(),
        probe.max()
    );
    (probe.max(), probe.total())
}

/// Part 5, `OnceLock`: a value built on first use, exactly once, however many threads ask for
/// it at the same time. The losers of the race wait for the winner's value.
fn once_lock_init() -> (usize, usize) {
    const THREADS: usize = 8;
    static SETTINGS: OnceLock<Vec<String>> = OnceLock::new();
    static BUILT: AtomicUsize = AtomicUsize::new(0);
    let start = Barrier::new(THREADS);
    let addresses = Mutex::new(Vec::new());
    thread::scope(|s| {
        run_threads(s, "settings-user", THREADS, |_| {
            start.wait(); // all ask at about the same moment
            let settings = SETTINGS.get_or_init(|| {
                // Relaxed: a count read after every thread has been joined.
                BUILT.fetch_add(1, Ordering::Relaxed);
                println!("[{}] building the settings", me());
                vec!["threads=4".to_owned(), "queue=1024".to_owned()]
            });
            addresses
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(std::ptr::from_ref(settings).addr());
        });
    });
    let addresses = addresses
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner);
    let same = addresses.iter().filter(|&&a| a == addresses[0]).count();
    let built = BUILT.load(Ordering::Relaxed);
    println!("[main] built {built} time(s); {same} of {THREADS} threads got the very same value");
    (built, same)
}

/// Part 6, lock ordering: an account behind its own lock; a transfer locks two of them.
#[derive(Debug)]
struct Account {
    /// Unique, and the order in which locks are taken: lower id first.
    id: u32,
    balance: Mutex<i64>,
}

impl Account {
    fn lock(&self) -> MutexGuard<'_, i64> {
        // A balance is one integer, never left half-updated: a poisoned lock holds a valid one.
        self.balance.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Moves `amount` from `from` to `to`, locking both accounts in id order: every thread takes
/// any two locks in the same order, so no thread can hold one while waiting for a thread
/// that holds the other.
fn transfer(from: &Account, to: &Account, amount: i64) -> anyhow::Result<()> {
    // The Node course ordered locks by an index it assumed unique. Two handles to one
    // account would have the same id, and locking the same `Mutex` twice deadlocks (or
    // panics): refuse it instead.
    if from.id == to.id {
        return Err(anyhow!("account {} cannot transfer to itself", from.id));
    }
    let (mut from_balance, mut to_balance) = if from.id < to.id {
        let f = from.lock();
        (f, to.lock())
    } else {
        let t = to.lock();
        (from.lock(), t)
    };
    *from_balance -= amount;
    *to_balance += amount;
    Ok(())
}

/// Two threads transfer back and forth between the same two accounts, in opposite
/// directions: locked in the order each transfer names its accounts, this can deadlock;
/// locked by id, it always finishes. Returns the transfers made and the final total.
fn ordered_transfers() -> anyhow::Result<(usize, i64)> {
    const TRANSFERS: usize = 10_000;
    let a = Account {
        id: 1,
        balance: Mutex::new(1_000),
    };
    let b = Account {
        id: 2,
        balance: Mutex::new(1_000),
    };
    let made = AtomicUsize::new(0);
    thread::scope(|s| {
        let directions = [("a-to-b", &a, &b), ("b-to-a", &b, &a)];
        let handles: Vec<_> = directions
            .into_iter()
            .map(|(name, from, to)| {
                let made = &made;
                thread::Builder::new()
                    .name(name.into())
                    .spawn_scoped(s, move || -> anyhow::Result<()> {
                        for _ in 0..TRANSFERS {
                            transfer(from, to, 1)?;
                            // Relaxed: a count read after the join.
                            made.fetch_add(1, Ordering::Relaxed);
                        }
                        println!("[{}] made {TRANSFERS} transfers", me());
                        Ok(())
                    })
                    .context("could not spawn a transfer thread")
            })
            .collect::<anyhow::Result<_>>()?;
        for handle in handles {
            handle
                .join()
                .map_err(|_| anyhow!("a transfer thread panicked"))??;
        }
        Ok::<(), anyhow::Error>(())
    })?;
    let err = transfer(&a, &a, 1).expect_err("a self-transfer is refused");
    println!("[main] a self-transfer is refused: {err}");
    let total = *a.lock() + *b.lock();
    let made = made.load(Ordering::Relaxed);
    println!("[main] {made} transfers, total still {total}");
    Ok((made, total))
}

fn main() -> anyhow::Result<()> {
    println!("[main] --- 1. Mutex ---");
    let (balance, history) = mutex_account();
    assert_eq!((balance, history), (4_000, 4_000), "every update, whole");

    println!("[main] --- 2. RwLock ---");
    let rw = rwlock_config();
    assert_eq!(rw.readers_at_once, 4, "all readers were inside together");
    assert_eq!(rw.torn, 0, "no reader saw a half-made update");
    assert_eq!(rw.final_version, 1_000);

    println!("[main] --- 3. Barrier ---");
    let prefix = barrier_prefix_sum()?;
    assert_eq!(prefix.last(), Some(&50_005_000));

    println!("[main] --- 4. a semaphore from Mutex + Condvar ---");
    let (peak, tasks) = semaphore_limit();
    assert_eq!(peak, 3, "3 permits: 3 inside at once, never more");
    assert_eq!(tasks, 9 * 51);

    println!("[main] --- 5. OnceLock ---");
    let (built, same) = once_lock_init();
    assert_eq!(built, 1, "built exactly once");
    assert_eq!(same, 8, "every thread got the one value");

    println!("[main] --- 6. lock ordering ---");
    let (transfers, total) = ordered_transfers()?;
    assert_eq!(transfers, 20_000);
    assert_eq!(total, 2_000, "money is neither made nor lost");

    println!(
        "result: mutex {balance} updates, rwlock {} readers at once and {} torn reads, barrier \
         prefix sums ok, semaphore peak {peak} of 3, OnceLock built {built} time for {same} \
         threads, {transfers} transfers with no deadlock and {total} conserved",
        rw.readers_at_once, rw.torn
    );
    Ok(())
}
