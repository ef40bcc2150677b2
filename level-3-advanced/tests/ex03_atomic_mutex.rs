//! Tests of exercise l3-ex03 (a mutex built from atomics).
//!
//! `cargo test` runs them against the reference solution; `cargo exercise check l3-ex03` runs
//! them against your file, `level-3-advanced/src/exercises/ex03_atomic_mutex.rs`.
//!
//! Miri: this exercise is about memory orderings, which x86-64 forgives: `cargo exercise check
//! l3-ex03 --miri` runs these tests under Miri, which does not.
//!
//! No test depends on timing to pass. Every blocking call runs under a deadline
//! (`run_within`, `join_within`), so a lost wake-up fails a test instead of hanging it. The
//! one pause (before an unlock, so that a waiter is most likely asleep) only makes a test
//! check the wake-up; it passes just the same without it.
//!
//! Miri runs them too, with fewer iterations:
//! `cargo +nightly miri test -p level-3-advanced --test ex03_atomic_mutex`. Its data-race
//! detector then also catches a mutex that lets two threads touch the data at once, and an
//! unlock whose ordering is too weak to hand the data to the next holder.
//!
//! | promise | test | independent of scheduling and load because |
//! |---|---|---|
//! | 4 (and 8) threads × 10,000 increments of a plain `u64` end exact | `four_threads_incrementing_a_plain_u64_lose_no_update`, `eight_threads_on_two_cores_all_get_through` | a mutex that excludes loses nothing under any interleaving; the yields inside the critical section make a check-then-set lock lose updates in practice |
//! | no two threads are ever inside at once | `a_tight_loop_of_locks_never_lets_two_threads_in_at_once` | a correct lock never lets two in under any interleaving; 4 threads released together by a `Barrier` run 2,000,000 lock/unlock cycles each with nothing else in the loop, so a check-then-set lock's gap between its load and its store is hit in practice, and one double entry fails the test |
//! | a thread asleep in `lock` is woken by the unlock | `a_thread_asleep_in_lock_is_woken_by_the_unlock` | a waiter not yet asleep takes the lock all the same; a missing wake-up fails at the join's deadline |
//! | a `lock` that finds the lock held counts as contended before it waits | `a_lock_that_finds_the_lock_held_is_counted_as_contended` | the test holds the lock until it sees the count (with a deadline), so the order is forced, not timed |
//! | `try_lock` while held is `None`, `Some` once free | `try_lock_while_held_is_none_and_some_once_released` | the holder keeps the lock across the call |
//! | `lock_timeout` while held is `None`, no sooner than the timeout; `Some` when released during the wait or before | `lock_timeout_while_held_gives_up_no_sooner_than_the_timeout`, `lock_timeout_gets_the_lock_released_during_its_wait` | the holder releases only on the test's signal; only a lower bound on the elapsed time, and a timeout (300 ms) that no run of yields and short naps fills by chance on a busy machine |
//! | a panic while holding the lock releases it, no poisoning | `a_panic_while_holding_the_lock_releases_it` | the panicking thread is joined first |
//! | the statistics add up, a new mutex resets nothing | `lock_statistics_add_up` | counts of calls the test makes itself |
//! | the guard is neither `Send` nor `Sync` | `the_guard_is_neither_send_nor_sync` | a property of the type, asked at compile time as a constant and asserted when the test runs, so a wrong answer fails this test alone and the stub still compiles |
//! | each unlock hands the holder's writes to the next holder (Release/Acquire) | every test above, under Miri | Miri's data-race detector reports the unsynchronised access to the data whatever the schedule it picks; on x86 no test can see it |

// The code under test: your file when `cargo exercise check l3-ex03` turns the `learner`
// feature on (and in rust-analyzer, so that your editor checks it), the reference solution in a
// plain `cargo test`. Your file is compiled into this test alone: a mistake in it breaks no
// other exercise, lesson or test.
#[cfg(any(feature = "learner", rust_analyzer))]
#[path = "../src/exercises/ex03_atomic_mutex.rs"]
#[allow(dead_code)] // the items the tests do not call are part of the exercise all the same
mod under_test;
#[cfg(not(any(feature = "learner", rust_analyzer)))]
use level_3_advanced::solutions::ex03_atomic_mutex as under_test;

