//! Tests of exercise l3-ex07 (production pool).
//!
//! `cargo test` runs them against the reference solution; `cargo exercise check l3-ex07` runs
//! them against your file, `level-3-advanced/src/exercises/ex07_production_pool.rs`.
//!
//! Deadline: 15 s per test (one test runs 2,500 tasks one after another, each waking a worker,
//! which takes a few seconds on a busy 2-core machine).
//!
//! Nothing here is timed. The pool reads a [`ManualClock`] that the tests move by hand, and a
//! task "takes" 150 ms by moving that clock, so the histogram holds exact values. The one test
//! on the real clock only checks that shutdown returns (a hang fails it after [`TIMEOUT`]),
//! never how fast. A few pauses only give a wrong answer time to show itself (a shutdown that
//! returns before its deadline, a worker thread left running after a shutdown that did not join
//! it, and, where `/proc` is missing, an outcome sent before the breaker counted it): a right
//! answer passes however long they last.
//!
//! Every promise of the exercise's header and doc comments, and the test that fails when it is
//! broken:
//!
//! | promise | test | independent of scheduling and load because |
//! |---|---|---|
//! | a bad config (0 workers, each breaker error, unsorted buckets) is its `ConfigError` from `ProductionPool::new` | `a_bad_config_is_a_typed_error` | no thread runs |
//! | the Node task list: 1 to 8 run, 3, 6, 7, 8 fail, the 8th result opens the breaker, 9 and 10 are rejected with 5 s left | `the_node_task_list_opens_the_breaker_and_time_alone_half_opens_it` | one task at a time, each outcome awaited; time is the manual clock |
//! | ready is false while the breaker is open, true again once time alone half-opens it; 3 successes close it | `the_node_task_list_opens_the_breaker_and_time_alone_half_opens_it` | the clock moves only by hand |
//! | ids are 1, 2, 3... in submission order | `the_node_task_list_opens_the_breaker_and_time_alone_half_opens_it` | one submitter, one task at a time |
//! | ids from concurrent submitters are distinct, 1 to N, ascending for each submitter | `concurrent_submitters_get_distinct_ids_in_their_own_order` | checks sets and each submitter's own order, whatever the interleaving |
//! | by the time an outcome arrives, the metrics count it and its duration is in the histogram | `every_outcome_finds_the_metrics_already_counting_it` | a right worker counts before it sends, so every read passes; a wrong one is caught only when the reader wins a race, which 2,500 tries make near certain (not deterministic: nothing the test can hold pauses a worker between sending and counting) |
//! | by the time an outcome arrives, the breaker counts it | `an_outcome_is_sent_only_after_the_breaker_has_counted_it` | the breaker's lock is held by a reader stopped inside the test's clock; the worker is seen asleep on it (`/proc/self/task/*/stat`) before the test looks for the outcome |
//! | `metrics_text` parses, with a histogram of 8, the breaker gauge at 1 and 10 counted events | `the_pools_metrics_text_parses_and_counts_what_happened` | one task at a time, each outcome awaited |
//! | a task's duration is on the pool's clock and excludes its wait in the queue | `a_tasks_duration_is_how_long_it_ran_not_how_long_it_waited`, `the_node_task_list_opens_the_breaker_and_time_alone_half_opens_it` | the clock moves only by hand |
//! | a panicking task is `Panicked` with its message (not a default value), counted failed; its worker lives on | `a_panicking_task_is_a_failure_and_its_worker_lives_on` | outcomes awaited; the 4 later tasks are gated until all run |
//! | a panic is a failure to the breaker: 4 panics open it | `a_panic_is_a_failure_to_the_breaker_too` | one task at a time, each outcome awaited |
//! | the 4 workers run 4 tasks at once, on threads named `prod-worker-N`, not the caller's | `tasks_run_at_once_on_the_named_workers_that_shutdown_joins` | each task must meet the other 3 (`Rendezvous`) under a deadline; the task records its own thread's name |
//! | a drained shutdown has joined every worker | `tasks_run_at_once_on_the_named_workers_that_shutdown_joins` | each worker's thread lingers 250 ms after its exit notice (a thread-local's `Drop`); a joining shutdown waits for it, so none is left whatever the timing |
//! | shutdown stops intake at once (not ready, `ShuttingDown`, counted), drains running and queued tasks, every task once | `shutdown_drains_the_work_and_refuses_new_tasks_meanwhile` | gated tasks; the manual clock never reaches the deadline |
//! | at its deadline on the pool's clock, shutdown reports the running and queued tasks, cancels the token (`Cancelled`, `ShutDown`), and not before | `at_its_deadline_shutdown_tells_hung_tasks_to_stop_and_returns` | each hung task checks, when told to stop, that the manual clock has reached the deadline |
//! | on the real clock, shutdown returns despite a hung task; a second shutdown is harmless | `on_the_real_clock_shutdown_returns_despite_a_hung_task` | it checks that shutdown returns, never how fast |
//! | dropping the pool cancels its running tasks' token | `dropping_the_pool_tells_its_running_tasks_to_stop` | the task waits for the token, under a deadline |
//!
//! `submit` never blocks (the queue is unbounded; a full breaker refuses at once), so there is
//! no blocked submit whose wait a duration could leave out; and `took` is documented as how
//! long a task ran, which the queue-wait test checks. Wrong answers that these tests catch are
//! in `xtask/mutants/l3-ex07/`.

