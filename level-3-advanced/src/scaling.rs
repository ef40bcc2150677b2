//! Scaling on the processing rate: a pool-size policy that compares how fast tasks arrive with
//! how fast the workers finish them, measured over a sliding window, and a simulated pool on a
//! clock moved by hand to run it against a queue-length rule (lesson l3-43).
//!
//! The auto-scaling policy of exercise l3-ex04 (and lessons l3-16, l3-17) looks at the queue
//! alone: it grows when more than a few tasks wait. A queue's length says how much waits, not
//! whether the workers are falling behind: a burst queues many tasks that the workers clear in
//! a second, while arrivals a little faster than the workers' rate keep the queue short for a
//! while and then grow it without end. [`RatePolicy`] asks the second question. Over the last
//! [`RateConfig::window`] it measures
//!
//! - the **arrival rate**: tasks submitted per second;
//! - the **per-worker rate**: tasks completed per second of run time (1 / the mean run time),
//!   so that the pool's **capacity** is `workers` × that;
//!
//! and wants enough workers to keep up with the arrivals *and* clear the backlog within
//! [`RateConfig::drain_within`]: `ceil((arrivals + queued / drain_within) / per_worker)`, kept
//! between the minimum and the maximum, and acted on no more often than the cool-down allows.
//!
//! ```
//! use level_3_advanced::scaling::{Action, Counters, RateConfig, RatePolicy, Reason};
//! use std::time::{Duration, Instant};
//!
//! let start = Instant::now(); // a manual clock: `start` plus whatever the test says
//! let mut policy = RatePolicy::new(RateConfig::default())?;
//! let at = |s: u64, arrived, completed, run_s: u64, queued| Counters {
//!     at: start + Duration::from_secs(s),
//!     arrived,
//!     completed,
//!     run_time: Duration::from_secs(run_s),
//!     queued,
//!     workers: 2,
//! };
//! // One sample is no rate: the policy waits for a second one.
//! assert_eq!(policy.decide(at(0, 0, 0, 0, 0)).reason, Reason::Measuring);
//! // 2 s later: 30 arrived (15/s), 20 done in 4 s of run time (5/s per worker), 10 waiting.
//! // Keeping up needs 15/s plus 10 tasks over the 4 s drain time, 17.5/s: 4 workers.
//! let decision = policy.decide(at(2, 30, 20, 4, 10));
//! assert_eq!(decision.action, Action::Grow(2));
//! # Ok::<(), level_3_advanced::scaling::RateConfigError>(())
//! ```

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The rate policy's settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateConfig {
    /// The pool never shrinks below this, and grows back to it at once.
    pub min_workers: usize,
    /// The pool never grows above this.
    pub max_workers: usize,
    /// How far back the rates look. Shorter reacts sooner; longer is steadier. It should hold
    /// several tasks' run times, or no task may finish inside it.
    pub window: Duration,
    /// A backlog should be cleared within this: the latency the policy aims for.
    pub drain_within: Duration,
    /// After a grow or a shrink, no other one for this long (except back to the minimum).
    pub cooldown: Duration,
}

impl Default for RateConfig {
    /// 2 to 8 workers (the Node example's bounds), a 2 s window, backlogs cleared within 4 s,
    /// a 1 s cool-down.
    fn default() -> Self {
        Self {
            min_workers: 2,
            max_workers: 8,
            window: Duration::from_secs(2),
            drain_within: Duration::from_secs(4),
            cooldown: Duration::from_secs(1),
        }
    }
}

/// Why a [`RateConfig`] cannot work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RateConfigError {
    #[error("min_workers must be at least 1, and max_workers at least min_workers")]
    Bounds,
    #[error("window and drain_within must be longer than zero")]
    ZeroDuration,
}

/// The pool's counters at one moment, as a pool's metrics give them: the first three only ever
/// grow (like Prometheus counters), so two samples give the rates between them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counters {
    /// When they were read.
    pub at: Instant,
    /// Tasks submitted so far.
    pub arrived: u64,
    /// Tasks finished so far.
    pub completed: u64,
    /// The run time of the finished tasks, added up.
    pub run_time: Duration,
    /// Tasks waiting now.
    pub queued: usize,
    /// Workers now.
    pub workers: usize,
}

/// The rates over the window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rates {
    /// How long the window spans so far (less than [`RateConfig::window`] at the start).
    pub span: Duration,
    /// Tasks submitted per second.
    pub arrivals: f64,
    /// Tasks finished per second.
    pub completions: f64,
    /// Tasks one worker finishes per second of run time; `None` if none finished in the window.
    pub per_worker: Option<f64>,
}

/// What to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Grow(usize),
    Shrink(usize),
    Hold,
}

