//! # Lesson l2-06: debugging threads
//!
//! Replaces Node's `--inspect` and the worker logs tagged with `threadId` (the Node guide used
//! `process.pid`, the same for every worker). A Rust program is debugged with the tools of any
//! native program, and a thread helps them best when it has a **name**: `thread::Builder::name`
//! shows up in panic messages, in `gdb`/`lldb`, in `top -H` and in profilers.
//!
//! Shows:
//! 1. logs tagged with the thread's name and id, from a small `log!` macro;
//! 2. a named thread that panics: a custom panic hook logs the thread's name and id (and a
//!    backtrace when `RUST_BACKTRACE=1`), `join` reports the panic to the main thread, and the
//!    previous hook is put back;
//! 3. a deliberate deadlock: two threads take two locks in opposite order, and a `Barrier`
//!    after the first lock makes certain that each holds one lock and waits for the other. A
//!    watchdog on the main thread waits for their progress messages with a timeout, and when
//!    none comes, reports which threads are stuck, holding what and waiting for what;
//! 4. the fix, one lock order for everyone: the same transfers complete.
//!
//! The stuck threads cannot be stopped: Rust has no way to kill a thread (see `main`). They
//! are left detached, and the process ends when `main` returns.
//!
//! Run: `cargo run --release --example l2-06-debugging`
//! (`RUST_BACKTRACE=1 cargo run ...` adds the panicking thread's backtrace to its report)
//!
//! Expect: log lines tagged `[main ThreadId(1)]`, `[parser-1 ThreadId(..)]`, ...; a
//! `[panic hook]` line on stderr naming `parser-1`; the watchdog's report of the deadlock;
//! then `result: parser-1's panic caught by join; deadlock found (transfer-ab holds A, waits
//! for B; transfer-ba holds B, waits for A); one lock order: 4000 transfers, total 200 kept`.
//!
//! To see stuck threads from outside, attach a debugger to the running process:
//! `gdb -p PID` (or `lldb -p PID`), then `thread apply all bt` (`bt all` in lldb) prints every
//! thread's stack, under its name. This example exits soon after the deadlock, so stop it
//! there instead, from the workspace root after a release build:
//! `gdb -q -batch -ex 'break report_deadlock' -ex run -ex 'thread apply all bt'
//! target/release/examples/l2-06-debugging`: threads `transfer-ab` and `transfer-ba` both sit
//! in `Mutex::lock_contended` (a futex wait), called from `transfers`; the main thread shows
//! under the program's name. (Inside a program, the `parking_lot` crate's
//! `deadlock_detection` feature finds such cycles among its own locks; the watchdog here works
//! with std's locks, and notices any stall, not only deadlocks.)

