//! A memory cap for one piece of work: a child process with an address-space limit (Linux).
//!
//! Node's `resourceLimits.maxOldGenerationSizeMb` gives a worker its own heap with a cap, and
//! a worker past it is ended while the main thread carries on. Threads share one heap, so
//! Rust's counterpart is a child process: [`capped_command`] sets `RLIMIT_AS` in the child
//! (between `fork` and `exec`, through `CommandExt::pre_exec`), [`run`] waits for it with a
//! deadline and collects what it printed, and [`outcome`] is the parent's report of how it
//! ended. The child's side is [`allocate`]: it allocates in blocks, writes to every byte, and
//! reports its progress on stdout, one line per block.
//!
//! `RLIMIT_AS` counts **address space**, reserved or used: `VmSize` in `/proc/self/status`, not
//! the resident `VmRSS`. A thread's stack (2 MiB for a thread std spawns) and each of glibc's
//! per-thread malloc arenas (up to 64 MiB on 64-bit Linux) are reserved in full when they are
//! created, however little of them is touched, so a cap must leave room for those of the
//! child's threads as well as for its data. [`vm_kib`] reads the figures.
//!
//! Used by lesson l3-42 and `tests/memory_cap.rs`.

use std::io::{self, Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// One mebibyte.
pub const MIB: u64 = 1 << 20;

/// The signal `std::process::abort` raises, which is how Rust ends a program whose allocation
/// failed: 6, `SIGABRT`.
pub const SIGABRT: i32 = 6;

/// The exit code of a child whose `try_reserve` was refused: 1, a failed run.
pub const REFUSED_EXIT_CODE: i32 = 1;

/// `command` with a limit of `cap` bytes of address space, soft and hard, set in the child
/// before it runs: what it allocates past the cap is refused by the kernel. Core dumps are
/// turned off too (`RLIMIT_CORE` 0), so that an expected abort writes no core file.
pub fn capped_command(mut command: Command, cap: u64) -> Command {
    // SAFETY: the closure runs in the child between `fork` and `exec`, where only
    // async-signal-safe calls are allowed. It makes two `setrlimit` system calls and does not
    // allocate: `rlimit::setrlimit` builds its error, if any, from `errno`.
    unsafe {
        command.pre_exec(move || {
            rlimit::setrlimit(rlimit::Resource::CORE, 0, 0)?;
            rlimit::setrlimit(rlimit::Resource::AS, cap, cap)
        });
    }
    command
}

/// How a child ended, with everything it wrote.
#[derive(Debug)]
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `command` with no stdin and both outputs captured, and waits at most `deadline` for it
/// to end. A child still running then is killed and reaped, and the error says so; it is
/// also killed and reaped if this function is left any other way (a drop guard).
pub fn run(mut command: Command, deadline: Duration) -> io::Result<Finished> {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = Reaped(command.spawn()?);
    let stdout = read_to_end(child.0.stdout.take());
    let stderr = read_to_end(child.0.stderr.take());
    let until = Instant::now() + deadline;
    // The readers end when the child's outputs close, which is when the child has ended.
    let stdout = stdout.recv_deadline(until);
    let stderr = stderr.recv_deadline(until);
    let (Ok(stdout), Ok(stderr)) = (stdout, stderr) else {
        return Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("the child did not end within {deadline:?}: killed"),
        ));
    };
    let status = child.0.wait()?;
    Ok(Finished {
        status,
        stdout,
        stderr,
    })
}

/// A thread that reads a child's output to its end; the text comes through the channel.
fn read_to_end(pipe: Option<impl Read + Send + 'static>) -> crossbeam_channel::Receiver<String> {
    let (tx, rx) = crossbeam_channel::bounded(1);
    let Some(mut pipe) = pipe else {
        let _ = tx.send(String::new()); // not piped: nothing to read
        return rx;
    };
    thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        let _ = tx.send(String::from_utf8_lossy(&bytes).into_owned());
    });
    rx
}

/// A child that is killed and reaped however its scope is left.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// How the parent reads a child's end: the report it prints, and what a test checks.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Exit code 0: the child allocated all it was asked for.
    Finished { mib: u64 },
    /// `try_reserve` was refused: the child said so and exited with [`REFUSED_EXIT_CODE`].
    Refused { mib: u64 },
    /// An ordinary allocation failed: Rust printed `memory allocation of N bytes failed` and
    /// aborted the child (`SIGABRT`).
    AbortedOnAllocation { mib: u64, bytes: u64 },
    /// Anything else: another exit code or signal, or an abort with no allocation message.
    Other(String),
}

