//! Zero-downtime updates of a task handler inside one process: a rolling update (every new
//! task gets the new version) and a canary (a share of tasks gets it, and its error rate
//! decides whether it is promoted or rolled back). Lesson l3-40 and guide 3 use it.
//!
//! The Node guide's rolling update replaces workers one by one; here the worker threads stay
//! and only the code they run is replaced. A [`Rollout`] holds the current routing (the stable
//! [`Release`], and perhaps a canary with its [`Share`]) in an [`arc_swap::ArcSwap`]: each task
//! loads it **once, when it starts**, and keeps the `Arc<Release>` it picked until it ends. A
//! swap stores a new routing for the tasks that start after it; a task already running holds
//! its own `Arc` to the old version, which lives until the last such task drops it. Nothing
//! waits for anything: the pool keeps serving during a swap, and no task is stopped, dropped
//! or run twice.
//!
//! Why `ArcSwap` and not `RwLock<Arc<Routing>>`: both are correct here. Every task reads the
//! routing and a deploy writes it rarely. An `ArcSwap` load takes no lock and never blocks,
//! even during a store, and a store is lock-free too (it costs more than a load, which suits a
//! rare write). With a `RwLock`, every task would take the lock (all readers update its one
//! counter), and depending on the platform's policy a writer can be held up by a stream of
//! readers, or readers queued behind a waiting writer. The cost is a small dependency: two
//! crates, `arc-swap` and the `rustversion` macro it uses.
//!
//! ```
//! use level_3_advanced::rollout::{Decision, Release, Rollout, Rule, Share};
//!
//! let rollout = Rollout::new(Release::new(1, |x| Ok(x * 2)));
//! // A canary that fails on every input, for 10% of the tasks: ids ending in 00 to 09.
//! rollout.start_canary(Release::new(2, |_| Err("v2 is broken".into())), Share::percent(10)?);
//! for id in 0..1_000 {
//!     let outcome = rollout.task(id)(); // what a pool's worker would run
//!     assert_eq!(outcome.version, if id % 100 < 10 { 2 } else { 1 });
//! }
//! let rule = Rule { min_samples: 100, tolerance: 0.01 };
//! assert_eq!(rollout.conclude(&rule), Decision::RollBack);
//! assert!(rollout.canary().is_none(), "the canary takes no more tasks");
//! assert_eq!(rollout.task(5)().version, 1);
//! # Ok::<(), level_3_advanced::rollout::ShareError>(())
//! ```

use arc_swap::ArcSwap;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// What a handler does with one task's input: a value, or an error message.
type Work = dyn Fn(u64) -> Result<u64, String> + Send + Sync;

/// One version of the task handler, with the count of tasks it has settled.
pub struct Release {
    version: u32,
    work: Box<Work>,
    ok: AtomicU64,
    failed: AtomicU64,
}

impl Release {
    /// A release named by its version number, running `work` on each task's input.
    pub fn new(
        version: u32,
        work: impl Fn(u64) -> Result<u64, String> + Send + Sync + 'static,
    ) -> Arc<Self> {
        Arc::new(Self {
            version,
            work: Box::new(work),
            ok: AtomicU64::new(0),
            failed: AtomicU64::new(0),
        })
    }

    /// Its version number.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// Runs the handler on `input` and counts the result. A panic counts as a failure and
    /// becomes an error, so a crashing version is judged like a failing one.
    pub fn run(&self, input: u64) -> Result<u64, String> {
        let result = catch_unwind(AssertUnwindSafe(|| (self.work)(input)))
            .unwrap_or_else(|_| Err(format!("v{} panicked", self.version)));
        // Relaxed: each count is read for a decision or after the tasks were joined; no other
        // data is published through it, and increments of one atomic are never lost.
        let counter = if result.is_ok() {
            &self.ok
        } else {
            &self.failed
        };
        counter.fetch_add(1, Ordering::Relaxed);
        result
    }

    /// How many tasks it has settled so far, and how many of them failed.
    pub fn tally(&self) -> Tally {
        let ok = self.ok.load(Ordering::Relaxed);
        let failed = self.failed.load(Ordering::Relaxed);
        Tally {
            settled: ok + failed,
            failed,
        }
    }
}

impl fmt::Debug for Release {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Release")
            .field("version", &self.version)
            .field("tally", &self.tally())
            .finish_non_exhaustive()
    }
}

/// A release's counts: tasks settled, and how many of those failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tally {
    pub settled: u64,
    pub failed: u64,
}

impl Tally {
    /// The share of settled tasks that failed, from 0 to 1 (0 when none settled).
    pub fn error_rate(&self) -> f64 {
        if self.settled == 0 {
            0.0
        } else {
            self.failed as f64 / self.settled as f64
        }
    }
}

/// The share of tasks a canary takes, in whole percent: from 1 to 99.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Share(u8);

/// A canary share of 0% tests nothing, and 100% is a full deploy, not a canary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a canary share must be 1 to 99 percent, not {0}")]
pub struct ShareError(pub u8);

impl Share {
    /// `percent` of the tasks, 1 to 99.
    ///
    /// # Errors
    /// [`ShareError`] for 0 or for 100 and more.
    pub fn percent(percent: u8) -> Result<Self, ShareError> {
        if (1..=99).contains(&percent) {
            Ok(Self(percent))
        } else {
            Err(ShareError(percent))
        }
    }