// The code under test: your file when `cargo exercise check l3-ex07` turns the `learner`
// feature on (and in rust-analyzer, so that your editor checks it), the reference solution in a
// plain `cargo test`. Your file is compiled into this test alone: a mistake in it breaks no
// other exercise, lesson or test.
#[cfg(any(feature = "learner", rust_analyzer))]
#[path = "../src/exercises/ex07_production_pool.rs"]
#[allow(dead_code)] // the items the tests do not call are part of the exercise all the same
mod under_test;
#[cfg(not(any(feature = "learner", rust_analyzer)))]
use level_3_advanced::solutions::ex07_production_pool as under_test;

mod exposition;

use exposition::{check_histograms, parse_exposition, value_of};
use shared::CancellationToken;
use shared::testing::{
    Rendezvous, TIMEOUT, join_within, live_threads_named, recv_within, run_within,
};
use std::cell::RefCell;
use std::sync::{Arc, Barrier, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};
use under_test::{
    BreakerConfig, BreakerState, CircuitBreaker, Clock, ConfigError, FAILING_TASKS, Histogram,
    ManualClock, PoolConfig, ProductionPool, Rejected, SubmitError, SystemClock, TaskError, TaskId,
};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// The Node task list: ids 1 to 10, and 3, 6, 7, 8 fail.
fn node_task_fails(id: TaskId) -> bool {
    FAILING_TASKS.contains(&id)
}

/// How long Node task `id` "runs": 100 ms for task 1, 10 ms more for each next one.
fn node_task_takes(id: TaskId) -> Duration {
    ms(100 + 10 * (id - 1))
}

/// A task that pretends to take `takes` by moving the pool's clock, then succeeds with
/// `value` or fails.
fn pretend_task(
    clock: &ManualClock,
    takes: Duration,
    value: u64,
    fails: bool,
) -> impl FnOnce(&CancellationToken) -> Result<u64, TaskError> + Send + 'static {
    let clock = clock.clone();
    move |_| {
        clock.advance(takes);
        if fails {
            Err(TaskError::Failed(format!("task {value} failed on purpose")))
        } else {
            Ok(value)
        }
    }
}

/// A task that waits until the test drops the gate's sender, then succeeds.
fn gated_task(
    gate: &crossbeam_channel::Receiver<()>,
    value: u64,
) -> impl FnOnce(&CancellationToken) -> Result<u64, TaskError> + Send + 'static {
    let gate = gate.clone();
    move |_| {
        // Nothing is ever sent: the gate opens when its sender is dropped.
        match gate.recv_timeout(TIMEOUT) {
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => Ok(value),
            _ => Err(TaskError::Failed(
                "the test never opened the gate".to_owned(),
            )),
        }
    }
}

/// A task that never ends by itself: it waits for the pool's stop token, then says so.
fn hung_task(token: &CancellationToken) -> Result<u64, TaskError> {
    // Far longer than any test; `wait_timeout` returns at once when the token is cancelled.
    if token.wait_timeout(TIMEOUT * 6) {
        Err(TaskError::Cancelled)
    } else {
        Err(TaskError::Failed(
            "the hung task was never told to stop".to_owned(),
        ))
    }
}

/// A [`hung_task`] that, told to stop, also checks that the pool's clock has reached
/// `not_before`, the shutdown's deadline: told any earlier, it fails.
fn hung_until(
    clock: &ManualClock,
    not_before: Instant,
) -> impl FnOnce(&CancellationToken) -> Result<u64, TaskError> + Send + 'static {
    let clock = clock.clone();
    move |token| match hung_task(token) {
        Err(TaskError::Cancelled) if clock.now() < not_before => Err(TaskError::Failed(
            "told to stop before the shutdown's deadline".to_owned(),
        )),
        other => other,
    }
}

fn pool_with(clock: &ManualClock) -> ProductionPool {
    ProductionPool::new(PoolConfig::default(), Arc::new(clock.clone()))
        .expect("the default config was refused")
}

/// Polls `ok` until it holds, failing after [`TIMEOUT`].
#[track_caller]
fn wait_until(what: &str, ok: impl Fn() -> bool) {
    let deadline = Instant::now() + TIMEOUT;
    while !ok() {
        assert!(Instant::now() < deadline, "{what}: not within {TIMEOUT:?}");
        thread::sleep(ms(1));
    }
}