/// The parent's reading of a child run by [`allocate`]: how it ended, and how many MiB it
/// had allocated by then (its last `allocated N MiB` line).
pub fn outcome(child: &Finished) -> Outcome {
    let mib = child
        .stdout
        .lines()
        .rev()
        .find_map(|line| {
            line.strip_prefix("allocated ")?
                .strip_suffix(" MiB")?
                .parse()
                .ok()
        })
        .unwrap_or(0);
    let failed_allocation = child.stderr.lines().find_map(|line| {
        let bytes = line.strip_prefix("memory allocation of ")?;
        bytes.strip_suffix(" bytes failed")?.parse().ok()
    });
    match (child.status.code(), child.status.signal()) {
        (Some(0), _) => Outcome::Finished { mib },
        (Some(REFUSED_EXIT_CODE), _) if child.stderr.contains("refused") => {
            Outcome::Refused { mib }
        }
        (_, Some(SIGABRT)) if failed_allocation.is_some() => Outcome::AbortedOnAllocation {
            mib,
            bytes: failed_allocation.unwrap_or(0),
        },
        _ => Outcome::Other(format!(
            "{}; stderr: {:?}",
            child.status,
            child.stderr.trim()
        )),
    }
}

/// How the child allocates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allocation {
    /// `vec![1u8; n]`, as ordinary code does: a refusal aborts the process.
    Ordinary,
    /// `Vec::try_reserve_exact` first: a refusal is an error the child reports.
    Fallible,
}

/// The child's side: prints `baseline VmPeak N KiB, VmSize N KiB, VmRSS N KiB` (see
/// [`vm_kib`]), then runs [`allocate`] and returns its exit code.
pub fn child(total: u64, block: u64, how: Allocation) -> i32 {
    match vm_kib() {
        Ok((peak, size, rss)) => {
            println!("baseline VmPeak {peak} KiB, VmSize {size} KiB, VmRSS {rss} KiB");
        }
        Err(e) => eprintln!("warning: no baseline ({e})"),
    }
    allocate(total, block, how)
}

/// The child's `VmPeak` in KiB before it allocated, from the baseline line [`child`] prints
/// (which may follow other text on its line: a test harness's, for one).
pub fn baseline_peak_kib(child: &Finished) -> Option<u64> {
    let (_, rest) = child.stdout.split_once("baseline VmPeak ")?;
    rest.split(' ').next()?.parse().ok()
}

/// The child's work: allocates `total` bytes in blocks of `block`, writing to every byte, and
/// keeps them all. Prints `allocated N MiB` after each block (a line is flushed as it is
/// printed, so an abort loses none). Returns the exit code: 0, or [`REFUSED_EXIT_CODE`] after
/// a line on stderr when a fallible reservation is refused. An ordinary allocation that is
/// refused does not return: Rust's `handle_alloc_error` aborts the process.
pub fn allocate(total: u64, block: u64, how: Allocation) -> i32 {
    let block_len = usize::try_from(block).expect("a block fits in memory");
    let mut kept: Vec<Vec<u8>> = Vec::with_capacity((total / block + 1) as usize);
    let mut allocated = 0;
    while allocated + block <= total {
        let data = match how {
            Allocation::Ordinary => vec![1u8; block_len],
            Allocation::Fallible => {
                let mut data = Vec::new();
                if let Err(e) = data.try_reserve_exact(block_len) {
                    let mib = allocated / MIB;
                    eprintln!(
                        "error: a block of {} MiB was refused after {mib} MiB ({e})",
                        block / MIB
                    );
                    return REFUSED_EXIT_CODE;
                }
                data.resize(block_len, 1); // within the capacity: no allocation
                data
            }
        };
        kept.push(data);
        allocated += block;
        println!("allocated {} MiB", allocated / MIB);
    }
    let _ = io::stdout().flush();
    0
}

/// `(VmPeak, VmSize, VmRSS)` of this process in KiB, from `/proc/self/status`: the most
/// address space it has had, what it has now, and how much of it is in memory.
pub fn vm_kib() -> io::Result<(u64, u64, u64)> {
    let status = std::fs::read_to_string(Path::new("/proc/self/status"))?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| {
                line.strip_prefix(name)?
                    .trim()
                    .strip_suffix(" kB")?
                    .parse()
                    .ok()
            })
            .ok_or_else(|| io::Error::other(format!("no {name} in /proc/self/status")))
    };
    Ok((field("VmPeak:")?, field("VmSize:")?, field("VmRSS:")?))
}
