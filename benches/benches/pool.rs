//! The pool: what `shared::pool::WorkerPool` costs per task, and what it gains on real work,
//! next to the pools a Rust programmer would otherwise reach for.
//!
//! Two criterion groups:
//!
//! - `tiny_tasks`: 100,000 tasks so small (a multiply and a rotate) that all you see is the
//!   cost of getting a task to a thread and hearing that it is done. Every variant runs the
//!   same batch and waits for all of it:
//!
//!   | variant | how the tasks run | how the caller learns they are done |
//!   |---|---|---|
//!   | `inline` | a loop on the caller: the floor, no threads at all | it returns |
//!   | `minimal_crossbeam_pool` | the ~20-line pool below: threads pulling boxed closures from one unbounded crossbeam channel | the shared [`Tally`] |
//!   | `threadpool` | the `threadpool` crate's `execute` | the shared [`Tally`] |
//!   | `rayon_spawn_latch` | `rayon::ThreadPool::spawn` | the shared [`Tally`] |
//!   | `rayon_spawn_channel` | `rayon::ThreadPool::spawn`, each task sending its value on a channel of its own (crossbeam's `bounded(1)`): rayon with a handle per task, as `pool_submit` has | each channel's `recv` |
//!   | `rayon_scope` | `rayon::ThreadPool::scope` + `Scope::spawn` | the scope returns |
//!   | `pool_execute` | `WorkerPool::execute`, default configuration: the closure travels in the queue slot | the shared [`Tally`] |
//!   | `pool_execute_boxed` | the same, with a closure one word too large for the slot, so boxed | the shared [`Tally`] |
//!   | `pool_execute_high` | `pool_execute`'s tasks at `Priority::High`, in their own lane | the shared [`Tally`] |
//!   | `pool_submit` | `WorkerPool::submit`, one `TaskHandle` per task | each handle's `join` |
//!   | `thread_per_task` | `std::thread::spawn` per task (1,000 tasks only, see below) | each thread's `join` |
//!
//!   Every fire-and-forget variant reports through the same [`Tally`] (an atomic countdown
//!   and a mutex/condvar that only the last task touches), and every variant's tasks do the
//!   same work, so the differences are the pools' own.
//!
//! - `cpu_bound`: real work from `shared::workload` (counting primes, rendering Mandelbrot
//!   rows) sequential, with the kernels' own scoped threads, on the pool (64 chunks through
//!   `WorkerPool::map` or `WorkerPool::scope`) and on rayon (the same 64 chunks through
//!   `par_iter` / `par_chunks_mut`). Here the per-task cost disappears into milliseconds of
//!   work per chunk, and all three parallel forms should approach the number of cores.
//!
//! Every pool is built once, outside the timing loops, with as many threads as
//! `std::thread::available_parallelism` reports. Before timing, every variant's result is
//! checked once against the sequential one.
//!
//! After criterion's output, a measuring run prints the issue's targets (pool against
//! `threadpool`, against the minimal pool, against rayon, and the CPU-bound speedup) from its
//! own median-of-N re-timings, each marked PASS or MISS, and a core probe that tells how
//! noisy the machine was (see [`probe_cores`]). The whole bench takes about two minutes on
//! two cores:
//!
//! ```text
//! cargo bench -p benches --bench pool                # measure, then print the targets
//! cargo bench -p benches --bench pool -- tiny_tasks  # one group only
//! cargo bench -p benches --bench pool -- --test      # run each once, as a check
//! ```

