//! `scope` and `map`: scoped tasks borrow and mutate the caller's data and are all done when
//! `scope` returns, even when a task or the body panics; `map` returns results in input order
//! however the items finish, borrows freely, and on panics returns the first error in input
//! order after running every item exactly once.

mod common;

use common::{EXPECTED, joined};
use shared::pool::{TaskError, WorkerPool};
use shared::testing::{TIMEOUT, join_within, panic_message, recv_or_fail, run_within};
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

#[test]
fn scoped_tasks_mutate_disjoint_chunks_and_all_are_done_when_scope_returns() {
    let pool = WorkerPool::new(2).unwrap();
    let (pool, data) = run_within(TIMEOUT, "pool.scope", move || {
        let mut data: Vec<u64> = (0..10_000).collect();
        pool.scope(|s| {
            for chunk in data.chunks_mut(100) {
                s.spawn(move || {
                    for x in chunk {
                        *x = *x * 2 + 1;
                    }
                });
            }
        });
        (pool, data)
    });
    assert!(data.iter().enumerate().all(|(i, &x)| x == i as u64 * 2 + 1));
    let pool = joined(pool);
    assert_eq!(pool.metrics().completed, 100);
}

#[test]
fn scope_returns_the_value_of_its_body() {
    let pool = WorkerPool::new(2).unwrap();
    let (pool, answer) = run_within(TIMEOUT, "pool.scope", move || {
        let total = AtomicUsize::new(0);
        let answer = pool.scope(|s| {
            for n in 1..=10 {
                let total = &total;
                s.spawn(move || {
                    total.fetch_add(n, Ordering::SeqCst);
                });
            }
            "body value"
        });
        assert_eq!(total.into_inner(), 55);
        (pool, answer)
    });
    assert_eq!(answer, "body value");
    joined(pool);
}

#[test]
fn a_panicking_scoped_task_re_panics_from_scope_after_the_others_finished() {
    common::quiet_expected_panics();
    let pool = WorkerPool::new(2).unwrap();
    let (pool, caught, done) = run_within(TIMEOUT, "a scope with a panicking task", move || {
        let done = AtomicUsize::new(0);
        let (release, gate) = common::gate();
        let caught = panic::catch_unwind(AssertUnwindSafe(|| {
            pool.scope(|s| {
                // First in the queue, so a worker is sure to take it; the others wait at the
                // gate until its panic drops the release, so they finish after it.
                s.spawn(move || {
                    let _release = release;
                    panic!("{EXPECTED}: scoped task 0");
                });
                for _ in 1..8 {
                    let (done, gate) = (&done, gate.clone());
                    s.spawn(move || {
                        common::wait_at(&gate);
                        done.fetch_add(1, Ordering::SeqCst);
                    });
                }
            })
        }));
        let caught = caught.map_err(|payload| panic_message(payload.as_ref()));
        (pool, caught, done.into_inner())
    });
    assert_eq!(caught, Err(format!("{EXPECTED}: scoped task 0")));
    assert_eq!(done, 7, "scope re-panicked before the other tasks finished");
    let pool = joined(pool);
    let m = pool.metrics();
    assert_eq!((m.panicked, m.completed), (1, 7));
}

#[test]
fn a_panic_in_the_scope_body_still_waits_for_the_spawned_tasks() {
    common::quiet_expected_panics();
    let pool = WorkerPool::new(2).unwrap();
    let (pool, caught, done) = run_within(TIMEOUT, "a scope whose body panics", move || {
        let done = AtomicUsize::new(0);
        let (release, gate) = common::gate();
        let caught = panic::catch_unwind(AssertUnwindSafe(|| {
            pool.scope(|s| {
                let _release = release; // dropped by the body's unwinding: frees the tasks
                for _ in 0..4 {
                    let (done, gate) = (&done, gate.clone());
                    s.spawn(move || {
                        common::wait_at(&gate);
                        done.fetch_add(1, Ordering::SeqCst);
                    });
                }
                panic!("{EXPECTED}: scope body");
            })
        }));
        let caught = caught.map_err(|p| panic_message(p.as_ref()));
        (pool, caught, done.into_inner())
    });
    assert_eq!(caught, Err(format!("{EXPECTED}: scope body")));
    assert_eq!(done, 4, "scope unwound before its tasks finished");
    joined(pool);
}

