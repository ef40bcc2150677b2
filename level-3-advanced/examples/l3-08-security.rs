//! # Lesson l3-08: security: containing untrusted work
//!
//! Replaces the Node course's "isolation" claims: that each worker's own V8 isolate keeps a bad
//! worker from harming the rest, that `worker.terminate()` can stop anything, and that
//! `resourceLimits` caps a worker's memory. Rust threads share one address space. Safe Rust
//! keeps them from corrupting each other's memory (ownership, `Send`, `Sync`), but a thread is
//! not a sandbox: nothing can kill it, nothing caps its memory, and an abort in it ends the
//! whole process. What a program can do is contain panics, refuse oversized input, ask work to
//! stop, and put work that must be killable in a child process.
//!
//! Shows, each time what goes wrong first and then the fix:
//! 1. **panic containment**: five untrusted jobs, one of which panics on a bad input. On a bare
//!    thread the panic ends the thread and the jobs after it never run; with `catch_unwind`
//!    around each job, the panic is reported as that job's error and the rest run.
//! 2. **input size limits**: a typed error (`InputError::TooLarge`) before any work is done, and
//!    a reader capped with `Read::take`, so that an endless input stream is cut off after the
//!    limit instead of filling memory.
//! 3. **time limits**: a job that would run for hours is given a deadline; at the deadline the
//!    watchdog cancels its `shared::CancellationToken`, and the job, which checks the token
//!    between blocks of work, stops.
//! 4. **thread against process isolation**: a rogue job that checks nothing is cancelled too,
//!    and keeps running: a thread cannot be killed. The same rogue job in a child process (this
//!    same example binary, started again with a hidden `--child-spin` argument) is killed at
//!    its deadline with `Child::kill` and reaped with `wait`. A well-behaved child
//!    (`--child-count`) shows how an answer comes back: through a pipe, as text.
//!
//! Run: `cargo run --release --example l3-08-security`
//!
//! Expect: `[panic hook]` lines on stderr for the panics caused on purpose, each part's
//! outcome on stdout, then `result: panic contained (2 of 5 jobs ran without containment,
//! all 5 with it, 1 reported); 2 oversized inputs refused before any work; the cooperative job
//! stopped at its deadline; the rogue thread could not be stopped; the runaway child process
//! was killed and reaped (signal 9)`.
//!
//! Beyond this example: a child process can also get operating-system limits that no thread
//! can have (memory and CPU `rlimit`s, cgroups, seccomp, another user); see the guide
//! `04-security-and-isolation.md`.

use anyhow::{Context, anyhow, bail, ensure};
use crossbeam_channel::{Receiver, RecvTimeoutError};
use shared::testing::{TIMEOUT, join_within, panic_message};
use shared::workload::count_primes;
use shared::{CancellationToken, Cancelled};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::panic::{self, AssertUnwindSafe, PanicHookInfo};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};
use thiserror::Error;

/// The hidden arguments that turn this binary into a child process.
const CHILD_SPIN: &str = "--child-spin";
const CHILD_COUNT: &str = "--child-count";

/// Part 2: the largest input a job accepts.
const MAX_INPUT: usize = 64 * 1024;
/// Part 3: how long the untrusted job may run.
const JOB_DEADLINE: Duration = Duration::from_millis(300);
/// Part 4: how long the rogue thread is watched after its cancellation, to show that it
/// keeps running. (It never stops, so any length shows the same; a cooperative job is given
/// `TIMEOUT`, far more than it needs even on a busy machine.)
const GRACE: Duration = Duration::from_millis(300);
/// Part 4: how long the runaway child process may run before it is killed.
const CHILD_DEADLINE: Duration = Duration::from_millis(300);
/// Part 4: the well-behaved child counts the primes below this (there are 9,592).
const CHILD_COUNT_LIMIT: u64 = 100_000;

/// The name of the thread that speaks, for the `[name]` prefix of every line.
fn me() -> String {
    thread::current().name().unwrap_or("<unnamed>").to_owned()
}

/// A panic hook that prints one line per panic, naming the thread, instead of the default
/// report with its backtrace hint: the panics in this example are expected.
fn one_line_hook(info: &PanicHookInfo<'_>) {
    let message = info
        .payload()
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| info.payload().downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "<no message>".to_owned());
    eprintln!("[panic hook] thread '{}' panicked: {message}", me());
}

// ---------------------------------------------------------------------------------------------
// Part 1: panic containment
// ---------------------------------------------------------------------------------------------