use benches::workloads::{render_band, split};
use benches::{measuring, stats};
use cpu_time::ProcessTime;
use criterion::{BenchmarkGroup, Criterion, Throughput, measurement::WallTime};
use rayon::prelude::*;
use shared::pool::{Priority, WorkerPool};
use shared::workload::{count_primes, count_primes_parallel, mandelbrot, mandelbrot_parallel};
use std::hint::black_box;
use std::num::NonZeroUsize;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// Tasks per batch in `tiny_tasks`: the issue's figure, enough that the per-task cost
/// dominates the per-batch one (waking the workers, the final wait).
const TASKS: u64 = 100_000;
/// Tasks per batch for `thread_per_task`: starting 100,000 threads would take seconds per
/// iteration, so it runs 1,000 and reports the same per-element throughput.
const THREAD_PER_TASK_TASKS: u64 = 1_000;
/// Chunks the CPU-bound work is cut into for the pool and for rayon: many more than cores, so
/// that a dear chunk at the end leaves little idle time, few enough that each is milliseconds.
const CHUNKS: usize = 64;
/// Primes: the numbers tested (as in `speedup.rs`).
const PRIME_RANGE: Range<u64> = 0..1_000_000;
/// Mandelbrot: the grid and the iteration cap (as in `speedup.rs`).
const MANDELBROT: (usize, usize, u32) = (480, 360, 256);
/// Re-timings per variant for the targets summary; the median is kept.
const SUMMARY_RUNS: usize = 15;

fn main() {
    // What `criterion_group!` and `criterion_main!` would generate, plus a summary at the end.
    let mut criterion = Criterion::default().configure_from_args();
    let cores = thread::available_parallelism().map_or(1, NonZeroUsize::get);

    // The pools, built once. Each one's threads sleep while another variant runs.
    let minimal = MinimalPool::new(cores);
    let classic = threadpool::ThreadPool::new(cores);
    let rayon_pool = rayon::ThreadPoolBuilder::new()
        .num_threads(cores)
        .build()
        .expect("a rayon pool");
    // The default configuration the targets are for: bounded queue, metrics on.
    let pool = WorkerPool::new(cores).expect("a worker pool");

    let probe_before = measuring().then(probe_cores);
    let tiny = tiny_tasks(&mut criterion, &minimal, &classic, &rayon_pool, &pool);
    let cpu = cpu_bound(&mut criterion, &rayon_pool, &pool, cores);

    criterion.final_summary();
    if let Some(before) = probe_before {
        print_targets(cores, &tiny, &cpu);
        println!("  core probe before the groups: {before}");
        println!("  core probe after the groups:  {}", probe_cores());
    }
}

/// What [`probe_cores`] saw.
struct Probe {
    median_trip: Duration,
    stalled: f64,
}

impl std::fmt::Display for Probe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "round trip {} ns (median), {:.0}% of the time lost in stalls over 10 µs",
            self.median_trip.as_nanos(),
            self.stalled * 100.0
        )
    }
}

/// Two threads pass a cache line back and forth 20,000 times. The median trip is what moving
/// a line between the cores costs (plus two clock reads), the floor under every pool's
/// per-task cost. Trips over 10 µs are stalls: a core was taken away (another process, or on
/// a virtual machine the host). Stalls make every `tiny_tasks` figure noisy; the summary's
/// ratios, taken from interleaved runs, suffer least.
fn probe_cores() -> Probe {
    const TRIPS: u64 = 20_000;
    // Give the pools' threads time to go to sleep: a third runnable thread would take a core.
    thread::sleep(Duration::from_millis(200));
    let turn = AtomicU64::new(0);
    thread::scope(|s| {
        s.spawn(|| {
            for i in 0..TRIPS {
                while turn.load(Ordering::Acquire) != 2 * i + 1 {
                    std::hint::spin_loop();
                }
                turn.store(2 * i + 2, Ordering::Release);
            }
        });
        let mut trips = Vec::with_capacity(TRIPS as usize);
        let start = Instant::now();
        for i in 0..TRIPS {
            let trip = Instant::now();
            turn.store(2 * i + 1, Ordering::Release);
            while turn.load(Ordering::Acquire) != 2 * i + 2 {
                std::hint::spin_loop();
            }
            trips.push(trip.elapsed());
        }
        let total = start.elapsed();
        let stalls: Duration = trips
            .iter()
            .filter(|trip| **trip > Duration::from_micros(10))
            .sum();
        trips.sort_unstable();
        Probe {
            median_trip: trips[trips.len() / 2],
            stalled: shared::timing::ratio(stalls, total),
        }
    })
}

