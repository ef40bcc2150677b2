//! # Lesson l2-08: distributing tasks of uneven cost
//!
//! Replaces the Node course's two ways of handing tasks to workers: round-robin (the
//! `MessageChannel` guide sends request `i` to worker `i % n`) and the pool's "first idle worker
//! takes the next task" (example 01). With tasks of equal cost both do the same; with tasks of
//! very different costs they do not, and Rust adds a third way, work stealing (rayon).
//!
//! Shows one skewed workload, `fib(n)` for 32 inputs where every fourth input (indices 0, 4,
//! 8, ...) is 500 to 2,200 times dearer than the rest, run three ways on 2 threads:
//!
//! 1. **fixed round-robin**: task `i` goes to thread `i % 2`, each thread its own list, decided
//!    before anything runs. Every dear task has an even index, so thread 0 gets all of them and
//!    thread 1 finishes almost at once and then idles;
//! 2. **one shared queue** (a crossbeam channel): each thread takes the next task whenever it is
//!    free, so a thread that drew a dear task simply takes fewer;
//! 3. **work stealing** (rayon): each thread splits the work into halves on its own deque, and
//!    an idle thread steals from another's. No central queue, and still balanced.
//!
//! For each: the tasks, the work (counted in calls of `fib`, exact and the same on every
//! machine) and the busy time of each thread (its CPU time), and the wall time of the run.
//!
//! Run: `cargo run --release --example l2-08-task-distribution`
//!
//! Expect: three tables, then `result: the same 32 answers three ways; round-robin gave rr-0
//! 99.8% of the work; wall time round-robin / shared queue = ...x, / work stealing = ...x;
//! busiest thread's CPU time round-robin / shared queue = ...x (times vary by machine)`. On
//! an idle 2-core machine the ratios come close to 2x; on a busy one the wall times blur, while
//! the CPU-time ratio still shows the imbalance. The answers and the round-robin split are
//! asserted; times are not.

