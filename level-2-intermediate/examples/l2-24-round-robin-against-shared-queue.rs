//! # Lesson l2-24: dealing out uneven tasks: round-robin against one shared queue
//!
//! Replaces the Node course's round-robin (its guide sends request `i` to worker `i % n`)
//! and its pool's "first idle worker takes the next task". With tasks of equal cost both do
//! the same; with tasks of very different costs they do not.
//!
//! Shows one skewed workload on 2 threads, dealt out two ways: **fixed round-robin**, task
//! `i` to thread `i % 2` before anything runs, so thread 0 gets every dear task while thread 1
//! finishes at once and idles; and **one shared queue**, where each thread takes the next task
//! whenever it is free. For each: every thread's tasks, work (in calls of `fib`, exact on
//! every machine) and busy time (its CPU time), and the wall time.
//!
//! Run: `cargo run --release --example l2-24-round-robin-against-shared-queue`
//!
//! Expect: two tables, then `result: the same 32 answers both ways; round-robin gave rr-0
//! 99.8% of the work; wall time round-robin / shared queue = ...x; busiest thread's CPU time
//! ratio ...x (times vary by machine)`. On an idle 2-core machine both ratios come close to
//! 2x; on a busy one the wall times blur (the lesson then says how busy, with
//! `shared::timing::CpuWatch`), while the CPU-time ratio still shows the imbalance.

use anyhow::{Context, anyhow};
use cpu_time::ThreadTime;
use crossbeam_channel::Receiver;
use shared::timing::{CpuWatch, ratio, timed};
use shared::workload::{checked_fib, fib, fib_set};
use std::thread;
use std::time::{Duration, Instant};

/// How many threads each strategy gets.
const THREADS: usize = 2;
const TASKS: usize = 32;
/// `fib(n)` of each. Every fourth (indices 0, 4, 8, ...) is dear: `fib(33)` to `fib(36)`, 500
/// to 2,200 times the work of `fib(20)`, the rest. Fixed: the same skew on every run.
const INPUTS: [u32; TASKS] = [
    33, 20, 20, 20, 34, 20, 20, 20, 35, 20, 20, 20, 36, 20, 20, 20, //
    33, 20, 20, 20, 34, 20, 20, 20, 35, 20, 20, 20, 36, 20, 20, 20,
];

fn main() -> anyhow::Result<()> {
    let total_calls: u64 = INPUTS.iter().map(|&n| calls(n)).sum();
    let watch = CpuWatch::start();
    let (expected, sequential) = timed(|| fib_set(&INPUTS));
    println!(
        "[main] {TASKS} tasks, {:.1} M calls of fib; sequential, on the main thread: {:.1} ms",
        total_calls as f64 / 1e6,
        sequential.as_secs_f64() * 1e3
    );

    // Round-robin: one queue per thread, filled before anything runs: task i to thread i % 2.
    let own_queues: Vec<Receiver<(usize, u32)>> = (0..THREADS)
        .map(|t| queue_of(INPUTS.iter().copied().enumerate().skip(t).step_by(THREADS)))
        .collect();
    let rr = run_on_threads("rr", own_queues)?;
    // One shared queue: every thread takes the next task from the same channel when free.
    let shared = queue_of(INPUTS.iter().copied().enumerate());
    let queue = run_on_threads("queue", vec![shared; THREADS])?;
    println!("\n[main] fixed round-robin (task i to thread i % 2)");
    print_run(&rr, sequential);
    println!("\n[main] one shared queue (the next free thread takes the next task)");
    print_run(&queue, sequential);

    let wall_ratio = ratio(rr.wall, queue.wall);
    // The busiest thread's CPU time: the run's wall time with cores to itself, even when busy.
    let busiest = |run: &Run| run.loads.iter().map(|l| l.busy).max().unwrap_or_default();
    let busiest_ratio = ratio(busiest(&rr), busiest(&queue));
    println!(
        "\n[main] round-robin / shared queue: wall time {wall_ratio:.2}x, busiest CPU time {busiest_ratio:.2}x"
    );
    println!("[main] round-robin decided who does what before knowing what anything costs");
    let note = watch.shortfall_note(wall_ratio, 1.5); // on 2 cores free for this run
    note.iter().for_each(|note| println!("[main] {note}"));

    for run in [&rr, &queue] {
        assert_eq!(run.values, expected);
        assert_eq!(run.loads.len(), THREADS);
        let tasks: usize = run.loads.iter().map(|l| l.tasks).sum();
        let calls: u64 = run.loads.iter().map(|l| l.calls).sum();
        assert_eq!((tasks, calls), (TASKS, total_calls));
    }
    // Round-robin's split is fixed by the indices: rr-0 has every dear task.
    let rr_shares = shares(&rr);
    assert_eq!(
        rr.loads.iter().map(|l| l.tasks).collect::<Vec<_>>(),
        [TASKS / 2, TASKS / 2]
    );
    assert!(
        rr_shares[0] > 99.0,
        "rr-0 should have almost all the work: {rr_shares:?}"
    );
    println!(
        "result: the same {TASKS} answers both ways; round-robin gave rr-0 {:.1}% of the work; \
         wall time round-robin / shared queue = {wall_ratio:.2}x; busiest thread's CPU time \
         ratio {busiest_ratio:.2}x (times vary by machine)",
        rr_shares[0]
    );
    Ok(())
}

