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

// This file: the command line, part 5 (the speedup) and `main`. Parts 1 to 4 are in
// `scenes.rs`; the listener that prints the job system's events is in `monitor.rs`.
mod monitor;
mod scenes;

use anyhow::{Context, bail, ensure};
use level_3_advanced::projects::cli::{
    self, Args, EXIT_CODES, MAX_THREADS, check_writable, unknown_flag,
};
use level_3_advanced::projects::jobs::{
    Backoff, Config, JobKind, JobSpec, JobStatus, JobSystem, LOG_FILE,
};
use monitor::{Monitor, list, me, ms};
use scenes::crash_and_restart;
use shared::testing::panic_message;
use shared::timing::{CpuWatch, compare, compare_text};
use shared::workload::checked_fib;
use std::fs;
use std::panic;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
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
