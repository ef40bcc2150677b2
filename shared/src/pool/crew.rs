//! The pool's threads: how many there are, how each one runs, and when one may leave.
//!
//! Each worker loops: take the next job (`try_recv` first, so a busy pool never touches the
//! slow path; the lanes' order is in `lanes`), run it, count it. When every lane is empty, a
//! worker blocks on a `select_biased!` over the lanes and a wake-up channel that
//! [`close`](super::WorkerPool::close) disconnects (one worker at a time spins briefly first);
//! an elastic pool's extra workers also leave after `keep_alive` without work.
//!
//! A worker leaves for good only when the pool is closed **and** the queue is empty. Closing
//! first shuts the submission gate and waits for every submission in flight, so once a worker
//! sees "closed", nothing can arrive after its last look at the queue: no accepted task is
//! ever stranded.

use super::Priority;
use super::metrics::WorkerStats;
use super::task::{Outcome, TaskContext};
use super::{Queued, Shared};
use crate::sync::{AtomicIsize, AtomicUsize};
use crossbeam_channel::select_biased;
use crossbeam_utils::Backoff;
use std::any::Any;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

/// How many workers are alive, how many wait for work, and whether a new task has a worker
/// to take it, within `min..=max`.
///
/// The live count changes by compare-and-swap, so that concurrent hires and retirements can
/// never take the pool above `max` or below `min` (a loom model checks exactly that).
///
/// An elastic pool starts a thread for a task that no worker is free to take. "Free" is
/// `spare`: idle workers minus queued tasks, kept exact by counting every change to either.
/// Counting idle workers alone is not enough: a worker woken for one task still counts as
/// idle until it runs, and a burst of tasks would all be promised to it.
#[derive(Debug)]
pub(crate) struct Crew {
    pub(crate) min: usize,
    pub(crate) max: usize,
    live: AtomicUsize,
    idle: AtomicUsize,
    spare: AtomicIsize,
}

impl Crew {
    pub(crate) fn new(min: usize, max: usize) -> Self {
        Self {
            min,
            max,
            live: AtomicUsize::new(0),
            idle: AtomicUsize::new(0),
            spare: AtomicIsize::new(0),
        }
    }

    pub(crate) fn is_elastic(&self) -> bool {
        self.min < self.max
    }

    /// Reserves a place for one more worker; `false` at `max`.
    ///
    /// Sequentially consistent, with [`retire_unless_needed`](Self::retire_unless_needed):
    /// a submitter that queued a task and then finds the crew full, and a worker that gave up
    /// its place and then looks at the queue, cannot both miss each other.
    pub(crate) fn try_hire(&self) -> bool {
        self.live
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |live| {
                (live < self.max).then_some(live + 1)
            })
            .is_ok()
    }

    /// Gives up one place; `false` at `min` (the worker must stay).
    pub(crate) fn try_retire(&self) -> bool {
        self.live
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |live| {
                (live > self.min).then_some(live - 1)
            })
            .is_ok()
    }

    /// An idle worker whose `keep_alive` ran out leaves if the queue is empty and the crew is
    /// above `min`. `true`: it has left.
    ///
    /// Between its look at the queue and its leaving, a submitter may queue a task, find the
    /// crew full (this worker still counted) and hire nobody. So after leaving, the worker
    /// looks again: a task in the queue means it takes its place back (unless a new worker
    /// already has it) and stays. A full fence on each side (here, and in the submitter
    /// before its hire) makes sure one of the two sees the other.
    /// `between` runs between the first look and the leaving: nothing, except in a test that
    /// puts a submission exactly there.
    pub(crate) fn retire_unless_needed(
        &self,
        queue_is_empty: impl Fn() -> bool,
        between: impl FnOnce(),
    ) -> bool {
        if !queue_is_empty() {
            return false;
        }
        between();
        if !self.try_retire() {
            return false;
        }
        crate::sync::fence(Ordering::SeqCst);
        if !queue_is_empty() && self.try_hire() {
            return false;
        }
        true
    }

    /// A worker leaves unconditionally (the pool is closing, or its start failed).
    pub(crate) fn leave(&self) {
        self.live.fetch_sub(1, Ordering::AcqRel);
    }

    pub(crate) fn live(&self) -> usize {
        self.live.load(Ordering::Acquire)
    }

    pub(crate) fn idle(&self) -> usize {
        self.idle.load(Ordering::Acquire)
    }

    /// An elastic pool's submitter queued a task. `true`: no worker is free for it, so the
    /// caller should hire one.
    pub(crate) fn task_queued(&self) -> bool {
        self.spare.fetch_sub(1, Ordering::AcqRel) <= 0
    }

    /// An elastic pool's busy worker took a queued task without waiting.
    pub(crate) fn task_taken(&self) {
        self.spare.fetch_add(1, Ordering::AcqRel);
    }

    pub(crate) fn idle_enter(&self) {
        self.idle.fetch_add(1, Ordering::AcqRel);
        self.spare.fetch_add(1, Ordering::AcqRel);
    }

    /// An idle worker woke with a task: one idle worker and one queued task fewer, so
    /// `spare` is unchanged.
    pub(crate) fn idle_leave_with_task(&self) {
        self.idle.fetch_sub(1, Ordering::AcqRel);
    }

    pub(crate) fn idle_leave_without_task(&self) {
        self.idle.fetch_sub(1, Ordering::AcqRel);
        self.spare.fetch_sub(1, Ordering::AcqRel);
    }
}

