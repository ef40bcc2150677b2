//! # Lesson l3-01: the lost update of load-then-store
//!
//! Replaces Node's `SharedArrayBuffer` + `Atomics`: an `Int32Array` over shared memory that
//! 4 workers update. `Atomics.add(a, 0, 1)` never loses an update; the careful-looking
//! `Atomics.store(a, 0, Atomics.load(a, 0) + 1)` does. In Rust the shared cell is an atomic
//! type (`AtomicU64`), borrowed by scoped threads (an `Arc` with `thread::spawn`), and the two
//! forms are `fetch_add` and a `load` followed by a `store`.
//!
//! Shows: each call is atomic, the pair is not. 4 threads add 1 five million times each with
//! `fetch_add`: the total is exact. 4 threads do the same with `load` then `store`: two threads
//! can load the same value and both store value + 1, and the updates lost are counted.
//!
//! Run: `cargo run --release --example l3-01-lost-update`
//!
//! Expect: the exact `fetch_add` total; how many of the 200,000,000 load-then-store updates were
//! lost (it varies from run to run; a run that loses none is repeated, up to 5 runs in all);
//! then `result: fetch_add 20000000 of 20000000, load+store lost N of 200000000`.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::thread;

/// Threads updating the counter, as in the Node example (which used 4 workers).
const THREADS: u64 = 4;

/// Updates per thread. The Node example did 1,000, too few for the threads to overlap at all:
/// a thread finishes 1,000 increments before the next one has even woken up, and a race needs
/// two threads running at once. Five million each lasts milliseconds per thread.
const ITERATIONS: u64 = 5_000_000;

/// A plain load and store cost a fraction of a locked `fetch_add`, so the racy loop runs ten
/// times as many to last about as long.
const RACY_ITERATIONS: u64 = 10 * ITERATIONS;

/// How many times the racy counter is run, at most, until one run loses an update. A busy
/// machine may give the threads one core between them for a whole run, and then nothing is
/// lost; a few tries make seeing the race likely without making the lesson slow.
const RACY_TRIES: u32 = 5;

const EXPECTED: u64 = THREADS * ITERATIONS;
const RACY_EXPECTED: u64 = THREADS * RACY_ITERATIONS;

fn main() {
    println!("[main] --- fetch_add (Atomics.add) ---");
    let added = fetch_add_counter();
    println!("[main] total {added} of {EXPECTED}");
    assert_eq!(added, EXPECTED, "fetch_add never loses an update");

    println!("[main] --- load then store ---");
    let mut lost = 0;
    for attempt in 1..=RACY_TRIES {
        let racy = load_then_store_counter();
        // Never more than expected: every store writes some thread's `load + 1`.
        assert!(racy <= RACY_EXPECTED, "updates can be lost, never invented");
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
    println!(
        "[main] it counts increments, not collisions: one stale store overwrites every increment \
         the other threads made since its load, often many (lesson l3-02 counts collisions)"
    );
    println!("result: fetch_add {added} of {EXPECTED}, load+store lost {lost} of {RACY_EXPECTED}");
}

/// `Atomics.add` is `fetch_add`: one atomic read-modify-write, so no update can be lost.
fn fetch_add_counter() -> u64 {
    // Borrowed by the scoped threads: no `Arc` needed, since the scope outlives them. With
    // `thread::spawn` this would be an `Arc<AtomicU64>`, the `SharedArrayBuffer` each worker
    // gets a handle to.
    let counter = AtomicU64::new(0);
    on_threads("adder", || {
        for _ in 0..ITERATIONS {
            // Relaxed: the counter is the only thing shared. `fetch_add` is one atomic step at
            // any ordering, so no increment is lost.
            counter.fetch_add(1, Ordering::Relaxed);
        }
    });
    // Relaxed is enough: the scope has joined every thread, and a join orders all of that
    // thread's work before it returns.
    counter.load(Ordering::Relaxed)
}

/// The bug: `load` then `store`. Each call is atomic; between them another thread can store,
/// and this store overwrites its update.
fn load_then_store_counter() -> u64 {
    let counter = AtomicU64::new(0);
    on_threads("racer", || {
        for _ in 0..RACY_ITERATIONS {
            // Relaxed, like every ordering a racy program could choose: even `SeqCst` on both
            // calls would lose updates. An ordering says what other memory a thread sees; it
            // never makes two operations one.
            let seen = counter.load(Ordering::Relaxed);
            counter.store(seen + 1, Ordering::Relaxed);
        }
    });
    counter.load(Ordering::Relaxed)
}

/// Runs `work` on `THREADS` scoped threads named `{name}-0`, `{name}-1`, ..., started together.
fn on_threads(name: &str, work: impl Fn() + Sync) {
    let arrived = AtomicUsize::new(0);
    thread::scope(|s| {
        for i in 0..THREADS {
            let (arrived, work) = (&arrived, &work);
            thread::Builder::new()
                .name(format!("{name}-{i}"))
                .spawn_scoped(s, move || {
                    starting_line(arrived);
                    work();
                })
                .expect("could not spawn a thread");
        }
        // The scope joins every thread here; a panic in one fails the program loudly.
    });
}

/// Waits until all `THREADS` threads have arrived, so that the ones on a CPU set off at the
/// same instant. It spins instead of sleeping: a sleeping wait wakes its threads one after the
/// other, and on a slow-waking machine the first could finish its whole loop before the last
/// is awake; then nothing overlaps and nothing is lost.
fn starting_line(arrived: &AtomicUsize) {
    // Relaxed: a head count; no other data is handed over through it.
    arrived.fetch_add(1, Ordering::Relaxed);
    let mut spins = 0u32;
    while arrived.load(Ordering::Relaxed) < THREADS as usize {
        spins += 1;
        if spins < 1_000 {
            // Tells the CPU this is a busy-wait loop (x86's `pause`): cheaper, and kinder to
            // the other hardware thread of the core.
            std::hint::spin_loop();
        } else {
            // More threads than cores: give the CPU to a thread that has not arrived yet.
            thread::yield_now();
        }
    }
}