/// Held by every test that starts a pool, so that one test's `prod-worker-*` threads are never
/// taken for another's: `cargo test` runs a file's tests as threads of one process.
static POOLS: Mutex<()> = Mutex::new(());

/// Takes [`POOLS`]; a test that failed while holding it leaves it usable.
fn one_pool_at_a_time() -> MutexGuard<'static, ()> {
    POOLS.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The prefix of the pool's worker names, `prod-worker-{n}`.
const WORKER_PREFIX: &str = "prod-worker-";

/// The kernel's id of the calling thread, from `/proc/thread-self` (`<pid>/task/<tid>`).
fn current_tid() -> Option<u32> {
    let link = std::fs::read_link("/proc/thread-self").ok()?;
    link.file_name()?.to_str()?.parse().ok()
}

/// The scheduler state of thread `tid` of this process: `R` running or runnable, `S` asleep
/// (waiting for a lock, a channel, a futex), and so on. `None` if it cannot be read.
fn thread_state(tid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).ok()?;
    let (_, fields) = stat.rsplit_once(')')?;
    fields.split_whitespace().next()?.chars().next()
}

/// A value that, dropped, holds its thread back for a while: a worker's thread-local keeps one,
/// so that the worker's thread ends that long after its last task, its exit notice included.
struct Linger;

impl Drop for Linger {
    fn drop(&mut self) {
        thread::sleep(ms(250));
    }
}

thread_local! {
    static LINGER: RefCell<Option<Linger>> = const { RefCell::new(None) };
}

// ---------------------------------------------------------------------------------------------
// Configuration: the breaker's, the histogram's and the pool's own, all through the pool.
// ---------------------------------------------------------------------------------------------

#[test]
fn a_bad_config_is_a_typed_error() {
    let base = BreakerConfig::default();
    let cases = [
        (
            BreakerConfig { window: 0, ..base },
            ConfigError::EmptyWindow,
        ),
        (
            BreakerConfig {
                failure_ratio: 0.0,
                ..base
            },
            ConfigError::BadRatio(0.0),
        ),
        (
            BreakerConfig {
                failure_ratio: 1.5,
                ..base
            },
            ConfigError::BadRatio(1.5),
        ),
        (
            BreakerConfig {
                min_calls: 0,
                ..base
            },
            ConfigError::BadMinCalls {
                min_calls: 0,
                window: 10,
            },
        ),
        (
            BreakerConfig {
                min_calls: 11,
                ..base
            },
            ConfigError::BadMinCalls {
                min_calls: 11,
                window: 10,
            },
        ),
        (
            BreakerConfig {
                close_after: 0,
                ..base
            },
            ConfigError::NoProbes,
        ),
    ];
    for (config, expected) in cases {
        assert_eq!(config.validate(), Err(expected), "{config:?}");
        assert_eq!(
            CircuitBreaker::new(config).map(|_| ()),
            Err(expected),
            "{config:?}"
        );
        let pool = PoolConfig {
            breaker: config,
            ..PoolConfig::default()
        };
        assert_eq!(
            ProductionPool::new(pool, Arc::new(SystemClock)).map(|_| ()),
            Err(expected),
            "{config:?}"
        );
    }
    let no_workers = PoolConfig {
        workers: 0,
        ..PoolConfig::default()
    };
    assert_eq!(
        ProductionPool::new(no_workers, Arc::new(SystemClock)).map(|_| ()),
        Err(ConfigError::NoWorkers)
    );
    let unsorted = [ms(5), ms(50), ms(10)];
    assert_eq!(
        Histogram::new(&unsorted).map(|_| ()),
        Err(ConfigError::UnsortedBuckets { index: 2 })
    );
    let repeated = PoolConfig {
        buckets: vec![ms(5), ms(5)],
        ..PoolConfig::default()
    };
    assert_eq!(
        ProductionPool::new(repeated, Arc::new(SystemClock)).map(|_| ()),
        Err(ConfigError::UnsortedBuckets { index: 1 })
    );
}

// ---------------------------------------------------------------------------------------------
// The pool.
// ---------------------------------------------------------------------------------------------