thread_local! {
    /// The id of the pool whose worker this thread is, if any: how the pool refuses waits
    /// that would deadlock it.
    static CURRENT_POOL: std::cell::Cell<Option<(usize, usize)>> = const { std::cell::Cell::new(None) };
}

/// The id of the pool whose worker this thread is, if any.
pub(crate) fn current_pool_id() -> Option<usize> {
    CURRENT_POOL.with(|c| c.get()).map(|(pool, _)| pool)
}

/// The body of a worker thread. `index` is its place in the pool's start order; `ready`, if
/// given, hears whether the worker's state was made.
pub(crate) fn work(
    shared: Arc<Shared>,
    index: usize,
    stats: Arc<WorkerStats>,
    ready: Option<crossbeam_channel::Sender<Result<(), String>>>,
) {
    CURRENT_POOL.with(|c| c.set(Some((shared.id, index))));
    // However this thread ends, the pool's count of live workers and its statistics follow.
    let mut exit = ExitGuard {
        shared: &shared,
        stats: &stats,
        index,
        retired: false,
        failed_start: None,
    };

    let mut state: Option<Box<dyn Any + Send>> = match make_state(&shared, index) {
        Ok(state) => state,
        Err(message) => {
            if let Some(ready) = ready {
                let _ = ready.send(Err(message.clone()));
            }
            // Without its state this worker cannot run the pool's tasks: it leaves.
            exit.failed_start = Some(message);
            return;
        }
    };
    if let Some(ready) = ready {
        let _ = ready.send(Ok(()));
    }
    if let Some(hook) = &shared.config.on_start {
        // A failing hook is reported by the panic hook and must not cost the pool a worker.
        let _ = panic::catch_unwind(AssertUnwindSafe(|| hook(index)));
    }

    // Where this worker is in its round of turns between the lanes (see `lanes`).
    let mut turn = 0u32;
    loop {
        // `shutdown_now` leaves the remaining jobs to the caller that drains them.
        if shared.stopping.load(Ordering::Acquire) {
            break;
        }
        #[cfg(test)]
        if shared.die_next.swap(false, Ordering::AcqRel) {
            panic!("a worker died outside any task (injected by a test)");
        }
        let queued = match take_now(&shared, &mut turn) {
            Some(queued) => queued,
            None => match wait_for_work(&shared, &stats, &mut turn) {
                Wait::Job(queued) => queued,
                Wait::Closed => break,
                Wait::Retired => {
                    exit.retired = true;
                    break;
                }
            },
        };
        run(&shared, &stats, index, &mut state, queued);
    }
    drop(state);
    drop(exit);
}

/// The worker's own state from the pool's `worker_state` factory, or the factory's panic
/// message.
fn make_state(shared: &Shared, index: usize) -> Result<Option<Box<dyn Any + Send>>, String> {
    let Some(make) = &shared.config.worker_state else {
        return Ok(None);
    };
    panic::catch_unwind(AssertUnwindSafe(|| make(index)))
        .map(Some)
        .map_err(|payload| {
            let message = crate::worker::panic_message(payload.as_ref());
            crate::pool::task::drop_quietly(payload);
            message
        })
}

