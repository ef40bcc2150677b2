//! # Lesson l2-22: task granularity: how big a chunk of work per task
//!
//! Replaces the Node course's rule of thumb "tasks should take at least 10-50 ms" with a
//! measurement. The same total work (counting the primes below 2,000,000 with
//! `shared::workload::count_primes`) is cut into chunks of 1 to 2,000,000 numbers and run on
//! a `shared::WorkerPool`. Tiny chunks pay the pool's per-task overhead millions of times; one
//! huge chunk keeps one core busy and the others idle; two halves are *imbalanced*, because
//! the upper half holds the larger, dearer numbers. The middle of the table is the sweet spot.
//!
//! Shows: the table of chunk sizes with the time and the speedup over a sequential run, and
//! the overhead of one task estimated from it (below 1.5x even at best on 2 or more cores, it
//! says how busy the rest of the machine was: `shared::timing::CpuWatch`). Then timelines
//! (`shared::timeline`) of a tenth of the job, the primes below 200,000: too fine (chunks of
//! 10), too coarse (two halves: one thread idles while the other finishes) and right.
//!
//! Run: `cargo run --release --example l2-22-task-granularity` (a debug build is 10-20 times
//! slower and mostly measures the debug build)
//!
//! Pictures: `target/timelines/l2-22-too-fine.svg`, `l2-22-too-coarse.svg`, `l2-22-right.svg`
//! (open them in a browser), and the same recordings as `.json` (in https://ui.perfetto.dev).
//!
//! Expect: the table and the timelines, then `result: 148933 primes below 2000000 at every
//! chunk size; fastest chunk ... (...x); pool threads in tasks ...% too fine, ...% too coarse,
//! ...% right` (times vary by machine; every count, and where the spans lie, is asserted).

use anyhow::Context;
use shared::WorkerPool;
use shared::timeline::{Recording, Span, Timeline};
use shared::timing::{CpuWatch, ratio, timed};
use shared::workload::count_primes;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::Duration;

/// The whole job: count the primes below this; π(2,000,000), the answer every cut must find.
const LIMIT: u64 = 2_000_000;
const PRIMES_BELOW_LIMIT: u64 = 148_933;
/// The chunk sizes, from absurdly small to the whole range.
const CHUNKS: [u64; 8] = [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 2_000_000];
/// The timelines' job (a tenth: 20,000 spans draw, 200,000 would not), π of it, its cuts.
const PICTURED: u64 = 200_000;
const PRIMES_BELOW_PICTURED: u64 = 17_984;
#[rustfmt::skip]
const CUTS: [(&str, u64); 3] = [("too-fine", 10), ("too-coarse", PICTURED / 2), ("right", 1_000)];