#[test]
fn the_node_task_list_opens_the_breaker_and_time_alone_half_opens_it() {
    let _pools = one_pool_at_a_time();
    run_within(TIMEOUT * 2, "the Node task list", || {
        let clock = ManualClock::new();
        let pool = pool_with(&clock);
        let health = pool.health();
        assert!(health.live && health.ready, "a new pool: {health:?}");

        // One at a time, as in the Node run, so each result is in before the next submit.
        let mut rejected = Vec::new();
        for id in 1..=10 {
            match pool.submit(pretend_task(
                &clock,
                node_task_takes(id),
                id,
                node_task_fails(id),
            )) {
                Ok(task) => {
                    assert_eq!(task, id, "ids are given 1, 2, 3... in submission order");
                    let outcome = recv_within(pool.outcomes(), TIMEOUT, &format!("task {id}"));
                    assert_eq!(outcome.id, id);
                    assert_eq!(outcome.took, Some(node_task_takes(id)));
                    if node_task_fails(id) {
                        assert!(
                            matches!(outcome.result, Err(TaskError::Failed(_))),
                            "{outcome:?}"
                        );
                    } else {
                        assert_eq!(outcome.result, Ok(id));
                    }
                }
                Err(e) => {
                    assert_eq!(
                        e,
                        SubmitError::Rejected(Rejected::Open { retry_in: secs(5) }),
                        "task {id}"
                    );
                    rejected.push(id);
                }
            }
        }
        assert_eq!(rejected, [9, 10], "the 8th result (4 of 8 failed) opens it");
        let health = pool.health();
        assert_eq!(health.breaker, BreakerState::Open);
        assert!(health.live, "an open breaker is no reason to restart");
        assert!(!health.ready, "not ready while the breaker is open");

        let metrics = pool.metrics();
        assert_eq!(
            (
                metrics.succeeded,
                metrics.failed,
                metrics.rejected_open,
                metrics.cancelled
            ),
            (4, 4, 2, 0)
        );
        assert_eq!(metrics.durations.count(), 8);
        assert_eq!(
            metrics.durations.sum(),
            (1..=8).map(node_task_takes).sum::<Duration>()
        );
        let within = |bound: Duration| {
            metrics
                .durations
                .cumulative()
                .into_iter()
                .find(|(b, _)| *b == Some(bound))
                .map(|(_, count)| count)
        };
        assert_eq!(within(ms(100)), Some(1), "task 1's 100 ms is in le=0.1");
        assert_eq!(within(ms(250)), Some(8));

        // The Node breaker never got here: nothing runs while it is open, and it only looked at
        // the clock when a result came in. Time alone must do it.
        clock.advance(ms(4_999));
        assert_eq!(pool.health().breaker, BreakerState::Open);
        clock.advance(ms(1));
        let health = pool.health();
        assert_eq!(health.breaker, BreakerState::HalfOpen);
        assert!(health.ready, "ready again once half-open: {health:?}");

        for value in [100, 200, 300] {
            pool.submit(pretend_task(&clock, ms(10), value, false))
                .expect("a probe was refused");
            let outcome = recv_within(pool.outcomes(), TIMEOUT, "a probe");
            assert_eq!(outcome.result, Ok(value));
        }
        assert_eq!(pool.health().breaker, BreakerState::Closed);
        let report = pool.shutdown(secs(60));
        assert!(report.drained, "{report:?}");
    });
}

#[test]
fn the_pools_metrics_text_parses_and_counts_what_happened() {
    let _pools = one_pool_at_a_time();
    run_within(TIMEOUT * 2, "the metrics run", || {
        let clock = ManualClock::new();
        let pool = pool_with(&clock);
        for id in 1..=10 {
            if pool
                .submit(pretend_task(
                    &clock,
                    node_task_takes(id),
                    id,
                    node_task_fails(id),
                ))
                .is_ok()
            {
                recv_within(pool.outcomes(), TIMEOUT, &format!("task {id}"));
            }
        }
        let text = pool.metrics_text();
        let (samples, types) = parse_exposition(&text);
        let counts = check_histograms(&samples, &types);
        assert_eq!(
            counts.values().copied().collect::<Vec<_>>(),
            [8.0],
            "8 tasks ran:\n{text}"
        );
        let breaker_gauge = types
            .iter()
            .filter(|(_, t)| *t == "gauge")
            .map(|(name, _)| name)
            .find(|name| name.contains("breaker"))
            .unwrap_or_else(|| panic!("no breaker gauge in:\n{text}"));
        assert_eq!(value_of(&samples, breaker_gauge, &[]), 1.0, "1 is open");
        let tasks: f64 = samples
            .iter()
            .filter(|s| types.get(&s.name).is_some_and(|t| t == "counter"))
            .map(|s| s.value)
            .sum();
        assert_eq!(
            tasks, 10.0,
            "8 ended and 2 were rejected, counted once each:\n{text}"
        );
        pool.shutdown(secs(60));
    });
}

/// The name of the one thread that [`StallingClock`] stops.
const STALLED_READER: &str = "stalled-reader";

/// A [`ManualClock`] that stops the thread named [`STALLED_READER`] inside `now` until the test
/// lets it go. The pool's `gauges` (given code) reads the clock while it holds the breaker's
/// lock, so a reader stopped there keeps the breaker locked for as long as the test wants.
#[derive(Debug)]
struct StallingClock {
    time: ManualClock,
    /// Told when the reader has stopped.
    stopped: crossbeam_channel::Sender<()>,
    /// The reader waits on this until the test drops its sender.
    release: Mutex<Option<crossbeam_channel::Receiver<()>>>,
}

impl Clock for StallingClock {
    fn now(&self) -> Instant {
        if thread::current().name() == Some(STALLED_READER) {
            let release = self.release.lock().expect("the test clock").take();
            if let Some(release) = release {
                let _ = self.stopped.send(());
                // Nothing is ever sent: the test lets the reader go by dropping the sender.
                let _ = release.recv_timeout(TIMEOUT);
            }
        }
        self.time.now()
    }
}

