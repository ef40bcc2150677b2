//! # Lesson l2-29: two tiers, a pool for CPU work and a pool for blocking work
//!
//! Replaces the Node course's sizing rule for mixed work (L2 guide 1: "2x the cores for mixed
//! work") and the "multi-tier pools" its level-3 README lists but no file teaches. Node has two
//! tiers of its own: JavaScript runs on the event-loop thread, while asynchronous `fs` calls,
//! `dns.lookup`, `zlib` and some `crypto` calls run on libuv's thread pool (4 threads unless
//! `UV_THREADPOOL_SIZE` says otherwise), so slow lookups can hold up file reads but not the
//! JavaScript; with piscina, a separate pool per kind of task does the same. A blocked thread
//! uses no CPU, yet a pool counts it as taken: blocking tasks that hold every thread of a pool
//! stall the CPU work queued behind them while the cores stand idle.
//!
//! Shows: 4 blocking tasks per core (each sleeps 200 ms, or 50 CPU tasks' run time if longer,
//! as in a debug build: a slow read or a call to another server), then 4 small CPU tasks per
//! core (each counts primes), and each CPU task's latency from submit to result. First one
//! shared pool of one thread per core: the CPU tasks wait behind every sleep. Then two tiers:
//! a CPU pool of one thread per core and a blocking pool that grows up to 4 threads per core:
//! the CPU tasks queue only behind each other, their median latency falls back to a few of
//! their run times, and the sleeps overlap.
//!
//! Run: `cargo run --release --example l2-29-two-tier-pools`
//!
//! Expect: the two runs' latencies as ratios, then `result: CPU tasks' median latency, one
//! shared pool / two tiers: N.NNx (at least 10x asserted); same counts` (the ratio varies by
//! machine and run; it is mostly the sleeps the CPU tasks waited behind).

use anyhow::{Context, anyhow};
use shared::WorkerPool;
use shared::pool::TaskHandle;
use shared::timing::{ratio, timed};
use shared::workload::count_primes;
use std::ops::Range;
use std::thread;
use std::time::{Duration, Instant};

/// How long one blocking task sleeps, its "I/O": `SLEEP_PER_RUN` CPU tasks' run time, so that
/// the sleeps stay long next to the CPU work in a debug build too, within these bounds.
const SLEEP_PER_RUN: u32 = 50;
const MIN_SLEEP: Duration = Duration::from_millis(200);
const MAX_SLEEP: Duration = Duration::from_secs(2);
/// Blocking tasks, and CPU tasks, per core.
const PER_CORE: usize = 4;
/// The numbers one CPU task counts primes in: well under a millisecond of work in release.
const CPU_BLOCK: u64 = 10_000;
const CPU_START: u64 = 1_000_000;
/// The least (shared pool / two tiers) median latency this lesson accepts. The shared pool's
/// CPU tasks wait for 4 rounds of sleeps; the tiers' wait for a few runs of their own.
const MIN_RATIO: f64 = 10.0;
/// The longest this lesson waits for a task; reaching it means something is wrong.
const LIMIT: Duration = Duration::from_secs(30);

fn main() -> anyhow::Result<()> {
    let cores = thread::available_parallelism()
        .context("cannot query parallelism")?
        .get();
    let (tasks, sleep) = (PER_CORE * cores, sleep_length());
    println!("[main] {tasks} blocking tasks, then {tasks} CPU tasks, {cores} cores");

    println!("[main] --- one shared pool of {cores} threads ---");
    let shared_pool = pool("shared", cores, cores)?;
    let shared = run(&shared_pool, &shared_pool, tasks, sleep)?;
    report(&shared, sleep);

    println!("[main] --- two tiers: cpu ({cores} threads), blocking (up to {tasks}) ---");
    let cpu_pool = pool("cpu", cores, cores)?;
    let blocking_pool = pool("blocking", 1, tasks)?;
    let tiers = run(&cpu_pool, &blocking_pool, tasks, sleep)?;
    report(&tiers, sleep);

    for p in [&shared_pool, &cpu_pool, &blocking_pool] {
        p.join()?; // every task has been joined: nothing is left to wait for
    }
    let expected: Vec<u64> = (0..tasks).map(|t| count_primes(block(t))).collect();
    assert_eq!(shared.counts, expected, "the shared pool's counts");
    assert_eq!(tiers.counts, expected, "the two tiers' counts");
    let collapse = ratio(median(&shared.latencies), median(&tiers.latencies));
    println!("[main] a thread asleep in a blocking task is a thread the CPU work cannot use");
    assert!(
        collapse >= MIN_RATIO,
        "one shared pool / two tiers, median CPU latency: {collapse:.2}x, under {MIN_RATIO}x"
    );
    println!(
        "result: CPU tasks' median latency, one shared pool / two tiers: {collapse:.2}x \
         (at least {MIN_RATIO}x asserted); same counts"
    );
    Ok(())
}