/// Why.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Reason {
    /// Fewer workers than the minimum.
    BelowMinimum { workers: usize, min: usize },
    /// No rate yet: one sample only, or tasks waiting and none finished in the window.
    Measuring,
    /// The arrivals and the backlog need `wanted` workers (the bounds applied).
    Wanted { wanted: usize },
    /// More than the maximum would be needed; the pool is at it.
    AtMaximum { max: usize },
    /// A change is wanted, but the last one was too recent: `wait` more to go.
    CoolingDown { wait: Duration },
    /// The workers there are keep up.
    Steady,
}

/// The policy's answer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Decision {
    pub action: Action,
    pub reason: Reason,
}

impl Decision {
    fn hold(reason: Reason) -> Self {
        Self {
            action: Action::Hold,
            reason,
        }
    }
}

/// Decides the pool's size from the arrival rate against the workers' rate (see the module's
/// documentation). A state machine with no clock of its own: each [`decide`](Self::decide) is
/// told the time in its [`Counters`].
#[derive(Debug, Clone)]
pub struct RatePolicy {
    config: RateConfig,
    /// The samples in the window, oldest first; the oldest is the last one at or before the
    /// window's start, so the span covers the whole window once there is that much history.
    samples: VecDeque<Counters>,
    last_event: Option<Instant>,
}

impl RatePolicy {
    /// A policy that has seen nothing yet.
    ///
    /// # Errors
    /// [`RateConfigError`] for bounds the wrong way round or zero durations.
    pub fn new(config: RateConfig) -> Result<Self, RateConfigError> {
        if config.min_workers == 0 || config.max_workers < config.min_workers {
            return Err(RateConfigError::Bounds);
        }
        if config.window.is_zero() || config.drain_within.is_zero() {
            return Err(RateConfigError::ZeroDuration);
        }
        Ok(Self {
            config,
            samples: VecDeque::new(),
            last_event: None,
        })
    }

    /// The settings.
    pub fn config(&self) -> &RateConfig {
        &self.config
    }

    /// The rates over the window, or `None` while it spans no time (before a second sample).
    pub fn rates(&self) -> Option<Rates> {
        let (first, last) = (self.samples.front()?, self.samples.back()?);
        let span = last.at.saturating_duration_since(first.at);
        if span.is_zero() {
            return None;
        }
        let seconds = span.as_secs_f64();
        let done = last.completed.saturating_sub(first.completed);
        let ran = last.run_time.saturating_sub(first.run_time);
        // Tasks too short for the clock count as a nanosecond each: never a division by zero.
        let per_worker = (done > 0).then(|| done as f64 / ran.as_secs_f64().max(1e-9));
        Some(Rates {
            span,
            arrivals: last.arrived.saturating_sub(first.arrived) as f64 / seconds,
            completions: done as f64 / seconds,
            per_worker,
        })
    }

    /// Takes a sample, and answers what to do at its time. A `Grow` or `Shrink` is remembered
    /// for the cool-down: the caller is expected to carry it out.
    pub fn decide(&mut self, now: Counters) -> Decision {
        let RateConfig {
            min_workers: min,
            max_workers: max,
            window,
            drain_within,
            cooldown,
        } = self.config;
        self.samples.push_back(now);
        if let Some(start) = now.at.checked_sub(window) {
            while self.samples.len() > 1 && self.samples[1].at <= start {
                self.samples.pop_front();
            }
        }
        let workers = now.workers;
        if workers < min {
            self.last_event = Some(now.at);
            return Decision {
                action: Action::Grow(min - workers),
                reason: Reason::BelowMinimum { workers, min },
            };
        }
        let Some(rates) = self.rates() else {
            return Decision::hold(Reason::Measuring);
        };
        let needed = rates.arrivals + now.queued as f64 / drain_within.as_secs_f64();
        let unbounded = match rates.per_worker {
            Some(per_worker) => (needed / per_worker).ceil() as usize,
            None if needed == 0.0 => 0, // nothing came and nothing waits: the minimum will do
            None => return Decision::hold(Reason::Measuring),
        };
        let wanted = unbounded.clamp(min, max);
        let action = match wanted.cmp(&workers) {
            std::cmp::Ordering::Greater => Action::Grow(wanted - workers),
            std::cmp::Ordering::Less => Action::Shrink(workers - wanted),
            std::cmp::Ordering::Equal if unbounded > max => {
                return Decision::hold(Reason::AtMaximum { max });
            }
            std::cmp::Ordering::Equal => return Decision::hold(Reason::Steady),
        };
        let since = self.last_event.map(|t| now.at.saturating_duration_since(t));
        if let Some(since) = since.filter(|&s| s < cooldown) {
            return Decision::hold(Reason::CoolingDown {
                wait: cooldown - since,
            });
        }
        self.last_event = Some(now.at);
        Decision {
            action,
            reason: Reason::Wanted { wanted },
        }
    }
}