#[test]
fn an_outcome_is_sent_only_after_the_breaker_has_counted_it() {
    let _pools = one_pool_at_a_time();
    run_within(TIMEOUT * 2, "the outcome behind a locked breaker", || {
        let (stopped_tx, stopped) = crossbeam_channel::unbounded();
        let (release, release_rx) = crossbeam_channel::bounded::<()>(0);
        let clock = Arc::new(StallingClock {
            time: ManualClock::new(),
            stopped: stopped_tx,
            release: Mutex::new(Some(release_rx)),
        });
        let pool = Arc::new(
            ProductionPool::new(PoolConfig::default(), Arc::clone(&clock) as Arc<dyn Clock>)
                .expect("the default config was refused"),
        );
        let (open, gate) = crossbeam_channel::bounded::<()>(0);
        let (tid_tx, tid) = crossbeam_channel::unbounded();
        let (returning_tx, returning) = crossbeam_channel::unbounded();
        let task = gated_task(&gate, 7);
        pool.submit(move |token| {
            let _ = tid_tx.send(current_tid());
            let result = task(token);
            let _ = returning_tx.send(());
            result
        })
        .expect("refused");
        let worker = recv_within(&tid, TIMEOUT, "the task to start");
        wait_until("the task running", || pool.gauges().active_workers == 1);

        // A reader stopped inside `gauges` holds the breaker's lock.
        let reader = {
            let pool = Arc::clone(&pool);
            thread::Builder::new()
                .name(STALLED_READER.to_owned())
                .spawn(move || pool.gauges())
                .expect("could not spawn the reader")
        };
        recv_within(&stopped, TIMEOUT, "the reader to stop inside the clock");
        // The task ends; its worker cannot record it in the breaker while the reader holds the
        // lock, so no outcome may arrive.
        drop(open);
        recv_within(&returning, TIMEOUT, "the task to return");
        let early = match worker {
            // Once the task has returned, nothing in a worker blocks but the breaker's lock,
            // which the reader holds. So a worker seen asleep, several times in a row, is
            // waiting for the breaker: a right worker has not sent the outcome, a wrong one
            // already has. Seen that way, the check does not depend on timing.
            Some(worker) => {
                let deadline = Instant::now() + TIMEOUT;
                let mut asleep = 0;
                loop {
                    if let Ok(early) = pool.outcomes().try_recv() {
                        break Some(early);
                    }
                    if asleep == 5 {
                        break None;
                    }
                    assert!(
                        Instant::now() < deadline,
                        "the worker never blocked after its task returned"
                    );
                    asleep = match thread_state(worker) {
                        Some('S') => asleep + 1,
                        Some(_) => 0,
                        // The state cannot be read: the wait only gives a wrong worker time.
                        None => break pool.outcomes().recv_timeout(ms(100)).ok(),
                    };
                    thread::sleep(ms(1));
                }
            }
            // No `/proc` to look in: the wait only gives a wrong worker time to send.
            None => pool.outcomes().recv_timeout(ms(100)).ok(),
        };
        drop(release);
        join_within(reader, TIMEOUT, "the reader").expect("the reader panicked");
        assert!(
            early.is_none(),
            "the outcome arrived before the breaker had counted the task: {early:?}"
        );

        let outcome = recv_within(pool.outcomes(), TIMEOUT, "the task's outcome");
        assert_eq!((outcome.id, outcome.result), (1, Ok(7)));
        assert_eq!(pool.metrics().succeeded, 1);
        assert!(pool.shutdown(secs(60)).drained);
    });
}

#[test]
fn a_panicking_task_is_a_failure_and_its_worker_lives_on() {
    let _pools = one_pool_at_a_time();
    run_within(TIMEOUT * 2, "the panicking task", || {
        let clock = ManualClock::new();
        let pool = pool_with(&clock);
        pool.submit(|_| panic!("this task panics on purpose"))
            .expect("refused");
        let outcome = recv_within(pool.outcomes(), TIMEOUT, "the panicking task");
        match outcome.result {
            Err(TaskError::Panicked(message)) => {
                assert!(message.contains("on purpose"), "{message}")
            }
            other => panic!("expected Panicked, got {other:?}"),
        }
        assert_eq!(pool.metrics().failed, 1);
        let health = pool.health();
        assert!(health.live && health.ready, "{health:?}");
        assert_eq!(health.live_workers, 4);
        // All four workers still run tasks.
        let (open, gate) = crossbeam_channel::bounded::<()>(0);
        for value in 1..=4 {
            pool.submit(gated_task(&gate, value)).expect("refused");
        }
        wait_until("four tasks running at once", || {
            pool.gauges().active_workers == 4
        });
        drop(open);
        let mut values: Vec<u64> = (0..4)
            .map(|_| {
                recv_within(pool.outcomes(), TIMEOUT, "a gated task")
                    .result
                    .expect("a gated task failed")
            })
            .collect();
        values.sort_unstable();
        assert_eq!(values, [1, 2, 3, 4]);
        pool.shutdown(secs(60));
    });
}

