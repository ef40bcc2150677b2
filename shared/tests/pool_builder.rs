//! The builder's settings: worker names, stack size, per-worker state (made once per worker,
//! reachable from its tasks, dropped at exit), start hooks, defaults, and `BuildError::Invalid`
//! with a message for every inconsistent setting.

mod common;

use common::{EXPECTED, joined, settle};
use shared::pool::{BuildError, DEFAULT_QUEUE_CAPACITY, WorkerPool};
use shared::testing::{TIMEOUT, run_within};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::thread;
use std::time::Duration;

/// Runs one task on each of the pool's `threads` workers at once (they meet at a barrier)
/// and returns what each saw.
fn on_every_worker<T: Send + 'static>(
    pool: &WorkerPool,
    threads: usize,
    task: impl Fn() -> T + Send + Sync + 'static,
) -> Vec<T> {
    let barrier = Arc::new(Barrier::new(threads));
    let task = Arc::new(task);
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (barrier, task) = (Arc::clone(&barrier), Arc::clone(&task));
            pool.submit(move || {
                barrier.wait(); // all `threads` tasks are in: each holds its own worker
                task()
            })
            .unwrap()
        })
        .collect();
    run_within(TIMEOUT, "one task per worker", move || {
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

fn thread_name() -> String {
    thread::current().name().unwrap_or("<unnamed>").to_owned()
}

#[test]
fn workers_are_named_by_the_thread_name_function() {
    let pool = WorkerPool::builder()
        .threads(2)
        .thread_name(|i| format!("crunch-{i}"))
        .build()
        .unwrap();
    let mut names = on_every_worker(&pool, 2, thread_name);
    names.sort();
    assert_eq!(names, ["crunch-0", "crunch-1"]);
    joined(pool);
}

#[test]
fn workers_are_named_pool_index_by_default() {
    let pool = WorkerPool::new(3).unwrap();
    let mut names = on_every_worker(&pool, 3, thread_name);
    names.sort();
    assert_eq!(names, ["pool-0", "pool-1", "pool-2"]);
    joined(pool);
}

#[test]
fn the_stack_size_setting_gives_workers_room_beyond_the_default() {
    // 4 MiB of locals would overflow std's 2 MiB default stack (and abort the test binary).
    fn deep() -> usize {
        let big = std::hint::black_box([7u8; 4 << 20]);
        big.iter().map(|&b| b as usize).sum()
    }
    let pool = WorkerPool::builder()
        .threads(1)
        .stack_size(16 << 20)
        .build()
        .unwrap();
    assert_eq!(
        settle(pool.submit(deep).unwrap(), "a stack-hungry task"),
        Ok(7 * (4 << 20))
    );
    joined(pool);
}

#[derive(Debug)]
struct Scratch {
    index: usize,
    uses: usize,
    dropped: Arc<AtomicUsize>,
}

impl Drop for Scratch {
    fn drop(&mut self) {
        self.dropped.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn worker_state_is_made_once_per_worker_and_each_task_gets_its_workers_own() {
    const THREADS: usize = 3;
    const TASKS: usize = 60;
    let made: Arc<Vec<AtomicUsize>> = Arc::new((0..THREADS).map(|_| AtomicUsize::new(0)).collect());
    let dropped = Arc::new(AtomicUsize::new(0));
    let pool = {
        let (made, dropped) = (Arc::clone(&made), Arc::clone(&dropped));
        WorkerPool::builder()
            .threads(THREADS)
            .worker_state(move |index| {
                made[index].fetch_add(1, Ordering::SeqCst);
                Scratch {
                    index,
                    uses: 0,
                    dropped: Arc::clone(&dropped),
                }
            })
            .build()
            .unwrap()
    };
    let handles: Vec<_> = (0..TASKS)
        .map(|_| {
            pool.submit_with(|cx| {
                let worker = cx.worker_index();
                assert!(cx.state::<u32>().is_none(), "state of another type");
                let scratch = cx.state::<Scratch>().expect("every worker has its state");
                scratch.uses += 1;
                (worker, scratch.index, scratch.uses)
            })
            .unwrap()
        })
        .collect();
    let mut uses_by_worker: HashMap<usize, Vec<usize>> = HashMap::new();
    for handle in handles {
        let (worker, state_index, uses) = settle(handle, "a task using its state").unwrap();
        assert_eq!(worker, state_index, "a task got another worker's state");
        uses_by_worker.entry(worker).or_default().push(uses);
    }
    // The state persists across a worker's tasks: its uses count 1, 2, 3, ... with no gap.
    let mut total = 0;
    for (worker, mut uses) in uses_by_worker {
        uses.sort_unstable();
        assert_eq!(
            uses,
            (1..=uses.len()).collect::<Vec<_>>(),
            "worker {worker}"
        );
        total += uses.len();
    }
    assert_eq!(total, TASKS);
    joined(pool);
    for (index, count) in made.iter().enumerate() {
        assert_eq!(
            count.load(Ordering::SeqCst),
            1,
            "state of worker {index} made"
        );
    }
    assert_eq!(
        dropped.load(Ordering::SeqCst),
        THREADS,
        "each state is dropped at exit"
    );
}

#[test]
fn on_thread_start_runs_once_per_worker_on_that_worker() {
    const THREADS: usize = 3;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let pool = {
        let seen = Arc::clone(&seen);
        WorkerPool::builder()
            .threads(THREADS)
            .on_thread_start(move |index| seen.lock().unwrap().push((index, thread_name())))
            .build()
            .unwrap()
    };
    // Once each worker has run a task, each has run its start hook.
    on_every_worker(&pool, THREADS, || ());
    joined(pool);
    let mut seen = seen.lock().unwrap().clone();
    seen.sort();
    let expected: Vec<_> = (0..THREADS).map(|i| (i, format!("pool-{i}"))).collect();
    assert_eq!(seen, expected);
}

#[test]
fn a_panicking_start_hook_costs_no_worker() {
    common::quiet_expected_panics();
    let pool = WorkerPool::builder()
        .threads(2)
        .on_thread_start(|index| panic!("{EXPECTED}: start hook of {index}"))
        .build()
        .unwrap();
    let mut names = on_every_worker(&pool, 2, thread_name);
    names.sort();
    assert_eq!(names, ["pool-0", "pool-1"]);
    assert_eq!(pool.metrics().threads, 2);
    joined(pool);
}

#[test]
fn the_defaults_are_the_documented_ones() {
    let cores = thread::available_parallelism().unwrap().get();
    let pool = WorkerPool::builder().build().unwrap();
    assert_eq!(pool.capacity(), Some(DEFAULT_QUEUE_CAPACITY));
    assert_eq!(pool.metrics().threads, cores);
    joined(pool);
    let pool = WorkerPool::builder().max_threads(2).build().unwrap();
    assert_eq!(
        pool.metrics().threads,
        2,
        "min defaults to max when only max is set"
    );
    joined(pool);
    let pool = WorkerPool::builder()
        .threads(2)
        .keep_alive(Duration::ZERO)
        .build();
    assert!(pool.is_ok(), "a zero keep-alive is fine on a fixed pool");
    joined(pool.unwrap());
}

#[test]
fn inconsistent_settings_are_refused_with_a_message() {
    let cases = [
        ("threads(0)", WorkerPool::builder().threads(0), "at least 1"),
        (
            "min 0",
            WorkerPool::builder().min_threads(0).max_threads(2),
            "at least 1",
        ),
        (
            "max 0 only",
            WorkerPool::builder().max_threads(0),
            "at least 1",
        ),
        (
            "min > max",
            WorkerPool::builder().min_threads(4).max_threads(2),
            "more than",
        ),
        (
            "capacity 0",
            WorkerPool::builder().queue_capacity(0),
            "capacity",
        ),
        (
            "zero keep-alive on an elastic pool",
            WorkerPool::builder()
                .min_threads(1)
                .max_threads(4)
                .keep_alive(Duration::ZERO),
            "keep_alive",
        ),
    ];
    for (what, builder, needle) in cases {
        match builder.build() {
            Err(BuildError::Invalid(message)) => {
                assert!(message.contains(needle), "{what}: message {message:?}");
                let shown = BuildError::Invalid(message).to_string();
                assert!(shown.contains(needle), "{what}: Display {shown:?}");
            }
            Err(other) => panic!("{what}: expected Invalid, got {other:?}"),
            Ok(pool) => {
                joined(pool);
                panic!("{what}: accepted");
            }
        }
    }
}