// ---------------------------------------------------------------------------------------------
// tiny_tasks
// ---------------------------------------------------------------------------------------------

/// One tiny task's work: a multiply and a rotate on an input the optimiser cannot see through.
fn tiny(i: u64) -> u64 {
    black_box(i)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .rotate_left(17)
}

/// What every batch must add up to: the tasks' values summed (wrapping) on one thread.
fn expected_sum(tasks: u64) -> u64 {
    (0..tasks).map(tiny).fold(0, u64::wrapping_add)
}

/// The one completion signal of every fire-and-forget variant: tasks add their value to `sum`
/// and count `remaining` down; the task that reaches zero wakes the caller.
///
/// Only atomics on the way (the two share a cache line, so the second costs little), and only
/// the last task takes the mutex, under which it notifies; the caller checks the count under
/// the same mutex before it sleeps, so the wake-up cannot be lost. It is the shape of the
/// pool's own scope latch, so no variant gets a cheaper signal than another.
struct Tally {
    sum: AtomicU64,
    remaining: AtomicUsize,
    lock: Mutex<()>,
    zero: Condvar,
}

/// One tally for the whole bench: the variants run one after another, and a `static` needs no
/// `Arc`, whose reference counting would add two more contended atomics per task.
static TALLY: Tally = Tally {
    sum: AtomicU64::new(0),
    remaining: AtomicUsize::new(0),
    lock: Mutex::new(()),
    zero: Condvar::new(),
};

impl Tally {
    /// Prepares for a batch of `tasks`, before the first one is queued.
    fn arm(&self, tasks: u64) {
        self.sum.store(0, Ordering::Relaxed);
        let tasks = usize::try_from(tasks).expect("a batch fits in a usize");
        self.remaining.store(tasks, Ordering::Release);
    }

    /// A task's last act.
    fn record(&self, value: u64) {
        self.sum.fetch_add(value, Ordering::Relaxed);
        // AcqRel: every task's `sum` update happens-before the caller's read after zero.
        if self.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
            let _guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
            self.zero.notify_all();
        }
    }

    /// Waits until every task of the batch has recorded; returns their sum.
    fn wait(&self) -> u64 {
        let mut guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        while self.remaining.load(Ordering::Acquire) != 0 {
            guard = self
                .zero
                .wait(guard)
                .unwrap_or_else(PoisonError::into_inner);
        }
        self.sum.load(Ordering::Relaxed)
    }
}

/// The reference floor from the issue: N threads pulling boxed closures from one unbounded
/// crossbeam channel. No bounded queue, no panic catching, no metrics, no handles.
struct MinimalPool {
    tx: Option<crossbeam_channel::Sender<Box<dyn FnOnce() + Send>>>,
    threads: Vec<JoinHandle<()>>,
}

impl MinimalPool {
    fn new(threads: usize) -> Self {
        let (tx, rx) = crossbeam_channel::unbounded::<Box<dyn FnOnce() + Send>>();
        let threads = (0..threads)
            .map(|_| {
                let rx = rx.clone();
                thread::spawn(move || {
                    for job in rx {
                        job();
                    }
                })
            })
            .collect();
        Self {
            tx: Some(tx),
            threads,
        }
    }

    fn execute(&self, job: impl FnOnce() + Send + 'static) {
        let tx = self.tx.as_ref().expect("the pool is open until dropped");
        tx.send(Box::new(job))
            .expect("the workers outlive the pool");
    }
}