#[test]
fn shutdown_drains_the_work_and_refuses_new_tasks_meanwhile() {
    let _pools = one_pool_at_a_time();
    run_within(TIMEOUT * 2, "the draining shutdown", || {
        let clock = ManualClock::new();
        let pool = Arc::new(pool_with(&clock));
        let (open, gate) = crossbeam_channel::bounded::<()>(0);
        // 4 running, 2 queued behind them.
        for value in 1..=6 {
            pool.submit(gated_task(&gate, value)).expect("refused");
        }
        wait_until("four tasks running", || pool.gauges().active_workers == 4);
        assert_eq!(pool.gauges().queue_depth, 2);

        // The pool's clock does not move: the deadline never passes, whatever the machine.
        let shutting = {
            let pool = Arc::clone(&pool);
            thread::spawn(move || pool.shutdown(secs(60)))
        };
        wait_until("the pool to say it is shutting down", || {
            pool.health().shutting_down
        });
        let health = pool.health();
        assert!(!health.ready, "ready while shutting down: {health:?}");
        assert_eq!(
            pool.submit(|_| Ok(0)),
            Err(SubmitError::ShuttingDown),
            "a task submitted during shutdown"
        );
        assert_eq!(pool.metrics().rejected_shutdown, 1);

        drop(open);
        let report = join_within(shutting, TIMEOUT, "the shutdown").expect("the shutdown panicked");
        assert!(report.drained, "{report:?}");
        assert!(report.told_to_stop.is_empty(), "{report:?}");
        assert_eq!(
            (
                report.not_started,
                report.workers_joined,
                report.workers_left
            ),
            (0, 4, 0)
        );
        let mut values: Vec<u64> = pool
            .outcomes()
            .try_iter()
            .map(|o| o.result.expect("a drained task failed"))
            .collect();
        values.sort_unstable();
        assert_eq!(values, [1, 2, 3, 4, 5, 6], "every task, run once");
        let health = pool.health();
        assert!(!health.live && !health.ready, "after shutdown: {health:?}");
        assert_eq!(
            pool.submit(|_| Ok(0)),
            Err(SubmitError::ShuttingDown),
            "a task submitted after shutdown"
        );
    });
}

#[test]
fn at_its_deadline_shutdown_tells_hung_tasks_to_stop_and_returns() {
    let _pools = one_pool_at_a_time();
    run_within(TIMEOUT * 2, "the shutdown with hung tasks", || {
        let clock = ManualClock::new();
        let pool = Arc::new(pool_with(&clock));
        // 4 hung tasks hold every worker; a fifth waits behind them. The clock stands still
        // until the test moves it, so the shutdown's deadline will be 30 s from now.
        let deadline = clock.now() + secs(30);
        for _ in 0..4 {
            pool.submit(hung_until(&clock, deadline)).expect("refused");
        }
        pool.submit(|_| Ok(5)).expect("refused");
        wait_until("four hung tasks running", || {
            pool.gauges().active_workers == 4
        });

        let shutting = {
            let pool = Arc::clone(&pool);
            thread::spawn(move || pool.shutdown(secs(30)))
        };
        wait_until("the pool to say it is shutting down", || {
            pool.health().shutting_down
        });
        // Nothing can end and the pool's clock stands still, so a correct shutdown is still
        // waiting however slow the machine; the pause only gives a wrong one time to return.
        // A shutdown that cancels before its deadline is caught whatever the timing: each hung
        // task then fails, as it checks the clock when told to stop.
        thread::sleep(ms(20));
        assert!(
            !shutting.is_finished(),
            "shutdown returned before its deadline while tasks ran"
        );
        clock.advance(secs(30));
        let report = join_within(shutting, TIMEOUT, "the shutdown").expect("the shutdown panicked");
        assert!(!report.drained, "{report:?}");
        assert_eq!(report.told_to_stop, [1, 2, 3, 4], "{report:?}");
        assert_eq!(report.not_started, 1, "{report:?}");
        assert_eq!(report.workers_left, 4, "{report:?}");

        // Told to stop, the hung tasks stop; the queued one never starts.
        let mut results: Vec<(TaskId, Result<u64, TaskError>)> = (0..5)
            .map(|_| {
                let o = recv_within(pool.outcomes(), TIMEOUT, "an outcome after the deadline");
                (o.id, o.result)
            })
            .collect();
        results.sort_by_key(|(id, _)| *id);
        assert_eq!(
            results,
            [
                (1, Err(TaskError::Cancelled)),
                (2, Err(TaskError::Cancelled)),
                (3, Err(TaskError::Cancelled)),
                (4, Err(TaskError::Cancelled)),
                (5, Err(TaskError::ShutDown)),
            ]
        );
        wait_until("every worker to end", || pool.health().live_workers == 0);
        assert_eq!(pool.metrics().cancelled, 5);
    });
}

