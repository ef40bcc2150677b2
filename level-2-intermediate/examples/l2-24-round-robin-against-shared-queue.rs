//! # Lesson l2-24: dealing out uneven tasks: round-robin against one shared queue
//!
//! Replaces the Node course's round-robin (request `i` to worker `i % n`) and its pool's
//! "first idle worker takes the next task": the same with tasks of equal cost, not otherwise.
//!
//! Shows one skewed workload on 2 threads, dealt out two ways: **fixed round-robin**, task
//! `i` to thread `i % 2` before anything runs, so thread 0 gets every dear task while thread 1
//! finishes at once and idles; and **one shared queue**, where each thread takes the next task
//! whenever it is free. For each: every thread's work (in calls of `fib`, exact on every
//! machine) and its timeline (`shared::timeline`): one row per thread, one bar per task, idle
//! time as gaps. The idle row is the lesson, and it shows on a busy machine too, where wall
//! times blur: a thread with nothing left to do idles however the OS schedules it.
//!
//! Run: `cargo run --release --example l2-24-round-robin-against-shared-queue`
//!
//! Pictures: `target/timelines/l2-24-round-robin.svg` and `l2-24-shared-queue.svg` (open them
//! in a browser), and the same recordings as `.json` (open them in https://ui.perfetto.dev).
//!
//! Expect: each run's loads and timeline, then `result: the same 32 answers both ways;
//! round-robin gave rr-0 99.8% of the work and left rr-1 idle ...% of the wall time; with one
//! shared queue no thread sat idle longer than ...x the longest task; wall time round-robin /
//! shared queue = ...x` (near 2x on an idle 2-core machine; on a busy one, it says how busy).

use anyhow::{Context, anyhow};
use crossbeam_channel::Receiver;
use shared::timeline::{Recording, Span, ThreadRow, Timeline};
use shared::timing::{CpuWatch, ratio};
use shared::workload::{checked_fib, fib, fib_set};
use std::thread;

