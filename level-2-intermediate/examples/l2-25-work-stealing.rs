//! # Lesson l2-25: work stealing (rayon)
//!
//! No Node equivalent: Node's pools deal tasks out from one place (round-robin, or the first
//! idle worker). rayon adds a third way. Each of its threads keeps its own deque of work;
//! `par_iter` splits the input in halves, and halves of halves, onto those deques, and a
//! thread whose deque is empty *steals* from another's. No central queue, and still balanced:
//! a thread busy with one dear task simply stops taking more, and the others steal the rest.
//!
//! Shows: lesson l2-24's skewed workload (`fib(n)` for 32 inputs, every fourth 500 to 2,200
//! times dearer than the rest) run with `par_iter` on a rayon pool of 2 threads; each thread's
//! share of the work (in `fib` calls, exact on every machine) and its busy CPU time; the
//! answers in input order however the work was split; the speedup over a sequential run; and
//! the timeline (`shared::timeline`), to set beside l2-24's two: like the shared queue's, no
//! row sits idle for long. `with_max_len(1)` lets rayon split down to single tasks, so that
//! any one can be stolen; by default it stops at a few pieces per thread (more where a piece
//! is stolen) and runs each piece's tasks in order, which suits tasks of equal cost.
//!
//! Run: `cargo run --release --example l2-25-work-stealing`
//!
//! Pictures: `target/timelines/l2-25-work-stealing.svg` (open it in a browser) and `.json`
//! (open it in https://ui.perfetto.dev).
//!
//! Expect: one table and the timeline, then `result: the same 32 answers with work stealing;
//! the two threads did ...% and ...% of the work; no thread sat idle longer than ...x the
//! longest task; speedup over sequential ...x (times vary by machine)`. On an idle 2-core
//! machine the speedup comes close to 2x; below 1.5x the lesson says how busy the rest of the
//! machine was (`shared::timing::CpuWatch`). The answers and the idle bound are asserted; the
//! split and times are not (they depend on who stole what).

use anyhow::Context;
use cpu_time::ThreadTime;
use rayon::prelude::*;
use shared::timeline::{Span, ThreadRow, Timeline};
use shared::timing::{CpuWatch, ratio, timed};
use shared::workload::{checked_fib, fib, fib_set};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// How many threads, and the workload of lesson l2-24.
const THREADS: usize = 2;
const TASKS: usize = 32;
/// `fib(n)` of each. Every fourth (indices 0, 4, 8, ...) is dear: `fib(33)` to `fib(36)`, 500
/// to 2,200 times the work of `fib(20)`, the rest. Fixed: the same skew on every run.
const INPUTS: [u32; TASKS] = [
    33, 20, 20, 20, 34, 20, 20, 20, 35, 20, 20, 20, 36, 20, 20, 20, //
    33, 20, 20, 20, 34, 20, 20, 20, 35, 20, 20, 20, 36, 20, 20, 20,
];

