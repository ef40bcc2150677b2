//! # Lesson l3-01: shared memory and atomics
//!
//! Replaces Node's `SharedArrayBuffer` + `Atomics.add`: an `Int32Array` over shared memory that
//! several workers update with `Atomics.add`, `Atomics.load` and `Atomics.store`. In Rust the
//! threads share memory directly (a scoped thread borrows; `Arc` shares with a spawned one), and
//! the shared cells are atomic types: `AtomicU64`, `AtomicI32`, `AtomicBool` and friends. Every
//! atomic operation names an `Ordering`; JavaScript's atomics are all `SeqCst`, the strongest.
//!
//! Shows:
//! 1. the Node example, scaled up: 4 threads add 1 five million times each to one `AtomicU64`
//!    with `fetch_add`; the total is exact;
//! 2. what goes wrong with `load` then `store` (JavaScript's `Atomics.store(a, 0,
//!    Atomics.load(a, 0) + 1)`): each step is atomic, the pair is not, and updates are lost;
//!    the number lost is counted. Then the fix for a read-modify-write that has no `fetch_`
//!    method: a `compare_exchange` loop, which sees each conflict and retries it;
//! 3. memory orderings: data published with a flag, `Release` on the store of the flag and
//!    `Acquire` on the load, each ordering with the reason it is there.
//!
//! Which `Ordering`? `Relaxed` when the atomic is the only thing shared (a counter, a
//! statistic); `Release` on the store and `Acquire` on the load when the atomic hands over
//! other memory (a flag saying "the data is ready", a lock, an index into a ring). `SeqCst`,
//! what every JavaScript `Atomics` call does, adds one global order of all `SeqCst` operations
//! on *different* atomics, which only a few algorithms need (two threads that each set their
//! own flag and then read the other's, as in Dekker's mutual exclusion). Choosing it is never
//! less correct than a weaker ordering, only sometimes slower; but it cannot fix a race like
//! part 2's, and a weaker ordering with its reason written next to it says more than `SeqCst`
//! chosen by reflex.
//!
//! Run: `cargo run --release --example l3-01-shared-memory-atomics`
//!
//! Expect: each thread's count; how many of the 200,000,000 load-then-store updates were lost
//! (it varies from run to run; a run that loses none is repeated, up to 5 runs in all); how
//! many times the compare-exchange loop had to retry; the reader's view of the published data;
//! then `result: fetch_add 20000000 of 20000000, load+store lost N of 200000000,
//! compare_exchange 20000000 of 20000000 after M retries, published data read whole`.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::thread;

/// Threads updating the counter, as in the Node example (which used 4 workers).
const THREADS: u64 = 4;

/// Updates per thread. The Node example did 1,000, too few for the threads to overlap at all:
/// a thread finishes 1,000 increments before the next one has even woken up, and a race needs
/// two threads running at once. Five million each takes milliseconds per thread, long enough
/// to overlap, so the lost updates are likely (never certain).
const ITERATIONS: u64 = 5_000_000;

/// Updates per thread for the racy load-then-store. A plain load and store cost a fraction of
/// a locked `fetch_add`, so the racy loop runs ten times as many to last about as long.
const RACY_ITERATIONS: u64 = 10 * ITERATIONS;

/// How many times the racy counter is run, at most, until one run loses an update. A busy
/// machine may give the threads one core between them for a whole run, and then nothing is
/// lost; a few tries make seeing the race likely without making the lesson slow.
const RACY_TRIES: u32 = 5;

/// What every exact count must reach.
const EXPECTED: u64 = THREADS * ITERATIONS;

/// What the racy counter would reach if no update were lost.
const RACY_EXPECTED: u64 = THREADS * RACY_ITERATIONS;

/// The name of the thread this runs on.
fn me() -> String {
    thread::current().name().unwrap_or("<unnamed>").to_owned()
}