#[test]
fn on_the_real_clock_shutdown_returns_despite_a_hung_task() {
    // The only test on the real clock: it checks that shutdown returns, never how fast.
    let _pools = one_pool_at_a_time();
    run_within(TIMEOUT * 2, "the real-clock shutdown", || {
        let pool = ProductionPool::new(PoolConfig::default(), Arc::new(SystemClock))
            .expect("the default config was refused");
        pool.submit(hung_task).expect("refused");
        wait_until("the hung task running", || {
            pool.gauges().active_workers == 1
        });
        let report = pool.shutdown(ms(200));
        assert_eq!(report.told_to_stop, [1], "{report:?}");
        let outcome = recv_within(pool.outcomes(), TIMEOUT, "the hung task's outcome");
        assert_eq!(outcome.result, Err(TaskError::Cancelled));
        // Shutting down twice is harmless.
        assert_eq!(pool.shutdown(ms(200)).told_to_stop, Vec::<TaskId>::new());
    });
}

#[test]
fn a_panic_is_a_failure_to_the_breaker_too() {
    let _pools = one_pool_at_a_time();
    run_within(TIMEOUT * 2, "the panicking tasks", || {
        let clock = ManualClock::new();
        let pool = pool_with(&clock);
        for i in 1..=4 {
            pool.submit(move |_| panic!("task {i} panics on purpose"))
                .expect("refused");
            let outcome = recv_within(pool.outcomes(), TIMEOUT, "a panicking task");
            assert!(
                matches!(outcome.result, Err(TaskError::Panicked(_))),
                "{outcome:?}"
            );
        }
        assert_eq!(
            pool.health().breaker,
            BreakerState::Open,
            "4 panics in 4 calls must open the breaker"
        );
        assert_eq!(pool.metrics().failed, 4);
        pool.shutdown(secs(60));
    });
}

#[test]
fn every_outcome_finds_the_metrics_already_counting_it() {
    let _pools = one_pool_at_a_time();
    run_within(TIMEOUT * 2, "the outcomes read at once", || {
        let clock = ManualClock::new();
        let pool = pool_with(&clock);
        // A count made after the outcome is sent is a race that a reader wins now and then:
        // this test reads the metrics the instant each outcome arrives, 2,500 times. A
        // right worker counts first: it passes however the threads are scheduled.
        let deadline = Instant::now() + TIMEOUT;
        for i in 1..=2_500 {
            pool.submit(move |_| Ok(i)).expect("refused");
            let outcome = loop {
                match pool.outcomes().try_recv() {
                    Ok(outcome) => break outcome,
                    Err(_) => {
                        assert!(Instant::now() < deadline, "task {i}: no outcome in time");
                        std::hint::spin_loop();
                    }
                }
            };
            let metrics = pool.metrics();
            assert_eq!(outcome.result, Ok(i));
            assert_eq!(
                (metrics.succeeded, metrics.durations.count()),
                (i, i),
                "the outcome of task {i} arrived before the metrics counted it"
            );
        }
        pool.shutdown(secs(60));
    });
}

#[test]
fn a_tasks_duration_is_how_long_it_ran_not_how_long_it_waited() {
    let _pools = one_pool_at_a_time();
    run_within(TIMEOUT * 2, "the queued task", || {
        let clock = ManualClock::new();
        let pool = pool_with(&clock);
        let (open, gate) = crossbeam_channel::bounded::<()>(0);
        for value in 1..=4 {
            pool.submit(gated_task(&gate, value)).expect("refused");
        }
        wait_until("four tasks running", || pool.gauges().active_workers == 4);
        // It waits 2 s in the queue on the pool's clock, then runs for 30 ms.
        let queued = pool
            .submit(pretend_task(&clock, ms(30), 5, false))
            .expect("refused");
        clock.advance(secs(2));
        drop(open);
        let outcome = (0..5)
            .map(|_| recv_within(pool.outcomes(), TIMEOUT, "an outcome"))
            .find(|outcome| outcome.id == queued)
            .expect("the queued task's outcome");
        assert_eq!(outcome.result, Ok(5));
        assert_eq!(
            outcome.took,
            Some(ms(30)),
            "a task's duration starts when a worker starts it, not when it is submitted"
        );
        let within_50_ms = pool
            .metrics()
            .durations
            .cumulative()
            .into_iter()
            .find(|(bound, _)| *bound == Some(ms(50)))
            .map(|(_, count)| count);
        assert_eq!(within_50_ms, Some(1), "the histogram holds the 30 ms");
        pool.shutdown(secs(60));
    });
}

