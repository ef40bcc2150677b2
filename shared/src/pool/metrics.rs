//! What the pool counts, and the [`PoolMetrics`] snapshot a caller reads.
//!
//! Cheap enough to stay on by default:
//! - each worker counts its own jobs in its own cache line (one writer, no atomic
//!   read-modify-write), and a snapshot adds the workers up;
//! - submitting touches no shared counter: the number of submitted tasks is derived from
//!   what the workers took and what is still queued;
//! - queue wait and run time are timed for a *sample* of tasks: every task of the first
//!   [`SAMPLE_ALL_FIRST`] a thread submits, then one in [`SAMPLE_EVERY`], because two clock
//!   reads cost as much as a tiny task itself;
//! - utilisation comes from the time workers spend *waiting*, which is measured only when the
//!   queue runs dry, never per task.
//!
//! A snapshot taken while tasks run is not one instant: each count is exact when read, but a
//! task may move between two counts as they are read. Once the pool is quiet the counts
//! balance exactly: `submitted == completed + panicked + cancelled + timed_out + queued +
//! running` (the tests check it).

use super::histogram::{Histogram, LatencySummary};
use super::task::Outcome;
use crossbeam_utils::CachePadded;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Every task among the first this many that a thread submits is timed.
///
/// ```
/// use shared::pool::WorkerPool;
///
/// let pool = WorkerPool::new(1)?;
/// pool.submit(|| ())?.join()?;
/// assert_eq!(pool.metrics().run_time.count(), 1); // the first tasks are all timed
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub const SAMPLE_ALL_FIRST: u64 = 1024;
/// After the first [`SAMPLE_ALL_FIRST`], one task in this many is timed.
///
/// ```
/// use shared::pool::{SAMPLE_ALL_FIRST, SAMPLE_EVERY};
///
/// // Of 10,000 tasks, this many carry timings into the histograms:
/// let timed = SAMPLE_ALL_FIRST + (10_000 - SAMPLE_ALL_FIRST).div_ceil(SAMPLE_EVERY);
/// assert!(timed < 2_000);
/// ```
pub const SAMPLE_EVERY: u64 = 16;

/// The pool's counters, shared by its threads.
#[derive(Debug)]
pub(crate) struct Metrics {
    rejected: AtomicU64,
    /// Workers that died (a panic outside any task) and were replaced.
    replaced: AtomicU64,
    /// Jobs taken out of the queue by `shutdown_now` rather than by a worker.
    drained: AtomicU64,
    pub(crate) queue_wait: Histogram,
    pub(crate) run_time: Histogram,
    workers: Mutex<Workers>,
    epoch: Instant,
}

#[derive(Debug, Default)]
struct Workers {
    live: Vec<Arc<WorkerStats>>,
    /// The counts of workers that have exited.
    retired: Totals,
}

#[derive(Debug, Default, Clone, Copy)]
struct Totals {
    started: u64,
    completed: u64,
    panicked: u64,
    cancelled: u64,
    timed_out: u64,
    busy_nanos: u64,
    alive_nanos: u64,
}

/// One worker's counts. Only that worker writes them.
#[derive(Debug)]
pub(crate) struct WorkerStats {
    counts: CachePadded<Counts>,
    born: Instant,
    epoch: Instant,
}

#[derive(Debug, Default)]
struct Counts {
    started: AtomicU64,
    completed: AtomicU64,
    panicked: AtomicU64,
    cancelled: AtomicU64,
    timed_out: AtomicU64,
    idle_nanos: AtomicU64,
    /// Nanoseconds since the pool's epoch at which the current idle period began, or 0.
    idle_since: AtomicU64,
}