fn run(
    shared: &Shared,
    stats: &WorkerStats,
    index: usize,
    state: &mut Option<Box<dyn Any + Send>>,
    queued: Queued,
) {
    stats.started();
    // Only sampled jobs carry their enqueue time, so only they pay for clock reads.
    let started = queued.enqueued.map(|enqueued| {
        let now = Instant::now();
        shared
            .metrics
            .queue_wait
            .record(now.saturating_duration_since(enqueued));
        now
    });
    let mut cx = TaskContext {
        worker_index: index,
        pool_stopping: &shared.stopping,
        state: state.as_deref_mut(),
        cancelled: None,
        deadline: None,
    };
    let mut counted = false;
    // Every task's own panic is caught inside `run`. What can still unwind out of it is a
    // destructor the pool calls after the task settled: a result nobody waits for, the value
    // of a cancelled or timed-out task, the closure of a task cancelled while queued. Such a
    // panic has been printed by the panic hook; it must not cost the pool this worker.
    let escaped = panic::catch_unwind(AssertUnwindSafe(|| {
        queued.job.run(&mut cx, &mut |outcome| {
            counted = true;
            if let Some(started) = started {
                shared.metrics.run_time.record(started.elapsed());
            }
            stats.finished(outcome);
        });
    }));
    if let Err(payload) = escaped {
        if !counted {
            stats.finished(Outcome::Panicked);
        }
        crate::pool::task::drop_quietly(payload);
    }
}

enum Wait {
    Job(Queued),
    Closed,
    Retired,
}

/// The slow path: the queue was empty. Blocks until a job arrives, the pool closes, or (an
/// elastic pool's extra worker) `keep_alive` passes without work.
fn wait_for_work(shared: &Shared, stats: &WorkerStats, turn: &mut u32) -> Wait {
    // A gap between tasks is often shorter than going to sleep and being woken: spin and
    // yield a little first (the same short backoff a plain crossbeam `recv` starts with).
    // Only one worker at a time: a second spinner finds nothing the first would not, and
    // keeps a core busy that the submitter (or another process) could use.
    if !shared.searching.load(Ordering::Relaxed) && !shared.searching.swap(true, Ordering::Acquire)
    {
        let found = spin_for_work(shared, turn);
        shared.searching.store(false, Ordering::Release);
        if let Some(queued) = found {
            return Wait::Job(queued);
        }
    }
    let crew = &shared.crew;
    let idle_since = stats.idle_enter();
    crew.idle_enter();
    let never = crossbeam_channel::never();
    let outcome = loop {
        if shared.stopping.load(Ordering::Acquire) {
            // `shutdown_now` drains the queue itself, so that it can count what it rejects.
            break Wait::Closed;
        }
        if shared.closed.load(Ordering::Acquire) {
            // Closed: every accepted job is already queued. Take one if any is left.
            break match shared.lanes.try_take(turn) {
                Some(queued) => Wait::Job(queued),
                None => Wait::Closed,
            };
        }
        let timeout = if crew.is_elastic() {
            crossbeam_channel::after(shared.config.keep_alive)
        } else {
            never.clone()
        };
        let lane = |priority| &shared.lanes.lane(priority).rx;
        let got = |priority, queued: Result<Queued, _>| match queued {
            Ok(queued) => Wait::Job(shared.lanes.took(priority, queued)),
            Err(_) => Wait::Closed, // cannot happen: the pool holds the senders
        };
        // Biased: of tasks that arrive together, the higher lane's is taken.
        select_biased! {
            recv(lane(Priority::High)) -> queued => break got(Priority::High, queued),
            recv(lane(Priority::Normal)) -> queued => break got(Priority::Normal, queued),
            recv(lane(Priority::Low)) -> queued => break got(Priority::Low, queued),
            recv(shared.wake_rx) -> _ => continue, // closed: look again
            recv(timeout) -> _ => {
                // Stop counting as free *before* looking at the queue: a task queued after
                // this sees no free worker and hires one; a task queued before it is seen.
                crew.idle_leave_without_task();
                let between = || {
                    #[cfg(all(test, not(loom)))]
                    shared.retire_pause.pause();
                };
                if crew.retire_unless_needed(|| shared.lanes.is_empty(), between) {
                    stats.idle_leave(idle_since);
                    return Wait::Retired;
                }
                crew.idle_enter();
            },
        }
    };
    match outcome {
        Wait::Job(_) => crew.idle_leave_with_task(),
        Wait::Closed => crew.idle_leave_without_task(),
        Wait::Retired => {} // left the count above, before retiring
    }
    stats.idle_leave(idle_since);
    outcome
}

