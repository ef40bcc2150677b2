//! `WorkerPool::execute` carries a small closure in the queue slot itself: submitting one
//! allocates nothing on the submitting thread, while a closure larger than the slot is boxed.
//!
//! A binary of its own, to install the counting allocator (`shared::alloc`), which counts per
//! thread exactly.

use shared::alloc::{CountingAllocator, allocated_by, is_installed};
use shared::pool::WorkerPool;
use shared::testing::recv_or_fail;

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator::new();

/// Fewer than the queue holds, so no submission waits (a first wait may allocate the
/// channel's per-thread waiting context).
const TASKS: usize = 1_000;

fn pool() -> WorkerPool {
    WorkerPool::builder()
        .threads(2)
        .queue_capacity(4 * TASKS)
        .build()
        .expect("a pool")
}

#[test]
fn submitting_a_closure_of_up_to_three_words_allocates_nothing() {
    assert!(is_installed());
    let pool = pool();
    let (done, finished) = crossbeam_channel::unbounded::<usize>();
    let ((), stats) = allocated_by(|| {
        for n in 0..TASKS {
            let done = done.clone(); // a sender and an index: three words
            pool.execute(move || done.send(n).expect("the test listens"))
                .expect("open");
        }
    });
    let mut seen: Vec<usize> = (0..TASKS)
        .map(|_| recv_or_fail(&finished, "a task"))
        .collect();
    seen.sort_unstable();
    assert_eq!(seen, (0..TASKS).collect::<Vec<_>>(), "every task ran once");
    assert_eq!(
        stats.allocations, 0,
        "execute allocated on the submitting thread: {stats:?}"
    );
}

#[test]
fn a_closure_larger_than_the_slot_is_boxed_once_per_task() {
    let pool = pool();
    let (done, finished) = crossbeam_channel::unbounded::<u64>();
    let ((), stats) = allocated_by(|| {
        for n in 0..TASKS as u64 {
            let done = done.clone();
            let wide = [n; 4]; // four more words: too large to travel inline
            pool.execute(move || done.send(wide.iter().sum()).expect("the test listens"))
                .expect("open");
        }
    });
    let total: u64 = (0..TASKS).map(|_| recv_or_fail(&finished, "a task")).sum();
    assert_eq!(total, 4 * (0..TASKS as u64).sum::<u64>());
    assert_eq!(
        stats.allocations, TASKS as u64,
        "one box per task, nothing else: {stats:?}"
    );
}