use anyhow::{Context, anyhow};
use cpu_time::ThreadTime;
use rayon::prelude::*;
use shared::timing::ratio;
use shared::workload::{checked_fib, fib, fib_set};
use std::sync::{Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

/// How many threads every strategy gets.
const THREADS: usize = 2;
/// How many tasks, and which are dear: the ones whose index is a multiple of `DEAR_EVERY`.
const TASKS: usize = 32;
const DEAR_EVERY: usize = 4;
/// The dear inputs, used in turn; each step up costs about 1.6 times more.
const DEAR: [u32; 4] = [33, 34, 35, 36];
/// Every other task: about 500 times cheaper than the cheapest dear one.
const CHEAP: u32 = 20;

/// The inputs: `fib(n)` of each. Fixed, no randomness: the same skew on every run.
fn inputs() -> Vec<u32> {
    (0..TASKS)
        .map(|i| {
            if i % DEAR_EVERY == 0 {
                DEAR[(i / DEAR_EVERY) % DEAR.len()]
            } else {
                CHEAP
            }
        })
        .collect()
}

/// The work of one task in a unit every machine agrees on: the naive `fib(n)` makes exactly
/// `2 * fib(n + 1) - 1` calls.
fn calls(n: u32) -> u64 {
    2 * checked_fib(n + 1).expect("the inputs are small") - 1
}

/// What one thread did.
#[derive(Debug, Clone, Default)]
struct Load {
    thread: String,
    tasks: usize,
    calls: u64,
    busy: Duration,
}

impl Load {
    fn new(thread: String) -> Self {
        Self {
            thread,
            ..Self::default()
        }
    }

    /// Runs one task, counting it in this thread's load. Returns `fib(n)`.
    ///
    /// Busy time is this thread's *CPU* time (`cpu_time::ThreadTime`, which std does not
    /// offer): on a machine shared with other programs, the time the OS gave to them is not
    /// counted as this thread's work.
    fn run(&mut self, n: u32) -> u64 {
        let start = ThreadTime::now();
        let value = fib(n);
        self.busy += start.elapsed();
        self.tasks += 1;
        self.calls += calls(n);
        value
    }
}

/// One strategy's run: the answers in input order, each thread's load, the wall time.
#[derive(Debug)]
struct Run {
    name: &'static str,
    values: Vec<u64>,
    loads: Vec<Load>,
    wall: Duration,
}

/// Puts `(index, value)` pairs back in input order.
fn in_order(len: usize, pairs: impl IntoIterator<Item = (usize, u64)>) -> Vec<u64> {
    let mut values = vec![0; len];
    for (index, value) in pairs {
        values[index] = value;
    }
    values
}

/// 1. Fixed round-robin: thread `t` gets tasks `t, t + n, t + 2n, ...`, decided up front.
fn round_robin(inputs: &[u32]) -> anyhow::Result<Run> {
    let start = Instant::now();
    let per_thread = thread::scope(|s| {
        let workers = (0..THREADS)
            .map(|t| {
                // Each thread's own list: nothing shared, nothing to coordinate.
                let mine: Vec<(usize, u32)> = inputs
                    .iter()
                    .copied()
                    .enumerate()
                    .skip(t)
                    .step_by(THREADS)
                    .collect();
                thread::Builder::new()
                    .name(format!("rr-{t}"))
                    .spawn_scoped(s, move || {
                        let mut load = Load::new(format!("rr-{t}"));
                        let pairs: Vec<(usize, u64)> =
                            mine.into_iter().map(|(i, n)| (i, load.run(n))).collect();
                        (pairs, load)
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        workers
            .into_iter()
            .map(|w| {
                w.join()
                    .map_err(|_| anyhow!("a round-robin thread panicked"))
            })
            .collect::<anyhow::Result<Vec<_>>>()
    })?;
    let wall = start.elapsed();
    let (pairs, loads): (Vec<_>, Vec<_>) = per_thread.into_iter().unzip();
    Ok(Run {
        name: "fixed round-robin (task i to thread i % 2)",
        values: in_order(inputs.len(), pairs.into_iter().flatten()),
        loads,
        wall,
    })
}

/// 2. One shared queue: every task goes into one channel; each thread takes the next one
///    whenever it is free.
fn shared_queue(inputs: &[u32]) -> anyhow::Result<Run> {
    let start = Instant::now();
    let (tx, rx) = crossbeam_channel::unbounded();
    for task in inputs.iter().copied().enumerate() {
        tx.send(task).context("the receiver is right here")?;
    }
    drop(tx); // no more tasks: each thread's loop ends when the queue is empty
    let per_thread = thread::scope(|s| {
        let workers = (0..THREADS)
            .map(|t| {
                let rx = rx.clone();
                thread::Builder::new()
                    .name(format!("queue-{t}"))
                    .spawn_scoped(s, move || {
                        let mut load = Load::new(format!("queue-{t}"));
                        let pairs: Vec<(usize, u64)> =
                            rx.iter().map(|(i, n)| (i, load.run(n))).collect();
                        (pairs, load)
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        workers
            .into_iter()
            .map(|w| w.join().map_err(|_| anyhow!("a queue thread panicked")))
            .collect::<anyhow::Result<Vec<_>>>()
    })?;
    let wall = start.elapsed();
    let (pairs, loads): (Vec<_>, Vec<_>) = per_thread.into_iter().unzip();
    Ok(Run {
        name: "one shared queue (the next free thread takes the next task)",
        values: in_order(inputs.len(), pairs.into_iter().flatten()),
        loads,
        wall,
    })
}

/// 3. Work stealing: rayon's `par_iter` on a pool of `THREADS` threads.
fn work_stealing(inputs: &[u32]) -> anyhow::Result<Run> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(THREADS)
        .thread_name(|i| format!("rayon-{i}"))
        .build()
        .context("could not start the rayon pool")?;
    // One load per rayon thread, found by `current_thread_index`. Each thread locks only its
    // own entry, so the mutexes are never contended; they are there to satisfy `Sync`.
    let loads: Vec<Mutex<Load>> = (0..THREADS)
        .map(|i| Mutex::new(Load::new(format!("rayon-{i}"))))
        .collect();
    let start = Instant::now();
    let values: Vec<u64> = pool.install(|| {
        inputs
            .par_iter()
            .map(|&n| {
                let index = rayon::current_thread_index().expect("runs on the pool");
                loads[index]
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .run(n)
            })
            .collect() // in input order, however the work was split
    });
    let wall = start.elapsed();
    let loads = loads
        .into_iter()
        .map(|l| l.into_inner().unwrap_or_else(PoisonError::into_inner))
        .collect();
    Ok(Run {
        name: "work stealing (rayon par_iter)",
        values,
        loads,
        wall,
    })
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Each thread's share of the calls, in percent.
fn shares(run: &Run) -> Vec<f64> {
    let total: u64 = run.loads.iter().map(|l| l.calls).sum();
    run.loads
        .iter()
        .map(|l| l.calls as f64 * 100.0 / total.max(1) as f64)
        .collect()
}

fn print_run(run: &Run, sequential: Duration) {
    println!("\n[main] {}", run.name);
    for (load, share) in run.loads.iter().zip(shares(run)) {
        println!(
            "[main]   {:<8} {:>3} tasks {:>7.1} M calls ({share:>5.1}%)  busy {:>7.1} ms of CPU \
             = {:>5.1}% of the wall time",
            load.thread,
            load.tasks,
            load.calls as f64 / 1e6,
            ms(load.busy),
            ratio(load.busy, run.wall) * 100.0,
        );
    }
    println!(
        "[main]   wall time {:>7.1} ms, speedup over sequential {:.2}x (at most {THREADS}x)",
        ms(run.wall),
        ratio(sequential, run.wall)
    );
}

fn main() -> anyhow::Result<()> {
    let inputs = inputs();
    let total_calls: u64 = inputs.iter().map(|&n| calls(n)).sum();
    println!("[main] {TASKS} tasks, fib(n) of {inputs:?}");
    println!(
        "[main] {:.1} M calls of fib in all; the {} dear tasks (every {DEAR_EVERY}th, all at even \
         indices) make {:.2}% of them",
        total_calls as f64 / 1e6,
        TASKS / DEAR_EVERY,
        inputs
            .iter()
            .filter(|&&n| n != CHEAP)
            .map(|&n| calls(n))
            .sum::<u64>() as f64
            * 100.0
            / total_calls as f64
    );

    let start = Instant::now();
    let expected = fib_set(&inputs);
    let sequential = start.elapsed();
    println!(
        "[main] sequential, on the main thread: {:.1} ms",
        ms(sequential)
    );

    let runs = [
        round_robin(&inputs)?,
        shared_queue(&inputs)?,
        work_stealing(&inputs)?,
    ];
    for run in &runs {
        print_run(run, sequential);
    }
    let [rr, queue, stealing] = &runs;
    let rr_ratio_queue = ratio(rr.wall, queue.wall);
    let rr_ratio_stealing = ratio(rr.wall, stealing.wall);
    println!(
        "\n[main] wall time, round-robin / shared queue: {rr_ratio_queue:.2}x; round-robin / \
         work stealing: {rr_ratio_stealing:.2}x"
    );
    // The busiest thread's CPU time is the wall time the run would take with a core to itself:
    // unlike the wall times, this ratio holds on a machine busy with other programs.
    let busiest = |run: &Run| run.loads.iter().map(|l| l.busy).max().unwrap_or_default();
    let busiest_ratio = ratio(busiest(rr), busiest(queue));
    println!(
        "[main] busiest thread's CPU time (about the wall time on an idle machine), round-robin / \
         shared queue: {busiest_ratio:.2}x; / work stealing: {:.2}x",
        ratio(busiest(rr), busiest(stealing))
    );
    println!("[main] round-robin decided who does what before knowing what anything costs; the");
    println!("[main] other two decide as they go, so the thread that drew cheap tasks takes more");

    for run in &runs {
        assert_eq!(run.values, expected, "{}", run.name);
        assert_eq!(run.loads.len(), THREADS, "{}", run.name);
        let calls: u64 = run.loads.iter().map(|l| l.calls).sum();
        let tasks: usize = run.loads.iter().map(|l| l.tasks).sum();
        assert_eq!((tasks, calls), (TASKS, total_calls), "{}", run.name);
    }
    // Round-robin's split is fixed by the indices: rr-0 has every dear task.
    let rr_shares = shares(rr);
    assert_eq!(
        rr.loads.iter().map(|l| l.tasks).collect::<Vec<_>>(),
        [TASKS / 2, TASKS / 2]
    );
    assert!(
        rr_shares[0] > 99.0,
        "rr-0 should have almost all the work: {rr_shares:?}"
    );
    println!(
        "result: the same {TASKS} answers three ways; round-robin gave rr-0 {:.1}% of the work; \
         wall time round-robin / shared queue = {rr_ratio_queue:.2}x, / work stealing = \
         {rr_ratio_stealing:.2}x; busiest thread's CPU time round-robin / shared queue = \
         {busiest_ratio:.2}x (times vary by machine)",
        rr_shares[0]
    );
    Ok(())
}