fn main() -> anyhow::Result<()> {
    let inputs = INPUTS;
    let total_calls: u64 = inputs.iter().map(|&n| calls(n)).sum();
    let watch = CpuWatch::start();
    let (expected, sequential) = timed(|| fib_set(&inputs));
    println!(
        "[main] sequential, on the main thread: {:.1} ms",
        ms(sequential)
    );

    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(THREADS)
        .thread_name(|i| format!("rayon-{i}"))
        .build()
        .context("could not start the rayon pool")?;
    // One load per rayon thread, found by `current_thread_index`. Each thread locks only its
    // own entry, so the mutexes are never contended; they are there to satisfy `Sync`.
    let loads: Vec<Mutex<Load>> = (0..THREADS).map(|_| Mutex::new(Load::default())).collect();
    let timeline = Timeline::new("l2-25-work-stealing: 32 uneven tasks on 2 rayon threads");
    let (dear, light) = (timeline.label("dear task"), timeline.label("light task"));
    let (values, wall) = timed(|| {
        pool.install(|| {
            inputs
                .par_iter()
                .with_max_len(1)
                .map(|&n| {
                    let _span = timeline.span(if n >= 30 { dear } else { light });
                    let index = rayon::current_thread_index().expect("runs on the pool");
                    loads[index]
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .run(n)
                })
                .collect::<Vec<u64>>() // in input order, however the work was split
        })
    });
    let loads: Vec<Load> = loads
        .into_iter()
        .map(|l| l.into_inner().unwrap_or_else(PoisonError::into_inner))
        .collect();
    let shares: Vec<f64> = loads
        .iter()
        .map(|l| l.calls as f64 * 100.0 / total_calls as f64)
        .collect();
    for (i, (load, share)) in loads.iter().zip(&shares).enumerate() {
        println!(
            "[main]   rayon-{i} {:>3} tasks {:>7.1} M calls ({share:>5.1}%)  busy {:>7.1} ms of CPU",
            load.tasks,
            load.calls as f64 / 1e6,
            ms(load.busy)
        );
    }
    let speedup = ratio(sequential, wall);
    println!(
        "[main]   wall time {:.1} ms, speedup over sequential {speedup:.2}x (at most {THREADS}x)",
        ms(wall)
    );
    if let Some(note) = watch.shortfall_note(speedup, 1.5) {
        println!("[main] {note}"); // on 2 cores free for this run, it comes close to 2x
    }

    let recording = timeline.finish(); // `install` returned: every task has run
    print!("{}", recording.write_and_show("l2-25-work-stealing", 60)?);

    assert_eq!(values, expected);
    let tasks: usize = loads.iter().map(|l| l.tasks).sum();
    let calls_done: u64 = loads.iter().map(|l| l.calls).sum();
    assert_eq!((tasks, calls_done), (TASKS, total_calls));
    let rows = recording.threads();
    assert_eq!(rows.iter().map(|r| r.spans.len()).sum::<usize>(), TASKS);
    // As with l2-24's shared queue: a thread with an empty deque steals any task not yet
    // started, so it idles only while stealing (microseconds), and at the end while the other
    // runs its last task. Two task lengths leave room for the OS preempting a thread between
    // tasks on a busy machine. A thread that never got a task would have no row: count them.
    assert_eq!(rows.len(), THREADS, "both threads should have run tasks");
    let gap = rows.iter().map(ThreadRow::longest_gap).max();
    let task = rows.iter().flat_map(|r| &r.spans).map(Span::duration).max();
    let gap_in_tasks = ratio(gap.unwrap_or_default(), task.unwrap_or_default());
    assert!(
        gap_in_tasks <= 2.0,
        "a thread idled {gap_in_tasks:.2} tasks"
    );
    println!(
        "result: the same {TASKS} answers with work stealing; the two threads did {:.1}% and \
         {:.1}% of the work; no thread sat idle longer than {gap_in_tasks:.2}x the longest task; \
         speedup over sequential {speedup:.2}x (times vary by machine)",
        shares[0], shares[1]
    );
    Ok(())
}

/// The work of one task in a unit every machine agrees on: the naive `fib(n)` makes exactly
/// `2 * fib(n + 1) - 1` calls.
fn calls(n: u32) -> u64 {
    2 * checked_fib(n + 1).expect("the inputs are small") - 1
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// What one thread did: its tasks, its `fib` calls, its CPU time.
#[derive(Debug, Default)]
struct Load {
    tasks: usize,
    calls: u64,
    busy: Duration,
}

impl Load {
    /// Runs one task, counting it in this thread's load. Returns `fib(n)`. Busy time is CPU
    /// time: time the OS gave to other programs is not counted as this thread's work.
    fn run(&mut self, n: u32) -> u64 {
        let start = ThreadTime::now();
        let value = fib(n);
        self.busy += start.elapsed();
        self.tasks += 1;
        self.calls += calls(n);
        value
    }
}
