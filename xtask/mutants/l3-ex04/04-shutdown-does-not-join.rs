//! Wrong answer (never joined): `shutdown` counts each worker's exit notice as joined but drops its handle, so the thread is left to finish on its own after `shutdown` returns.
//! # Exercise l3-ex04: auto-scaling policy
//!
//! **Goal.** Build a pool that grows when work piles up and shrinks when its workers stand
//! idle, in two parts. First the *policy*: a pure state machine that looks at the queue depth,
//! the busy and idle workers and the time, and answers `Grow(n)`, `Shrink(n)` or `Hold`, with
//! the reason, never more often than its cool-downs allow. Then a small *pool* that it drives:
//! threads that run tasks from one crossbeam channel, grown by spawning and shrunk with a
//! poison pill, and a [`AutoScalingPool::tick`] that you call with the time. The Node exercise
//! checked its rules on a `setInterval` and could only be watched in real time; here the clock
//! is an argument (`now: Instant`), so a test walks through a minute of scaling in
//! milliseconds, one tick at a time. Port its intent, not its bugs: one Node solution posted
//! task records holding functions (a `DataCloneError`, then a hang), the other gave tasks that
//! were submitted together the same id, so only one of them ever resolved; and the Node
//! example kept a dead worker in its pool, counted as idle.
//!
//! **Check your attempt:** `cargo exercise check l3-ex04`
//!
//! **What the tests expect**
//! - [`ScalingConfig::default`] is the Node example's: 2 to 8 workers, grow when more than 3
//!   tasks wait, one worker per event, cool-downs of 1 s up and 5 s down, no smoothing. A config
//!   with `max_workers` 0, `min_workers` 0, `min_workers > max_workers`, a `step` of 0 or a
//!   smoothing factor outside `(0, 1]` is a [`ConfigError`], from [`ScalingPolicy::new`] and
//!   from [`AutoScalingPool::new`].
//! - [`ScalingPolicy::decide`], in this order of precedence:
//!   1. fewer workers than `min_workers` (one died): grow back to the minimum at once, no
//!      cool-down ([`Reason::BelowMinimum`]);
//!   2. a backlog (the queue depth, smoothed if configured, above `grow_above`): grow by
//!      `step`, never above `max_workers` ([`Reason::Backlog`]), or hold because the pool is at
//!      its maximum ([`Reason::AtMaximum`]) or cooling down ([`Reason::CoolingDown`]);
//!   3. an empty queue with more than one idle worker: shrink by `step`, keeping one idle
//!      worker and never going below `min_workers` ([`Reason::IdleWorkers`]), or hold because
//!      the pool is at its minimum ([`Reason::AtMinimum`]) or cooling down;
//!   4. otherwise hold ([`Reason::Steady`]).
//! - Cool-downs count from the last scaling event of either kind: a grow needs `cooldown_up`
//!   since then, a shrink `cooldown_down`. Exactly the cool-down later is allowed.
//! - Smoothing is an exponential moving average: the first sample is taken as it is, then
//!   `smoothed = alpha * queued + (1 - alpha) * previous`. With `alpha` 0.3 and a threshold of
//!   10, queue depths 0 then 20 give 6 (hold), and a second 20 gives 10.2 (grow).
//! - The pool: with 30 gated tasks queued and every worker busy, ticks every 100 ms grow it one
//!   worker per second up to 8 and never beyond; 8 tasks then run at once; no two scaling
//!   events fall inside a cool-down; once the gate opens, all 40 tasks of the two waves complete
//!   exactly once; idle, the pool shrinks one worker per 5 s back to 2. Every grow and shrink
//!   is in [`AutoScalingPool::events`] with its sizes and reason.
//! - A worker whose task panics ends; the next tick removes it (it never counts as idle) and,
//!   the pool now being below its minimum, starts another.
//! - [`AutoScalingPool::shutdown`] lets the workers run every queued task, then joins them.
//!
//! **Hints:** `cargo exercise hint l3-ex04` shows one at a time, from the idea to the
//! exact API to the documentation.

use crossbeam_channel::{Receiver, Sender};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};
use thiserror::Error;

/// The Node example's smallest pool.
pub const MIN_WORKERS: usize = 2;
/// The Node example's largest pool.
pub const MAX_WORKERS: usize = 8;
/// The Node example grows when more than this many tasks wait.
pub const GROW_ABOVE: usize = 3;
/// The Node example waits this long after a scaling event before it grows again.
pub const COOLDOWN_UP: Duration = Duration::from_secs(1);
/// The Node example waits this long after a scaling event before it shrinks.
pub const COOLDOWN_DOWN: Duration = Duration::from_secs(5);