/// Each blocking task's sleep: `SLEEP_PER_RUN` times the median of 3 CPU tasks run here, kept
/// between `MIN_SLEEP` and `MAX_SLEEP` (a release build's tasks give the minimum).
fn sleep_length() -> Duration {
    let runs: Vec<Duration> = (0..3).map(|t| timed(|| count_primes(block(t))).1).collect();
    (median(&runs) * SLEEP_PER_RUN).clamp(MIN_SLEEP, MAX_SLEEP)
}

/// A pool of `min` to `max` threads named `name-N` (elastic when `min < max`).
fn pool(name: &'static str, min: usize, max: usize) -> anyhow::Result<WorkerPool> {
    WorkerPool::builder()
        .min_threads(min)
        .max_threads(max)
        .thread_name(move |i| format!("{name}-{i}"))
        .build()
        .with_context(|| format!("could not start the {name} pool"))
}

/// What one run measured.
struct Run {
    /// Each CPU task's prime count, in submission order.
    counts: Vec<u64>,
    /// Each CPU task's latency, from just before its submission to its result.
    latencies: Vec<Duration>,
    /// From the first blocking submission to the last blocking task's end.
    blocking_wall: Duration,
    /// The CPU tasks' median run time alone.
    cpu_run: Duration,
}

/// Submits `tasks` blocking tasks that sleep for `sleep` to `blocking`, then `tasks` CPU tasks
/// to `cpu`, and waits for all of them (each with a deadline).
fn run(
    cpu: &WorkerPool,
    blocking: &WorkerPool,
    tasks: usize,
    sleep: Duration,
) -> anyhow::Result<Run> {
    let began = Instant::now();
    let sleeps: Vec<TaskHandle<Instant>> = (0..tasks)
        .map(|_| blocking.submit(sleep_task(sleep)))
        .collect::<Result<_, _>>()
        .map_err(|e| anyhow!("the blocking work was refused: {e}"))?;
    let work: Vec<TaskHandle<(u64, [Instant; 3])>> = (0..tasks)
        .map(|t| cpu.submit(cpu_task(t)))
        .collect::<Result<_, _>>()
        .map_err(|e| anyhow!("the CPU work was refused: {e}"))?;
    let (mut counts, mut latencies, mut runs) = (Vec::new(), Vec::new(), Vec::new());
    for handle in work {
        let (count, [submitted, started, finished]) = settle(handle)?;
        counts.push(count);
        latencies.push(finished - submitted);
        runs.push(finished - started);
    }
    let mut last_wake = began;
    for handle in sleeps {
        last_wake = last_wake.max(settle(handle)?);
    }
    let (blocking_wall, cpu_run) = (last_wake - began, median(&runs));
    Ok(Run {
        counts,
        latencies,
        blocking_wall,
        cpu_run,
    })
}

/// A blocking task: it holds its thread for `sleep` without using the CPU. Returns when it
/// woke.
fn sleep_task(sleep: Duration) -> impl FnOnce() -> Instant + Send + 'static {
    move || {
        thread::sleep(sleep);
        Instant::now()
    }
}

/// A CPU task counting the primes of block `t`. Returns the count, and when it was submitted
/// (made), started and finished.
fn cpu_task(t: usize) -> impl FnOnce() -> (u64, [Instant; 3]) + Send + 'static {
    let submitted = Instant::now();
    move || {
        let started = Instant::now();
        let count = count_primes(block(t));
        (count, [submitted, started, Instant::now()])
    }
}

fn block(task: usize) -> Range<u64> {
    let low = CPU_START + task as u64 * CPU_BLOCK;
    low..low + CPU_BLOCK
}

/// Waits for a task's value, for at most `LIMIT`.
fn settle<T>(handle: TaskHandle<T>) -> anyhow::Result<T> {
    match handle.join_timeout(LIMIT) {
        Ok(outcome) => outcome.context("a task failed"),
        Err(_still_running) => Err(anyhow!("a task was not done after {LIMIT:?}")),
    }
}

/// The median of some durations.
fn median(durations: &[Duration]) -> Duration {
    let mut sorted = durations.to_vec();
    sorted.sort();
    sorted[sorted.len() / 2]
}

fn report(run: &Run, sleep: Duration) {
    let latency = median(&run.latencies);
    let waited = ratio(latency, run.cpu_run);
    let slept = ratio(run.blocking_wall, sleep);
    println!("[main]   CPU tasks: median latency {waited:.1}x their median run time");
    println!("[main]   blocking tasks: all done after {slept:.1}x one sleep");
}