/// A pool simulated on a clock moved by hand: tasks of one fixed run time, workers that take
/// them in arrival order, counters like a real pool's. Deterministic, so that a test can
/// replay an arrival pattern against two policies and compare every decision.
#[derive(Debug, Clone)]
pub struct SimulatedPool {
    service: Duration,
    now: Instant,
    /// Each waiting task's arrival time.
    queue: VecDeque<Instant>,
    /// Each worker's end of its current task, or `None` while idle.
    workers: Vec<Option<Instant>>,
    arrived: u64,
    completed: u64,
    run_time: Duration,
    longest_wait: Duration,
}

impl SimulatedPool {
    /// `workers` idle workers at `start`; every task runs for `service`.
    pub fn new(start: Instant, workers: usize, service: Duration) -> Self {
        Self {
            service,
            now: start,
            queue: VecDeque::new(),
            workers: vec![None; workers],
            arrived: 0,
            completed: 0,
            run_time: Duration::ZERO,
            longest_wait: Duration::ZERO,
        }
    }

    /// Moves the clock to `now`: the tasks due by then finish, `arrivals` tasks arrive, and
    /// every idle worker takes the oldest waiting task.
    pub fn advance(&mut self, now: Instant, arrivals: u64) {
        self.now = now;
        for worker in &mut self.workers {
            if worker.is_some_and(|done| done <= now) {
                *worker = None;
                self.completed += 1;
                self.run_time += self.service;
            }
        }
        self.arrived += arrivals;
        self.queue.extend((0..arrivals).map(|_| now));
        self.start_waiting_tasks();
    }

    /// Adds `n` idle workers, which take waiting tasks at once.
    pub fn grow(&mut self, n: usize) {
        self.workers.extend((0..n).map(|_| None));
        self.start_waiting_tasks();
    }

    /// Removes up to `n` idle workers (a busy one is never stopped); returns how many.
    pub fn shrink(&mut self, n: usize) -> usize {
        let mut removed = 0;
        self.workers.retain(|w| {
            let remove = w.is_none() && removed < n;
            removed += usize::from(remove);
            !remove
        });
        removed
    }

    /// The counters a policy reads.
    pub fn counters(&self) -> Counters {
        Counters {
            at: self.now,
            arrived: self.arrived,
            completed: self.completed,
            run_time: self.run_time,
            queued: self.queue.len(),
            workers: self.workers.len(),
        }
    }

    /// Workers running a task.
    pub fn busy(&self) -> usize {
        self.workers.iter().filter(|w| w.is_some()).count()
    }

    /// The longest any task has waited in the queue so far.
    pub fn longest_wait(&self) -> Duration {
        self.longest_wait
    }

    fn start_waiting_tasks(&mut self) {
        for worker in self.workers.iter_mut().filter(|w| w.is_none()) {
            let Some(arrived) = self.queue.pop_front() else {
                return;
            };
            self.longest_wait = self.longest_wait.max(self.now - arrived);
            *worker = Some(self.now + self.service);
        }
    }
}

/// A change of the simulated pool's size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resize {
    /// When, from the start of the run.
    pub at: Duration,
    pub from: usize,
    pub to: usize,
}

/// What a [`simulate`] run did.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// Every grow and shrink carried out, in order.
    pub resizes: Vec<Resize>,
    /// The pool's size after each tick.
    pub sizes: Vec<usize>,
    /// The queue's length after each tick.
    pub queued: Vec<usize>,
    /// The longest any task waited.
    pub longest_wait: Duration,
    /// Tasks that arrived and tasks that finished.
    pub arrived: u64,
    pub completed: u64,
}

/// Runs `arrivals` (tasks arriving at each tick, tick 1 onwards) through a [`SimulatedPool`]
/// that starts with `workers` and whose tasks run for `service`, asking `decide` after every
/// tick and carrying out its answer. `decide` sees the pool after the tick.
pub fn simulate(
    arrivals: &[u64],
    tick: Duration,
    workers: usize,
    service: Duration,
    mut decide: impl FnMut(&SimulatedPool) -> Action,
) -> Run {
    let start = Instant::now(); // the manual clock's zero; nothing waits on it
    let mut pool = SimulatedPool::new(start, workers, service);
    let (mut resizes, mut sizes, mut queued) = (Vec::new(), Vec::new(), Vec::new());
    for (k, &arriving) in (1u32..).zip(arrivals) {
        pool.advance(start + tick * k, arriving);
        let from = pool.counters().workers;
        match decide(&pool) {
            Action::Grow(n) => pool.grow(n),
            Action::Shrink(n) => _ = pool.shrink(n),
            Action::Hold => {}
        }
        let now = pool.counters();
        if now.workers != from {
            let (at, to) = (tick * k, now.workers);
            resizes.push(Resize { at, from, to });
        }
        sizes.push(now.workers);
        queued.push(now.queued);
    }
    let end = pool.counters();
    Run {
        resizes,
        sizes,
        queued,
        longest_wait: pool.longest_wait(),
        arrived: end.arrived,
        completed: end.completed,
    }
}
