//! # Project l3-p3: a background job system that survives a crash
//!
//! The Node course names a "Background Job System" and builds none; its nearest pools keep
//! their retries and timeouts in memory (a restart forgets every job) and start a job's timeout
//! clock when it is queued, so a job that waited in the queue "times out" before it ran. In
//! Node this would be a pool of `Worker`s fed from a priority queue, a `setTimeout` per retry,
//! and `fs.appendFileSync` + `fs.fsyncSync` for the log. Here the core is
//! `level_3_advanced::projects::jobs`: worker threads taking the highest-priority runnable job
//! from one queue behind a `Mutex` + `Condvar`, a watchdog thread for timeouts, cooperative
//! cancellation (`shared::CancellationToken`), `catch_unwind` around every attempt, and a job
//! log whose every record is synced to disk before the change it records is acknowledged.
//!
//! Shows, in a new directory under the system's temporary directory (or `--dir PATH`):
//! 1. **one mixed batch**, submitted at once. Priorities: the workers take it highest priority
//!    first, equal priorities in submission order (the order they *took* the jobs is checked,
//!    whatever order the threads print in). Failures: retries with exponential backoff (a job
//!    that fails its first 2 attempts; no attempt starts before its backoff time, checked), a
//!    timeout (a job that hangs until its 150 ms, counted from its start, run out), a panic
//!    (caught: a failed attempt, and the worker lives on). Then statuses by id, and the typed
//!    error of an unknown id;
//! 2. **a crash**: a second batch, and the log "dies" in the middle of writing one job's
//!    `Finished` record (a test hook: half the line reaches the disk). The system is dropped
//!    without a shutdown;
//! 3. **the restart**: the log is replayed, the torn line reported and cut off; every accepted
//!    job runs, a job whose outcome was lost runs again (at-least-once), and no job that had
//!    finished runs again: checked from the log, and from a count of executions per job kept
//!    across the restart;
//! 4. a clean shutdown that compacts the log, and a reopen that still gives unique ids;
//! 5. **speedup**: the same batch of CPU jobs on 1 worker, then on N.
//!
//! Run: `cargo run --release --example l3-p3-job-system` (a second or two). Options:
//! `--dir PATH` (an existing directory to keep the logs in), `--workers N` (1 to 256),
//! `--verbose`, `--help`. Without `--dir` the logs go to a new directory of this run under the
//! system's temporary directory, removed when the program ends (also after an error), so that
//! runs leave nothing behind; with `--dir` they stay there for you to read. The last lines say
//! which.
//!
//! Expect: `[job-worker-N]` lines as attempts start, fail, retry and finish; one line on
//! stderr per attempt of the panicking job, `[job-worker-N] panicked on purpose: ...` (a panic
//! hook prints it instead of the default report and its backtrace; the job system catches the
//! panic); the torn-line warning after the restart; the log sizes before and after
//! compaction; the sequential and parallel times with their ratio (on 2 cores it tops out near
//! 2x, less on a busy machine); then `result: 14 jobs across a crash: each finished exactly
//! once in the log, K ran again after the crash (at-least-once: #9, ...), 0 finished jobs ran
//! again; priorities, backoff, a timeout and a panic as configured; speedup S with N workers`.
//! K is at least 1 (#9, whose `Finished` record was torn), more if other jobs were running at
//! that moment. Below 1.5x on 2 or more threads and cores, a `note:` line says how busy the
//! rest of the machine was meanwhile (`shared::timing::CpuWatch`). Bad input is refused before
//! any work, in one line on stderr, `error: <what> (<why>)`: exit code 2 for bad usage (an
//! unknown option, a bad or out-of-range number), 1 for a run that failed (a missing or
//! unwritable `--dir`, one that already holds a job log, a batch that did not finish).