/// Runs `work` on `THREADS` scoped threads named `{name}-0`, `{name}-1`, ..., started together,
/// and returns what each returned, in thread order.
fn on_threads<T: Send>(name: &str, work: impl Fn() -> T + Sync) -> Vec<T> {
    let arrived = AtomicUsize::new(0);
    thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|i| {
                let (arrived, work) = (&arrived, &work);
                thread::Builder::new()
                    .name(format!("{name}-{i}"))
                    .spawn_scoped(s, move || {
                        starting_line(arrived);
                        work()
                    })
                    .expect("could not spawn a thread")
            })
            .collect();
        // A panic in a thread is a bug in this lesson: let it fail the program loudly.
        handles
            .into_iter()
            .map(|h| h.join().expect("a counting thread panicked"))
            .collect()
    })
}

/// Waits, spinning, until all `THREADS` threads have arrived, so that the ones on a CPU set
/// off at the same instant. (A `Barrier` puts waiters to sleep and wakes them one after the
/// other; on a slow-waking machine the first thread can finish its whole loop before the last
/// one is awake, and then nothing overlaps and nothing is lost.)
fn starting_line(arrived: &AtomicUsize) {
    // Relaxed: a head count; no other data is handed over through it.
    arrived.fetch_add(1, Ordering::Relaxed);
    let mut spins = 0u32;
    while arrived.load(Ordering::Relaxed) < THREADS as usize {
        spins += 1;
        if spins < 1_000 {
            std::hint::spin_loop();
        } else {
            // More threads than cores: let a thread that has not arrived yet have the CPU.
            thread::yield_now();
        }
    }
}

/// Part 1: `Atomics.add` is `fetch_add`. One atomic read-modify-write: no update can be lost.
fn fetch_add_counter() -> u64 {
    // Borrowed by the scoped threads: no `Arc` needed, since the scope outlives them. With
    // `thread::spawn` this would be an `Arc<AtomicU64>`, the `SharedArrayBuffer` each worker
    // gets a handle to.
    let counter = AtomicU64::new(0);
    let counts = on_threads("adder", || {
        let mut mine = 0;
        for _ in 0..ITERATIONS {
            // Relaxed: the counter is the only thing shared, it publishes no other data, so
            // there is nothing for a stronger ordering to order. `fetch_add` is one atomic
            // step at any ordering, so no increment is lost.
            counter.fetch_add(1, Ordering::Relaxed);
            mine += 1;
        }
        println!("[{}] added {mine}", me());
        mine
    });
    assert!(counts.iter().all(|&c| c == ITERATIONS));
    // Relaxed is enough here too: the scope has joined every thread, and a join orders all of
    // that thread's work before it returns.
    counter.load(Ordering::Relaxed)
}

/// Part 2, the bug: `load` then `store`. Each call is atomic; the pair is not, so two threads
/// can load the same value and both store value + 1: one of the two increments is lost.
fn load_then_store_counter() -> u64 {
    let counter = AtomicU64::new(0);
    on_threads("racer", || {
        for _ in 0..RACY_ITERATIONS {
            // Relaxed, like every ordering a racy program could choose: even `SeqCst` on both
            // calls would lose updates, because another thread can store between them.
            let seen = counter.load(Ordering::Relaxed);
            counter.store(seen + 1, Ordering::Relaxed);
        }
    });
    counter.load(Ordering::Relaxed)
}

/// Part 2, the fix for an update with no `fetch_` method: read, compute, and store only if
/// nobody changed the value in between (`compare_exchange`), else retry with the new value.
/// Returns the total and how many times a thread found its value outdated and retried.
fn compare_exchange_counter() -> (u64, u64) {
    let counter = AtomicU64::new(0);
    let retries = on_threads("cas", || {
        let mut retries = 0;
        for _ in 0..ITERATIONS {
            // Relaxed throughout, as in part 1: only this one value is shared.
            let mut seen = counter.load(Ordering::Relaxed);
            loop {
                // Any computation on `seen` could go here; `+ 1` stands for it.
                match counter.compare_exchange_weak(
                    seen,
                    seen + 1,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => break,
                    // Another thread got in between (or, for the `_weak` form, the hardware
                    // gave up spuriously): this is exactly where load-then-store loses an
                    // update. Try again from the value that is there now.
                    Err(now) => {
                        seen = now;
                        retries += 1;
                    }
                }
            }
        }
        println!("[{}] retried {retries} times", me());
        retries
    });
    (counter.load(Ordering::Relaxed), retries.iter().sum())
}