impl Drop for MinimalPool {
    fn drop(&mut self) {
        drop(self.tx.take()); // disconnects the channel: each worker's loop ends
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// A benchmark: its name, how many tasks one run does, and the run, which returns the sum.
type Variant<'a> = (&'static str, u64, Box<dyn Fn() -> u64 + 'a>);

/// Median times of the `tiny_tasks` variants, by name, with the median number of cores busy
/// during their timed runs, for the summary.
type Timings = Vec<(&'static str, Duration, f64)>;

fn tiny_tasks(
    criterion: &mut Criterion,
    minimal: &MinimalPool,
    classic: &threadpool::ThreadPool,
    rayon_pool: &rayon::ThreadPool,
    pool: &WorkerPool,
) -> Timings {
    // The handles of `pool_submit` and the receivers of `rayon_spawn_channel`, kept between
    // runs so no run pays for growing the vector.
    let handles = Mutex::new(Vec::with_capacity(TASKS as usize));
    let receivers = Mutex::new(Vec::with_capacity(TASKS as usize));

    let variants: Vec<Variant<'_>> = vec![
        (
            "inline",
            TASKS,
            Box::new(|| (0..TASKS).map(tiny).fold(0, u64::wrapping_add)),
        ),
        (
            "minimal_crossbeam_pool",
            TASKS,
            Box::new(|| {
                TALLY.arm(TASKS);
                for i in 0..TASKS {
                    minimal.execute(move || TALLY.record(tiny(i)));
                }
                TALLY.wait()
            }),
        ),
        (
            "threadpool",
            TASKS,
            Box::new(|| {
                TALLY.arm(TASKS);
                for i in 0..TASKS {
                    classic.execute(move || TALLY.record(tiny(i)));
                }
                // The same latch as the others rather than `threadpool::ThreadPool::join`, so
                // that no variant waits differently (the check below uses `join` as well).
                TALLY.wait()
            }),
        ),
        (
            "rayon_spawn_latch",
            TASKS,
            Box::new(|| {
                TALLY.arm(TASKS);
                for i in 0..TASKS {
                    rayon_pool.spawn(move || TALLY.record(tiny(i)));
                }
                TALLY.wait()
            }),
        ),
        (
            "rayon_spawn_channel",
            TASKS,
            Box::new(|| {
                // What a caller of rayon writes to get each task's own result back: a channel
                // per task, whose receiver is the handle.
                let mut receivers = receivers.lock().unwrap_or_else(PoisonError::into_inner);
                for i in 0..TASKS {
                    let (tx, rx) = crossbeam_channel::bounded(1);
                    rayon_pool.spawn(move || {
                        let _ = tx.send(tiny(i));
                    });
                    receivers.push(rx);
                }
                receivers
                    .drain(..)
                    .map(|rx| rx.recv().expect("every task sends its value"))
                    .fold(0, u64::wrapping_add)
            }),
        ),
        (
            "rayon_scope",
            TASKS,
            Box::new(|| {
                // The scope is its own latch; the tasks still record, to do the same work.
                TALLY.arm(TASKS);
                rayon_pool.scope(|s| {
                    for i in 0..TASKS {
                        s.spawn(move |_| TALLY.record(tiny(i)));
                    }
                });
                TALLY.sum.load(Ordering::Relaxed)
            }),
        ),
        (
            "pool_execute",
            TASKS,
            Box::new(|| {
                TALLY.arm(TASKS);
                for i in 0..TASKS {
                    pool.execute(move || TALLY.record(tiny(i)))
                        .expect("the pool is open");
                }
                TALLY.wait()
            }),
        ),
        (
            "pool_execute_boxed",
            TASKS,
            Box::new(|| {
                TALLY.arm(TASKS);
                for i in 0..TASKS {
                    // Four words: one more than `execute` carries in the queue slot, so each
                    // task is boxed, as every task was before (`shared/src/pool/inline.rs`).
                    let padded = [i; 4];
                    pool.execute(move || TALLY.record(tiny(black_box(padded)[0])))
                        .expect("the pool is open");
                }
                TALLY.wait()
            }),
        ),
        (
            "pool_execute_high",
            TASKS,
            Box::new(|| {
                TALLY.arm(TASKS);
                // The same tasks in the `High` lane: what a priority costs on top of `execute`.
                let high = pool.with_priority(Priority::High);
                for i in 0..TASKS {
                    high.execute(move || TALLY.record(tiny(i)))
                        .expect("the pool is open");
                }
                TALLY.wait()
            }),
        ),
        (
            "pool_submit",
            TASKS,
            Box::new(|| {
                // The handle is the latch: no tally, each task returns its value.
                let mut handles = handles.lock().unwrap_or_else(PoisonError::into_inner);
                for i in 0..TASKS {
                    handles.push(pool.submit(move || tiny(i)).expect("the pool is open"));
                }
                handles
                    .drain(..)
                    .map(|h| h.join().expect("a tiny task does not fail"))
                    .fold(0, u64::wrapping_add)
            }),
        ),
        (
            "thread_per_task",
            THREAD_PER_TASK_TASKS,
            Box::new(|| {
                let threads: Vec<_> = (0..THREAD_PER_TASK_TASKS)
                    .map(|i| thread::spawn(move || tiny(i)))
                    .collect();
                threads
                    .into_iter()
                    .map(|t| t.join().expect("a tiny task does not panic"))
                    .fold(0, u64::wrapping_add)
            }),
        ),
    ];

    // Check every variant once: a fast batch that lost tasks is no result.
    for (name, tasks, run) in &variants {
        assert_eq!(
            run(),
            expected_sum(*tasks),
            "tiny_tasks/{name}: wrong sum of {tasks} tasks"
        );
    }
    classic.join();
    assert_eq!(classic.panic_count(), 0, "threadpool: a task panicked");
    let metrics = pool.metrics();
    assert_eq!(
        (metrics.panicked, metrics.rejected, metrics.queued),
        (0, 0, 0),
        "the pool lost or refused tasks"
    );

    let mut group = criterion.benchmark_group("tiny_tasks");
    // Each run is a few milliseconds to a few tens; ten samples over three seconds give
    // medians stable to a few percent, which is the scale of the targets.
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for (name, tasks, run) in &variants {
        // Per-variant, so that `thread_per_task`'s 1,000 compare per element with the rest.
        group.throughput(Throughput::Elements(*tasks));
        group.bench_function(*name, |b| b.iter(run));
    }
    group.finish();

    if !measuring() || !selected("tiny_tasks", &variants) {
        return Vec::new();
    }
    median_times(&variants)
}

// ---------------------------------------------------------------------------------------------
// cpu_bound
// ---------------------------------------------------------------------------------------------

/// Median times of one CPU-bound workload, for the summary.
struct CpuTimings {
    name: &'static str,
    sequential: Duration,
    pool: Duration,
    rayon: Duration,
}

fn cpu_bound(
    criterion: &mut Criterion,
    rayon_pool: &rayon::ThreadPool,
    pool: &WorkerPool,
    cores: usize,
) -> Vec<CpuTimings> {
    let mut group = criterion.benchmark_group("cpu_bound");
    // Runs of tens of milliseconds, steady: few samples suffice (as in `speedup.rs`).
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));