use anyhow::{Context, anyhow, bail};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use shared::testing::panic_message;
use std::backtrace::{Backtrace, BacktraceStatus};
use std::collections::BTreeMap;
use std::fmt;
use std::panic::{self, PanicHookInfo};
use std::sync::{Arc, Barrier, Mutex, MutexGuard, OnceLock, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

/// How long the watchdog waits without a progress message before it looks for stuck threads.
/// A detection window, not a way to synchronise: a slow run that is not deadlocked only makes
/// the watchdog look, find no cycle, and wait again.
const STALL: Duration = Duration::from_millis(500);
/// How long the watchdog waits in all before it gives up on a run that neither finishes nor
/// deadlocks (a bug in this example, not something a run should ever reach).
const GIVE_UP: Duration = Duration::from_secs(60);
/// Transfers each thread makes in the fixed run.
const ROUNDS: u64 = 2_000;
/// Each account's opening balance.
const OPENING: i64 = 100;

/// When the program started: every log line says how long after.
static START: OnceLock<Instant> = OnceLock::new();

/// `println!` with the time, the thread's name and its id in front: Node's
/// `console.log('[worker ' + threadId + ']', ...)`, done once. Real programs use the `tracing`
/// crate, whose default format can show the same thread names and ids.
macro_rules! log {
    ($($arg:tt)*) => {
        log_line(format_args!($($arg)*))
    };
}

fn log_line(message: fmt::Arguments<'_>) {
    let me = thread::current();
    let millis = START.get_or_init(Instant::now).elapsed().as_secs_f64() * 1e3;
    // One `println!` per line: the stdout lock keeps lines from two threads from mixing.
    println!(
        "[{millis:>8.3} ms] [{} {:?}] {message}",
        me.name().unwrap_or("<unnamed>"),
        me.id()
    );
}

// ---------------------------------------------------------------------------------------
// 2. A named thread's panic
// ---------------------------------------------------------------------------------------

/// A bug waiting to happen: `expect` on input that may not be a number.
fn parse_port(line: &str) -> u16 {
    let value = line.split('=').nth(1).unwrap_or_default().trim();
    value.parse().expect("the port must be a number")
}

/// Node's `process.on('uncaughtException')` with `threadId` in the message. It runs on the
/// panicking thread, before unwinding, so `thread::current()` is the thread that panicked.
///
/// Std's default hook already names the thread (`thread 'parser-1' panicked at ...`); an
/// unnamed thread shows as `<unnamed>`, which is why every thread here gets a name. A custom
/// hook is where a program adds what the default leaves out: the id, a log format, a count.
fn naming_hook(info: &PanicHookInfo<'_>, seen: &Mutex<Vec<String>>) {
    let me = thread::current();
    let name = me.name().unwrap_or("<unnamed>");
    let location = info
        .location()
        .map(|at| format!("{}:{}", at.file(), at.line()))
        .unwrap_or_else(|| "an unknown place".to_owned());
    eprintln!(
        "[panic hook] thread '{name}' ({:?}) panicked at {location}: {}",
        me.id(),
        panic_message(info.payload())
    );
    // `capture` honours RUST_BACKTRACE (and RUST_LIB_BACKTRACE): off by default, because
    // walking the stack is slow. `force_capture` would ignore the variables.
    let backtrace = Backtrace::capture();
    if backtrace.status() == BacktraceStatus::Captured {
        eprintln!("[panic hook] backtrace of '{name}':\n{backtrace}");
    } else {
        eprintln!("[panic hook] no backtrace: run with RUST_BACKTRACE=1 to get one");
    }
    seen.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(name.to_owned());
}

/// Runs a thread named `parser-1` that panics, with [`naming_hook`] installed, and puts the
/// previous hook back afterwards. Returns the thread names the hook saw and the panic message
/// that `join` carried.
fn named_panic() -> anyhow::Result<(Vec<String>, String)> {
    // Keep the previous hook (std's default, unless someone replaced it) to restore it.
    let previous: Arc<dyn Fn(&PanicHookInfo<'_>) + Send + Sync> = Arc::from(panic::take_hook());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let hook_seen = Arc::clone(&seen);
    panic::set_hook(Box::new(move |info| naming_hook(info, &hook_seen)));

    let parser = thread::Builder::new()
        .name("parser-1".to_owned())
        .spawn(|| {
            log!("parsing the config");
            parse_port("port = eighty")
        })
        .context("could not spawn parser-1")?;
    // The handle knows the thread's name too, for the report below.
    let name = parser.thread().name().unwrap_or("<unnamed>").to_owned();
    let outcome = parser.join();

    // Put the previous hook back; ours is dropped.
    drop(panic::take_hook());
    panic::set_hook(Box::new(move |info| previous(info)));

    let message = match outcome {
        Ok(port) => bail!("{name} should have panicked, parsed port {port}"),
        // Node's `worker.on('error')`: `join` hands over the panic payload.
        Err(payload) => panic_message(payload.as_ref()),
    };
    log!("join({name}) -> Err: {message:?}; main carries on");
    let seen = seen.lock().unwrap_or_else(PoisonError::into_inner).clone();
    Ok((seen, message))
}

// ---------------------------------------------------------------------------------------
// 3 and 4. A deadlock, a watchdog, and the fix
// ---------------------------------------------------------------------------------------

/// One bank account, its balance behind its own lock.
#[derive(Debug)]
struct Account {
    name: &'static str,
    balance: Mutex<i64>,
}

/// What a transfer thread tells the watchdog, before and after every step that can block.
#[derive(Debug, Clone, Copy)]
enum Step {
    WaitingFor(&'static str),
    Holding(&'static str),
    /// Both locks released after one more transfer.
    Transferred,
    Finished,
}

#[derive(Debug)]
struct Report {
    thread: String,
    step: Step,
}

/// A transfer thread's side of the progress channel.
#[derive(Debug)]
struct Reporter {
    thread: String,
    tx: Sender<Report>,
}

impl Reporter {
    fn new(tx: Sender<Report>) -> Self {
        let thread = thread::current().name().unwrap_or("<unnamed>").to_owned();
        Self { thread, tx }
    }

    fn send(&self, step: Step) {
        // The watchdog may have given up and dropped its receiver: nobody to tell.
        let _ = self.tx.send(Report {
            thread: self.thread.clone(),
            step,
        });
    }

    /// Locks `account`, telling the watchdog before (in case it never returns) and after.
    fn lock<'a>(&self, account: &'a Account) -> MutexGuard<'a, i64> {
        self.send(Step::WaitingFor(account.name));
        // No thread panics while holding a balance, but if one did, the numbers are still
        // whole (each is a single integer): recover the guard rather than panic in turn.
        let guard = account
            .balance
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        self.send(Step::Holding(account.name));
        guard
    }
}

/// Moves 1 from `from` to `to`, `rounds` times, taking the two locks in the order given:
/// `first`, then `second`. With `barrier`, waits there once, after taking the first lock.
fn transfers(
    reporter: &Reporter,
    (from, to): (&Account, &Account),
    (first, second): (&Account, &Account),
    rounds: u64,
    barrier: Option<&Barrier>,
) {
    log!(
        "moving 1 from {} to {}, {rounds} times; I lock {} then {}",
        from.name,
        to.name,
        first.name,
        second.name
    );
    for _ in 0..rounds {
        let mut first_guard = reporter.lock(first);
        if let Some(barrier) = barrier {
            // Both threads now hold their first lock: each next `lock` waits for the other.
            barrier.wait();
        }
        let mut second_guard = reporter.lock(second);
        let (from_balance, to_balance) = if std::ptr::eq(from, first) {
            (&mut *first_guard, &mut *second_guard)
        } else {
            (&mut *second_guard, &mut *first_guard)
        };
        *from_balance -= 1;
        *to_balance += 1;
        drop((first_guard, second_guard));
        reporter.send(Step::Transferred);
    }
    reporter.send(Step::Finished);
    log!("done");
}

/// What the watchdog knows of one thread, from its messages.
#[derive(Debug, Clone, Default, PartialEq)]
struct Seen {
    holding: Vec<&'static str>,
    waiting_for: Option<&'static str>,
    transfers: u64,
    finished: bool,
}

impl Seen {
    fn apply(&mut self, step: Step) {
        match step {
            Step::WaitingFor(lock) => self.waiting_for = Some(lock),
            Step::Holding(lock) => {
                self.waiting_for = None;
                self.holding.push(lock);
            }
            Step::Transferred => {
                self.holding.clear();
                self.transfers += 1;
            }
            Step::Finished => self.finished = true,
        }
    }
}

/// How a watched run ended.
#[derive(Debug, PartialEq)]
enum Verdict {
    /// Every thread finished: the transfers each made.
    Finished(BTreeMap<String, u64>),
    /// A cycle of threads, each waiting for a lock the next one holds: `(thread, holds,
    /// waits for)`.
    Deadlock(Vec<(String, Vec<&'static str>, &'static str)>),
}

/// The main thread's watchdog: reads progress until every thread has finished. Whenever
/// [`STALL`] passes with no message, it reports the unfinished threads and what they hold and
/// wait for, and looks for a cycle among them: a deadlock, which no amount of waiting ends.
fn watch(progress: &Receiver<Report>, threads: &[&str]) -> anyhow::Result<Verdict> {
    let mut seen: BTreeMap<String, Seen> = threads
        .iter()
        .map(|name| ((*name).to_owned(), Seen::default()))
        .collect();
    let deadline = Instant::now() + GIVE_UP;
    loop {
        match progress.recv_timeout(STALL) {
            Ok(report) => {
                let entry = seen.get_mut(&report.thread).ok_or_else(|| {
                    anyhow!("a report from an unwatched thread {}", report.thread)
                })?;
                entry.apply(report.step);
                if seen.values().all(|s| s.finished) {
                    return Ok(Verdict::Finished(
                        seen.into_iter()
                            .map(|(name, s)| (name, s.transfers))
                            .collect(),
                    ));
                }
            }
            Err(RecvTimeoutError::Timeout) => {
                log!(
                    "watchdog: no progress for {} ms; unfinished threads:",
                    STALL.as_millis()
                );
                for (name, s) in seen.iter().filter(|(_, s)| !s.finished) {
                    log!(
                        "watchdog:   {name}: {} transfers, holds {:?}, waits for {}",
                        s.transfers,
                        s.holding,
                        s.waiting_for.unwrap_or("nothing")
                    );
                }
                if let Some(cycle) = find_cycle(&seen) {
                    return Ok(Verdict::Deadlock(cycle));
                }
                if Instant::now() >= deadline {
                    bail!("no progress and no deadlock found within {GIVE_UP:?}");
                }
                log!("watchdog: no cycle, so slow rather than stuck: waiting again");
            }
            Err(RecvTimeoutError::Disconnected) => {
                bail!("every transfer thread ended without finishing (a panic?)")
            }
        }
    }
}

/// Follows "waits for a lock held by" from each waiting thread; coming back to a thread
/// already on the path is a deadlock.
fn find_cycle(
    seen: &BTreeMap<String, Seen>,
) -> Option<Vec<(String, Vec<&'static str>, &'static str)>> {
    let holder_of = |lock: &str| {
        seen.iter()
            .find(|(_, s)| s.holding.contains(&lock))
            .map(|(name, _)| name)
    };
    for start in seen.keys() {
        let mut path: Vec<&String> = Vec::new();
        let mut current = start;
        loop {
            if let Some(at) = path.iter().position(|name| *name == current) {
                let cycle = path[at..]
                    .iter()
                    .map(|name| {
                        let s = &seen[*name];
                        let waits = s.waiting_for.expect("everyone on the path waits");
                        ((*name).clone(), s.holding.clone(), waits)
                    })
                    .collect();
                return Some(cycle);
            }
            path.push(current);
            let Some(next) = seen[current].waiting_for.and_then(holder_of) else {
                break; // this chain ends at a thread that waits for nothing held
            };
            current = next;
        }
    }
    None
}

/// Starts the two transfer threads: `transfer-ab` moves money from A to B, `transfer-ba`
/// from B to A. With `opposite_order`, each locks the account it takes money from first (the
/// natural way to write it, and the bug), with a barrier after that first lock; otherwise both
/// lock A before B. Returns the handles and the progress channel.
fn start_transfers(
    a: &Arc<Account>,
    b: &Arc<Account>,
    rounds: u64,
    opposite_order: bool,
) -> anyhow::Result<(Vec<thread::JoinHandle<()>>, Receiver<Report>)> {
    let (tx, rx) = crossbeam_channel::unbounded();
    let barrier = opposite_order.then(|| Arc::new(Barrier::new(2)));
    let mut handles = Vec::new();
    for (name, from, to) in [("transfer-ab", a, b), ("transfer-ba", b, a)] {
        let (from, to, tx) = (Arc::clone(from), Arc::clone(to), tx.clone());
        let (first, second) = if opposite_order {
            (Arc::clone(&from), Arc::clone(&to))
        } else {
            // One global order, whatever the direction: by name, A before B. No barrier here:
            // with one order, the second thread waits for the *first* lock and never reaches
            // the barrier, so the barrier itself would be the deadlock.
            (Arc::clone(a), Arc::clone(b))
        };
        let barrier = barrier.clone();
        let handle = thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                let reporter = Reporter::new(tx);
                transfers(
                    &reporter,
                    (&from, &to),
                    (&first, &second),
                    rounds,
                    barrier.as_deref(),
                );
            })
            .with_context(|| format!("could not spawn {name}"))?;
        handles.push(handle);
    }
    Ok((handles, rx))
}