use shared::testing::{TIMEOUT, join_within, recv_or_fail, run_within};
use std::marker::PhantomData;
use std::panic;
use std::sync::atomic::{AtomicUsize, Ordering as AtomicOrdering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};
use under_test::{AtomicMutex, AtomicMutexGuard, LockStats};

/// Asks, for one named type, whether it is `Send` and whether it is `Sync`, as a value a test
/// can assert on, rather than a bound that would stop the whole file compiling. For a concrete
/// `T`, `Traits::<T>::SEND` is the inherent constant when `T: Send` holds, and otherwise the
/// trait's default of `false` (an inherent item whose bound does not hold is skipped). Only for
/// a concrete type: inside a generic function the bound is unknown and the answer is `false`.
struct Traits<T: ?Sized>(PhantomData<T>);

trait NotSend {
    const SEND: bool = false;
}
impl<T: ?Sized> NotSend for Traits<T> {}
impl<T: ?Sized + Send> Traits<T> {
    const SEND: bool = true;
}

trait NotSync {
    const SYNC: bool = false;
}
impl<T: ?Sized> NotSync for Traits<T> {}
impl<T: ?Sized + Sync> Traits<T> {
    const SYNC: bool = true;
}

/// Increments per thread in the counting tests; fewer under Miri, which is far slower.
const PER_THREAD: u64 = if cfg!(miri) { 2_000 } else { 10_000 };

/// How often a critical section yields its core half-way through a read-modify-write: often
/// enough that a mutex that does not exclude loses updates.
const YIELD_EVERY: u64 = if cfg!(miri) { 10 } else { 100 };

/// `threads` threads each add 1 to a plain `u64` in `mutex` `PER_THREAD` times, reading and
/// writing in two steps with a yield in between now and then: without mutual exclusion,
/// another thread's increment falls into the gap and is lost.
fn hammer(mutex: &AtomicMutex<u64>, threads: usize) {
    thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                for i in 0..PER_THREAD {
                    let mut guard = mutex.lock();
                    let seen = *guard;
                    if i % YIELD_EVERY == 0 {
                        thread::yield_now();
                    }
                    *guard = seen + 1;
                }
            });
        }
    });
}

/// Asserts the invariants of a mutex's statistics.
#[track_caller]
fn assert_consistent(stats: LockStats) {
    assert!(
        stats.contended <= stats.acquisitions,
        "more contended acquisitions than acquisitions: {stats:?}"
    );
    let contention = stats.contention();
    assert!(
        (0.0..=1.0).contains(&contention),
        "contention must be a share from 0 to 1: {contention} from {stats:?}"
    );
}

#[test]
fn four_threads_incrementing_a_plain_u64_lose_no_update() {
    let (total, stats) = run_within(TIMEOUT, "4 threads incrementing", || {
        let mutex = AtomicMutex::new(0_u64);
        hammer(&mutex, 4);
        let stats = mutex.stats();
        (mutex.into_inner(), stats)
    });
    assert_eq!(
        total,
        4 * PER_THREAD,
        "updates were lost: the mutex let two threads in at once"
    );
    assert_eq!(
        stats.acquisitions,
        4 * PER_THREAD,
        "one acquisition per lock"
    );
    assert_consistent(stats);
}

#[test]
fn eight_threads_on_two_cores_all_get_through() {
    let (total, stats) = run_within(TIMEOUT, "8 threads incrementing", || {
        let mutex = AtomicMutex::new(0_u64);
        hammer(&mutex, 8);
        let stats = mutex.stats();
        (mutex.into_inner(), stats)
    });
    assert_eq!(
        total,
        8 * PER_THREAD,
        "updates were lost: the mutex let two threads in at once"
    );
    assert_eq!(
        stats.acquisitions,
        8 * PER_THREAD,
        "one acquisition per lock"
    );
    assert_consistent(stats);
}