use anyhow::{Context, bail, ensure};
use level_3_advanced::projects::cli::{
    self, Args, EXIT_CODES, MAX_THREADS, check_writable, unknown_flag,
};
use level_3_advanced::projects::jobs::{
    Backoff, Config, CrashPoint, JobEvent, JobId, JobKind, JobSpec, JobStatus, JobSystem, LOG_FILE,
    Record, read_log,
};
use shared::testing::panic_message;
use shared::timing::{CpuWatch, compare, compare_text};
use shared::workload::{checked_fib, count_primes};
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::panic;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

const USAGE: &str = "\
Usage: l3-p3-job-system [--dir PATH] [--workers N] [--verbose]

Runs the background job system's demo: priorities, retries with backoff, a timeout, a panic,
a simulated crash and a restart from the job log, compaction, and a speedup measurement.

Options:
  --dir PATH     an existing, writable directory for the job logs, kept after the run; it must
                 not already hold a jobs.log (default: a new directory under the system's
                 temporary directory, removed when the program ends, even on an error)
  --workers N    worker threads, 1 to 256 (default: the number of logical cores)
  --verbose      on an error, print every cause on its own line
  -h, --help     print this help
";

/// The demo's backoff: 20 ms, doubling, at most 200 ms.
const BACKOFF: Backoff = Backoff::new(Duration::from_millis(20), 2, Duration::from_millis(200));

/// What the panicking job panics with: the quiet panic hook knows its panics by it.
const PANIC_MESSAGE: &str = "a job that panics on purpose";

/// The hanging job's timeout.
const HANG_TIMEOUT: Duration = Duration::from_millis(150);

/// How long the main thread waits for a batch before it gives up (a hang, not slowness).
const PATIENCE: Duration = Duration::from_secs(60);

/// The speedup batch: this many jobs, each `fib(SPEEDUP_FIB)`.
const SPEEDUP_JOBS: usize = 12;
const SPEEDUP_FIB: u32 = 35;

/// The parsed command line.
#[derive(Debug)]
struct Parsed {
    dir: Option<PathBuf>,
    workers: usize,
    verbose: bool,
}

/// Parses the command line; `Ok(None)` means `--help` was asked for. Every error is a usage
/// error (exit code 2).
fn parse_args(mut args: Args) -> anyhow::Result<Option<Parsed>> {
    let mut dir = None;
    let mut workers = cli::default_threads();
    let mut verbose = false;
    while let Some(flag) = args.next_flag()? {
        match flag.as_str() {
            "-h" | "--help" => return Ok(None),
            "--verbose" => verbose = true,
            "--dir" => dir = Some(args.path(&flag)?),
            "--workers" => workers = args.number(&flag, 1, MAX_THREADS)?,
            other => return Err(unknown_flag(other)),
        }
    }
    Ok(Some(Parsed {
        dir,
        workers,
        verbose,
    }))
}

/// The demo's own directory under the system's temporary directory, removed when dropped: at
/// the end of a run, after an error, and while a panic unwinds. A directory the user gave with
/// `--dir` is never removed; its logs are the user's to read.
#[derive(Debug)]
struct TempDir(PathBuf);

impl TempDir {
    fn create() -> anyhow::Result<Self> {
        let dir = std::env::temp_dir().join(format!("l3-p3-job-system-{}", std::process::id()));
        fs::create_dir(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        Ok(Self(dir))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if let Err(error) = fs::remove_dir_all(&self.0) {
            eprintln!("warning: cannot remove {} ({error})", self.0.display());
        }
    }
}

/// Replaces the default panic report (with `RUST_BACKTRACE=1`, a backtrace of some 50 lines)
/// by one line for the demo's own panicking job, whose panics the job system catches; any
/// other panic, a bug, still gets the default report.
fn quiet_intended_panics() {
    let default = panic::take_hook();
    panic::set_hook(Box::new(move |info| {
        let message = panic_message(info.payload());
        if message == PANIC_MESSAGE {
            eprintln!("[{}] panicked on purpose: {message}", me());
        } else {
            default(info);
        }
    }));
}

/// The name of the thread that speaks, for the `[name]` prefix of every line.
fn me() -> String {
    thread::current().name().unwrap_or("<unnamed>").to_owned()
}

/// `1st`, `2nd`, `3rd`, `4th`, ..., `11th`, `12th`, `13th`, ..., `21st`.
fn ordinal(n: u64) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

fn ms(d: Duration) -> u128 {
    d.as_millis()
}

/// Listens to the job systems' events: prints them, counts the executions of every job across
/// restarts, and keeps the order in which the workers took the attempts.
#[derive(Clone, Default)]
struct Monitor {
    labels: Arc<Mutex<BTreeMap<JobId, String>>>,
    /// Attempts started per job, in every session: the counter the crash check relies on.
    executions: Arc<Mutex<BTreeMap<JobId, u32>>>,
    /// Every event of the current session.
    events: Arc<Mutex<Vec<JobEvent>>>,
}

impl Monitor {
    fn config(&self, workers: usize) -> Config {
        let monitor = self.clone();
        Config::new(workers)
            .backoff(BACKOFF)
            .on_event(move |event| monitor.hear(event))
    }