    // Primes: a count per chunk, added up.
    let chunks = split(PRIME_RANGE, CHUNKS);
    let primes = cpu_workload(
        &mut group,
        "primes",
        PRIME_RANGE.end - PRIME_RANGE.start,
        || count_primes(black_box(PRIME_RANGE)),
        || count_primes_parallel(black_box(PRIME_RANGE), cores),
        || {
            pool.map(black_box(&chunks), |r| count_primes(r.clone()))
                .expect("the pool is open and counting does not panic")
                .into_iter()
                .sum()
        },
        || rayon_pool.install(|| chunks.par_iter().map(|r| count_primes(r.clone())).sum()),
    );

    // Mandelbrot: bands of whole rows written in place, each band one task.
    let (width, height, max_iter) = MANDELBROT;
    let band_rows = height.div_ceil(CHUNKS);
    let band_len = band_rows * width;
    let mandel = cpu_workload(
        &mut group,
        "mandelbrot",
        (width * height) as u64,
        || mandelbrot(black_box(width), height, max_iter),
        || mandelbrot_parallel(black_box(width), height, max_iter, cores),
        || {
            let mut grid = vec![0; width * height];
            pool.scope(|s| {
                for (k, band) in grid.chunks_mut(band_len).enumerate() {
                    s.spawn(move || render_band(band, k * band_rows, width, height, max_iter));
                }
            });
            grid
        },
        || {
            let mut grid = vec![0; width * height];
            rayon_pool.install(|| {
                grid.par_chunks_mut(band_len)
                    .enumerate()
                    .for_each(|(k, band)| {
                        render_band(band, k * band_rows, width, height, max_iter)
                    });
            });
            grid
        },
    );
    group.finish();

