//! The rolling and canary updates of lesson l3-40 (`level_3_advanced::rollout`), tested on a
//! real `shared::WorkerPool`: no task lost or run twice across many swaps while several
//! threads submit, a task running during a swap finishes on the old version and a queued one
//! starts on the new, the canary's share, its rollback and its promotion, and no decision
//! before the minimum sample.
//!
//! Nothing here depends on timing: the order of events is forced with channels and a counter
//! that tasks wait on, every wait has a deadline (`shared::testing::TIMEOUT`), and which task
//! goes to which version follows from its id.

use level_3_advanced::rollout::{Decision, Outcome, Release, Rollout, Rule, Share, Tally};
use shared::pool::WorkerPool;
use shared::testing::{TIMEOUT, recv_or_fail, run_within};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::Instant;

/// Runs each id's task on `pool` and returns the outcomes in id order.
fn run_all(pool: &WorkerPool, rollout: &Arc<Rollout>, ids: std::ops::Range<u64>) -> Vec<Outcome> {
    let handles: Vec<_> = ids
        .map(|id| {
            pool.submit_timeout(rollout.task(id), TIMEOUT)
                .unwrap_or_else(|e| panic!("task {id} was not queued: {e}"))
        })
        .collect();
    handles
        .into_iter()
        .map(|handle| {
            handle
                .join_timeout(TIMEOUT)
                .unwrap_or_else(|_| panic!("a task did not settle within {TIMEOUT:?}"))
                .expect("the task settled with a value")
        })
        .collect()
}

/// A release that fails on `per_hundred` of every hundred inputs, spread by a hash so that
/// the failures do not line up with the canary's choice of ids (the last two digits).
fn failing(version: u32, per_hundred: u64) -> Arc<Release> {
    Release::new(version, move |id| {
        // SplitMix64's finaliser: a fixed, well-mixed function of the id.
        let mut z = id.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        if z % 100 < per_hundred {
            Err(format!("v{version} failed on {id}"))
        } else {
            Ok(id)
        }
    })
}

fn pool(threads: usize, capacity: usize) -> WorkerPool {
    WorkerPool::builder()
        .threads(threads)
        .queue_capacity(capacity)
        .build()
        .expect("a pool")
}

/// A count that threads wait on, with a deadline: "wait until at least n swaps are done".
#[derive(Default)]
struct Progress {
    done: Mutex<usize>,
    changed: Condvar,
}

impl Progress {
    fn advance(&self) {
        *self.done.lock().unwrap() += 1;
        self.changed.notify_all();
    }

    fn wait_for(&self, n: usize, what: &str) {
        let done = self.done.lock().unwrap();
        let (_done, waited) = self
            .changed
            .wait_timeout_while(done, TIMEOUT, |done| *done < n)
            .unwrap();
        assert!(!waited.timed_out(), "timed out waiting for {what}");
    }
}

const SUBMITTERS: u64 = 3;
const PER_SUBMITTER: u64 = 10;
const SWAPS: u64 = 40;
/// In round k, ids k*100 + s*10 + i come from submitter s, and the two holders are k*100 + 50
/// and k*100 + 51 (last two digits 50 and 51: never a 10% canary's).
const HOLDER: u64 = 50;