#[test]
fn a_tight_loop_of_locks_never_lets_two_threads_in_at_once() {
    // Nothing but lock, a short critical section and unlock, many times over: a lock taken by
    // a load and then a store is taken by two threads whenever both load between an unlock and
    // the next store, which a loop that does little else makes happen often. Each critical
    // section checks that nobody else is inside, so a single double entry fails the test, even
    // one that happens to lose no update.
    const THREADS: usize = 4;
    let per_thread: u64 = if cfg!(miri) { 200 } else { 2_000_000 };
    let mutex = AtomicMutex::new(0_u64);
    assert_eq!(*mutex.lock(), 0);
    let inside = AtomicUsize::new(0);
    let double_entries = AtomicUsize::new(0);
    // All released together, so that they really do contend.
    let start = Barrier::new(THREADS);
    let total = run_within(TIMEOUT, "a tight loop of locks", move || {
        thread::scope(|s| {
            for _ in 0..THREADS {
                s.spawn(|| {
                    start.wait();
                    for _ in 0..per_thread {
                        let mut guard = mutex.lock();
                        if inside.fetch_add(1, AtomicOrdering::SeqCst) != 0 {
                            double_entries.fetch_add(1, AtomicOrdering::SeqCst);
                        }
                        *guard += 1;
                        inside.fetch_sub(1, AtomicOrdering::SeqCst);
                    }
                });
            }
        });
        assert_eq!(
            double_entries.load(AtomicOrdering::SeqCst),
            0,
            "times a thread entered the critical section while another was inside"
        );
        mutex.into_inner()
    });
    assert_eq!(
        total,
        THREADS as u64 * per_thread,
        "updates were lost: the mutex let two threads in at once"
    );
}

#[test]
fn a_lock_that_finds_the_lock_held_is_counted_as_contended() {
    let mutex = Arc::new(AtomicMutex::new(0_u64));
    let guard = mutex.lock();
    let waiter = {
        let mutex = Arc::clone(&mutex);
        thread::spawn(move || *mutex.lock() += 1)
    };
    // The waiter finds the lock held, so it counts itself as contended before it waits: wait
    // for that count (with a deadline) while still holding the lock.
    let deadline = Instant::now() + TIMEOUT;
    while mutex.stats().contended == 0 {
        assert!(
            Instant::now() < deadline,
            "a lock() that found the lock held was not counted as contended within {TIMEOUT:?}: \
             count it when the first compare-exchange fails, before waiting"
        );
        thread::yield_now();
    }
    drop(guard);
    join_within(waiter, TIMEOUT, "the thread waiting in lock").expect("the waiter panicked");
    let stats = mutex.stats();
    assert_eq!(
        (stats.acquisitions, stats.contended),
        (2, 1),
        "two guards handed out, one of them to a thread that had to wait"
    );
    assert_eq!(*mutex.lock(), 1);
}

#[test]
fn a_thread_asleep_in_lock_is_woken_by_the_unlock() {
    let mutex = Arc::new(AtomicMutex::new(Vec::<&str>::new()));
    let guard = mutex.lock();
    let (started_tx, started_rx) = crossbeam_channel::bounded(1);
    let waiter = {
        let mutex = Arc::clone(&mutex);
        thread::spawn(move || {
            started_tx.send(()).unwrap();
            mutex.lock().push("waiter");
        })
    };
    recv_or_fail(&started_rx, "the waiter to start");
    // Most likely asleep in `lock` by now; the test passes either way (see the file's header).
    thread::sleep(Duration::from_millis(50));
    drop(guard);
    join_within(waiter, TIMEOUT, "the thread waiting in lock").expect("the waiter panicked");
    let mut guard = mutex.lock();
    assert_eq!(*guard, ["waiter"]);
    guard.push("main");
    assert_eq!(guard.len(), 2);
}

