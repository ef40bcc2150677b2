//! Tests of the background job system (`level_3_advanced::projects::jobs`), the core of the
//! practice project `l3-p3-job-system`.
//!
//! Nothing here sleeps or depends on timing. Every system reads a [`ManualClock`] that the test
//! moves by hand: a backoff of 100 ms passes when the test says `advance(100 ms)`, a job's
//! one-hour timeout in no time at all. Every wait has a real-time limit ([`TIMEOUT`]) that only
//! turns a hang into a failure. Each test works in a directory of its own under the system's
//! temporary directory, removed at the end.

use level_3_advanced::projects::jobs::{
    Backoff, Config, CrashPoint, JobError, JobEvent, JobId, JobKind, JobSpec, JobStatus, JobSystem,
    LOG_FILE, LogError, ManualClock, Outcome, Record, read_log,
};
use shared::testing::{TIMEOUT, run_within};
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// 100 ms, doubling, at most 1 s: the backoff of every test.
const BACKOFF: Backoff = Backoff::new(Duration::from_millis(100), 2, Duration::from_secs(1));

/// A directory of the test's own, emptied at the start and removed at the end.
struct TempDir(PathBuf);

impl TempDir {
    fn new(test: &str) -> Self {
        let path = std::env::temp_dir().join(format!("project-jobs-{}-{test}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).expect("cannot create the test directory");
        Self(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    fn log(&self) -> PathBuf {
        self.0.join(LOG_FILE)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Every event the systems told, across restarts: the counter of executions per job.
#[derive(Clone, Default)]
struct Recorder {
    events: Arc<Mutex<Vec<JobEvent>>>,
}

impl Recorder {
    /// A config with `workers`, [`BACKOFF`], `clock`, and this recorder listening.
    fn config(&self, workers: usize, clock: &ManualClock) -> Config {
        let events = Arc::clone(&self.events);
        Config::new(workers)
            .backoff(BACKOFF)
            .clock(clock.clone())
            .on_event(move |event| events.lock().unwrap().push(event.clone()))
    }

    fn events(&self) -> Vec<JobEvent> {
        self.events.lock().unwrap().clone()
    }

    /// The started attempts of one session, in the order the workers took them: `(id, at)`.
    fn starts_in_order(&self) -> Vec<(JobId, u32, Duration)> {
        let mut starts: Vec<(u64, JobId, u32, Duration)> = self
            .events()
            .into_iter()
            .filter_map(|event| match event {
                JobEvent::Started {
                    id,
                    attempt,
                    seq,
                    at,
                } => Some((seq, id, attempt, at)),
                _ => None,
            })
            .collect();
        starts.sort();
        starts
            .into_iter()
            .map(|(_, id, attempt, at)| (id, attempt, at))
            .collect()
    }

    /// How many attempts of each job started, across every session.
    fn executions(&self) -> BTreeMap<JobId, usize> {
        let mut counts = BTreeMap::new();
        for event in self.events() {
            if let JobEvent::Started { id, .. } = event {
                *counts.entry(id).or_insert(0) += 1;
            }
        }
        counts
    }
}

fn open(dir: &TempDir, config: Config) -> JobSystem {
    JobSystem::open(dir.path(), config).unwrap_or_else(|e| panic!("open failed: {e}"))
}

fn fib(n: u32) -> JobSpec {
    JobSpec::new(JobKind::Fib { n })
}

/// A job that runs until its timeout (or a shutdown) cancels it.
fn hang(timeout: Duration) -> JobSpec {
    JobSpec::new(JobKind::Hang).max_attempts(1).timeout(timeout)
}

#[track_caller]
fn submit(system: &JobSystem, spec: JobSpec) -> JobId {
    system
        .submit(spec)
        .unwrap_or_else(|e| panic!("submit failed: {e}"))
}

#[track_caller]
fn wait_done(system: &JobSystem, id: JobId) -> JobStatus {
    system
        .wait(id, TIMEOUT)
        .unwrap_or_else(|e| panic!("waiting for {id}: {e}"))
}

#[track_caller]
fn wait_running(system: &JobSystem, id: JobId, attempt: u32) {
    system
        .wait_for(id, TIMEOUT, |s| *s == JobStatus::Running { attempt })
        .unwrap_or_else(|e| panic!("waiting for {id} to run attempt {attempt}: {e}"));
}

/// Waits until `id` waits to retry with `attempt`, and returns when that attempt may start.
#[track_caller]
fn wait_retrying(system: &JobSystem, id: JobId, attempt: u32) -> (Duration, String) {
    let status = system
        .wait_for(
            id,
            TIMEOUT,
            |s| matches!(s, JobStatus::Retrying { attempt: a, .. } if *a == attempt),
        )
        .unwrap_or_else(|e| panic!("waiting for {id} to retry with attempt {attempt}: {e}"));
    match status {
        JobStatus::Retrying {
            next_at,
            last_error,
            ..
        } => (next_at, last_error),
        other => unreachable!("{other:?}"),
    }
}

#[track_caller]
fn wait_idle(system: &JobSystem) {
    system
        .wait_idle(TIMEOUT)
        .unwrap_or_else(|e| panic!("waiting for every job: {e}"));
}

/// The records of the log on disk.
fn records(dir: &TempDir) -> Vec<Record> {
    read_log(&dir.log())
        .unwrap_or_else(|e| panic!("reading the log: {e}"))
        .records
        .into_iter()
        .map(|(_, record)| record)
        .collect()
}

/// How many records of `id` the log holds that match `kind`.
fn count_records(records: &[Record], id: JobId, kind: fn(&Record) -> bool) -> usize {
    records.iter().filter(|r| r.id() == id && kind(r)).count()
}

fn is_started(record: &Record) -> bool {
    matches!(record, Record::Started { .. })
}

fn is_finished(record: &Record) -> bool {
    matches!(record, Record::Finished { .. })
}

// ---------------------------------------------------------------------------------------------
// Priorities.
// ---------------------------------------------------------------------------------------------

#[test]
fn one_worker_runs_the_highest_priority_first_and_equal_priorities_in_submission_order() {
    let dir = TempDir::new("priority");
    let clock = ManualClock::new();
    let recorder = Recorder::default();
    let system = open(&dir, recorder.config(1, &clock));

    // Keep the only worker busy while the others queue up.
    let blocker = submit(&system, hang(secs(10)));
    wait_running(&system, blocker, 1);
    let low_a = submit(&system, fib(10).priority(1));
    let mid_a = submit(&system, fib(11).priority(5));
    let low_b = submit(&system, fib(12).priority(1));
    let high = submit(&system, fib(13).priority(9));
    let mid_b = submit(&system, fib(14).priority(5));
    for id in [low_a, mid_a, low_b, high, mid_b] {
        assert_eq!(system.status(id).unwrap(), JobStatus::Queued);
    }

    clock.advance(secs(10)); // the blocker times out; the worker is free
    wait_idle(&system);
    let order: Vec<JobId> = recorder
        .starts_in_order()
        .into_iter()
        .map(|(id, _, _)| id)
        .collect();
    assert_eq!(order, [blocker, high, mid_a, mid_b, low_a, low_b]);
    assert_eq!(
        system.status(mid_b).unwrap(),
        JobStatus::Succeeded {
            output: 377,
            attempts: 1
        }
    );
}

#[test]
fn a_batch_is_taken_strictly_by_priority_even_by_several_workers() {
    let dir = TempDir::new("batch");
    let clock = ManualClock::new();
    let recorder = Recorder::default();
    let system = open(&dir, recorder.config(3, &clock));
    let priorities = [2, 7, 0, 7, 9, 2, 5];
    let ids = system
        .submit_batch(priorities.map(|p| fib(15).priority(p)))
        .unwrap();
    wait_idle(&system);

    // The workers print in any order, but they *took* the jobs in this one.
    let order: Vec<JobId> = recorder
        .starts_in_order()
        .into_iter()
        .map(|(id, _, _)| id)
        .collect();
    let expected = [4, 1, 3, 6, 0, 5, 2].map(|i| ids[i]);
    assert_eq!(order, expected);
    // Ids ascend in submission order.
    assert!(ids.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn no_more_attempts_run_at_once_than_there_are_workers() {
    let dir = TempDir::new("workers");
    let clock = ManualClock::new();
    let system = open(&dir, Config::new(2).clock(clock.clone()));
    let ids = system.submit_batch((0..4).map(|_| hang(secs(1)))).unwrap();
    wait_running(&system, ids[0], 1);
    wait_running(&system, ids[1], 1);
    // Nothing can end before the clock moves, so this is a stable picture: two run, two wait.
    assert_eq!(system.status(ids[2]).unwrap(), JobStatus::Queued);
    assert_eq!(system.status(ids[3]).unwrap(), JobStatus::Queued);
    clock.advance(secs(1));
    wait_running(&system, ids[2], 1);
    wait_running(&system, ids[3], 1);
    clock.advance(secs(1));
    wait_idle(&system);
}

// ---------------------------------------------------------------------------------------------
// Retries, backoff, timeouts, panics.
// ---------------------------------------------------------------------------------------------

#[test]
fn a_failing_job_retries_at_exactly_the_configured_backoff_then_succeeds() {
    let dir = TempDir::new("backoff");
    let clock = ManualClock::new();
    let recorder = Recorder::default();
    let system = open(&dir, recorder.config(1, &clock));
    let id = submit(
        &system,
        JobSpec::new(JobKind::FailFirst { failures: 3 }).max_attempts(5),
    );

    // Attempt 1 fails at 0 ms: wait 100 ms. Attempt 2 at 100 ms: wait 200 ms. Attempt 3 at
    // 300 ms: wait 400 ms. Attempt 4 at 700 ms succeeds.
    let (next_at, error) = wait_retrying(&system, id, 2);
    assert_eq!(next_at, ms(100));
    assert!(error.contains("attempt 1 of the first 3"), "{error}");
    clock.advance(ms(100));
    assert_eq!(wait_retrying(&system, id, 3).0, ms(300));
    clock.advance(ms(200));
    assert_eq!(wait_retrying(&system, id, 4).0, ms(700));
    clock.advance(ms(400));
    assert_eq!(
        wait_done(&system, id),
        JobStatus::Succeeded {
            output: 4,
            attempts: 4
        }
    );

    let started_at: Vec<(u32, Duration)> = recorder
        .starts_in_order()
        .into_iter()
        .map(|(_, attempt, at)| (attempt, at))
        .collect();
    assert_eq!(
        started_at,
        [(1, ms(0)), (2, ms(100)), (3, ms(300)), (4, ms(700))]
    );
    let log = records(&dir);
    assert_eq!(count_records(&log, id, is_started), 4);
    assert_eq!(
        count_records(&log, id, |r| matches!(r, Record::Retrying { .. })),
        3
    );
}

#[test]
fn a_job_waiting_out_its_backoff_is_not_run_before_its_time() {
    let dir = TempDir::new("not-before");
    let clock = ManualClock::new();
    let recorder = Recorder::default();
    let system = open(&dir, recorder.config(1, &clock));
    let retrying = submit(
        &system,
        JobSpec::new(JobKind::FailFirst { failures: 1 }).max_attempts(2),
    );
    assert_eq!(wait_retrying(&system, retrying, 2).0, ms(100));

    // Same priority and a later id: were the backoff ignored, `retrying` would run first.
    let later = submit(&system, fib(20));
    assert_eq!(
        wait_done(&system, later),
        JobStatus::Succeeded {
            output: 6_765,
            attempts: 1
        }
    );
    assert!(matches!(
        system.status(retrying).unwrap(),
        JobStatus::Retrying { attempt: 2, .. }
    ));
    assert_eq!(recorder.executions()[&retrying], 1);

    clock.advance(ms(99));
    assert!(matches!(
        system.status(retrying).unwrap(),
        JobStatus::Retrying { .. }
    ));
    clock.advance(ms(1));
    assert_eq!(
        wait_done(&system, retrying),
        JobStatus::Succeeded {
            output: 2,
            attempts: 2
        }
    );
}

#[test]
fn a_job_gives_up_after_its_last_attempt() {
    let dir = TempDir::new("gives-up");
    let clock = ManualClock::new();
    let recorder = Recorder::default();
    let system = open(&dir, recorder.config(1, &clock));
    let id = submit(
        &system,
        JobSpec::new(JobKind::FailFirst { failures: 10 }).max_attempts(3),
    );
    wait_retrying(&system, id, 2);
    clock.advance(ms(100));
    wait_retrying(&system, id, 3);
    clock.advance(ms(200));
    match wait_done(&system, id) {
        JobStatus::Failed { error, attempts } => {
            assert_eq!(attempts, 3);
            assert!(error.contains("attempt 3 of the first 10"), "{error}");
        }
        other => panic!("expected a failure, got {other:?}"),
    }
    // Time passing changes nothing any more.
    clock.advance(secs(3_600));
    wait_idle(&system);
    assert_eq!(recorder.executions()[&id], 3);
    let log = records(&dir);
    assert!(log.contains(&Record::Finished {
        id,
        outcome: Outcome::Failed {
            error: "failing on purpose: attempt 3 of the first 10".to_owned(),
            attempts: 3
        }
    }));
}

#[test]
fn a_timeout_counts_from_the_start_so_a_long_wait_in_the_queue_does_not_use_it_up() {
    let dir = TempDir::new("timeout-from-start");
    let clock = ManualClock::new();
    let recorder = Recorder::default();
    let system = open(&dir, recorder.config(1, &clock));
    let blocker = submit(&system, hang(secs(100)));
    wait_running(&system, blocker, 1);
    // Queued at 0 s with 5 s to run. It starts at 100 s: counted from submission, its
    // deadline would be long gone, and its first cancellation check would stop it.
    let patient = submit(&system, fib(32).max_attempts(1).timeout(secs(5)));
    clock.advance(secs(100));

    assert_eq!(
        wait_done(&system, patient),
        JobStatus::Succeeded {
            output: 2_178_309,
            attempts: 1
        }
    );
    let started = recorder.starts_in_order();
    assert_eq!(started[1], (patient, 1, secs(100)));
    match wait_done(&system, blocker) {
        JobStatus::Failed { error, attempts: 1 } => {
            assert!(error.contains("timed out"), "{error}");
        }
        other => panic!("the blocker should have timed out: {other:?}"),
    }
}

#[test]
fn a_timeout_cancels_a_hanging_attempt_and_counts_as_a_failed_one() {
    let dir = TempDir::new("timeout");
    let clock = ManualClock::new();
    let system = open(&dir, Config::new(1).backoff(BACKOFF).clock(clock.clone()));
    let id = submit(&system, hang(secs(2)).max_attempts(2));
    wait_running(&system, id, 1);
    clock.advance(secs(2));
    let (next_at, error) = wait_retrying(&system, id, 2);
    assert_eq!(next_at, secs(2) + ms(100));
    assert!(error.contains("timed out"), "{error}");
    clock.advance(ms(100));
    wait_running(&system, id, 2);
    clock.advance(secs(2));
    match wait_done(&system, id) {
        JobStatus::Failed { error, attempts } => {
            assert_eq!(attempts, 2);
            assert!(error.contains("timed out"), "{error}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_panic_is_a_failed_attempt_and_the_worker_lives_on() {
    let dir = TempDir::new("panic");
    let clock = ManualClock::new();
    let recorder = Recorder::default();
    let system = open(&dir, recorder.config(1, &clock));
    let id = submit(
        &system,
        JobSpec::new(JobKind::Panic {
            message: "boom on purpose".to_owned(),
        })
        .max_attempts(2),
    );
    let (_, error) = wait_retrying(&system, id, 2);
    assert_eq!(error, "panicked: boom on purpose");
    clock.advance(ms(100));
    assert_eq!(
        wait_done(&system, id),
        JobStatus::Failed {
            error: "panicked: boom on purpose".to_owned(),
            attempts: 2
        }
    );
    // The only worker is still there.
    let after = submit(&system, fib(10));
    assert_eq!(
        wait_done(&system, after),
        JobStatus::Succeeded {
            output: 55,
            attempts: 1
        }
    );
    assert_eq!(recorder.executions()[&id], 2);
}

// ---------------------------------------------------------------------------------------------
// Statuses.
// ---------------------------------------------------------------------------------------------

#[test]
fn a_status_goes_queued_running_retrying_running_failed_and_the_events_agree() {
    let dir = TempDir::new("transitions");
    let clock = ManualClock::new();
    let recorder = Recorder::default();
    let system = open(&dir, recorder.config(1, &clock));
    let blocker = submit(&system, hang(secs(10)));
    wait_running(&system, blocker, 1);
    let id = submit(&system, hang(secs(1)).max_attempts(2));
    assert_eq!(system.status(id).unwrap(), JobStatus::Queued);

    clock.advance(secs(10));
    wait_running(&system, id, 1);
    clock.advance(secs(1));
    let (next_at, _) = wait_retrying(&system, id, 2);
    assert_eq!(next_at, secs(11) + ms(100));
    clock.advance(ms(100));
    wait_running(&system, id, 2);
    clock.advance(secs(1));
    let last = wait_done(&system, id);
    assert!(
        matches!(&last, JobStatus::Failed { attempts: 2, error } if error.contains("timed out"))
    );

    let events: Vec<JobEvent> = recorder
        .events()
        .into_iter()
        .filter(|event| {
            matches!(event,
                JobEvent::Started { id: e, .. } | JobEvent::Retrying { id: e, .. } |
                JobEvent::Finished { id: e, .. } if *e == id)
        })
        .collect();
    assert!(
        matches!(
            events.as_slice(),
            [
                JobEvent::Started { attempt: 1, at: a1, .. },
                JobEvent::Retrying { failed_attempt: 1, next_at: n, .. },
                JobEvent::Started { attempt: 2, at: a2, .. },
                JobEvent::Finished { status, .. },
            ] if *a1 == secs(10) && *n == secs(11) + ms(100) && *a2 == *n && *status == last
        ),
        "{events:#?}"
    );
}

#[test]
fn an_unknown_id_is_a_typed_error() {
    let dir = TempDir::new("unknown");
    let system = open(&dir, Config::new(1).clock(ManualClock::new()));
    let missing = JobId(42);
    let error = system.status(missing).unwrap_err();
    assert!(
        matches!(error, JobError::UnknownJob(JobId(42))),
        "{error:?}"
    );
    assert_eq!(error.to_string(), "no job has the id #42");
    assert!(matches!(
        system.wait(missing, TIMEOUT),
        Err(JobError::UnknownJob(_))
    ));
    assert!(matches!(system.job(missing), Err(JobError::UnknownJob(_))));
}

#[test]
fn an_invalid_job_is_refused_and_nothing_is_written() {
    let dir = TempDir::new("invalid");
    let system = open(&dir, Config::new(1).clock(ManualClock::new()));
    let bad = [
        fib(94),
        fib(5).max_attempts(0),
        fib(5).timeout(Duration::ZERO),
        JobSpec::new(JobKind::CountPrimes { start: 10, end: 1 }),
    ];
    for spec in bad {
        let error = system.submit(spec.clone()).unwrap_err();
        assert!(
            matches!(error, JobError::InvalidJob(_)),
            "{spec:?}: {error:?}"
        );
    }
    let error = system.submit_batch([fib(5), fib(99)]).unwrap_err();
    assert!(error.to_string().contains("job 2 of the batch"), "{error}");
    assert!(records(&dir).is_empty());
    // The next valid job still gets the first id.
    assert_eq!(submit(&system, fib(5)), JobId(1));
}

// ---------------------------------------------------------------------------------------------
// The log: crash and restart.
// ---------------------------------------------------------------------------------------------

#[test]
fn after_a_crash_accepted_jobs_run_and_finished_ones_never_run_again() {
    let dir = TempDir::new("crash");
    let recorder = Recorder::default();

    // Session 1: two jobs finish, one is running when the crash hits, two are still queued.
    let clock = ManualClock::new();
    let system = open(&dir, recorder.config(1, &clock));
    let done_a = submit(&system, fib(10));
    let done_b = submit(
        &system,
        JobSpec::new(JobKind::CountPrimes {
            start: 0,
            end: 1_000,
        }),
    );
    wait_done(&system, done_a);
    wait_done(&system, done_b);
    let running = submit(&system, hang(secs(60)));
    wait_running(&system, running, 1);
    let queued = submit(&system, fib(12));
    let flaky = submit(
        &system,
        JobSpec::new(JobKind::FailFirst { failures: 1 }).max_attempts(2),
    );
    assert_eq!(system.simulate_crash(), [(running, 1)]);
    assert!(matches!(system.submit(fib(1)), Err(JobError::Crashed)));
    assert!(matches!(
        system.wait(queued, TIMEOUT),
        Err(JobError::Crashed)
    ));
    drop(system);

    // Session 2: a new process, a new clock, the same directory and the same counter.
    let clock = ManualClock::new();
    let system = open(&dir, recorder.config(1, &clock));
    let recovery = system.recovery().clone();
    assert_eq!(recovery.finished, 2);
    assert_eq!(recovery.requeued, [running, queued, flaky]);
    assert_eq!(recovery.interrupted, [(running, 1)]);
    assert_eq!(recovery.torn_tail, None);
    assert_eq!(recovery.next_id, JobId(6));
    // Finished jobs keep their outcome.
    assert_eq!(
        system.status(done_a).unwrap(),
        JobStatus::Succeeded {
            output: 55,
            attempts: 1
        }
    );

    wait_running(&system, running, 1); // the same attempt, run again
    clock.advance(secs(60));
    wait_retrying(&system, flaky, 2);
    clock.advance(ms(100));
    wait_idle(&system);
    assert_eq!(
        system.status(queued).unwrap(),
        JobStatus::Succeeded {
            output: 144,
            attempts: 1
        }
    );
    assert_eq!(submit(&system, fib(3)), JobId(6), "ids stay unique");
    wait_idle(&system);

    let executions = recorder.executions();
    assert_eq!(
        executions[&done_a], 1,
        "finished before the crash: never again"
    );
    assert_eq!(
        executions[&done_b], 1,
        "finished before the crash: never again"
    );
    assert_eq!(
        executions[&running], 2,
        "cut off by the crash: at least once"
    );
    assert_eq!(executions[&queued], 1);
    assert_eq!(executions[&flaky], 2, "its own retry, after the restart");

    let log = records(&dir);
    for id in [done_a, done_b, running, queued, flaky, JobId(6)] {
        assert_eq!(count_records(&log, id, is_finished), 1, "{id}");
    }
    assert_eq!(count_records(&log, done_a, is_started), 1);
    assert_eq!(count_records(&log, running, is_started), 2);
}

#[test]
fn a_crash_while_writing_a_finished_record_tears_the_line_and_the_job_runs_again() {
    let dir = TempDir::new("torn-finish");
    let recorder = Recorder::default();
    let clock = ManualClock::new();
    // A fresh log gives ids 1, 2, 3.
    let config = recorder
        .config(1, &clock)
        .crash_at(CrashPoint::WhileFinishing(JobId(2)));
    let system = open(&dir, config);
    let ids = system.submit_batch([fib(10), fib(11), fib(12)]).unwrap();
    assert_eq!(ids, [JobId(1), JobId(2), JobId(3)]);
    assert!(matches!(
        system.wait(ids[1], TIMEOUT),
        Err(JobError::Crashed)
    ));
    assert!(wait_done(&system, ids[0]).is_finished());
    drop(system);

    let before = read_log(&dir.log()).unwrap();
    let torn = before.torn_tail.expect("half a record was written");
    assert_eq!(torn.line, before.records.len() + 2);

    let system = open(&dir, recorder.config(1, &clock));
    let recovery = system.recovery().clone();
    assert_eq!(recovery.torn_tail, Some(torn));
    assert_eq!(recovery.warnings().len(), 1);
    assert!(recovery.warnings()[0].contains("torn"));
    assert_eq!(recovery.requeued, [ids[1], ids[2]]);
    assert_eq!(recovery.interrupted, [(ids[1], 1)]);
    wait_idle(&system);
    let executions = recorder.executions();
    assert_eq!(
        (
            executions[&ids[0]],
            executions[&ids[1]],
            executions[&ids[2]]
        ),
        (1, 2, 1),
        "job 2's work ran, its outcome was lost, so it ran again: at least once"
    );
    drop(system);

    // The torn line was cut off: the log reads clean, and every job finished exactly once.
    let after = read_log(&dir.log()).unwrap();
    assert_eq!(after.torn_tail, None);
    for id in ids {
        let finished = after
            .records
            .iter()
            .filter(|(_, r)| r.id() == id && is_finished(r))
            .count();
        assert_eq!(finished, 1, "{id}");
    }
}

#[test]
fn a_crash_after_n_records_loses_nothing_that_was_acknowledged() {
    let dir = TempDir::new("after-n");
    let recorder = Recorder::default();
    let clock = ManualClock::new();
    // Accepted ×3 (one batch) = 3 records, then Started #1 and Finished #1 = 5: the crash hits
    // while the sixth (Started #2) is written.
    let config = recorder
        .config(1, &clock)
        .crash_at(CrashPoint::AfterRecords(5));
    let system = open(&dir, config);
    let ids = system.submit_batch([fib(5), fib(6), fib(7)]).unwrap();
    assert!(wait_done(&system, ids[0]).is_finished());
    assert!(matches!(system.wait_idle(TIMEOUT), Err(JobError::Crashed)));
    drop(system);

    let system = open(&dir, recorder.config(1, &clock));
    assert!(system.recovery().torn_tail.is_some());
    assert_eq!(system.recovery().requeued, [ids[1], ids[2]]);
    assert_eq!(system.recovery().interrupted, []);
    wait_idle(&system);
    let executions = recorder.executions();
    assert_eq!(executions.values().copied().collect::<Vec<_>>(), [1, 1, 1]);
}

#[test]
fn a_torn_last_line_is_ignored_with_a_warning_and_cut_off() {
    let dir = TempDir::new("torn");
    let clock = ManualClock::new();
    {
        let system = open(&dir, Config::new(1).clock(clock.clone()));
        let id = submit(&system, fib(10));
        wait_done(&system, id);
        system.shutdown(Duration::ZERO, false).unwrap();
    }
    let complete = fs::read_to_string(dir.log()).unwrap();
    let lines = complete.lines().count();
    // A crash in the middle of writing an `Accepted` record.
    let mut torn = complete.clone();
    torn.push_str("A\t2\t0\t3\t3000");
    fs::write(dir.log(), &torn).unwrap();

    let system = open(&dir, Config::new(1).clock(clock.clone()));
    let recovery = system.recovery();
    let tail = recovery.torn_tail.expect("the torn line is reported");
    assert_eq!((tail.line, tail.bytes), (lines + 1, 12));
    assert!(
        recovery.warnings()[0].contains(&format!("line {} is torn", lines + 1)),
        "{:?}",
        recovery.warnings()
    );
    assert_eq!(recovery.requeued, []);
    // The half-written job was never acknowledged: its id is given again, on a clean line.
    assert_eq!(submit(&system, fib(11)), JobId(2));
    system.shutdown(Duration::ZERO, false).unwrap();
    let after = fs::read_to_string(dir.log()).unwrap();
    assert!(after.starts_with(&complete));
    assert!(after.ends_with('\n'));
    assert!(read_log(&dir.log()).unwrap().torn_tail.is_none());
}

#[test]
fn a_corrupt_line_before_the_end_is_an_error_naming_the_line() {
    let dir = TempDir::new("corrupt");
    let clock = ManualClock::new();
    {
        let system = open(&dir, Config::new(1).clock(clock.clone()));
        let ids = system.submit_batch([fib(5), fib(6), fib(7)]).unwrap();
        for id in ids {
            wait_done(&system, id);
        }
    }
    let text = fs::read_to_string(dir.log()).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() > 5);

    // Line 3 (the second `Accepted`) no longer parses.
    lines[2] = "A\t2\tNaN\t3\t3000\tfib\t6";
    fs::write(dir.log(), lines.join("\n") + "\n").unwrap();
    match JobSystem::open(dir.path(), Config::new(1).clock(clock.clone())) {
        Err(JobError::Log(LogError::Corrupt { line, reason, .. })) => {
            assert_eq!(line, 3);
            assert!(reason.contains("priority"), "{reason}");
        }
        other => panic!("expected corruption at line 3, got {other:?}"),
    }
    let message = read_log(&dir.log()).unwrap_err().to_string();
    assert!(message.contains("line 3 is corrupt"), "{message}");

    // A line that parses but contradicts the log: a record for a job never accepted.
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    lines[4] = "S\t77\t1".to_owned();
    fs::write(dir.log(), lines.join("\n") + "\n").unwrap();
    let error = JobSystem::open(dir.path(), Config::new(1)).unwrap_err();
    assert!(
        error.to_string().contains("line 5") && error.to_string().contains("never accepted"),
        "{error}"
    );

    // A complete last line (it has its `\n`) that is garbage is corruption too, not a torn line.
    fs::write(dir.log(), format!("{text}garbage\n")).unwrap();
    let error = JobSystem::open(dir.path(), Config::new(1)).unwrap_err();
    assert!(error.to_string().contains("unknown record"), "{error}");
}

#[test]
fn a_missing_directory_a_file_and_a_foreign_log_are_clear_errors() {
    let dir = TempDir::new("bad-dirs");
    let missing = dir.path().join("no-such-dir");
    let error = JobSystem::open(&missing, Config::new(1)).unwrap_err();
    assert!(
        matches!(&error, JobError::Log(LogError::MissingDir(p)) if *p == missing),
        "{error:?}"
    );
    assert!(error.to_string().contains("does not exist"));

    let file = dir.path().join("a-file");
    fs::write(&file, "hello").unwrap();
    let error = JobSystem::open(&file, Config::new(1)).unwrap_err();
    assert!(
        matches!(error, JobError::Log(LogError::NotADir(_))),
        "{error:?}"
    );

    fs::write(dir.log(), "jobs-log\tv9\t1\n").unwrap();
    let error = JobSystem::open(dir.path(), Config::new(1)).unwrap_err();
    assert!(
        error.to_string().contains("not a version 1 job log"),
        "{error}"
    );

    let error = JobSystem::open(dir.path(), Config::new(0)).unwrap_err();
    assert!(matches!(error, JobError::InvalidConfig(_)), "{error:?}");
}

// ---------------------------------------------------------------------------------------------
// Shutdown and compaction.
// ---------------------------------------------------------------------------------------------

#[test]
fn shutdown_lets_a_running_job_finish_within_the_grace_and_leaves_the_queue_in_the_log() {
    let dir = TempDir::new("shutdown-grace");
    let clock = ManualClock::new();
    let system = Arc::new(open(&dir, Config::new(1).clock(clock.clone())));
    let running = submit(&system, hang(secs(2)));
    wait_running(&system, running, 1);
    let queued = submit(&system, fib(10));

    let stopping = {
        let system = Arc::clone(&system);
        thread::spawn(move || system.shutdown(secs(5), false))
    };
    let deadline = Instant::now() + TIMEOUT;
    while !system.is_shutting_down() {
        assert!(Instant::now() < deadline, "shutdown never began");
        thread::yield_now();
    }
    assert!(matches!(system.submit(fib(1)), Err(JobError::ShuttingDown)));
    clock.advance(secs(2)); // within the 5 s of grace: the running job ends (by its timeout)
    let report = run_within(TIMEOUT, "shutdown", move || stopping.join().unwrap()).unwrap();
    assert!(report.finished_in_time);
    assert_eq!(report.cut_off, []);
    assert_eq!(report.left_for_next_start, [queued]);
    assert!(system.status(running).unwrap().is_finished());
    assert_eq!(system.status(queued).unwrap(), JobStatus::Queued);
    drop(system);

    let system = open(&dir, Config::new(1).clock(clock.clone()));
    assert_eq!(system.recovery().requeued, [queued]);
    assert!(wait_done(&system, queued).is_finished());
}

#[test]
fn shutdown_cuts_off_what_outlives_the_grace_and_compaction_keeps_only_unfinished_jobs() {
    let dir = TempDir::new("compaction");
    let clock = ManualClock::new();
    let recorder = Recorder::default();
    let system = open(&dir, recorder.config(1, &clock));
    let finished = submit(&system, fib(10));
    wait_done(&system, finished);
    let flaky = submit(
        &system,
        JobSpec::new(JobKind::FailFirst { failures: 1 }).max_attempts(3),
    );
    wait_retrying(&system, flaky, 2);
    let stuck = submit(&system, hang(secs(3_600)).priority(9));
    wait_running(&system, stuck, 1);
    let queued = submit(&system, fib(12));

    let report = system.shutdown(Duration::ZERO, true).unwrap();
    assert!(!report.finished_in_time);
    assert_eq!(report.cut_off, [(stuck, 1)]);
    assert_eq!(report.left_for_next_start, [flaky, stuck, queued]);
    let compaction = report.compaction.expect("a compaction was asked for");
    assert_eq!(compaction.jobs_kept, 3);
    assert!(compaction.bytes_after < compaction.bytes_before);
    assert!(matches!(system.submit(fib(1)), Err(JobError::ShuttingDown)));
    assert!(recorder.events().contains(&JobEvent::CutOff {
        id: stuck,
        attempt: 1
    }));
    drop(system);

    // The compacted log: 3 jobs, flaky's failed attempt, no finished job, the next id kept.
    let log = records(&dir);
    assert_eq!(log.len(), 4);
    let system = open(&dir, recorder.config(1, &clock));
    let recovery = system.recovery();
    assert_eq!(recovery.finished, 0);
    assert_eq!(recovery.requeued, [flaky, stuck, queued]);
    assert_eq!(recovery.next_id, JobId(5));
    assert!(matches!(
        system.status(finished),
        Err(JobError::UnknownJob(_))
    ));
    // The stuck job runs first again (priority 9), and times out this time. Then flaky, which
    // failed once before the restart, continues with attempt 2, and succeeds.
    wait_running(&system, stuck, 1);
    clock.advance(secs(3_600));
    assert_eq!(
        wait_done(&system, flaky),
        JobStatus::Succeeded {
            output: 2,
            attempts: 2
        }
    );
    wait_idle(&system);
    assert_eq!(submit(&system, fib(2)), JobId(5));
}