#[test]
fn tasks_run_at_once_on_the_named_workers_that_shutdown_joins() {
    let _pools = one_pool_at_a_time();
    run_within(TIMEOUT * 2, "the named workers", || {
        // The workers of an earlier test in this process may still be ending.
        if live_threads_named(WORKER_PREFIX).is_some() {
            wait_until("the workers of earlier tests to end", || {
                live_threads_named(WORKER_PREFIX).is_some_and(|names| names.is_empty())
            });
        }
        let pool = pool_with(&ManualClock::new());
        let caller = thread::current().name().map(str::to_owned);
        // Each task must meet the other three before it ends: only 4 running at once can.
        let meeting = Arc::new(Rendezvous::new(4));
        let (names_tx, names) = crossbeam_channel::unbounded();
        for value in 1..=4 {
            let (meeting, names_tx) = (Arc::clone(&meeting), names_tx.clone());
            pool.submit(move |_| {
                let _ = names_tx.send(thread::current().name().map(str::to_owned));
                // The worker's thread ends 250 ms after its exit notice is sent: a shutdown
                // that does not join it returns while it still runs.
                LINGER.with(|linger| *linger.borrow_mut() = Some(Linger));
                if meeting.meet(TIMEOUT) {
                    Ok(value)
                } else {
                    Err(TaskError::Failed(
                        "the 4 tasks did not run at the same time".to_owned(),
                    ))
                }
            })
            .expect("refused");
        }
        let mut values: Vec<u64> = (0..4)
            .map(|_| {
                recv_within(pool.outcomes(), TIMEOUT, "a task that meets the others")
                    .result
                    .expect("a task failed")
            })
            .collect();
        values.sort_unstable();
        assert_eq!(values, [1, 2, 3, 4]);
        let mut names: Vec<String> = names
            .try_iter()
            .map(|name| name.unwrap_or_default())
            .collect();
        names.sort();
        names.dedup();
        assert_eq!(
            names.len(),
            4,
            "4 tasks at once ran on 4 threads: {names:?}"
        );
        for name in &names {
            assert!(
                name.starts_with(WORKER_PREFIX) && Some(name) != caller.as_ref(),
                "a task ran on {name:?}, not on a worker named {WORKER_PREFIX}N"
            );
        }

        let report = pool.shutdown(secs(60));
        assert!(report.drained, "{report:?}");
        assert_eq!((report.workers_joined, report.workers_left), (4, 0));
        if let Some(live) = live_threads_named(WORKER_PREFIX) {
            assert!(
                live.is_empty(),
                "shutdown returned with its workers still running: {live:?}"
            );
        }
    });
}

#[test]
fn concurrent_submitters_get_distinct_ids_in_their_own_order() {
    const SUBMITTERS: u64 = 4;
    const EACH: u64 = 500;
    let _pools = one_pool_at_a_time();
    run_within(TIMEOUT * 2, "the concurrent submitters", || {
        let pool = Arc::new(pool_with(&ManualClock::new()));
        let start = Arc::new(Barrier::new(SUBMITTERS as usize));
        let submitters: Vec<_> = (0..SUBMITTERS)
            .map(|_| {
                let (pool, start) = (Arc::clone(&pool), Arc::clone(&start));
                thread::spawn(move || {
                    start.wait();
                    (0..EACH)
                        .map(|i| pool.submit(move |_| Ok(i)).expect("refused"))
                        .collect::<Vec<TaskId>>()
                })
            })
            .collect();
        let mut all = Vec::new();
        for submitter in submitters {
            let ids = join_within(submitter, TIMEOUT, "a submitter").expect("a submitter panicked");
            assert!(
                ids.windows(2).all(|pair| pair[0] < pair[1]),
                "one submitter's ids are not in its submission order"
            );
            all.extend(ids);
        }
        all.sort_unstable();
        assert_eq!(
            all,
            (1..=SUBMITTERS * EACH).collect::<Vec<_>>(),
            "ids must be 1, 2, 3..., each given once"
        );
        let mut ended: Vec<TaskId> = (0..SUBMITTERS * EACH)
            .map(|_| recv_within(pool.outcomes(), TIMEOUT, "an outcome").id)
            .collect();
        ended.sort_unstable();
        assert_eq!(ended, all, "one outcome per task");
        pool.shutdown(secs(60));
    });
}

#[test]
fn dropping_the_pool_tells_its_running_tasks_to_stop() {
    let _pools = one_pool_at_a_time();
    run_within(TIMEOUT * 2, "the dropped pool", || {
        let pool = pool_with(&ManualClock::new());
        let (told_tx, told) = crossbeam_channel::unbounded();
        pool.submit(move |token| {
            let _ = told_tx.send(token.wait_timeout(TIMEOUT));
            Err(TaskError::Cancelled)
        })
        .expect("refused");
        wait_until("the task running", || pool.gauges().active_workers == 1);
        drop(pool);
        assert!(
            recv_within(&told, TIMEOUT * 2, "the running task to hear of the drop"),
            "dropping the pool did not cancel its running task's token"
        );
    });
}