#[test]
fn try_lock_while_held_is_none_and_some_once_released() {
    let mutex = AtomicMutex::new(5_u32);
    let guard = mutex
        .try_lock()
        .expect("a free mutex must give a guard to try_lock");
    assert_eq!(*guard, 5);
    assert!(
        mutex.try_lock().is_none(),
        "try_lock while the lock is held must be None"
    );
    // From another thread too.
    let other = run_within(TIMEOUT, "try_lock from another thread", {
        let mutex = Arc::new(AtomicMutex::new(0_u8));
        let held = Arc::clone(&mutex);
        move || {
            let _guard = held.lock();
            thread::scope(|s| s.spawn(|| mutex.try_lock().is_none()).join().unwrap())
        }
    });
    assert!(
        other,
        "try_lock from another thread while held must be None"
    );
    drop(guard);
    let mut guard = mutex.try_lock().expect("try_lock once released");
    *guard += 1;
    drop(guard);
    assert_eq!(*mutex.lock(), 6);
}

#[test]
fn lock_timeout_while_held_gives_up_no_sooner_than_the_timeout() {
    let mutex = Arc::new(AtomicMutex::new(0_u32));
    let (held_tx, held_rx) = crossbeam_channel::bounded(1);
    let (release_tx, release_rx) = crossbeam_channel::bounded::<()>(1);
    let holder = {
        let mutex = Arc::clone(&mutex);
        thread::spawn(move || {
            let mut guard = mutex.lock();
            held_tx.send(()).unwrap();
            recv_or_fail(&release_rx, "the signal to release the lock");
            *guard = 1;
        })
    };
    recv_or_fail(&held_rx, "the holder to take the lock");

    // Long enough that no number of yields or short naps fills it by chance, even on a busy
    // machine: an answer that gives up early is seen to.
    let timeout = Duration::from_millis(300);
    let started = Instant::now();
    let got = mutex.lock_timeout(timeout).map(|guard| *guard);
    let waited = started.elapsed();
    assert_eq!(
        got, None,
        "lock_timeout while the lock is held must be None"
    );
    // A lower bound only: a correct lock can never give up sooner.
    assert!(
        waited >= timeout,
        "lock_timeout gave up after {waited:?}, before its timeout of {timeout:?}"
    );

    release_tx.send(()).unwrap();
    join_within(holder, TIMEOUT, "the holder").expect("the holder panicked");
    let guard = mutex
        .lock_timeout(TIMEOUT)
        .expect("lock_timeout once the lock is free");
    assert_eq!(
        *guard, 1,
        "the holder's write must be visible to the next holder"
    );
}

#[test]
fn lock_timeout_gets_the_lock_released_during_its_wait() {
    let mutex = Arc::new(AtomicMutex::new(0_u32));
    let mut guard = mutex.lock();
    let (started_tx, started_rx) = crossbeam_channel::bounded(1);
    let waiter = {
        let mutex = Arc::clone(&mutex);
        thread::spawn(move || {
            started_tx.send(()).unwrap();
            // Far longer than the test takes: it must end because the lock was released.
            let mut guard = mutex.lock_timeout(TIMEOUT)?;
            *guard += 10;
            Some(*guard)
        })
    };
    recv_or_fail(&started_rx, "the timed waiter to start");
    *guard = 1;
    drop(guard);
    let got = join_within(waiter, TIMEOUT + TIMEOUT, "the timed waiter")
        .expect("the timed waiter panicked");
    assert_eq!(
        got,
        Some(11),
        "lock_timeout must return the lock once it is released, with the last holder's write"
    );
}

