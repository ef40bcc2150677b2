//! # Lesson l3-27: a child process can be killed; a thread cannot
//!
//! Replaces the Node course's `worker.terminate()` and `resourceLimits` isolation. A rogue job
//! on a thread cannot be stopped (lesson l3-26); the same job in a child process can. Shows:
//! this same binary started again with a hidden `--child-spin` argument runs a job that checks
//! nothing; at its deadline the parent kills it with `Child::kill` (SIGKILL on Unix) and reaps
//! it with `wait`. A well-behaved child (`--child-count N`) shows how an answer comes back:
//! through a pipe, as text. A child can also get operating-system limits no thread can have
//! (`rlimit`s, cgroups, seccomp, another user): see guide 04.
//!
//! Run: `cargo run --release --example l3-27-child-process-kill`
//!
//! Expect: what each child says, then `result: the runaway child process was killed and reaped
//! (signal 9); the counting child answered 9592 through its stdout`.

use anyhow::{Context, anyhow, bail};
use crossbeam_channel::{Receiver, RecvTimeoutError};
use shared::testing::{TIMEOUT, join_within};
use shared::workload::count_primes;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, ExitCode, ExitStatus, Stdio};
use std::thread::JoinHandle;
use std::time::Duration;

/// How long the runaway child may run before it is killed.
const CHILD_DEADLINE: Duration = Duration::from_millis(300);
/// The well-behaved child counts the primes below this (there are 9,592).
const COUNT_LIMIT: u64 = 100_000;

fn main() -> anyhow::Result<ExitCode> {
    // `ExitCode` is the status the process ends with: 0 success, 2 bad usage (guide 03).
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        [] => {}
        ["--child-spin"] => spin_forever(),
        ["--child-count", n] if n.parse::<u64>().is_ok() => {
            let limit: u64 = n.parse()?;
            println!(
                "[child-count] primes below {limit}: {}",
                count_primes(0..limit)
            );
            return Ok(ExitCode::SUCCESS);
        }
        _ => {
            eprintln!("error: unexpected arguments {args:?}; this lesson takes none");
            return Ok(ExitCode::from(2));
        }
    }
    let killed = runaway_child()?;
    println!("[main] the runaway child ended with {killed}: killed and reaped");
    let (count, status) = counting_child()?;
    println!("[main] the counting child: {status}, answer {count} (sent as text)");

    assert!(!killed.success());
    #[cfg(unix)]
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&killed),
        Some(9),
        "SIGKILL"
    );
    assert!(status.success());
    assert_eq!(count, count_primes(0..COUNT_LIMIT));
    assert_eq!(count, 9_592, "π(100000) is 9592");
    #[cfg(unix)]
    let signal = std::os::unix::process::ExitStatusExt::signal(&killed);
    #[cfg(not(unix))]
    let signal: Option<i32> = None;
    println!(
        "result: the runaway child process was killed and reaped (signal {}); the counting \
         child answered {count} through its stdout",
        signal.map_or_else(|| "none".to_owned(), |s| s.to_string())
    );
    Ok(ExitCode::SUCCESS)
}

/// The runaway child: started, given `CHILD_DEADLINE`, killed, reaped.
fn runaway_child() -> anyhow::Result<ExitStatus> {
    let mut child = ChildGuard::spawn(&["--child-spin"])?;
    let (lines, reader) = child.lines()?;
    let pid = child.0.id();
    let ready = lines
        .recv_timeout(TIMEOUT)
        .context("the child did not say it had started")?;
    println!("[main] child {pid} says: {ready}");
    match lines.recv_timeout(CHILD_DEADLINE) {
        Ok(line) => bail!("the spinning child was not meant to say more, but said {line:?}"),
        Err(RecvTimeoutError::Disconnected) => bail!("the spinning child exited by itself"),
        Err(RecvTimeoutError::Timeout) => {}
    }
    println!("[main] child {pid} passed its deadline of {CHILD_DEADLINE:?}: kill, then wait");
    child.0.kill().context("could not kill the child")?;
    let status = child.0.wait().context("could not reap the child")?;
    join_within(reader, TIMEOUT, "the stdout reader").map_err(|_| anyhow!("it panicked"))?;
    Ok(status)
}

/// The well-behaved child: it computes, prints its answer as a line, and exits.
fn counting_child() -> anyhow::Result<(u64, ExitStatus)> {
    let mut child = ChildGuard::spawn(&["--child-count", &COUNT_LIMIT.to_string()])?;
    let (lines, reader) = child.lines()?;
    let answer = lines
        .recv_timeout(TIMEOUT)
        .context("the child gave no answer")?;
    println!("[main] child {} says: {answer}", child.0.id());
    let count = answer
        .rsplit(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .with_context(|| format!("the child's answer {answer:?} does not end in a number"))?;
    let status = child.0.wait().context("could not reap the child")?;
    join_within(reader, TIMEOUT, "the stdout reader").map_err(|_| anyhow!("it panicked"))?;
    Ok((count, status))
}

/// A child process that is killed and reaped however this scope is left: on success, on an
/// early `?` return, or on a panic. An unreaped child stays a zombie until this process exits.
#[derive(Debug)]
struct ChildGuard(Child);

impl ChildGuard {
    /// Starts this same binary again with hidden arguments: no stdin, stdout piped back to us.
    fn spawn(args: &[&str]) -> anyhow::Result<Self> {
        let exe = std::env::current_exe().context("cannot find this program's own binary")?;
        let child = Command::new(&exe)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .with_context(|| format!("could not start {} {args:?}", exe.display()))?;
        Ok(Self(child))
    }

    /// A thread that forwards the child's stdout, line by line, to a channel. The channel
    /// disconnects when the child's stdout closes, which is when the child has exited: so a
    /// timed receive waits for "a line, or the child's end, or the deadline", without polling.
    /// The thread ends with the child's stdout; `join_within` checks that it did.
    fn lines(&mut self) -> anyhow::Result<(Receiver<String>, JoinHandle<()>)> {
        let stdout = self
            .0
            .stdout
            .take()
            .context("the child's stdout was not piped")?;
        let (tx, rx) = crossbeam_channel::unbounded();
        let reader = std::thread::Builder::new()
            .name("child-stdout".into())
            .spawn(move || {
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            })
            .context("could not spawn the child's stdout reader")?;
        Ok((rx, reader))
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        // Fails only if the child has already exited and been reaped; then nothing is left.
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// The runaway job, in the child: it says it has started, then checks nothing, forever.
fn spin_forever() -> ! {
    println!(
        "[child-spin {}] spinning; I will never stop by myself",
        std::process::id()
    );
    // The parent reads this line before it starts the deadline.
    let _ = std::io::stdout().flush();
    let mut x = 0u64;
    loop {
        x = std::hint::black_box(x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1));
    }
}