/// The policy's settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScalingConfig {
    /// The pool never shrinks below this, and grows back to it when a worker dies.
    pub min_workers: usize,
    /// The pool never grows above this.
    pub max_workers: usize,
    /// Grow when more than this many tasks wait (after smoothing).
    pub grow_above: usize,
    /// Workers added or removed by one scaling event, at most.
    pub step: usize,
    /// After a scaling event, how long until the pool may grow.
    pub cooldown_up: Duration,
    /// After a scaling event, how long until the pool may shrink.
    pub cooldown_down: Duration,
    /// `Some(alpha)`: decide on an exponential moving average of the queue depth, with weight
    /// `alpha` in `(0, 1]` for the newest sample. `None`: decide on each sample as it is.
    pub smoothing: Option<f64>,
}

impl Default for ScalingConfig {
    fn default() -> Self {
        Self {
            min_workers: MIN_WORKERS,
            max_workers: MAX_WORKERS,
            grow_above: GROW_ABOVE,
            step: 1,
            cooldown_up: COOLDOWN_UP,
            cooldown_down: COOLDOWN_DOWN,
            smoothing: None,
        }
    }
}

/// Why a [`ScalingConfig`] cannot work.
#[derive(Debug, Clone, Copy, PartialEq, Error)]
pub enum ConfigError {
    /// A pool of at most 0 workers runs nothing.
    #[error("max_workers is 0: the pool could never run a task")]
    NoWorkers,
    /// A pool that may shrink to 0 workers strands a short queue forever: with nobody busy and
    /// nothing above the threshold, nothing would ever grow it again.
    #[error("min_workers is 0: a pool shrunk to nothing would never run a short queue")]
    ZeroMinimum,
    /// The bounds are the wrong way round.
    #[error("min_workers ({min}) is above max_workers ({max})")]
    MinAboveMax { min: usize, max: usize },
    /// A scaling event must change something.
    #[error("step is 0: a scaling event would add or remove no worker")]
    ZeroStep,
    /// The weight of the newest sample must be in `(0, 1]`.
    #[error("the smoothing factor {0} is not in (0, 1]")]
    BadSmoothing(f64),
}

impl ScalingConfig {
    /// Checks the settings.
    ///
    /// # Errors
    /// The first problem found, in the order of [`ConfigError`]'s variants.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.max_workers == 0 {
            return Err(ConfigError::NoWorkers);
        }
        if self.min_workers == 0 {
            return Err(ConfigError::ZeroMinimum);
        }
        if self.min_workers > self.max_workers {
            return Err(ConfigError::MinAboveMax {
                min: self.min_workers,
                max: self.max_workers,
            });
        }
        if self.step == 0 {
            return Err(ConfigError::ZeroStep);
        }
        if let Some(alpha) = self.smoothing {
            // Written so that NaN, which fails every comparison, is refused too.
            if !(alpha > 0.0 && alpha <= 1.0) {
                return Err(ConfigError::BadSmoothing(alpha));
            }
        }
        Ok(())
    }
}

/// What the pool looks like at one tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Load {
    /// Tasks waiting for a worker.
    pub queued: usize,
    /// Workers running a task.
    pub busy: usize,
    /// Workers waiting for a task.
    pub idle: usize,
}

impl Load {
    /// The pool's size: busy and idle workers.
    pub fn size(&self) -> usize {
        self.busy + self.idle
    }
}

/// What to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Start this many workers.
    Grow(usize),
    /// Stop this many workers.
    Shrink(usize),
    /// Leave the pool as it is.
    Hold,
}

/// Why.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Reason {
    /// Fewer workers than the minimum: one has died.
    BelowMinimum { size: usize, min: usize },
    /// More tasks wait than the threshold. `queued` is the smoothed depth if smoothing is on.
    Backlog { queued: f64, threshold: usize },
    /// The queue is empty and this many workers are idle.
    IdleWorkers { idle: usize },
    /// Growing is called for, but the pool is at its maximum.
    AtMaximum { max: usize },
    /// Shrinking is called for, but the pool is at its minimum.
    AtMinimum { min: usize },
    /// Scaling is called for, but the last event was too recent: `wait` more to go.
    CoolingDown { wait: Duration },
    /// Neither a backlog nor idle workers to spare.
    Steady,
}

/// The policy's answer: an action and its reason.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Decision {
    pub action: Action,
    pub reason: Reason,
}

impl Decision {
    fn new(action: Action, reason: Reason) -> Self {
        Self { action, reason }
    }