#[test]
fn a_panic_while_holding_the_lock_releases_it() {
    // This mutex does not poison: the guard's drop runs during the unwinding and unlocks, and
    // the next lock succeeds, seeing what was written before the panic.
    let mutex = Arc::new(AtomicMutex::new(0_u32));
    let panicked = {
        let mutex = Arc::clone(&mutex);
        thread::spawn(move || {
            let mut guard = mutex.lock();
            *guard = 7;
            panic!("a deliberate panic while holding the lock (expected in this test)");
        })
    };
    let outcome = join_within(panicked, TIMEOUT, "the panicking thread");
    assert!(outcome.is_err(), "the thread was meant to panic");
    let value = run_within(TIMEOUT, "lock after a panic", {
        let mutex = Arc::clone(&mutex);
        move || *mutex.lock()
    });
    assert_eq!(value, 7);
    assert!(mutex.try_lock().is_some(), "the lock must be free again");

    // The same within one thread, through `catch_unwind`.
    let caught = panic::catch_unwind(panic::AssertUnwindSafe(|| {
        let mut guard = mutex.lock();
        *guard = 8;
        panic!("another deliberate panic (expected in this test)");
    }));
    assert!(caught.is_err());
    assert_eq!(mutex.try_lock().map(|g| *g), Some(8));
}

#[test]
fn lock_statistics_add_up() {
    let mutex = AtomicMutex::new(0_u64);
    assert_eq!(
        mutex.stats(),
        LockStats::default(),
        "a new mutex has counted nothing"
    );
    assert_eq!(LockStats::default().contention(), 0.0);

    let guard = mutex.lock();
    assert!(mutex.try_lock().is_none());
    assert!(mutex.try_lock().is_none());
    assert!(mutex.lock_timeout(Duration::from_millis(5)).is_none());
    // The Node solution reset the shared lock and counters whenever a worker built its own
    // lock object. Here another mutex is another mutex: it must not touch this one.
    let other = AtomicMutex::new(0_u64);
    drop(other.lock());
    assert!(
        mutex.try_lock().is_none(),
        "creating another mutex must not release this one"
    );
    drop(guard);
    assert_eq!(
        mutex.stats(),
        LockStats {
            acquisitions: 1,
            contended: 0,
            failed_try_locks: 3,
            timeouts: 1,
        },
        "one lock, three failed try_locks, one timed-out lock_timeout"
    );
    assert_eq!(other.stats().acquisitions, 1);

    drop(mutex.try_lock().expect("free"));
    drop(mutex.lock_timeout(TIMEOUT).expect("free"));
    let stats = mutex.stats();
    assert_eq!(
        stats.acquisitions, 3,
        "lock, try_lock and lock_timeout each count"
    );
    assert_eq!(stats.contended, 0, "none of them had to wait");
    assert_eq!((stats.failed_try_locks, stats.timeouts), (3, 1));

    // Under contention the counts still add up, and only go up.
    let mutex = run_within(TIMEOUT, "4 threads incrementing", move || {
        hammer(&mutex, 4);
        mutex
    });
    let after = mutex.stats();
    assert_eq!(
        after.acquisitions,
        3 + 4 * PER_THREAD,
        "one acquisition per guard handed out"
    );
    assert_eq!((after.failed_try_locks, after.timeouts), (3, 1));
    assert_consistent(after);
    assert_eq!(mutex.into_inner(), 4 * PER_THREAD);
}

#[test]
// Constant assertions on purpose: in a `const` block a wrong answer would stop the whole file
// compiling, instead of failing this one test.
#[allow(clippy::assertions_on_constants)]
fn the_guard_is_neither_send_nor_sync() {
    // The guard's documentation: neither `Send` nor `Sync`, so the lock is released on the
    // thread that took it. A file-wide static assertion would stop this file compiling for an
    // answer that got it wrong, and take every other test down with it; asked as a value, the
    // answer fails this one test.
    let mutex = AtomicMutex::new(0_u8);
    let guard = mutex.lock();
    assert_eq!(*guard, 0);
    // The probe's own check: it must tell a `Send` type from one that is not.
    assert!(Traits::<AtomicMutex<u8>>::SEND && Traits::<AtomicMutex<u8>>::SYNC);
    assert!(!Traits::<*const u8>::SEND && !Traits::<*const u8>::SYNC);
    assert!(
        !Traits::<AtomicMutexGuard<'static, u8>>::SEND,
        "the guard must not be Send: a guard moved to another thread would unlock there"
    );
    assert!(
        !Traits::<AtomicMutexGuard<'static, u8>>::SYNC,
        "the guard must not be Sync"
    );
    drop(guard);
}