/// Part 3: publishing data with a flag. The writer fills the data, then raises the flag; a
/// reader that sees the flag raised must see all of the data.
///
/// The data cells are atomics only so that this lesson needs no `unsafe`; written with
/// `Relaxed`, they are ordered by the flag alone, exactly as plain memory would be.
fn publish_with_a_flag() -> Vec<u64> {
    const WORDS: usize = 8;
    let data: [AtomicU64; WORDS] = std::array::from_fn(|_| AtomicU64::new(0));
    let ready = AtomicBool::new(false);
    thread::scope(|s| {
        let reader = thread::Builder::new()
            .name("reader".into())
            .spawn_scoped(s, || {
                let mut checks = 0u64;
                // Acquire: pairs with the writer's Release store below. Once this load sees
                // `true`, everything the writer did before that store is visible here. With
                // Relaxed, the flag could be seen before the data on a weakly ordered CPU
                // (ARM, POWER): the reader would read zeros.
                while !ready.load(Ordering::Acquire) {
                    checks += 1;
                    std::hint::spin_loop();
                }
                // Relaxed: these reads are ordered by the Acquire load above, not by
                // themselves.
                let seen: Vec<u64> = data.iter().map(|d| d.load(Ordering::Relaxed)).collect();
                println!(
                    "[{}] saw the flag after {checks} checks, then read {seen:?}",
                    me()
                );
                seen
            })
            .expect("could not spawn the reader");

        for (i, word) in data.iter().enumerate() {
            // Relaxed: nobody may read these until the flag says so, and the flag's Release
            // store orders these writes before it.
            word.store((i as u64 + 1) * 111, Ordering::Relaxed);
        }
        // Release: everything written above becomes visible to any thread whose Acquire load
        // reads this `true`. This is the publication.
        ready.store(true, Ordering::Release);
        println!("[main] wrote {WORDS} words, then raised the flag");
        reader.join().expect("the reader panicked")
    })
}

fn main() {
    println!("[main] --- 1. fetch_add (Atomics.add) ---");
    let added = fetch_add_counter();
    println!("[main] total {added} of {EXPECTED}");
    assert_eq!(added, EXPECTED, "fetch_add never loses an update");

    println!("[main] --- 2. load then store: a lost update ---");
    let mut lost = 0;
    for attempt in 1..=RACY_TRIES {
        let racy = load_then_store_counter();
        // Never more than expected: every store writes some thread's `load + 1`.
        assert!(racy <= RACY_EXPECTED);
        lost = RACY_EXPECTED - racy;
        println!(
            "[main] run {attempt}: total {racy} of {RACY_EXPECTED}: {lost} updates lost ({:.1}%)",
            lost as f64 * 100.0 / RACY_EXPECTED as f64
        );
        if lost > 0 {
            break;
        }
    }
    println!(
        "[main] the number lost changes from run to run; 0 means the threads never ran at the \
         same instant, not that the code is right"
    );

    println!("[main] --- 2b. the fix: a compare_exchange loop ---");
    let (swapped, retries) = compare_exchange_counter();
    println!(
        "[main] total {swapped} of {EXPECTED}; {retries} retries, each a conflict that \
         load-then-store would have lost"
    );
    assert_eq!(swapped, EXPECTED, "compare_exchange never loses an update");

    println!("[main] --- 3. publishing data with Release/Acquire ---");
    let seen = publish_with_a_flag();
    let expected: Vec<u64> = (1..=8).map(|i| i * 111).collect();
    assert_eq!(
        seen, expected,
        "the reader saw the flag, so it sees all the data"
    );

    println!(
        "result: fetch_add {added} of {EXPECTED}, load+store lost {lost} of {RACY_EXPECTED}, \
         compare_exchange {swapped} of {EXPECTED} after {retries} retries, published data \
         read whole"
    );
}