    /// Whether the task with this id goes to the canary: chosen by the id, not at random, so
    /// the same ids go the same way in every run: exactly `percent` of every 100 consecutive
    /// ids (those whose last two digits are below `percent`).
    pub fn takes(&self, task_id: u64) -> bool {
        task_id % 100 < u64::from(self.0)
    }
}

/// The decision rule for a canary: wait for enough samples, then compare error rates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rule {
    /// Tasks each version must have settled before anything is decided.
    pub min_samples: u64,
    /// How much higher than the stable version's the canary's error rate may be (0.01: one
    /// percentage point) and still be promoted.
    pub tolerance: f64,
}

/// What a [`Rule`] decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Too few samples yet (or no canary): keep routing as now.
    Wait,
    /// The canary becomes the stable version, for every task.
    Promote,
    /// The canary is switched off; every task goes to the stable version.
    RollBack,
}

impl Rule {
    /// Judges a canary against the stable version by their counts alone.
    pub fn judge(&self, stable: Tally, canary: Tally) -> Decision {
        if stable.settled < self.min_samples || canary.settled < self.min_samples {
            Decision::Wait
        } else if canary.error_rate() > stable.error_rate() + self.tolerance {
            Decision::RollBack
        } else {
            Decision::Promote
        }
    }
}

/// Where tasks go: the stable release, and perhaps a canary taking a share of them.
#[derive(Debug)]
struct Routing {
    stable: Arc<Release>,
    canary: Option<(Arc<Release>, Share)>,
}

/// A task's result, with the version that produced it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub task_id: u64,
    pub version: u32,
    pub result: Result<u64, String>,
}

/// The handler of a running service, replaceable while tasks run. Share it as an `Arc`.
#[derive(Debug)]
pub struct Rollout {
    routing: ArcSwap<Routing>,
}

impl Rollout {
    /// A rollout whose every task goes to `first`.
    pub fn new(first: Arc<Release>) -> Arc<Self> {
        Arc::new(Self {
            routing: ArcSwap::from_pointee(Routing {
                stable: first,
                canary: None,
            }),
        })
    }

    /// The task for `task_id`, to submit to a pool: it loads the routing once, when it starts,
    /// and runs the release it picked, whatever is stored while it runs.
    pub fn task(self: &Arc<Self>, task_id: u64) -> impl FnOnce() -> Outcome + Send + 'static {
        let rollout = Arc::clone(self);
        move || {
            let release = rollout.pick(task_id);
            Outcome {
                task_id,
                version: release.version(),
                result: release.run(task_id),
            }
        }
    }

    /// The release the task `task_id` would run if it started now: one load of the routing.
    /// `load` is for a short look; the `Arc` cloned out of it is what the task keeps.
    pub fn pick(&self, task_id: u64) -> Arc<Release> {
        let routing = self.routing.load();
        match &routing.canary {
            Some((canary, share)) if share.takes(task_id) => Arc::clone(canary),
            _ => Arc::clone(&routing.stable),
        }
    }

    /// A rolling update: every task that starts from now on runs `next`; tasks already running
    /// finish on what they picked. A canary in progress is ended. Returns the replaced release.
    pub fn deploy(&self, next: Arc<Release>) -> Arc<Release> {
        let old = self.routing.swap(Arc::new(Routing {
            stable: next,
            canary: None,
        }));
        Arc::clone(&old.stable)
    }

    /// Sends `share` of the tasks that start from now on to `canary`, the rest to the stable
    /// release. Replaces any canary in progress.
    pub fn start_canary(&self, canary: Arc<Release>, share: Share) {
        self.routing.rcu(|now| Routing {
            stable: Arc::clone(&now.stable),
            canary: Some((Arc::clone(&canary), share)),
        });
    }

    /// The stable release.
    pub fn stable(&self) -> Arc<Release> {
        Arc::clone(&self.routing.load().stable)
    }

    /// The canary in progress, if any.
    pub fn canary(&self) -> Option<Arc<Release>> {
        self.routing
            .load()
            .canary
            .as_ref()
            .map(|(canary, _)| Arc::clone(canary))
    }

    /// Judges the canary in progress by `rule` and carries the decision out: promoted, it
    /// becomes the stable release for every task; rolled back, it takes no more tasks. With no
    /// canary, or too few samples, nothing changes ([`Decision::Wait`]).
    pub fn conclude(&self, rule: &Rule) -> Decision {
        let mut decision = Decision::Wait;
        // `rcu` retries if the routing changed under it, so a deploy made meanwhile is kept.
        self.routing.rcu(|now| {
            let Some((canary, _)) = &now.canary else {
                decision = Decision::Wait;
                return Arc::clone(now);
            };
            decision = rule.judge(now.stable.tally(), canary.tally());
            let stable = match decision {
                Decision::Wait => return Arc::clone(now),
                Decision::Promote => Arc::clone(canary),
                Decision::RollBack => Arc::clone(&now.stable),
            };
            Arc::new(Routing {
                stable,
                canary: None,
            })
        });
        decision
    }
}