fn main() -> anyhow::Result<()> {
    let cores = thread::available_parallelism()
        .context("cannot query parallelism")?
        .get();
    let watch = CpuWatch::start();
    let (sequential_count, sequential) = timed(|| count_primes(0..LIMIT));
    let seq = ms(sequential);
    println!("[main] sequential (main thread): {seq:>8.1} ms; read ratios, not times");
    let pool = WorkerPool::builder()
        .threads(cores)
        .thread_name(|i| format!("chunk-{i}"))
        .build()
        .context("could not start the chunk pool")?;
    println!("[main]      chunk      tasks    time ms  speedup");
    let mut runs = Vec::new();
    for chunk in CHUNKS {
        let run = count_in_chunks(&pool, LIMIT, chunk, &Timeline::disabled());
        let speedup = ratio(sequential, run.time);
        println!(
            "[main] {chunk:>10} {:>10} {:>10.1} {speedup:>7.2}x",
            run.tasks,
            ms(run.time)
        );
        runs.push(run);
    }
    let best = runs
        .iter()
        .min_by_key(|run| run.time)
        .context("the table has rows")?;
    explain_the_overhead(&runs[0], best, sequential, cores);
    let expected = 1.5_f64.min(cores as f64); // the middle rows, on cores free for this run
    if let Some(note) = watch.shortfall_note(ratio(sequential, best.time), expected) {
        println!("[main] {note}");
    }
    println!("[main] chunk {LIMIT}: one task, one busy core, the others idle");
    let [fine, coarse, right] = CUTS.map(|(case, chunk)| picture(&pool, case, chunk, cores));
    let (fine, coarse, right) = (fine?, coarse?, right?); // in tasks, percent of the time
    assert_eq!(sequential_count, PRIMES_BELOW_LIMIT);
    for run in &runs {
        assert_eq!(run.count, PRIMES_BELOW_LIMIT, "chunk {}", run.chunk);
        assert_eq!(run.tasks, LIMIT.div_ceil(run.chunk), "chunk {}", run.chunk);
    }
    println!(
        "result: {PRIMES_BELOW_LIMIT} primes below {LIMIT} at every chunk size; fastest chunk {} \
         ({:.2}x); pool threads in tasks {fine:.0}% too fine, {coarse:.0}% too coarse, \
         {right:.0}% right (times vary by machine)",
        best.chunk,
        ratio(sequential, best.time),
    );
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// One row of the table.
struct ChunkRun {
    chunk: u64,
    tasks: u64,
    count: u64,
    time: Duration,
}

/// Counts the primes below `limit` on `pool`, as tasks of `chunk` numbers each: one span per
/// task on `timeline`, and one on the main thread while it waits for them.
fn count_in_chunks(pool: &WorkerPool, limit: u64, chunk: u64, timeline: &Timeline) -> ChunkRun {
    let (total, mut tasks) = (AtomicU64::new(0), 0);
    let (wait, count) = (timeline.label("wait"), timeline.label("count"));
    let ((), time) = timed(|| {
        let _waiting = timeline.span(wait);
        // `scope` lets the tasks borrow `total`, and returns when every task has run.
        pool.scope(|s| {
            let mut low = 0;
            while low < limit {
                let high = (low + chunk).min(limit);
                let total = &total;
                s.spawn(move || {
                    let _span = timeline.span(count);
                    // Relaxed: a plain counter, read only after `scope` has returned.
                    total.fetch_add(count_primes(low..high), Ordering::Relaxed);
                });
                tasks += 1;
                low = high;
            }
        });
    });
    let count = total.into_inner();
    ChunkRun {
        chunk,
        tasks,
        count,
        time,
    }
}

/// The overhead of one task: what chunk 1 took beyond the best run, shared by the threads,
/// per task; against the work of one number, the sequential time per number.
fn explain_the_overhead(finest: &ChunkRun, best: &ChunkRun, sequential: Duration, cores: usize) {
    let overhead_ns = finest.time.saturating_sub(best.time).as_secs_f64() * 1e9
        / finest.tasks as f64
        * cores as f64;
    let work_ns = sequential.as_secs_f64() * 1e9 / LIMIT as f64;
    println!(
        "[main] chunk 1: each task costs about {overhead_ns:.0} ns of queueing for {work_ns:.0} ns of work"
    );
    println!(
        "[main] fastest in this run: chunk {}, {:.2}x (on an idle machine, expect a middle row)",
        best.chunk,
        ratio(sequential, best.time)
    );
}

/// One timeline: the primes below `PICTURED` in chunks of `chunk`, written as `l2-22-<case>`,
/// printed and checked. Returns how busy all the pool's threads were, in percent of the time.
fn picture(pool: &WorkerPool, case: &str, chunk: u64, cores: usize) -> anyhow::Result<f64> {
    let name = format!("l2-22-{case}");
    let title = format!("{name}: the primes below {PICTURED} in chunks of {chunk}");
    let timeline = Timeline::new(&title);
    let run = count_in_chunks(pool, PICTURED, chunk, &timeline);
    let recording = timeline.finish();
    print!("{}", recording.write_and_show(&name, 60)?);
    let all = recording.threads().iter();
    let workers: Vec<_> = all.filter(|r| r.name != "main").collect();
    let in_tasks: Duration = workers.iter().map(|r| r.busy()).sum();
    let busy = ratio(in_tasks, recording.wall() * cores as u32) * 100.0;
    let (tasks, ran) = (run.tasks, workers.len()); // a thread that ran no task has no row
    println!(
        "[main] {case}: {tasks} tasks on {ran} of {cores} threads, busy {busy:.0}% of the time"
    );
    if let [a, b] = spans(&recording, "count")[..] {
        let mut halves = [a.duration(), b.duration()];
        halves.sort();
        let [short, long] = halves;
        let (slower, best) = (ratio(long, short), ratio(long + short, long));
        println!("[main] one half ran {slower:.1}x as long as the other (the upper half's numbers");
        println!("[main] are bigger, more divisors to try): two halves reach {best:.2}x at most");
    }
    // By construction, however the OS schedules: a span per task, each inside the main
    // thread's wait (a scope returns once its tasks are done), and two tasks keep at most two
    // threads busy, whatever the pool's size.
    assert_eq!(run.count, PRIMES_BELOW_PICTURED, "chunk {chunk}");
    let (wait, counts) = (spans(&recording, "wait"), spans(&recording, "count"));
    assert_eq!((wait.len() as u64, counts.len() as u64), (1, run.tasks));
    let inside = |s: &&Span| wait[0].start <= s.start && s.end <= wait[0].end;
    assert!(counts.iter().all(inside), "a task outside the wait");
    assert!(run.tasks > 2 || workers.len() <= 2);
    Ok(busy)
}

/// Every span labelled `label` in `recording`.
fn spans<'r>(recording: &'r Recording, label: &str) -> Vec<&'r Span> {
    let all = recording.threads().iter().flat_map(|r| &r.spans);
    all.filter(|s| s.label == label).collect()
}