/// Each round: two holder tasks occupy both workers of the pool, three threads queue 30 more
/// tasks, then the handler is swapped (a deploy, or every fourth time a 10% canary). The
/// holders are released only after the swap. So at every swap two tasks are running and 30
/// are queued, and the expected version of each task is known: the holders finish on the
/// routing they started with, every queued task starts on the new one.
#[test]
fn no_task_is_lost_or_run_twice_across_many_swaps_under_load() {
    let total_ids = (SWAPS * 100) as usize;
    let runs: Arc<Vec<AtomicU32>> = Arc::new((0..total_ids).map(|_| AtomicU32::new(0)).collect());
    let swaps = Arc::new(Progress::default());
    let rounds_open = Arc::new(Progress::default());
    let (running_tx, running) = crossbeam_channel::unbounded::<u64>();
    let release = |version: u32| {
        let (runs, swaps, running_tx) = (Arc::clone(&runs), Arc::clone(&swaps), running_tx.clone());
        Release::new(version, move |id| {
            runs[id as usize].fetch_add(1, Ordering::Relaxed);
            if id % 100 >= HOLDER {
                let _ = running_tx.send(id);
                swaps.wait_for((id / 100 + 1) as usize, "the swap a holder waits for");
            }
            Ok(id)
        })
    };
    let pool = pool(2, 64);
    let mut releases = vec![release(0)];
    let rollout = Rollout::new(Arc::clone(&releases[0]));
    // The test's own model of the routing: (stable version, canary version if any).
    let mut model: (u32, Option<u32>) = (0, None);
    let expect = |(stable, canary): (u32, Option<u32>), id: u64| match canary {
        Some(canary) if id % 100 < 10 => canary,
        _ => stable,
    };
    let mut expected: BTreeMap<u64, u32> = BTreeMap::new();

    let outcomes = thread::scope(|s| {
        let submitters: Vec<_> = (0..SUBMITTERS)
            .map(|sub| {
                let (pool, rollout, rounds_open) = (&pool, &rollout, &rounds_open);
                s.spawn(move || {
                    let mut handles = Vec::new();
                    for round in 0..SWAPS {
                        rounds_open.wait_for(round as usize + 1, "the next round");
                        for i in 0..PER_SUBMITTER {
                            let id = round * 100 + sub * 10 + i;
                            let handle = pool.submit_timeout(rollout.task(id), TIMEOUT);
                            handles.push(handle.unwrap_or_else(|e| panic!("{id} refused: {e}")));
                        }
                    }
                    handles
                })
            })
            .collect();
        let mut handles = Vec::new();
        for round in 0..SWAPS {
            for holder in [HOLDER, HOLDER + 1] {
                let id = round * 100 + holder;
                handles.push(pool.submit_timeout(rollout.task(id), TIMEOUT).unwrap());
                expected.insert(id, expect(model, id));
            }
            for _ in 0..2 {
                recv_or_fail(&running, "a holder task to start");
            }
            rounds_open.advance(); // the submitters queue this round's 30 tasks
            let queued = SUBMITTERS * PER_SUBMITTER;
            wait_until(
                || pool.metrics().queued >= queued,
                "this round's tasks to be queued",
            );
            let next = release(round as u32 + 1);
            releases.push(Arc::clone(&next));
            if round % 4 == 3 {
                rollout.start_canary(next, Share::percent(10).unwrap());
                model.1 = Some(round as u32 + 1);
            } else {
                rollout.deploy(next);
                model = (round as u32 + 1, None);
            }
            for id in (0..SUBMITTERS * 10).map(|n| round * 100 + n) {
                expected.insert(id, expect(model, id));
            }
            swaps.advance(); // the holders finish, the queued tasks start
        }
        for submitter in submitters {
            handles.extend(submitter.join().expect("a submitter panicked"));
        }
        handles
            .into_iter()
            .map(|h| {
                let outcome = h.join_timeout(TIMEOUT).expect("settled in time");
                outcome.expect("a task settled with a value")
            })
            .collect::<Vec<Outcome>>()
    });
    joined(pool);

    let submitted = (SWAPS * (SUBMITTERS * PER_SUBMITTER + 2)) as usize;
    assert_eq!(outcomes.len(), submitted, "every submitted task settled");
    for (id, count) in runs.iter().enumerate() {
        let count = count.load(Ordering::Relaxed);
        let want = u32::from(expected.contains_key(&(id as u64)));
        assert_eq!(count, want, "task {id} ran {count} times");
    }
    let mut per_version: BTreeMap<u32, u64> = BTreeMap::new();
    for outcome in &outcomes {
        assert_eq!(outcome.result, Ok(outcome.task_id));
        let want = expected[&outcome.task_id];
        assert_eq!(
            outcome.version, want,
            "task {} ran v{}",
            outcome.task_id, outcome.version
        );
        *per_version.entry(outcome.version).or_default() += 1;
    }
    let mut tallied = 0;
    for release in &releases {
        let settled = per_version.get(&release.version()).copied().unwrap_or(0);
        assert_eq!(
            release.tally(),
            Tally { settled, failed: 0 },
            "v{}",
            release.version()
        );
        tallied += release.tally().settled;
    }
    assert_eq!(
        tallied, submitted as u64,
        "the versions' counts add up to the tasks"
    );
}

/// Waits for `ready` with a deadline, yielding between checks.
fn wait_until(ready: impl Fn() -> bool, what: &str) {
    let deadline = Instant::now() + TIMEOUT;
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::yield_now();
    }
}