#[test]
fn map_returns_results_in_input_order_even_when_later_items_finish_first() {
    const ITEMS: usize = 20;
    let pool = WorkerPool::new(2).unwrap();
    let (pool, results, finish_order) = run_within(TIMEOUT, "pool.map", move || {
        let (later_tx, later_done) = crossbeam_channel::unbounded();
        let finish_order = Mutex::new(Vec::new());
        let results = pool.map(0..ITEMS, |i| {
            if i == 0 {
                // Item 0 ends only after every later item has finished.
                for _ in 1..ITEMS {
                    recv_or_fail(&later_done, "a later item to finish");
                }
            }
            let value = i * 3;
            finish_order.lock().unwrap().push(i);
            if i != 0 {
                later_tx.send(()).unwrap();
            }
            value
        });
        (pool, results, finish_order.into_inner().unwrap())
    });
    assert_eq!(finish_order.last(), Some(&0), "item 0 finished last");
    assert_eq!(results, Ok((0..ITEMS).map(|i| i * 3).collect()));
    joined(pool);
}

#[test]
fn map_borrows_the_callers_data_and_closure_state() {
    let pool = WorkerPool::new(2).unwrap();
    let (pool, lengths, sums) = run_within(TIMEOUT, "pool.map on borrowed data", move || {
        let words: Vec<String> = ["worker", "threads", "in", "rust"].map(String::from).into();
        let suffix = String::from("!");
        let lengths = pool.map(&words, |w| format!("{w}{suffix}").len());
        let numbers: Vec<u64> = (1..=1_000).collect();
        let sums = pool.map(numbers.chunks(100), |chunk| chunk.iter().sum::<u64>());
        (pool, lengths, sums)
    });
    assert_eq!(lengths, Ok(vec![7, 8, 3, 5]));
    let sums = sums.unwrap();
    assert_eq!(sums.len(), 10);
    assert_eq!(sums.iter().sum::<u64>(), 500_500);
    assert_eq!(sums[0], (1..=100).sum::<u64>());
    joined(pool);
}

#[test]
fn map_with_panicking_items_returns_the_first_error_in_input_order_and_runs_every_item_once() {
    common::quiet_expected_panics();
    const ITEMS: usize = 100;
    let pool = WorkerPool::new(2).unwrap();
    let (pool, result, runs) = run_within(TIMEOUT, "pool.map with panics", move || {
        let runs: Vec<AtomicU8> = (0..ITEMS).map(|_| AtomicU8::new(0)).collect();
        let (thirteen_tx, thirteen_panicking) = crossbeam_channel::bounded(1);
        let result = pool.map(0..ITEMS, |i| {
            runs[i].fetch_add(1, Ordering::SeqCst);
            if i % 10 == 3 {
                if i == 3 {
                    // Item 3 panics only after item 13 has: the first error *in input order*
                    // is item 3's, though it is not the first to happen.
                    recv_or_fail(&thirteen_panicking, "item 13 to panic");
                }
                if i == 13 {
                    thirteen_tx.send(()).unwrap();
                }
                panic!("{EXPECTED}: item {i}");
            }
            i
        });
        let runs: Vec<u8> = runs.into_iter().map(AtomicU8::into_inner).collect();
        (pool, result, runs)
    });
    assert_eq!(
        result,
        Err(TaskError::Panicked(format!("{EXPECTED}: item 3")))
    );
    for (i, &n) in runs.iter().enumerate() {
        assert_eq!(n, 1, "item {i} ran {n} times");
    }
    joined(pool);
}

#[test]
fn map_of_nothing_is_empty_and_map_on_a_one_thread_pool_keeps_order() {
    let pool = WorkerPool::new(1).unwrap();
    let (pool, empty, ordered) = run_within(TIMEOUT, "pool.map", move || {
        let empty = pool.map(Vec::<u32>::new(), |x| x);
        let ordered = pool.map((0..50u32).rev(), |x| x + 1);
        (pool, empty, ordered)
    });
    assert_eq!(empty, Ok(vec![]));
    assert_eq!(ordered, Ok((1..=50).rev().collect()));
    joined(pool);
}

#[test]
fn scope_on_a_closed_pool_panics_instead_of_dropping_the_task_silently() {
    common::quiet_expected_panics();
    let pool = WorkerPool::new(1).unwrap();
    pool.close();
    let (pool, caught) = run_within(TIMEOUT, "pool.scope on a closed pool", move || {
        let caught = panic::catch_unwind(AssertUnwindSafe(|| pool.scope(|s| s.spawn(|| ()))));
        (pool, caught.map_err(|p| panic_message(p.as_ref())))
    });
    let message = caught.unwrap_err();
    assert!(message.contains("closed"), "{message}");
    joined(pool);
}