/// Adds one to a counter that only the calling thread writes: a plain load and store, which
/// costs nothing like the locked instruction a shared counter needs.
fn bump(counter: &AtomicU64) {
    counter.store(counter.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
}

impl WorkerStats {
    pub(crate) fn started(&self) {
        bump(&self.counts.started);
    }

    pub(crate) fn finished(&self, outcome: Outcome) {
        bump(match outcome {
            Outcome::Completed => &self.counts.completed,
            Outcome::Panicked => &self.counts.panicked,
            Outcome::Cancelled => &self.counts.cancelled,
            Outcome::TimedOut => &self.counts.timed_out,
        });
    }

    pub(crate) fn idle_enter(&self) -> Instant {
        let now = Instant::now();
        let since = nanos(now.saturating_duration_since(self.epoch)).max(1);
        self.counts.idle_since.store(since, Ordering::Relaxed);
        now
    }

    pub(crate) fn idle_leave(&self, since: Instant) {
        self.counts.idle_since.store(0, Ordering::Relaxed);
        let idle = self.counts.idle_nanos.load(Ordering::Relaxed) + nanos(since.elapsed());
        self.counts.idle_nanos.store(idle, Ordering::Relaxed);
    }

    fn totals(&self, now: Instant) -> Totals {
        let c = &self.counts;
        let alive = nanos(now.saturating_duration_since(self.born));
        let mut idle = c.idle_nanos.load(Ordering::Relaxed);
        let since = c.idle_since.load(Ordering::Relaxed);
        if since != 0 {
            // Idle right now: count the wait so far too.
            idle += nanos(now.saturating_duration_since(self.epoch)).saturating_sub(since);
        }
        Totals {
            started: c.started.load(Ordering::Relaxed),
            completed: c.completed.load(Ordering::Relaxed),
            panicked: c.panicked.load(Ordering::Relaxed),
            cancelled: c.cancelled.load(Ordering::Relaxed),
            timed_out: c.timed_out.load(Ordering::Relaxed),
            busy_nanos: alive.saturating_sub(idle),
            alive_nanos: alive,
        }
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl Totals {
    fn add(&mut self, other: Totals) {
        self.started += other.started;
        self.completed += other.completed;
        self.panicked += other.panicked;
        self.cancelled += other.cancelled;
        self.timed_out += other.timed_out;
        self.busy_nanos += other.busy_nanos;
        self.alive_nanos += other.alive_nanos;
    }
}

impl Metrics {
    pub(crate) fn new() -> Self {
        Self {
            rejected: AtomicU64::new(0),
            replaced: AtomicU64::new(0),
            drained: AtomicU64::new(0),
            queue_wait: Histogram::new(),
            run_time: Histogram::new(),
            workers: Mutex::new(Workers::default()),
            epoch: Instant::now(),
        }
    }

    /// Whether the task being submitted should be timed. Decided per submitting thread, so
    /// that submitting touches no counter shared with other threads: the count of submitted
    /// tasks is derived instead, from what the workers took and what is still queued.
    pub(crate) fn sample() -> bool {
        thread_local! {
            static SUBMITTED: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
        }
        SUBMITTED.with(|n| {
            let seq = n.get();
            n.set(seq.wrapping_add(1));
            seq < SAMPLE_ALL_FIRST || seq.is_multiple_of(SAMPLE_EVERY)
        })
    }

    pub(crate) fn rejected(&self) {
        self.rejected.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn replaced(&self) {
        self.replaced.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn drained(&self) {
        self.drained.fetch_add(1, Ordering::Relaxed);
    }

    /// Registers a new worker's counters.
    pub(crate) fn enlist(&self) -> Arc<WorkerStats> {
        let stats = Arc::new(WorkerStats {
            counts: CachePadded::new(Counts::default()),
            born: Instant::now(),
            epoch: self.epoch,
        });
        self.lock().live.push(Arc::clone(&stats));
        stats
    }

    /// Folds an exiting worker's counts into the retired totals.
    pub(crate) fn retire(&self, stats: &Arc<WorkerStats>) {
        let totals = stats.totals(Instant::now());
        let mut workers = self.lock();
        workers.live.retain(|s| !Arc::ptr_eq(s, stats));
        workers.retired.add(totals);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Workers> {
        // Each critical section is a push, a retain or a sum: nothing a panic can tear.
        self.workers.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn snapshot(
        &self,
        queued: usize,
        threads: usize,
        idle_threads: usize,
    ) -> PoolMetrics {
        let now = Instant::now();
        let mut totals = {
            let workers = self.lock();
            let mut totals = workers.retired;
            for stats in &workers.live {
                totals.add(stats.totals(now));
            }
            totals
        };
        let drained = self.drained.load(Ordering::Relaxed);
        totals.cancelled += drained;
        let finished = totals.completed + totals.panicked + totals.cancelled + totals.timed_out;
        let rejected = self.rejected.load(Ordering::Relaxed);
        PoolMetrics {
            // Every accepted task is queued, or was taken by a worker or by `shutdown_now`.
            submitted: totals.started + drained + queued as u64,
            queued: queued as u64,
            running: (totals.started + drained).saturating_sub(finished),
            completed: totals.completed,
            panicked: totals.panicked,
            cancelled: totals.cancelled,
            timed_out: totals.timed_out,
            rejected,
            threads,
            idle_threads,
            workers_replaced: self.replaced.load(Ordering::Relaxed),
            queue_wait: self.queue_wait.snapshot(),
            run_time: self.run_time.snapshot(),
            utilisation: if totals.alive_nanos == 0 {
                0.0
            } else {
                totals.busy_nanos as f64 / totals.alive_nanos as f64
            },
        }
    }
}

/// A snapshot of a pool's counters and timings, from [`WorkerPool::metrics`](super::WorkerPool::metrics).
///
/// ```
/// use shared::pool::WorkerPool;
///
/// let pool = WorkerPool::new(2)?;
/// for n in 0..10u64 {
///     pool.execute(move || { std::hint::black_box(n * n); })?;
/// }
/// pool.join().unwrap();
/// let m = pool.metrics();
/// assert_eq!((m.submitted, m.completed, m.queued, m.running), (10, 10, 0, 0));
/// println!("{m}");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct PoolMetrics {
    /// Tasks accepted into the queue.
    pub submitted: u64,
    /// Tasks waiting in the queue, all priorities together.
    pub queued: u64,
    /// Tasks a worker has taken and not finished.
    pub running: u64,
    /// Tasks that returned normally.
    pub completed: u64,
    /// Tasks that panicked (the pool survived each one).
    pub panicked: u64,
    /// Tasks cancelled through their handle, or dropped from the queue by `shutdown_now`.
    pub cancelled: u64,
    /// Tasks that ran past their timeout.
    pub timed_out: u64,
    /// Submissions refused: the queue was full, or the pool closed. Not part of `submitted`.
    pub rejected: u64,
    /// Worker threads alive now.
    pub threads: usize,
    /// Worker threads waiting for work now.
    pub idle_threads: usize,
    /// Worker threads that died outside any task (a panic the pool could not contain), each
    /// followed by the start of a new thread in its place (if that start failed, the pool
    /// lost its workers: see [`JoinError::WorkersLost`](super::JoinError::WorkersLost)). A
    /// task's own panic never kills its worker, so this stays 0 unless something is badly
    /// wrong: watch it.
    pub workers_replaced: u64,
    /// Time from submission to start, for the sampled tasks.
    pub queue_wait: LatencySummary,
    /// Time from start to finish, for the sampled tasks.
    pub run_time: LatencySummary,
    /// The share of the workers' lifetime spent running tasks rather than waiting for one,
    /// from 0.0 to 1.0, over the pool's whole life.
    pub utilisation: f64,
}

impl fmt::Display for PoolMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "tasks:   submitted {} | queued {} | running {} | completed {} | panicked {} | \
             cancelled {} | timed out {} | rejected {}",
            self.submitted,
            self.queued,
            self.running,
            self.completed,
            self.panicked,
            self.cancelled,
            self.timed_out,
            self.rejected
        )?;
        writeln!(
            f,
            "threads: {} ({} idle, {} replaced), utilisation {:.0}%",
            self.threads,
            self.idle_threads,
            self.workers_replaced,
            self.utilisation * 100.0
        )?;
        writeln!(f, "wait:    {}", self.queue_wait)?;
        write!(f, "run:     {}", self.run_time)
    }
}