/// Takes a queued task without waiting, if there is one. In an elastic pool the submitter
/// counted one spare worker less for it; a worker that takes it without going idle gives that
/// one back (`Crew::task_taken`).
fn take_now(shared: &Shared, turn: &mut u32) -> Option<Queued> {
    let queued = shared.lanes.try_take(turn)?;
    if shared.crew.is_elastic() {
        shared.crew.task_taken();
    }
    Some(queued)
}

/// Spins and yields a little on the empty queue; a job if one arrived meanwhile.
fn spin_for_work(shared: &Shared, turn: &mut u32) -> Option<Queued> {
    let backoff = Backoff::new();
    while !backoff.is_completed() {
        if let Some(queued) = take_now(shared, turn) {
            return Some(queued);
        }
        if shared.closed.load(Ordering::Acquire) || shared.stopping.load(Ordering::Acquire) {
            break;
        }
        backoff.snooze();
    }
    None
}

/// Runs when a worker thread ends, also by a panic: the pool's counts follow it, and a worker
/// that died is replaced.
struct ExitGuard<'a> {
    shared: &'a Arc<Shared>,
    stats: &'a Arc<WorkerStats>,
    index: usize,
    /// An elastic pool's extra worker left after `keep_alive` and gave up its place already.
    retired: bool,
    /// The worker never started serving: its `worker_state` factory panicked with this.
    failed_start: Option<String>,
}

impl Drop for ExitGuard<'_> {
    fn drop(&mut self) {
        if self.failed_start.is_none()
            && let Some(hook) = &self.shared.config.on_exit
        {
            let index = self.index;
            let _ = panic::catch_unwind(AssertUnwindSafe(|| hook(index)));
        }
        self.shared.metrics.retire(self.stats);
        if self.retired {
            return;
        }
        if let Some(message) = self.failed_start.take() {
            self.shared.crew.leave();
            self.shared
                .after_lost_start(&format!("the worker_state factory panicked: {message}"));
            return;
        }
        // Every task's panic is caught, so a worker unwinds only through a fault outside any
        // task. Unless the pool is stopping, a new thread takes the dead one's place (its
        // place in the crew passes straight to it).
        if std::thread::panicking() && !self.shared.stopping.load(Ordering::Acquire) {
            // Counted first, so that whoever sees the replacement at work sees the count.
            self.shared.metrics.replaced();
            match self.shared.spawn_worker(None) {
                Ok(()) => return,
                // `spawn_worker` gave the place up; with no worker left, settle the tasks.
                Err(e) => {
                    self.shared
                        .after_lost_start(&format!("a dead worker could not be replaced: {e}"));
                    return;
                }
            }
        }
        self.shared.crew.leave();
    }
}

/// Test only: a pause at the one point of the retire protocol where a submitter can slip in,
/// so that a test can put a submission exactly there.
#[cfg(all(test, not(loom)))]
#[derive(Default)]
pub(crate) struct RetirePause(std::sync::Mutex<Option<Pause>>);

/// `(arrived, resume)`: the retiring worker sends on the first, then waits on the second.
#[cfg(all(test, not(loom)))]
type Pause = (
    crossbeam_channel::Sender<()>,
    crossbeam_channel::Receiver<()>,
);

#[cfg(all(test, not(loom)))]
impl RetirePause {
    /// The next worker of this pool to retire stops at the pause: it sends on `arrived` and
    /// waits for `resume`.
    pub(crate) fn arm(&self, pause: Pause) {
        *self.0.lock().unwrap() = Some(pause);
    }

    fn pause(&self) {
        let pause = self.0.lock().unwrap().take();
        if let Some((arrived, resume)) = pause {
            let _ = arrived.send(());
            let _ = resume.recv_timeout(crate::testing::TIMEOUT);
        }
    }
}