    [primes, mandel].into_iter().flatten().collect()
}

/// One workload in `cpu_bound`: checks that the four forms agree, times them, and (when
/// measuring) re-times sequential, pool and rayon for the summary.
fn cpu_workload<R: PartialEq>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    name: &'static str,
    elements: u64,
    sequential: impl Fn() -> R,
    scoped_threads: impl Fn() -> R,
    on_pool: impl Fn() -> R,
    on_rayon: impl Fn() -> R,
) -> Option<CpuTimings> {
    let expected = sequential();
    // `assert!` rather than `assert_eq!`: a mismatch should not print two 170,000-pixel grids.
    assert!(
        scoped_threads() == expected,
        "{name}: scoped threads differ"
    );
    assert!(on_pool() == expected, "{name}: the pool differs");
    assert!(on_rayon() == expected, "{name}: rayon differs");

    group.throughput(Throughput::Elements(elements));
    let forms: [(&str, &dyn Fn() -> R); 4] = [
        ("sequential", &sequential),
        ("scoped_threads", &scoped_threads),
        ("pool", &on_pool),
        ("rayon", &on_rayon),
    ];
    for (form, run) in forms {
        group.bench_function(format!("{name}/{form}"), |b| b.iter(run));
    }

    let ids = forms.map(|(form, _)| format!("cpu_bound/{name}/{form}"));
    if !measuring() || !ids.iter().any(|id| benches::selected(id)) {
        return None;
    }
    let timed: Vec<Variant<'_>> = vec![
        (
            "sequential",
            1,
            Box::new(|| u64::from(sequential() == expected)),
        ),
        ("pool", 1, Box::new(|| u64::from(on_pool() == expected))),
        ("rayon", 1, Box::new(|| u64::from(on_rayon() == expected))),
    ];
    let medians = median_times(&timed);
    Some(CpuTimings {
        name,
        sequential: medians[0].1,
        pool: medians[1].1,
        rayon: medians[2].1,
    })
}

// ---------------------------------------------------------------------------------------------
// The summary
// ---------------------------------------------------------------------------------------------