/// An untrusted job: it reads the byte at a position of its input. Job 3's position is past
/// the end of its input, which panics (an index out of bounds), as a bug in a plug-in would.
fn untrusted_job(job: usize) -> u8 {
    let input = [10u8, 20, 30, 40];
    let position = if job == 3 { 7 } else { job % input.len() };
    input[position]
}

/// Five jobs on a bare thread: the panic in job 3 unwinds the thread, and jobs 4 and 5 never
/// run. Returns how many jobs finished before that.
fn uncontained(jobs: usize) -> anyhow::Result<(usize, String)> {
    let (done_tx, done_rx) = crossbeam_channel::unbounded();
    let worker = thread::Builder::new()
        .name("bare-worker".into())
        .spawn(move || {
            for job in 1..=jobs {
                let value = untrusted_job(job);
                println!("[{}] job {job} -> {value}", me());
                let _ = done_tx.send(job);
            }
        })
        .context("could not spawn the bare worker")?;
    let payload = match worker.join() {
        Ok(()) => bail!("job 3 was meant to panic"),
        Err(payload) => payload,
    };
    Ok((done_rx.try_iter().count(), panic_message(payload.as_ref())))
}

/// The same jobs, each inside `catch_unwind`: a panic becomes that job's `Err`, and the worker
/// goes on with the next job.
fn contained(jobs: usize) -> anyhow::Result<Vec<Result<u8, String>>> {
    let worker = thread::Builder::new()
        .name("guarded-worker".into())
        .spawn(move || {
            (1..=jobs)
                .map(|job| {
                    // `AssertUnwindSafe`: the job touches nothing of ours, so no half-updated
                    // state of this thread can be seen after its panic.
                    let outcome = panic::catch_unwind(AssertUnwindSafe(|| untrusted_job(job)))
                        .map_err(|payload| panic_message(payload.as_ref()));
                    match &outcome {
                        Ok(value) => println!("[{}] job {job} -> {value}", me()),
                        Err(message) => {
                            println!("[{}] job {job} panicked ({message}); next job", me())
                        }
                    }
                    outcome
                })
                .collect()
        })
        .context("could not spawn the guarded worker")?;
    worker
        .join()
        .map_err(|_| anyhow!("the guarded worker itself panicked"))
}

// ---------------------------------------------------------------------------------------------
// Part 2: input size limits
// ---------------------------------------------------------------------------------------------

/// Why an input was refused. Checked before any work starts.
#[derive(Debug, Error)]
enum InputError {
    #[error("input of {len} bytes refused: the limit is {max} bytes")]
    TooLarge { len: usize, max: usize },
    #[error("input stream refused: it goes on past the limit of {max} bytes")]
    StreamTooLarge { max: usize },
    #[error("could not read the input")]
    Io(#[from] io::Error),
}

/// How many times a job's real work started: a refused input must leave it unchanged.
static WORK_STARTED: AtomicUsize = AtomicUsize::new(0);

/// An untrusted job's entry point: checks the size first, then works (counts the words).
fn count_words(input: &[u8]) -> Result<usize, InputError> {
    if input.len() > MAX_INPUT {
        return Err(InputError::TooLarge {
            len: input.len(),
            max: MAX_INPUT,
        });
    }
    WORK_STARTED.fetch_add(1, Ordering::Relaxed);
    Ok(input
        .split(|b| b.is_ascii_whitespace())
        .filter(|w| !w.is_empty())
        .count())
}

/// Reads at most `max` bytes from an untrusted stream. `take(max + 1)` reads one byte more
/// than allowed, which is how an input that is too long is told apart from one exactly at the
/// limit; an endless stream costs at most `max + 1` bytes of memory.
fn read_limited(reader: impl Read, max: usize) -> Result<Vec<u8>, InputError> {
    let mut buffer = Vec::new();
    reader.take(max as u64 + 1).read_to_end(&mut buffer)?;
    if buffer.len() > max {
        return Err(InputError::StreamTooLarge { max });
    }
    Ok(buffer)
}

// ---------------------------------------------------------------------------------------------
// Part 3: time limits and cooperative cancellation
// ---------------------------------------------------------------------------------------------

/// How a job run under a deadline ended.
#[derive(Debug, PartialEq)]
enum Limited<T> {
    Finished(T),
    /// Cancelled at the deadline, and the job stopped: its thread has ended.
    StoppedAtDeadline,
    /// Cancelled at the deadline, and the job did not stop within the grace period.
    StillRunning,
}

/// Runs `job` on a thread of its own with a cancellation token; at `deadline` the watchdog
/// (this thread) cancels the token and gives the job `grace` to stop. The job's thread is
/// joined if it stops, and left running, detached, if it does not: there is nothing else to do
/// with a thread.
fn run_with_deadline<T: Send + 'static>(
    name: &str,
    deadline: Duration,
    grace: Duration,
    job: impl FnOnce(&CancellationToken) -> T + Send + 'static,
) -> anyhow::Result<Limited<T>> {
    let token = CancellationToken::new();
    let (result_tx, result_rx) = crossbeam_channel::bounded(1);
    let handle = thread::Builder::new()
        .name(name.into())
        .spawn({
            let token = token.clone();
            move || {
                let _ = result_tx.send(job(&token));
            }
        })
        .with_context(|| format!("could not spawn {name}"))?;
    match result_rx.recv_timeout(deadline) {
        Ok(value) => {
            join_within(handle, TIMEOUT, name).map_err(|_| anyhow!("{name} panicked"))?;
            return Ok(Limited::Finished(value));
        }
        Err(RecvTimeoutError::Disconnected) => bail!("{name} panicked"),
        Err(RecvTimeoutError::Timeout) => {}
    }
    println!(
        "[{}] {name} passed its deadline of {deadline:?}: cancelling it",
        me()
    );
    let cancelled_at = Instant::now();
    token.cancel();
    // The job answers a cancellation by returning (its `T` says it was cancelled), which
    // drops the sender. Waiting on the channel, not sleeping, is how the watchdog learns it.
    match result_rx.recv_timeout(grace) {
        Ok(_) | Err(RecvTimeoutError::Disconnected) => {
            join_within(handle, TIMEOUT, name).map_err(|_| anyhow!("{name} panicked"))?;
            println!(
                "[{}] {name} stopped {:.1?} after the cancel",
                me(),
                cancelled_at.elapsed()
            );
            Ok(Limited::StoppedAtDeadline)
        }
        Err(RecvTimeoutError::Timeout) => {
            let finished = handle.is_finished();
            println!(
                "[{}] {name} ignored the cancel for {grace:?}; is_finished() = {finished}; \
                 there is no API to kill it: it runs until the process exits",
                me()
            );
            // Dropping the handle detaches the thread: it keeps its core busy, unstoppable.
            drop(handle);
            Ok(Limited::StillRunning)
        }
    }
}