const THREADS: usize = 2; // for each strategy
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
    let expected = fib_set(&INPUTS);
    let millions = total_calls as f64 / 1e6;
    println!("[main] {TASKS} tasks, {millions:.1} M calls of fib");

    // Round-robin: one queue per thread, filled before anything runs: task i to thread i % 2.
    let own_queues: Vec<Receiver<(usize, u32)>> = (0..THREADS)
        .map(|t| queue_of(INPUTS.iter().copied().enumerate().skip(t).step_by(THREADS)))
        .collect();
    println!("\n[main] fixed round-robin (task i to thread i % 2)");
    let rr = run_on_threads("rr", own_queues, "l2-24-round-robin")?;
    // One shared queue: every thread takes the next task from the same channel when free.
    println!("\n[main] one shared queue (the next free thread takes the next task)");
    let shared = queue_of(INPUTS.iter().copied().enumerate());
    let queue = run_on_threads("queue", vec![shared; THREADS], "l2-24-shared-queue")?;

    let wall_ratio = ratio(rr.recording.wall(), queue.recording.wall());
    println!("\n[main] round-robin / shared queue: wall time {wall_ratio:.2}x");
    println!("[main] round-robin decided who does what before knowing what anything costs");
    let note = watch.shortfall_note(wall_ratio, 1.5); // on 2 cores free for this run
    note.iter().for_each(|note| println!("[main] {note}"));

    for run in [&rr, &queue] {
        assert_eq!(run.values, expected);
        assert_eq!(run.calls.iter().sum::<u64>(), total_calls);
        let rows = run.recording.threads();
        assert_eq!(rows.len(), THREADS);
        assert_eq!(rows.iter().map(|r| r.spans.len()).sum::<usize>(), TASKS);
    }
    // Round-robin's split is fixed by the indices: rr-0 has every dear task, rr-1 a quarter of
    // a percent of the work. However the OS schedules the two, rr-1's bars add up to its few
    // light tasks, while the wall time is at least rr-0's dear ones: idle for most of it.
    let rr_share = rr.calls[0] as f64 * 100.0 / total_calls as f64;
    assert!(rr_share > 99.0, "rr-0 should have almost all the work");
    let (rr_wall, light) = (rr.recording.wall(), row(&rr.recording, "rr-1"));
    let light_idle = ratio(light.idle_within(rr_wall), rr_wall);
    assert!(
        light_idle >= 1.0 / 3.0,
        "rr-1 idle {light_idle:.2} of the time"
    );
    // One shared queue: a thread is idle only between taking tasks (microseconds) and at the
    // end, while the other finishes its last task. Two task lengths leave room for the OS
    // preempting a thread between tasks on a busy machine.
    let gap_in_tasks = longest_gap_in_tasks(&queue.recording);
    assert!(
        gap_in_tasks <= 2.0,
        "a thread idled {gap_in_tasks:.2} tasks"
    );
    println!(
        "result: the same {TASKS} answers both ways; round-robin gave rr-0 {rr_share:.1}% of the \
         work and left rr-1 idle {:.1}% of the wall time; with one shared queue no thread sat \
         idle longer than {gap_in_tasks:.2}x the longest task; wall time round-robin / shared \
         queue = {wall_ratio:.2}x (times vary by machine)",
        light_idle * 100.0
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

/// One strategy's run: the answers in input order, each thread's `fib` calls, the timeline.
struct Run {
    values: Vec<u64>,
    calls: Vec<u64>,
    recording: Recording,
}

/// Thread `t` runs every task of `queues[t]`, each task one span of the timeline, written
/// as the pictures `picture`.svg and .json.
fn run_on_threads(
    name: &str,
    queues: Vec<Receiver<(usize, u32)>>,
    picture: &str,
) -> anyhow::Result<Run> {
    let timeline = Timeline::new(&format!(
        "{picture}: {TASKS} uneven tasks on {THREADS} threads"
    ));
    let (dear, light) = (timeline.label("dear task"), timeline.label("light task"));
    let per_thread = thread::scope(|s| {
        let workers = (queues.into_iter().enumerate())
            .map(|(t, queue)| {
                let timeline = &timeline;
                let worker = thread::Builder::new().name(format!("{name}-{t}"));
                worker.spawn_scoped(s, move || {
                    let (mut pairs, mut work) = (Vec::new(), 0);
                    for (index, n) in queue {
                        let _span = timeline.span(if n >= 30 { dear } else { light });
                        pairs.push((index, fib(n)));
                        work += calls(n);
                    }
                    (pairs, work)
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .context("could not spawn a thread")?;
        (workers.into_iter())
            .map(|w| w.join().map_err(|_| anyhow!("a {name} thread panicked")))
            .collect::<anyhow::Result<Vec<_>>>()
    })?;
    let (mut values, mut calls) = (vec![0; TASKS], Vec::new());
    for (pairs, work) in per_thread {
        pairs
            .into_iter()
            .for_each(|(index, value)| values[index] = value);
        calls.push(work);
    }
    let recording = timeline.finish();
    let (total, wall) = (calls.iter().sum::<u64>() as f64, recording.wall());
    for (t, work) in calls.iter().enumerate() {
        let row = row(&recording, &format!("{name}-{t}"));
        println!(
            "[main]   {}: {:>2} tasks, {:>5.1}% of the work, idle {:>5.1}% of the wall time",
            row.name,
            row.spans.len(),
            *work as f64 * 100.0 / total,
            ratio(row.idle_within(wall), wall) * 100.0
        );
    }
    print!("{}", recording.write_and_show(picture, 60)?);
    Ok(Run {
        values,
        calls,
        recording,
    })
}

/// The row of the thread called `name`; every thread of a run records at least one task.
fn row<'r>(recording: &'r Recording, name: &str) -> &'r ThreadRow {
    let rows = recording.threads();
    let found = rows.iter().find(|r| r.name == name);
    found.expect("every thread ran a task")
}

/// The longest idle stretch of any thread, in lengths of the longest task (span), both
/// measured in the recording: a task made longer by the OS counts as longer.
fn longest_gap_in_tasks(recording: &Recording) -> f64 {
    let rows = recording.threads();
    let gap = rows.iter().map(ThreadRow::longest_gap).max();
    let task = rows.iter().flat_map(|r| &r.spans).map(Span::duration).max();
    ratio(gap.unwrap_or_default(), task.unwrap_or_default())
}