#[test]
fn scoped_tasks_may_spawn_more_scoped_tasks_and_scope_waits_for_all() {
    let pool = WorkerPool::new(2).unwrap();
    let (pool, counts) = run_within(TIMEOUT, "nested scoped spawns", move || {
        let counts: Vec<AtomicUsize> = (0..16).map(|_| AtomicUsize::new(0)).collect();
        pool.scope(|s| {
            for i in 0..4 {
                let counts = &counts;
                s.spawn(move || {
                    for j in 0..4 {
                        s.spawn(move || {
                            counts[i * 4 + j].fetch_add(1, Ordering::SeqCst);
                        });
                    }
                });
            }
        });
        let counts: Vec<usize> = counts.into_iter().map(AtomicUsize::into_inner).collect();
        (pool, counts)
    });
    assert_eq!(counts, vec![1; 16]);
    joined(pool);
}

/// A one-thread pool to interrupt, and a gate to hold its worker at.
fn interrupted() -> (
    Arc<WorkerPool>,
    crossbeam_channel::Sender<()>,
    crossbeam_channel::Receiver<()>,
) {
    let (release, gate) = common::gate();
    (Arc::new(WorkerPool::new(1).unwrap()), release, gate)
}

#[test]
fn map_interrupted_by_shutdown_now_returns_pool_shut_down_and_runs_no_queued_item() {
    const ITEMS: usize = 10;
    let (pool, release, gate) = interrupted();
    let (started_tx, started) = crossbeam_channel::bounded(1);
    let ran: Arc<Vec<AtomicU8>> = Arc::new((0..ITEMS).map(|_| AtomicU8::new(0)).collect());
    let mapper = {
        let (pool, ran) = (Arc::clone(&pool), Arc::clone(&ran));
        thread::spawn(move || {
            pool.map(0..ITEMS, |i| {
                ran[i].fetch_add(1, Ordering::SeqCst);
                if i == 0 {
                    started_tx.send(()).unwrap();
                    common::wait_at(&gate);
                }
                i
            })
        })
    };
    recv_or_fail(&started, "the first item to run");
    common::wait_until("the other items are queued", || {
        pool.metrics().queued == (ITEMS - 1) as u64
    });
    assert_eq!(pool.shutdown_now(), ITEMS - 1);
    drop(release);
    let result = join_within(mapper, TIMEOUT, "the map call").unwrap();
    assert_eq!(result, Err(TaskError::PoolShutDown));
    let ran: Vec<u8> = ran.iter().map(|r| r.load(Ordering::SeqCst)).collect();
    assert_eq!(ran[0], 1);
    assert!(
        ran[1..].iter().all(|&r| r == 0),
        "a removed item ran: {ran:?}"
    );
    joined(Arc::into_inner(pool).unwrap());
}

#[test]
fn scope_interrupted_by_shutdown_now_panics_after_its_running_task_ends() {
    common::quiet_expected_panics();
    let (pool, release, gate) = interrupted();
    let (started_tx, started) = crossbeam_channel::bounded(1);
    let scoper = {
        let pool = Arc::clone(&pool);
        thread::spawn(move || {
            let finished = AtomicUsize::new(0);
            let caught = panic::catch_unwind(AssertUnwindSafe(|| {
                pool.scope(|s| {
                    let finished = &finished;
                    s.spawn(move || {
                        started_tx.send(()).unwrap();
                        common::wait_at(&gate);
                        finished.fetch_add(1, Ordering::SeqCst);
                    });
                    for _ in 0..3 {
                        s.spawn(move || {
                            finished.fetch_add(1, Ordering::SeqCst);
                        });
                    }
                })
            }));
            (
                caught.map_err(|p| panic_message(p.as_ref())),
                finished.into_inner(),
            )
        })
    };
    recv_or_fail(&started, "the first scoped task to run");
    common::wait_until("the other scoped tasks are queued", || {
        pool.metrics().queued == 3
    });
    assert_eq!(pool.shutdown_now(), 3);
    drop(release);
    let (caught, finished) = join_within(scoper, TIMEOUT, "the scope call").unwrap();
    let message = caught.unwrap_err();
    assert!(message.contains("shut down"), "{message}");
    assert_eq!(
        finished, 1,
        "only the running task ran, and scope waited for it"
    );
    joined(Arc::into_inner(pool).unwrap());
}

#[test]
fn map_counts_a_panicking_item_as_panicked_like_scope_does() {
    common::quiet_expected_panics();
    let pool = WorkerPool::new(2).unwrap();
    let (pool, result) = run_within(TIMEOUT, "pool.map", move || {
        let result = pool.map(0..5u32, |i| {
            assert!(i != 2, "{EXPECTED}: item 2");
            i
        });
        (pool, result)
    });
    assert_eq!(
        result,
        Err(TaskError::Panicked(format!("{EXPECTED}: item 2")))
    );
    let m = joined(pool).metrics();
    assert_eq!((m.completed, m.panicked), (4, 1), "{m}");
}