/// The median wall time of [`SUMMARY_RUNS`] warm runs of each variant, the variants taking
/// turns, and the median number of cores the process kept busy during those runs (its CPU
/// time over the wall time). Timed warm because rayon, timed cold after the sequential form,
/// was up to 30% slower in its first run in trials on two cores: its workers had gone to
/// sleep while the caller computed alone.
///
/// The cores figure tells how a batch of tiny tasks ran. Near 1, the submitter and the
/// workers took turns on one core: the queue filled while the workers were off the CPU and
/// was drained while the submitter was, every cache line staying in one core's cache. Near 2,
/// they ran at once on both cores, and each task's cache lines travelled between them. On
/// this kind of machine the first is several times faster per task, and which one a run gets
/// is up to the operating system's scheduler, not the pool: compare ratios between variants
/// that ran alike.
fn median_times(variants: &[Variant<'_>]) -> Timings {
    let mut walls: Vec<Vec<Duration>> = vec![Vec::with_capacity(SUMMARY_RUNS); variants.len()];
    let mut cores: Vec<Vec<f64>> = vec![Vec::with_capacity(SUMMARY_RUNS); variants.len()];
    for _ in 0..SUMMARY_RUNS {
        for (k, (_, _, run)) in variants.iter().enumerate() {
            black_box(run());
            let cpu = ProcessTime::now();
            let start = Instant::now();
            black_box(run());
            let wall = start.elapsed();
            let busy = cpu.elapsed();
            walls[k].push(wall);
            cores[k].push(busy.as_secs_f64() / wall.as_secs_f64().max(f64::MIN_POSITIVE));
        }
    }
    variants
        .iter()
        .zip(walls.iter().zip(&mut cores))
        .map(|((name, _, _), (walls, cores))| {
            cores.sort_unstable_by(f64::total_cmp);
            let cores = cores.get(cores.len() / 2).copied().unwrap_or(0.0);
            (*name, stats::median(walls), cores)
        })
        .collect()
}

fn print_targets(cores: usize, tiny: &Timings, cpu: &[CpuTimings]) {
    println!("\nTargets on {cores} threads (median of {SUMMARY_RUNS} re-timings per variant):");
    if !tiny.is_empty() {
        let per_task = |name: &str| {
            let (_, time, _) = tiny.iter().find(|(n, _, _)| *n == name).expect("a variant");
            let tasks = if name == "thread_per_task" {
                THREAD_PER_TASK_TASKS
            } else {
                TASKS
            };
            time.as_secs_f64() * 1e9 / tasks as f64
        };
        println!("  tiny_tasks in this run: ns per task, cores busy (CPU time / wall time)");
        for (name, _, cores) in tiny {
            println!("    {name:<24} {:>9.1}  {cores:>4.2}", per_task(name));
        }
        let ratio = |a: &str, b: &str| per_task(a) / per_task(b);
        target(
            "execute / threadpool",
            ratio("pool_execute", "threadpool"),
            1.0,
        );
        target(
            "execute / minimal_crossbeam_pool",
            ratio("pool_execute", "minimal_crossbeam_pool"),
            1.3,
        );
        target(
            "submit / rayon_spawn_latch",
            ratio("pool_submit", "rayon_spawn_latch"),
            1.0,
        );
    }
    for w in cpu {
        let speedup = shared::timing::ratio(w.sequential, w.pool);
        let against_rayon = shared::timing::ratio(w.pool, w.rayon);
        println!(
            "  cpu_bound/{}: sequential {:.1} ms, pool {:.1} ms, rayon {:.1} ms",
            w.name,
            w.sequential.as_secs_f64() * 1e3,
            w.pool.as_secs_f64() * 1e3,
            w.rayon.as_secs_f64() * 1e3,
        );
        let label = format!("{}: sequential / pool (at least)", w.name);
        let pass = speedup >= 1.9;
        println!(
            "    {label:<40} {speedup:>5.2}x  target >= 1.90  {}",
            verdict(pass)
        );
        target(&format!("{}: pool / rayon", w.name), against_rayon, 1.05);
    }
}

/// One "at most" target line: `ratio` must not exceed `limit`.
fn target(label: &str, ratio: f64, limit: f64) {
    println!(
        "    {label:<40} {ratio:>5.2}x  target <= {limit:.2}  {}",
        verdict(ratio <= limit)
    );
}

fn verdict(pass: bool) -> &'static str {
    if pass { "PASS" } else { "MISS" }
}

// ---------------------------------------------------------------------------------------------
// Command line
// ---------------------------------------------------------------------------------------------

/// Whether criterion will run any benchmark of a `tiny_tasks`-style group, so that the summary
/// does not re-time a group the command line filtered out.
fn selected(group: &str, variants: &[Variant<'_>]) -> bool {
    variants
        .iter()
        .any(|(name, _, _)| benches::selected(&format!("{group}/{name}")))
}