/// Prints the cycle the watchdog found. Never inlined, so that a debugger can stop here while
/// the deadlocked threads are still stuck (see the command in the file's header).
#[inline(never)]
fn report_deadlock(cycle: &[(String, Vec<&'static str>, &'static str)]) {
    for (thread, holds, waits) in cycle {
        log!(
            "watchdog: DEADLOCK: {thread} holds {} and waits for {waits}",
            holds.join(", ")
        );
    }
    log!(
        "watchdog: a stuck process of yours can be inspected live: gdb -p {}, then \
         thread apply all bt",
        std::process::id()
    );
}

fn account(name: &'static str) -> Arc<Account> {
    Arc::new(Account {
        name,
        balance: Mutex::new(OPENING),
    })
}

fn main() -> anyhow::Result<()> {
    START.get_or_init(Instant::now);
    log!("1. every log line says which thread speaks: its name and its id");

    log!("2. a named thread panics");
    let (hooked_names, panic_text) = named_panic()?;

    log!("3. two threads, two locks, opposite order, a barrier after the first lock");
    let (a, b) = (account("A"), account("B"));
    let (stuck_handles, progress) = start_transfers(&a, &b, 1, true)?;
    let deadlock = watch(&progress, &["transfer-ab", "transfer-ba"])?;
    let Verdict::Deadlock(cycle) = &deadlock else {
        bail!("the opposite lock order should deadlock, got {deadlock:?}");
    };
    report_deadlock(cycle);
    // Rust cannot kill a thread: there is no `terminate()`. Killing a thread from outside
    // would skip its destructors, leave its locks held forever and its memory in whatever
    // state it was in; the OS's `pthread_cancel` exists, but std does not expose it because
    // it cannot be made safe. A thread stops only by returning, and these two never will.
    // Dropping a `JoinHandle` detaches its thread; the process ends, taking every thread with
    // it, when `main` returns. (Work that must be killable belongs in a child process.)
    let stuck: Vec<bool> = stuck_handles.iter().map(|h| !h.is_finished()).collect();
    drop(stuck_handles);
    log!("left the two stuck threads detached; they end with the process");

    log!("4. the fix: everyone locks A before B");
    let (a, b) = (account("A"), account("B"));
    let (handles, progress) = start_transfers(&a, &b, ROUNDS, false)?;
    let fixed = watch(&progress, &["transfer-ab", "transfer-ba"])?;
    for handle in handles {
        handle.join().map_err(|payload| {
            anyhow!(
                "a transfer thread panicked: {}",
                panic_message(payload.as_ref())
            )
        })?;
    }
    let balances = (
        *a.balance.lock().unwrap_or_else(PoisonError::into_inner),
        *b.balance.lock().unwrap_or_else(PoisonError::into_inner),
    );
    log!(
        "balances after the fixed run: A = {}, B = {}",
        balances.0,
        balances.1
    );

    assert_eq!(
        hooked_names,
        ["parser-1"],
        "the hook saw the panicking thread's name"
    );
    assert!(
        panic_text.starts_with("the port must be a number"),
        "{panic_text}"
    );
    let expected_cycle = [
        ("transfer-ab".to_owned(), vec!["A"], "B"),
        ("transfer-ba".to_owned(), vec!["B"], "A"),
    ];
    assert_eq!(cycle.as_slice(), expected_cycle.as_slice());
    assert_eq!(
        stuck,
        [true, true],
        "both deadlocked threads were still running"
    );
    let Verdict::Finished(transfers) = &fixed else {
        bail!("one lock order cannot deadlock, got {fixed:?}");
    };
    let done: u64 = transfers.values().sum();
    assert_eq!(
        transfers.values().copied().collect::<Vec<_>>(),
        [ROUNDS, ROUNDS]
    );
    // Each thread moved 1 the other way ROUNDS times: both end where they started.
    assert_eq!(balances, (OPENING, OPENING));
    println!(
        "result: {}'s panic caught by join; deadlock found (transfer-ab holds A, waits for B; \
         transfer-ba holds B, waits for A); one lock order: {done} transfers, total {} kept",
        hooked_names[0],
        balances.0 + balances.1
    );
    Ok(())
}