/// A cooperative untrusted job: counts primes from `start`, in blocks of 100 numbers, checking
/// its token between blocks. From 10^12 up, the full range would take hours.
fn count_primes_from(start: u64, end: u64, token: &CancellationToken) -> Result<u64, Cancelled> {
    let mut count = 0;
    let mut low = start;
    while low < end {
        token.check()?;
        let high = low.saturating_add(100).min(end);
        count += count_primes(low..high);
        low = high;
    }
    Ok(count)
}

/// The rogue job: it never looks at its token. (Any long computation written without checks,
/// or stuck in a library call, behaves the same.)
fn spin_forever() -> ! {
    let mut x = 0u64;
    loop {
        x = std::hint::black_box(x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1));
    }
}

// ---------------------------------------------------------------------------------------------
// Part 4: a child process
// ---------------------------------------------------------------------------------------------

/// A child process that is killed and reaped however this scope is left: on success, on an
/// early `?` return, or on a panic. An unreaped child would stay a zombie until this process
/// exits.
#[derive(Debug)]
struct ChildGuard {
    child: Child,
    reaped: bool,
}

impl ChildGuard {
    /// Starts this same example binary again with one hidden argument: no stdin, stdout piped
    /// back to us, stderr shared.
    fn spawn(args: &[&str]) -> anyhow::Result<Self> {
        let exe = std::env::current_exe().context("cannot find this program's own binary")?;
        let child = Command::new(&exe)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("could not start {} {args:?}", exe.display()))?;
        Ok(Self {
            child,
            reaped: false,
        })
    }

    /// A thread that forwards the child's stdout, line by line, to a channel. The channel
    /// disconnects when the child's stdout closes, which is when the child has exited: so a
    /// timed receive waits for "a line, or the child's end, or the deadline", without polling.
    fn lines(&mut self) -> anyhow::Result<(Receiver<String>, thread::JoinHandle<()>)> {
        let stdout = self
            .child
            .stdout
            .take()
            .context("the child's stdout was not piped")?;
        let (tx, rx) = crossbeam_channel::unbounded();
        let reader = thread::Builder::new()
            .name("child-stdout".into())
            .spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            })
            .context("could not spawn the child's stdout reader")?;
        Ok((rx, reader))
    }

    fn id(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGKILL (on Unix; `TerminateProcess` on Windows), then reaps the child.
    fn kill(&mut self) -> anyhow::Result<ExitStatus> {
        self.child.kill().context("could not kill the child")?;
        self.wait()
    }

    /// Waits for the child to exit and reaps it.
    fn wait(&mut self) -> anyhow::Result<ExitStatus> {
        let status = self.child.wait().context("could not wait for the child")?;
        self.reaped = true;
        Ok(status)
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if !self.reaped {
            // Both may fail only if the child has already exited; then `wait` reaps it.
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The signal that ended a process, if a signal did.
#[cfg(unix)]
fn signal_of(status: &ExitStatus) -> Option<i32> {
    std::os::unix::process::ExitStatusExt::signal(status)
}

#[cfg(not(unix))]
fn signal_of(_status: &ExitStatus) -> Option<i32> {
    None
}

/// The runaway child: started, given `CHILD_DEADLINE`, killed, reaped.
fn runaway_child() -> anyhow::Result<ExitStatus> {
    let mut child = ChildGuard::spawn(&[CHILD_SPIN])?;
    let (lines, reader) = child.lines()?;
    let ready = lines
        .recv_timeout(TIMEOUT)
        .context("the child did not say it had started")?;
    println!("[{}] child {} says: {ready}", me(), child.id());
    let status = match lines.recv_timeout(CHILD_DEADLINE) {
        Ok(line) => bail!("the spinning child was not meant to say more, but said {line:?}"),
        Err(RecvTimeoutError::Disconnected) => bail!("the spinning child exited by itself"),
        Err(RecvTimeoutError::Timeout) => {
            println!(
                "[{}] child {} passed its deadline of {CHILD_DEADLINE:?}: Child::kill, then wait",
                me(),
                child.id()
            );
            child.kill()?
        }
    };
    join_within(reader, TIMEOUT, "the child's stdout reader")
        .map_err(|_| anyhow!("the child's stdout reader panicked"))?;
    Ok(status)
}

/// The well-behaved child: it computes, prints its answer as a line, and exits.
fn counting_child() -> anyhow::Result<(u64, ExitStatus)> {
    let limit = CHILD_COUNT_LIMIT.to_string();
    let mut child = ChildGuard::spawn(&[CHILD_COUNT, &limit])?;
    let (lines, reader) = child.lines()?;
    let answer = lines
        .recv_timeout(TIMEOUT)
        .context("the counting child gave no answer")?;
    println!("[{}] child {} says: {answer}", me(), child.id());
    let count = answer
        .rsplit(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .with_context(|| format!("the child's answer {answer:?} does not end in a number"))?;
    let status = child.wait()?;
    join_within(reader, TIMEOUT, "the child's stdout reader")
        .map_err(|_| anyhow!("the child's stdout reader panicked"))?;
    Ok((count, status))
}

/// What this binary does when started as a child. Returns `None` when it is not a child.
fn run_as_child() -> Option<anyhow::Result<()>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let pid = std::process::id();
    match args.first().map(String::as_str) {
        Some(CHILD_SPIN) => {
            println!("[child-spin {pid}] spinning; I check nothing and will never stop by myself");
            // The parent reads this line before it starts the deadline.
            if let Err(e) = io::stdout().flush() {
                return Some(Err(e.into()));
            }
            spin_forever()
        }
        Some(CHILD_COUNT) => Some((|| {
            let limit: u64 = args
                .get(1)
                .context("--child-count needs a number")?
                .parse()
                .context("--child-count needs a number")?;
            println!(
                "[child-count {pid}] primes below {limit}: {}",
                count_primes(0..limit)
            );
            Ok(())
        })()),
        _ => None,
    }
}

fn main() -> anyhow::Result<()> {
    if let Some(outcome) = run_as_child() {
        return outcome;
    }
    panic::set_hook(Box::new(one_line_hook));

    // 1. Panic containment.
    println!("[main] 1. five untrusted jobs; job 3 indexes past the end of its input");
    println!("[main]   on a bare thread:");
    let (ran_bare, bare_panic) = uncontained(5)?;
    println!("[main]   the thread died with {bare_panic:?}: {ran_bare} of 5 jobs ran");
    println!("[main]   each job inside catch_unwind:");
    let outcomes = contained(5)?;
    let ok = outcomes.iter().filter(|o| o.is_ok()).count();
    println!(
        "[main]   {ok} of 5 jobs ok, {} panicked and was reported; the worker ran them all",
        outcomes.len() - ok
    );
    println!("[main]   (an abort, a stack overflow or running out of memory is not a panic:");
    println!("[main]   catch_unwind cannot contain those; only a process boundary can)");

    // 2. Input size limits.
    println!("\n[main] 2. input limits: at most {MAX_INPUT} bytes per job");
    let small = b"the quick brown fox".as_slice();
    let words = count_words(small)?;
    println!("[main]   {} bytes: {words} words", small.len());
    let started_before = WORK_STARTED.load(Ordering::Relaxed);
    let huge = vec![b'a'; 10 * 1024 * 1024];
    let too_large = count_words(&huge);
    let started_after = WORK_STARTED.load(Ordering::Relaxed);
    match &too_large {
        Err(e) => println!("[main]   {} bytes: {e}", huge.len()),
        Ok(n) => println!(
            "[main]   {} bytes: {n} words (should have been refused)",
            huge.len()
        ),
    }
    // `io::repeat` never ends. `read_to_end` on it would fill memory until the process died;
    // read through `take`, it stops one byte past the limit.
    let endless = read_limited(io::repeat(b'x'), MAX_INPUT);
    match &endless {
        Err(e) => println!("[main]   an endless stream: {e}"),
        Ok(bytes) => println!("[main]   an endless stream: {} bytes read", bytes.len()),
    }
    let exact = read_limited(io::repeat(b'x').take(MAX_INPUT as u64), MAX_INPUT)?;
    println!(
        "[main]   a stream of exactly {} bytes: accepted",
        exact.len()
    );

    // 3. Time limits.
    println!("\n[main] 3. time limits: untrusted jobs under a deadline of {JOB_DEADLINE:?}");
    // Far below the deadline (about a millisecond), so it finishes even on a busy machine.
    let quick = run_with_deadline("quick-job", JOB_DEADLINE, TIMEOUT, |token| {
        count_primes_from(0, 10_000, token)
    })?;
    println!("[main]   quick-job: {quick:?}");
    let endless_job = run_with_deadline("endless-job", JOB_DEADLINE, TIMEOUT, |token| {
        count_primes_from(1_000_000_000_000, u64::MAX, token)
    })?;
    println!("[main]   endless-job: {endless_job:?}");

    // 4. Thread against process.
    println!("\n[main] 4. a rogue job that checks nothing: first on a thread, then in a process");
    let rogue =
        run_with_deadline::<()>("rogue-thread", JOB_DEADLINE, GRACE, |_token| spin_forever())?;
    println!("[main]   rogue-thread: {rogue:?}");
    let killed = runaway_child()?;
    println!("[main]   the child process ended with {killed}: killed and reaped");
    let (child_count, child_status) = counting_child()?;
    println!("[main]   the counting child: {child_status}, answer {child_count} (sent as text)");

    let _ = panic::take_hook(); // back to the default report for anything unexpected

    // Every outcome is checked before the result line.
    assert_eq!(
        ran_bare, 2,
        "jobs 1 and 2 ran, then job 3 killed the thread"
    );
    assert!(bare_panic.contains("index out of bounds"), "{bare_panic}");
    assert_eq!(outcomes.len(), 5);
    assert_eq!(ok, 4);
    assert!(
        outcomes[2]
            .as_ref()
            .is_err_and(|m| m.contains("index out of bounds"))
    );
    assert_eq!(words, 4);
    assert!(matches!(
        too_large,
        Err(InputError::TooLarge { len, max: MAX_INPUT }) if len == huge.len()
    ));
    assert_eq!(
        started_after, started_before,
        "no work started on the oversized input"
    );
    assert!(matches!(
        endless,
        Err(InputError::StreamTooLarge { max: MAX_INPUT })
    ));
    assert_eq!(exact.len(), MAX_INPUT);
    assert_eq!(quick, Limited::Finished(Ok(1_229)));
    assert_eq!(endless_job, Limited::StoppedAtDeadline);
    assert_eq!(rogue, Limited::StillRunning);
    assert!(!killed.success());
    if cfg!(unix) {
        assert_eq!(signal_of(&killed), Some(9), "SIGKILL");
    }
    assert!(child_status.success());
    assert_eq!(child_count, count_primes(0..CHILD_COUNT_LIMIT));
    ensure!(child_count == 9_592, "π(100000) is 9592");

    println!(
        "\nresult: panic contained ({ran_bare} of 5 jobs ran without containment, all 5 with \
         it, 1 reported); 2 oversized inputs refused before any work; the cooperative job \
         stopped at its deadline; the rogue thread could not be stopped; the runaway child \
         process was killed and reaped (signal {})",
        signal_of(&killed).map_or_else(|| "none".to_owned(), |s| s.to_string())
    );
    // The rogue thread is still spinning: returning from `main` ends the process, and with it
    // every thread. That is the only way to stop it.
    Ok(())
}