    fn hold(reason: Reason) -> Self {
        Self::new(Action::Hold, reason)
    }
}

/// The auto-scaling rules, as a state machine with no threads and no clock of its own: it
/// remembers when it last scaled and its smoothed queue depth, and is told the time.
#[derive(Debug, Clone)]
pub struct ScalingPolicy {
    config: ScalingConfig,
    /// The time of the last `Grow` or `Shrink` it answered.
    last_event: Option<Instant>,
    /// The moving average of the queue depth, once there is a sample.
    smoothed: Option<f64>,
}

impl ScalingPolicy {
    /// A policy that has seen nothing yet.
    ///
    /// # Errors
    /// A [`ConfigError`] from [`ScalingConfig::validate`].
    pub fn new(config: ScalingConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Self {
            config,
            last_event: None,
            smoothed: None,
        })
    }

    /// The settings.
    pub fn config(&self) -> &ScalingConfig {
        &self.config
    }

    /// The queue depth the last decision went by: smoothed if smoothing is on, `None` before
    /// the first decision.
    pub fn smoothed_queue(&self) -> Option<f64> {
        self.smoothed
    }

    /// Decides what to do about `load` at `now`, and remembers `now` if the answer is to
    /// scale: the caller is expected to carry it out. `now` may be any `Instant` (a test's
    /// fake time); one earlier than the last event counts as no time since it.
    pub fn decide(&mut self, load: Load, now: Instant) -> Decision {
        let ScalingConfig {
            min_workers: min,
            max_workers: max,
            grow_above,
            step,
            cooldown_up,
            cooldown_down,
            smoothing,
        } = self.config;
        let size = load.size();

        let queued = load.queued as f64;
        let smoothed = match (smoothing, self.smoothed) {
            (Some(alpha), Some(previous)) => alpha * queued + (1.0 - alpha) * previous,
            _ => queued,
        };
        self.smoothed = Some(smoothed);

        // How much longer a cool-down lasts, or `None` if it is over (or nothing happened yet).
        let since_last = self.last_event.map(|t| now.saturating_duration_since(t));
        let cooling = |cooldown: Duration| {
            since_last
                .filter(|&since| since < cooldown)
                .map(|since| cooldown - since)
        };

        let decision = if size < min {
            // A floor, not a preference: no cool-down applies.
            Decision::new(Action::Grow(min - size), Reason::BelowMinimum { size, min })
        } else if smoothed > grow_above as f64 {
            if size >= max {
                Decision::hold(Reason::AtMaximum { max })
            } else if let Some(wait) = cooling(cooldown_up) {
                Decision::hold(Reason::CoolingDown { wait })
            } else {
                Decision::new(
                    Action::Grow(step.min(max - size)),
                    Reason::Backlog {
                        queued: smoothed,
                        threshold: grow_above,
                    },
                )
            }
        } else if load.queued == 0 && load.idle > 1 {
            // The raw depth, not the smoothed one: a pill must never wait behind a task.
            if size <= min {
                Decision::hold(Reason::AtMinimum { min })
            } else if let Some(wait) = cooling(cooldown_down) {
                Decision::hold(Reason::CoolingDown { wait })
            } else {
                // Keep one idle worker for the next task, and never go below the minimum.
                let by = step.min(load.idle - 1).min(size - min);
                Decision::new(Action::Shrink(by), Reason::IdleWorkers { idle: load.idle })
            }
        } else {
            Decision::hold(Reason::Steady)
        };

        if decision.action != Action::Hold {
            self.last_event = Some(now);
        }
        decision
    }
}

/// Why the pool could not start or take a task.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum PoolError {
    #[error("invalid scaling config: {0}")]
    Config(#[from] ConfigError),
    #[error("could not start a worker thread: {0}")]
    Spawn(String),
}

/// A grow or shrink that the pool carried out.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScalingEvent {
    /// The `now` of the tick that decided it.
    pub at: Instant,
    /// The pool's size before and after.
    pub from: usize,
    pub to: usize,
    pub action: Action,
    pub reason: Reason,
}

/// The pool's counts, now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PoolStats {
    /// Workers that count: threads started and not yet told to stop.
    pub workers: usize,
    /// Worker threads the pool still holds, including those told to stop that have not ended
    /// yet and those that ended since the last tick.
    pub threads: usize,
    /// Workers running a task.
    pub busy: usize,
    /// `workers - busy`.
    pub idle: usize,
    /// Tasks waiting for a worker.
    pub queued: usize,
    /// Tasks that ran to the end.
    pub completed: u64,
    /// The most workers the pool ever had.
    pub peak_workers: usize,
    /// Workers that died (their task panicked) and were removed.
    pub lost_workers: usize,
}