#[test]
fn a_task_running_during_a_swap_finishes_on_the_old_version_and_a_queued_one_starts_on_the_new() {
    let (started_tx, started) = crossbeam_channel::bounded::<()>(1);
    let (gate_tx, gate) = crossbeam_channel::bounded::<()>(0);
    let old = Release::new(1, move |id| {
        if id == 0 {
            let _ = started_tx.send(());
            // Waits until the test drops the gate's sender, after the swap.
            let _ = gate.recv_timeout(TIMEOUT);
        }
        Ok(id)
    });
    let new = Release::new(2, Ok);
    let rollout = Rollout::new(Arc::clone(&old));
    let pool = pool(1, 4);
    let running = pool.submit_timeout(rollout.task(0), TIMEOUT).unwrap();
    recv_or_fail(&started, "task 0 to start on v1");
    let queued = pool.submit_timeout(rollout.task(1), TIMEOUT).unwrap();

    let replaced = rollout.deploy(Arc::clone(&new));
    drop(gate_tx);
    let running = running
        .join_timeout(TIMEOUT)
        .expect("task 0 settled")
        .unwrap();
    let queued = queued
        .join_timeout(TIMEOUT)
        .expect("task 1 settled")
        .unwrap();
    joined(pool);

    assert_eq!(replaced.version(), 1);
    assert_eq!(
        (running.version, running.result),
        (1, Ok(0)),
        "started before the swap"
    );
    assert_eq!(
        (queued.version, queued.result),
        (2, Ok(1)),
        "started after the swap"
    );
    assert_eq!(
        old.tally(),
        Tally {
            settled: 1,
            failed: 0
        }
    );
    assert_eq!(
        new.tally(),
        Tally {
            settled: 1,
            failed: 0
        }
    );
}

#[test]
fn the_canary_takes_exactly_its_share_chosen_by_task_id() {
    let rollout = Rollout::new(Release::new(1, Ok));
    rollout.start_canary(Release::new(2, Ok), Share::percent(10).unwrap());
    let canary_ids: Vec<u64> = (0..1_000)
        .filter(|&id| rollout.pick(id).version() == 2)
        .collect();
    assert_eq!(canary_ids.len(), 100, "10% of 1,000 ids");
    let again: Vec<u64> = (0..1_000)
        .filter(|&id| rollout.pick(id).version() == 2)
        .collect();
    assert_eq!(canary_ids, again, "the same ids every time");
    assert!(canary_ids.iter().all(|id| id % 100 < 10));

    for (percent, taken) in [(1, 10), (50, 500), (99, 990)] {
        let share = Share::percent(percent).unwrap();
        let n = (0..1_000).filter(|&id| share.takes(id)).count();
        assert_eq!(n, taken, "{percent}% of 1,000 ids");
    }
    for no_canary in [0, 100, 255] {
        assert!(
            Share::percent(no_canary).is_err(),
            "{no_canary}% is not a canary"
        );
    }
}

/// A stable version failing 2% of its tasks and a canary failing 20%, 10% of 2,000 tasks.
#[test]
fn a_canary_with_a_higher_error_rate_is_rolled_back_and_takes_no_more_tasks() {
    let pool = pool(2, 64);
    let (stable, canary) = (failing(1, 2), failing(2, 20));
    let rollout = Rollout::new(Arc::clone(&stable));
    rollout.start_canary(Arc::clone(&canary), Share::percent(10).unwrap());
    run_all(&pool, &rollout, 0..2_000);
    assert_eq!(canary.tally().settled, 200);
    assert!(canary.tally().error_rate() > 0.1, "{:?}", canary.tally());
    assert!(stable.tally().error_rate() < 0.05, "{:?}", stable.tally());

    let rule = Rule {
        min_samples: 100,
        tolerance: 0.01,
    };
    assert_eq!(rollout.conclude(&rule), Decision::RollBack);
    assert!(rollout.canary().is_none(), "the canary's routing is off");
    assert_eq!(rollout.stable().version(), 1);

    let after = run_all(&pool, &rollout, 2_000..3_000);
    assert!(after.iter().all(|o| o.version == 1), "every task on v1");
    assert_eq!(
        canary.tally().settled,
        200,
        "the rolled-back canary ran nothing more"
    );
    assert_eq!(stable.tally().settled, 1_800 + 1_000);
    assert_eq!(
        rollout.conclude(&rule),
        Decision::Wait,
        "no canary, nothing to decide"
    );
    joined(pool);
}