/// A task's work in a unit every machine agrees on: naive `fib(n)` makes `2 fib(n + 1) - 1` calls.
fn calls(n: u32) -> u64 {
    2 * checked_fib(n + 1).expect("the inputs are small") - 1
}

/// A closed channel holding `tasks`: a thread that loops over it stops when it is empty.
fn queue_of(tasks: impl Iterator<Item = (usize, u32)>) -> Receiver<(usize, u32)> {
    let (tx, rx) = crossbeam_channel::unbounded();
    tasks.for_each(|task| tx.send(task).expect("the receiver is right here"));
    rx
}

/// What one thread did: its tasks, its `fib` calls, its CPU time.
#[derive(Debug, Default)]
struct Load {
    tasks: usize,
    calls: u64,
    busy: Duration,
}

/// One strategy's run: the answers in input order, each thread's load, the wall time.
#[derive(Debug)]
struct Run {
    name: String,
    values: Vec<u64>,
    loads: Vec<Load>,
    wall: Duration,
}

/// Thread `t` runs every task of `queues[t]`. Busy time is the thread's *CPU* time
/// (`cpu_time::ThreadTime`, which std does not offer): time the OS gave to other programs is
/// not counted as this thread's work.
fn run_on_threads(name: &str, queues: Vec<Receiver<(usize, u32)>>) -> anyhow::Result<Run> {
    let start = Instant::now();
    let per_thread = thread::scope(|s| {
        let workers = queues
            .into_iter()
            .enumerate()
            .map(|(t, queue)| {
                thread::Builder::new()
                    .name(format!("{name}-{t}"))
                    .spawn_scoped(s, move || {
                        let mut load = Load::default();
                        let mut pairs = Vec::new();
                        for (index, n) in queue {
                            let cpu = ThreadTime::now();
                            pairs.push((index, fib(n)));
                            load.busy += cpu.elapsed();
                            load.tasks += 1;
                            load.calls += calls(n);
                        }
                        (pairs, load)
                    })
            })
            .collect::<Result<Vec<_>, _>>()
            .context("could not spawn a thread")?;
        workers
            .into_iter()
            .map(|w| w.join().map_err(|_| anyhow!("a {name} thread panicked")))
            .collect::<anyhow::Result<Vec<_>>>()
    })?;
    let wall = start.elapsed();
    let (mut values, mut loads) = (vec![0; TASKS], Vec::new());
    for (pairs, load) in per_thread {
        for (index, value) in pairs {
            values[index] = value;
        }
        loads.push(load);
    }
    Ok(Run {
        name: name.to_owned(),
        values,
        loads,
        wall,
    })
}

fn print_run(run: &Run, sequential: Duration) {
    for (t, (load, share)) in run.loads.iter().zip(shares(run)).enumerate() {
        println!(
            "[main]   {:<8} {:>3} tasks {:>7.1} M calls ({share:>5.1}%)  busy {:>7.1} ms of CPU",
            format!("{}-{t}", run.name),
            load.tasks,
            load.calls as f64 / 1e6,
            load.busy.as_secs_f64() * 1e3,
        );
    }
    println!(
        "[main]   wall time {:>7.1} ms, speedup over sequential {:.2}x (at most {THREADS}x)",
        run.wall.as_secs_f64() * 1e3,
        ratio(sequential, run.wall)
    );
}

/// Each thread's share of the calls, in percent.
fn shares(run: &Run) -> Vec<f64> {
    let total: u64 = run.loads.iter().map(|l| l.calls).sum();
    run.loads
        .iter()
        .map(|l| l.calls as f64 * 100.0 / total.max(1) as f64)
        .collect()
}