/// A task: any closure. It runs once, on a worker thread.
type Job = Box<dyn FnOnce() + Send + 'static>;

/// Counts a worker as busy while it is alive; dropping it (also by a panic) counts down.
#[derive(Debug)]
struct BusyGuard<'a>(&'a AtomicUsize);

impl<'a> BusyGuard<'a> {
    fn enter(busy: &'a AtomicUsize) -> Self {
        // Relaxed: a gauge that orders nothing else; `tick` reads a snapshot.
        busy.fetch_add(1, Ordering::Relaxed);
        Self(busy)
    }
}

impl Drop for BusyGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Owned by a worker thread: its `Drop` reports the thread's end, by a pill or by a panic.
#[derive(Debug)]
struct ExitNotice {
    id: usize,
    exits: Sender<usize>,
}

impl Drop for ExitNotice {
    fn drop(&mut self) {
        // The pool may be gone; then nobody needs to know.
        let _ = self.exits.send(self.id);
    }
}

/// What every worker thread shares with the pool.
#[derive(Debug)]
struct WorkerShared {
    jobs: Receiver<Job>,
    stop: Receiver<()>,
    exits: Sender<usize>,
    busy: Arc<AtomicUsize>,
    completed: Arc<AtomicU64>,
}

/// A worker thread: runs tasks until it takes a poison pill, or until the pool is gone.
fn work(id: usize, shared: Arc<WorkerShared>) {
    let _notice = ExitNotice {
        id,
        exits: shared.exits.clone(),
    };
    loop {
        crossbeam_channel::select! {
            // A pill, or (an error) the pool has dropped its pill sender: either way, stop.
            recv(shared.stop) -> _ => return,
            recv(shared.jobs) -> job => {
                // An error: the job sender is gone and the queue is empty (a shutdown).
                let Ok(job) = job else { return };
                let _busy = BusyGuard::enter(&shared.busy);
                // No `catch_unwind`: a panicking task ends this thread, and the pool must see it.
                job();
                shared.completed.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// A worker thread the pool holds.
#[derive(Debug)]
struct WorkerSlot {
    id: usize,
    thread: JoinHandle<()>,
}

/// What [`AutoScalingPool::shutdown`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ShutdownReport {
    /// Worker threads that ended and were joined.
    pub joined: usize,
    /// Worker threads still running a task at the deadline, left behind.
    pub abandoned: usize,
}

/// A pool of worker threads whose size a [`ScalingPolicy`] sets, one [`tick`](Self::tick) at a
/// time.
#[derive(Debug)]
pub struct AutoScalingPool {
    policy: ScalingPolicy,
    jobs_tx: Sender<Job>,
    stop_tx: Sender<()>,
    exits_rx: Receiver<usize>,
    shared: Arc<WorkerShared>,
    workers: Vec<WorkerSlot>,
    /// Pills sent that no worker has acted on yet.
    stopping: usize,
    next_id: usize,
    peak: usize,
    lost: usize,
    events: Vec<ScalingEvent>,
}

impl AutoScalingPool {
    /// Starts `config.min_workers` workers. Starting is no scaling event: the first tick may
    /// grow at once.
    ///
    /// # Errors
    /// [`PoolError::Config`] for a bad config, [`PoolError::Spawn`] if a thread cannot start.
    pub fn new(config: ScalingConfig) -> Result<Self, PoolError> {
        let policy = ScalingPolicy::new(config)?;
        let (jobs_tx, jobs) = crossbeam_channel::unbounded();
        let (stop_tx, stop) = crossbeam_channel::unbounded();
        let (exits, exits_rx) = crossbeam_channel::unbounded();
        let mut pool = Self {
            policy,
            jobs_tx,
            stop_tx,
            exits_rx,
            shared: Arc::new(WorkerShared {
                jobs,
                stop,
                exits,
                busy: Arc::new(AtomicUsize::new(0)),
                completed: Arc::new(AtomicU64::new(0)),
            }),
            workers: Vec::new(),
            stopping: 0,
            next_id: 0,
            peak: 0,
            lost: 0,
            events: Vec::new(),
        };
        for _ in 0..config.min_workers {
            pool.spawn_worker()?;
        }
        pool.peak = pool.size();
        Ok(pool)
    }

    /// Queues a task. It runs once, on whichever worker takes it first.
    pub fn submit(&self, task: impl FnOnce() + Send + 'static) {
        // The pool holds a receiver itself, so the channel cannot be disconnected here.
        self.jobs_tx
            .send(Box::new(task))
            .expect("the pool holds a receiver of its own queue");
    }

    /// One look at the pool at `now`: removes the workers that have ended, asks the policy,
    /// carries out its answer, logs it if it scaled, and returns it.
    ///
    /// # Errors
    /// [`PoolError::Spawn`] if a new worker cannot start (the workers started before it stay).
    pub fn tick(&mut self, now: Instant) -> Result<Decision, PoolError> {
        self.reap();
        let from = self.size();
        let decision = self.policy.decide(self.load(), now);
        match decision.action {
            Action::Grow(n) => {
                for _ in 0..n {
                    self.spawn_worker()?;
                }
            }
            Action::Shrink(n) => {
                for _ in 0..n {
                    // Only an idle worker waits on the pill channel, so an idle one takes it.
                    self.stop_tx
                        .send(())
                        .expect("the pool holds a receiver of its own pill channel");
                    self.stopping += 1;
                }
            }
            Action::Hold => return Ok(decision),
        }
        self.peak = self.peak.max(self.size());
        self.events.push(ScalingEvent {
            at: now,
            from,
            to: self.size(),
            action: decision.action,
            reason: decision.reason,
        });
        Ok(decision)
    }

    /// Every grow and shrink so far, oldest first.
    pub fn events(&self) -> &[ScalingEvent] {
        &self.events
    }

    /// The settings.
    pub fn config(&self) -> &ScalingConfig {
        self.policy.config()
    }

    /// The pool's counts, now. (Dead workers are removed by [`tick`](Self::tick).)
    pub fn stats(&self) -> PoolStats {
        let load = self.load();
        PoolStats {
            workers: self.size(),
            threads: self.workers.len(),
            busy: load.busy,
            idle: load.idle,
            queued: load.queued,
            completed: self.shared.completed.load(Ordering::Relaxed),
            peak_workers: self.peak,
            lost_workers: self.lost,
        }
    }

    /// Stops taking tasks, lets the workers finish the queue, and joins those that end by
    /// `deadline` (from now, real time). Workers still running a task then are left behind.
    pub fn shutdown(self, deadline: Duration) -> ShutdownReport {
        let until = Instant::now() + deadline;
        let Self {
            jobs_tx,
            stop_tx,
            exits_rx,
            shared,
            mut workers,
            ..
        } = self;
        // Closing the queue ends each worker once the queue is empty; the pill sender stays
        // alive until the end, so that no worker leaves work behind.
        drop(jobs_tx);
        // The pool's own clone of the exit sender would keep the exit channel open.
        drop(shared);
        let mut report = ShutdownReport::default();
        while !workers.is_empty() {
            let Ok(id) = exits_rx.recv_deadline(until) else {
                break;
            };
            if let Some(at) = workers.iter().position(|w| w.id == id) {
                // It has said it is ending: no need to wait for it.
                drop(workers.swap_remove(at));
                report.joined += 1;
            }
        }
        report.abandoned = workers.len();
        drop(stop_tx);
        report
    }

    /// Workers that count: threads held, minus those told to stop that have not ended yet.
    fn size(&self) -> usize {
        self.workers.len() - self.stopping
    }

    fn load(&self) -> Load {
        let size = self.size();
        let busy = self.shared.busy.load(Ordering::Relaxed).min(size);
        Load {
            queued: self.shared.jobs.len(),
            busy,
            idle: size - busy,
        }
    }

    /// Removes the workers whose threads have ended: by a pill (expected) or by a panic (lost).
    fn reap(&mut self) {
        while let Ok(id) = self.exits_rx.try_recv() {
            let Some(at) = self.workers.iter().position(|w| w.id == id) else {
                continue;
            };
            let slot = self.workers.swap_remove(at);
            // The exit notice is sent as the thread ends: this join is short.
            match slot.thread.join() {
                Ok(()) => self.stopping = self.stopping.saturating_sub(1),
                Err(_) => self.lost += 1,
            }
        }
    }

    fn spawn_worker(&mut self) -> Result<(), PoolError> {
        let id = self.next_id;
        self.next_id += 1;
        let shared = Arc::clone(&self.shared);
        let thread = thread::Builder::new()
            .name(format!("autoscale-worker-{id}"))
            .spawn(move || work(id, shared))
            .map_err(|e| PoolError::Spawn(e.to_string()))?;
        self.workers.push(WorkerSlot { id, thread });
        Ok(())
    }
}