    /// Names the jobs about to be submitted, so that their events can be printed from the
    /// first: ids are given in order from `next`.
    fn name(&self, next: JobId, specs: &[JobSpec]) {
        let mut labels = lock(&self.labels);
        for (spec, id) in specs.iter().zip(next.0..) {
            labels.insert(
                JobId(id),
                format!("{} {} (priority {})", JobId(id), spec.kind, spec.priority),
            );
        }
    }

    fn label(&self, id: JobId) -> String {
        lock(&self.labels)
            .get(&id)
            .cloned()
            .unwrap_or_else(|| id.to_string())
    }

    fn hear(&self, event: &JobEvent) {
        let who = me();
        let label = |id| self.label(id);
        match event {
            JobEvent::Started {
                id,
                attempt,
                seq,
                at,
            } => {
                *lock(&self.executions).entry(*id).or_insert(0) += 1;
                println!(
                    "[{who}] {}: attempt {attempt} starts at t={} ms, the {} taken",
                    label(*id),
                    ms(*at),
                    ordinal(*seq)
                );
            }
            JobEvent::Retrying {
                id,
                failed_attempt,
                error,
                next_at,
            } => println!(
                "[{who}] {}: attempt {failed_attempt} failed ({error}); next attempt not before \
                 t={} ms",
                label(*id),
                ms(*next_at)
            ),
            JobEvent::Finished { id, status } => println!("[{who}] {}: {status}", label(*id)),
            JobEvent::CutOff { id, attempt } => println!(
                "[{who}] {}: attempt {attempt} cut off; it runs again at the next start",
                label(*id)
            ),
        }
        lock(&self.events).push(event.clone());
    }

    fn take_events(&self) -> Vec<JobEvent> {
        std::mem::take(&mut *lock(&self.events))
    }