#[test]
fn a_canary_no_worse_than_stable_is_promoted_to_every_task() {
    let pool = pool(2, 64);
    let (stable, canary) = (failing(1, 2), failing(2, 1));
    let rollout = Rollout::new(Arc::clone(&stable));
    rollout.start_canary(Arc::clone(&canary), Share::percent(10).unwrap());
    run_all(&pool, &rollout, 0..2_000);

    let rule = Rule {
        min_samples: 100,
        tolerance: 0.01,
    };
    assert_eq!(rollout.conclude(&rule), Decision::Promote);
    assert!(rollout.canary().is_none());
    assert_eq!(rollout.stable().version(), 2);
    let after = run_all(&pool, &rollout, 2_000..3_000);
    assert!(after.iter().all(|o| o.version == 2), "every task on v2");
    assert_eq!(
        stable.tally().settled,
        1_800,
        "the old stable version ran nothing more"
    );
    assert_eq!(canary.tally().settled, 200 + 1_000);
    joined(pool);
}

#[test]
fn nothing_is_decided_before_the_minimum_sample() {
    let pool = pool(2, 64);
    let stable = failing(1, 0);
    let broken = Release::new(2, |id| Err(format!("v2 always fails ({id})")));
    let rollout = Rollout::new(Arc::clone(&stable));
    rollout.start_canary(Arc::clone(&broken), Share::percent(10).unwrap());
    let rule = Rule {
        min_samples: 150,
        tolerance: 0.0,
    };

    run_all(&pool, &rollout, 0..1_000); // the canary has 100 samples, all failures
    assert_eq!(
        broken.tally(),
        Tally {
            settled: 100,
            failed: 100
        }
    );
    assert_eq!(rollout.conclude(&rule), Decision::Wait, "100 < 150 samples");
    assert_eq!(
        rollout.canary().map(|c| c.version()),
        Some(2),
        "still routed"
    );

    run_all(&pool, &rollout, 1_000..1_500); // now 150
    assert_eq!(rollout.conclude(&rule), Decision::RollBack);
    joined(pool);

    // The rule at its boundary, each side short in turn.
    let rule = Rule {
        min_samples: 150,
        tolerance: 0.01,
    };
    let (enough, bad) = (
        Tally {
            settled: 150,
            failed: 0,
        },
        Tally {
            settled: 150,
            failed: 150,
        },
    );
    let short_bad = Tally {
        settled: 149,
        failed: 149,
    };
    assert_eq!(rule.judge(enough, bad), Decision::RollBack);
    assert_eq!(
        rule.judge(enough, short_bad),
        Decision::Wait,
        "the canary is short"
    );
    assert_eq!(
        rule.judge(
            Tally {
                settled: 149,
                failed: 0
            },
            bad
        ),
        Decision::Wait,
        "stable is short"
    );
    assert_eq!(rule.judge(enough, enough), Decision::Promote);
    let one_point_worse = Tally {
        settled: 200,
        failed: 2,
    }; // 1% against 0%: within 0.01
    assert_eq!(rule.judge(enough, one_point_worse), Decision::Promote);
    let beyond = Tally {
        settled: 200,
        failed: 3,
    }; // 1.5% against 0%
    assert_eq!(rule.judge(enough, beyond), Decision::RollBack);
}

#[test]
fn a_panicking_version_counts_as_failing_and_is_rolled_back() {
    // One line per panic instead of Rust's report with a backtrace (RUST_BACKTRACE=1).
    let _quiet = shared::panics::quiet_hook();
    let pool = pool(2, 64);
    let stable = failing(1, 2);
    let crashing = Release::new(2, |id| panic!("v2 cannot handle task {id}"));
    let rollout = Rollout::new(Arc::clone(&stable));
    rollout.start_canary(Arc::clone(&crashing), Share::percent(10).unwrap());
    let outcomes = run_all(&pool, &rollout, 0..1_000); // settles: no handle reports a panic
    let crashed = outcomes.iter().filter(|o| o.version == 2);
    assert!(
        crashed
            .clone()
            .all(|o| o.result == Err("v2 panicked".to_owned()))
    );
    assert_eq!(crashed.count(), 100);
    assert_eq!(
        crashing.tally(),
        Tally {
            settled: 100,
            failed: 100
        }
    );
    let rule = Rule {
        min_samples: 100,
        tolerance: 0.01,
    };
    assert_eq!(rollout.conclude(&rule), Decision::RollBack);
    joined(pool);
}

/// Closes `pool` and waits for its threads, for at most `TIMEOUT`.
fn joined(pool: WorkerPool) {
    run_within(TIMEOUT, "pool.join()", move || pool.join()).expect("joined from outside the pool");
}