    fn executions(&self) -> BTreeMap<JobId, u32> {
        lock(&self.executions).clone()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Submits `specs` as one batch, named for the monitor.
fn submit_batch(
    system: &JobSystem,
    monitor: &Monitor,
    specs: Vec<JobSpec>,
) -> anyhow::Result<Vec<JobId>> {
    let next = system.next_id();
    monitor.name(next, &specs);
    let ids = system
        .submit_batch(specs)
        .context("the batch was refused")?;
    ensure!(ids.first() == Some(&next), "ids are given in order");
    Ok(ids)
}

/// What a CPU job must output.
fn expected_output(kind: &JobKind) -> Option<u64> {
    match kind {
        JobKind::Fib { n } => checked_fib(*n),
        JobKind::CountPrimes { start, end } => Some(count_primes(*start..*end)),
        _ => None,
    }
}

/// Part 1: a mixed batch on the first system, checked. Returns the ids and the specs.
fn mixed_batch(system: &JobSystem, monitor: &Monitor) -> anyhow::Result<Vec<(JobId, JobSpec)>> {
    println!(
        "[main] --- 1. a mixed batch, submitted at once: priorities, retries, a timeout, a \
         panic ---"
    );
    let specs = vec![
        JobSpec::new(JobKind::Fib { n: 27 }).priority(1),
        JobSpec::new(JobKind::CountPrimes {
            start: 0,
            end: 200_000,
        })
        .priority(5),
        JobSpec::new(JobKind::FailFirst { failures: 2 })
            .priority(5)
            .max_attempts(4),
        JobSpec::new(JobKind::Hang)
            .priority(9)
            .max_attempts(1)
            .timeout(HANG_TIMEOUT),
        JobSpec::new(JobKind::Panic {
            message: PANIC_MESSAGE.to_owned(),
        })
        .priority(3)
        .max_attempts(2),
        JobSpec::new(JobKind::Fib { n: 30 }).priority(9),
        JobSpec::new(JobKind::CountPrimes {
            start: 200_000,
            end: 400_000,
        })
        .priority(1),
        JobSpec::new(JobKind::Fib { n: 25 }),
    ];
    let ids = submit_batch(system, monitor, specs.clone())?;
    system
        .wait_idle(PATIENCE)
        .context("the mixed batch did not finish")?;
    let jobs: Vec<(JobId, JobSpec)> = ids.into_iter().zip(specs).collect();
    let events = monitor.take_events();

    // The order in which the workers *took* the first attempts is the priority order.
    let mut taken: Vec<(u64, JobId)> = events
        .iter()
        .filter_map(|event| match event {
            JobEvent::Started {
                id,
                attempt: 1,
                seq,
                ..
            } => Some((*seq, *id)),
            _ => None,
        })
        .collect();
    taken.sort();
    let taken: Vec<JobId> = taken.into_iter().map(|(_, id)| id).collect();
    let mut by_priority = jobs.clone();
    by_priority.sort_by_key(|(id, spec)| (std::cmp::Reverse(spec.priority), *id));
    let by_priority: Vec<JobId> = by_priority.into_iter().map(|(id, _)| id).collect();
    assert_eq!(
        taken, by_priority,
        "the first attempts were taken by priority"
    );
    println!(
        "[main] first attempts taken in the order {}: highest priority first, equal priorities \
         in id order",
        list(&taken)
    );

    // No attempt started before the backoff time of the failure before it.
    let mut due: BTreeMap<JobId, Duration> = BTreeMap::new();
    let mut retries = 0;
    for event in &events {
        match event {
            JobEvent::Retrying { id, next_at, .. } => {
                due.insert(*id, *next_at);
                retries += 1;
            }
            JobEvent::Started { id, at, .. } => {
                if let Some(next_at) = due.get(id) {
                    assert!(at >= next_at, "{id} started before its backoff time");
                }
            }
            _ => {}
        }
    }

    println!("[main] statuses by id:");
    for (id, spec) in &jobs {
        let status = system.status(*id)?;
        println!("[main]   {}: {status}", monitor.label(*id));
        match (&spec.kind, &status) {
            (JobKind::FailFirst { .. }, JobStatus::Succeeded { output, attempts }) => {
                assert_eq!((*output, *attempts), (3, 3));
            }
            (JobKind::Hang, JobStatus::Failed { error, attempts }) => {
                assert!(error.contains("timed out") && *attempts == 1, "{error}");
            }
            (JobKind::Panic { message }, JobStatus::Failed { error, attempts }) => {
                assert_eq!(
                    (error.as_str(), *attempts),
                    (&*format!("panicked: {message}"), 2)
                );
            }
            (
                kind,
                JobStatus::Succeeded {
                    output,
                    attempts: 1,
                },
            ) => {
                assert_eq!(Some(*output), expected_output(kind), "{kind}");
            }
            (kind, status) => panic!("{kind}: unexpected {status}"),
        }
    }
    assert_eq!(retries, 3, "fail-first(2) retried twice, the panic once");
    let unknown = JobId(999);
    match system.status(unknown) {
        Err(error) => println!("[main] status({unknown}): error: {error}"),
        Ok(status) => panic!("an unknown id has a status: {status}"),
    }
    Ok(jobs)
}

/// `#1, #2, #3`.
fn list(ids: &[JobId]) -> String {
    ids.iter()
        .map(JobId::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The CPU jobs of the batch the crash hits.
fn crash_batch_specs() -> Vec<JobSpec> {
    [(31, 9), (28, 5), (29, 5), (27, 2), (30, 2), (26, 0)]
        .into_iter()
        .map(|(n, priority)| JobSpec::new(JobKind::Fib { n }).priority(priority))
        .collect()
}

/// What the crash and the restart showed.
struct CrashSummary {
    jobs: usize,
    ran_again: Vec<JobId>,
}

/// Part 3: the crash and the restart, checked from the log and the execution counts.
fn crash_and_restart(
    dir: &Path,
    workers: usize,
    monitor: &Monitor,
) -> anyhow::Result<CrashSummary> {
    // Ids in a fresh log are 1, 2, ...: the mixed batch takes 1 to 8, the crash batch starts
    // at 9, and its highest-priority job (taken first) is the one whose `Finished` is torn.
    let mixed_len = 8;
    let victim = JobId(mixed_len + 1);
    let config = monitor
        .config(workers)
        .crash_at(CrashPoint::WhileFinishing(victim));
    let system = JobSystem::open(dir, config)
        .with_context(|| format!("cannot start the job system in {}", dir.display()))?;
    println!(
        "[main] job log: {} ({} workers, backoff {} ms doubling up to {} ms)",
        system.log_path().display(),
        workers,
        ms(BACKOFF.base),
        ms(BACKOFF.cap)
    );
    let mixed = mixed_batch(&system, monitor)?;
    ensure!(
        mixed.len() as u64 == mixed_len,
        "the mixed batch has {mixed_len} jobs"
    );

    println!("[main] --- 2. a crash: the log dies while writing {victim}'s Finished record ---");
    let crash_ids = submit_batch(&system, monitor, crash_batch_specs())?;
    ensure!(
        crash_ids[0] == victim,
        "the crash hits the first job of the batch"
    );
    match system.wait_idle(PATIENCE) {
        Err(error) => println!("[main] the system stopped: {error}"),
        Ok(()) => bail!("the simulated crash did not happen"),
    }
    // No shutdown: the log is dead, so nothing more reaches the disk, as after a real crash.
    drop(system);
    monitor.take_events();
    let before = read_log(&dir.join(LOG_FILE)).context("cannot read the log after the crash")?;
    let finished_before: BTreeSet<JobId> = before
        .records
        .iter()
        .filter(|(_, r)| matches!(r, Record::Finished { .. }))
        .map(|(_, r)| r.id())
        .collect();

    println!("[main] --- 3. restart from the log ---");
    let system = JobSystem::open(dir, monitor.config(workers))
        .context("cannot restart the job system from its log")?;
    let recovery = system.recovery().clone();
    for warning in recovery.warnings() {
        println!("[main] warning: {warning}");
    }
    let interrupted: Vec<JobId> = recovery.interrupted.iter().map(|(id, _)| *id).collect();
    println!(
        "[main] replayed {} records: {} jobs finished (they will not run again), {} to run: {}; \
         cut off by the crash, running again: {}",
        recovery.records,
        recovery.finished,
        recovery.requeued.len(),
        list(&recovery.requeued),
        list(&interrupted)
    );
    ensure!(recovery.torn_tail.is_some(), "the crash tore the last line");
    ensure!(interrupted.contains(&victim), "{victim}'s outcome was lost");
    system
        .wait_idle(PATIENCE)
        .context("the jobs of the log did not finish after the restart")?;
    for id in &crash_ids {
        let status = system.status(*id)?;
        let kind = &system.job(*id)?.spec.kind;
        assert_eq!(
            status,
            JobStatus::Succeeded {
                output: expected_output(kind).expect("a CPU job"),
                attempts: 1
            },
            "{id}"
        );
    }

    // Checked from the log: every accepted job finished exactly once; nothing that had
    // finished before the crash has a record after the restart.
    let log = read_log(&dir.join(LOG_FILE)).context("cannot read the log after the restart")?;
    ensure!(log.torn_tail.is_none(), "the torn line was cut off");
    let (session_1, session_2) = log.records.split_at(recovery.records);
    let accepted: BTreeSet<JobId> = log
        .records
        .iter()
        .filter(|(_, r)| matches!(r, Record::Accepted(_)))
        .map(|(_, r)| r.id())
        .collect();
    for id in &accepted {
        let finished = log
            .records
            .iter()
            .filter(|(_, r)| r.id() == *id && matches!(r, Record::Finished { .. }))
            .count();
        assert_eq!(finished, 1, "{id} finished exactly once in the log");
    }
    let ran_again_after_finishing: Vec<JobId> = session_2
        .iter()
        .map(|(_, r)| r.id())
        .filter(|id| finished_before.contains(id))
        .collect();
    assert!(
        ran_again_after_finishing.is_empty(),
        "finished jobs ran again"
    );
    assert_eq!(session_1.len(), before.records.len());

    // Checked from the counter kept across the restart: one execution per started record,
    // two for the jobs cut off by the crash, one for every other job of the crash batch.
    let executions = monitor.executions();
    for id in &crash_ids {
        let expected = if interrupted.contains(id) { 2 } else { 1 };
        assert_eq!(executions.get(id), Some(&expected), "{id}");
    }
    let started_records = |id: JobId| {
        log.records
            .iter()
            .filter(|(_, r)| r.id() == id && matches!(r, Record::Started { .. }))
            .count() as u32
    };
    for id in &accepted {
        assert_eq!(executions[id], started_records(*id), "{id}");
    }
    println!(
        "[main] every one of the {} accepted jobs finished exactly once in the log; ran again \
         after the crash: {} (at-least-once); finished jobs that ran again: none",
        accepted.len(),
        list(&interrupted)
    );

    println!("[main] --- 4. a clean shutdown, compacting the log ---");
    let report = system
        .shutdown(Duration::from_secs(5), true)
        .context("the shutdown failed")?;
    ensure!(report.finished_in_time && report.left_for_next_start.is_empty());
    let compaction = report.compaction.context("a compaction was asked for")?;
    println!(
        "[main] log compacted from {} to {} bytes ({} unfinished jobs kept)",
        compaction.bytes_before, compaction.bytes_after, compaction.jobs_kept
    );
    drop(system);
    let system = JobSystem::open(dir, monitor.config(1)).context("cannot reopen the log")?;
    let next = system.recovery().next_id;
    ensure!(system.recovery().requeued.is_empty());
    ensure!(
        next.0 == accepted.len() as u64 + 1,
        "ids stay unique after a compaction"
    );
    println!("[main] reopened: nothing to run, and the next job will be {next} (ids stay unique)");
    system.shutdown(Duration::ZERO, false)?;
    Ok(CrashSummary {
        jobs: accepted.len(),
        ran_again: interrupted,
    })
}

/// Part 5: the same CPU batch on `workers` workers; returns the outputs and the time.
fn timed_batch(dir: &Path, workers: usize) -> anyhow::Result<(Vec<u64>, Duration)> {
    fs::create_dir(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let system = JobSystem::open(dir, Config::new(workers))
        .with_context(|| format!("cannot start the job system in {}", dir.display()))?;
    let specs = vec![JobSpec::new(JobKind::Fib { n: SPEEDUP_FIB }); SPEEDUP_JOBS];
    let start = Instant::now();
    let ids = system.submit_batch(specs)?;
    system
        .wait_idle(PATIENCE)
        .context("the CPU batch did not finish")?;
    let elapsed = start.elapsed();
    let outputs = ids
        .iter()
        .map(|id| match system.status(*id)? {
            JobStatus::Succeeded { output, .. } => Ok(output),
            other => bail!("{id}: {other}"),
        })
        .collect::<anyhow::Result<Vec<u64>>>()?;
    system.shutdown(Duration::ZERO, false)?;
    Ok((outputs, elapsed))
}

fn main() -> ExitCode {
    let args = match parse_args(Args::from_env()) {
        Ok(Some(args)) => args,
        Ok(None) => {
            println!("{USAGE}\n{EXIT_CODES}");
            return ExitCode::SUCCESS;
        }
        Err(error) => return cli::fail(&error, false),
    };
    quiet_intended_panics();
    // Without --dir, the logs go to a directory of this process's own, removed when `_temp`
    // is dropped, on every way out of `main`.
    let (dir, _temp) = match &args.dir {
        Some(dir) => (dir.clone(), None),
        None => match TempDir::create() {
            Ok(temp) => (temp.0.clone(), Some(temp)),
            Err(error) => return cli::fail(&error, args.verbose),
        },
    };
    match run(&args, &dir) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => cli::fail(&error, args.verbose),
    }
}

fn run(args: &Parsed, dir: &Path) -> anyhow::Result<()> {
    // Checked before any work: the directory exists, is a directory, and takes a new file.
    ensure!(
        dir.is_dir(),
        "no directory {} (give --dir an existing one)",
        dir.display()
    );
    let crash_dir = dir.to_path_buf();
    let sequential_dir = dir.join("speedup-1-worker");
    let parallel_dir = dir.join(format!("speedup-{}-workers", args.workers));
    // Never overwrite someone's log: the demo starts from empty ones.
    for taken in [
        crash_dir.join(LOG_FILE),
        sequential_dir.clone(),
        parallel_dir.clone(),
    ] {
        ensure!(
            !taken.exists(),
            "{} already exists (the demo starts from an empty job log: remove it or give \
             another --dir)",
            taken.display()
        );
    }
    check_writable(&crash_dir.join(LOG_FILE), "the job log")?;

    let monitor = Monitor::default();
    let summary = crash_and_restart(&crash_dir, args.workers, &monitor)?;

    println!(
        "[main] --- 5. speedup: {SPEEDUP_JOBS} x fib({SPEEDUP_FIB}) on 1 worker, then on {} ---",
        args.workers
    );
    let watch = CpuWatch::start();
    let (sequential, sequential_time) = timed_batch(&sequential_dir, 1)?;
    let (parallel, parallel_time) = timed_batch(&parallel_dir, args.workers)?;
    let expected = checked_fib(SPEEDUP_FIB).context("fib fits")?;
    assert!(sequential.iter().all(|&v| v == expected));
    assert_eq!(
        parallel, sequential,
        "the same outputs with 1 and N workers"
    );
    // Under shared::timing::MIN_COMPARABLE on either side, no ratio (not expected here: each
    // batch is twelve fib(35), but a ratio of two unmeasurable times would be noise).
    let speedup = compare_text(sequential_time, parallel_time);
    println!(
        "[main] sequential (1 worker):   {:>6} ms",
        ms(sequential_time)
    );
    println!(
        "[main] parallel ({} workers): {:>8} ms",
        args.workers,
        ms(parallel_time)
    );
    if let Some(ratio) = compare(sequential_time, parallel_time) {
        println!(
            "[main] speedup: {speedup} (on 2 cores it tops out near 2x, and every record's sync \
             to disk is serial{})",
            cli::debug_build_note()
        );
        if let Some(note) = cli::shortfall_note(&watch, Some(ratio), args.workers) {
            println!("[main] {note}");
        }
    } else {
        println!("[main] speedup: {speedup}");
    }
    match &args.dir {
        Some(_) => println!(
            "[main] the logs are kept in {} (the directory given with --dir)",
            dir.display()
        ),
        None => println!(
            "[main] the logs were in {}, removed at exit: a temporary directory of this run \
             (give --dir PATH to keep them)",
            dir.display()
        ),
    }
    println!(
        "result: {} jobs across a crash: each finished exactly once in the log, {} ran again \
         after the crash (at-least-once: {}), 0 finished jobs ran again; priorities, backoff, a \
         timeout and a panic as configured; speedup {speedup} with {} workers",
        summary.jobs,
        summary.ran_again.len(),
        list(&summary.ran_again),
        args.workers
    );
    Ok(())
}
