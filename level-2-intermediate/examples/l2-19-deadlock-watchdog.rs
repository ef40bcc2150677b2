//! # Lesson l2-19: a deadlock, found by a watchdog
//!
//! Replaces the Node debugging guide's advice for a worker that stops answering: a timeout on
//! its replies, then `--inspect`. Two Rust threads that take two locks in opposite order can
//! each end up holding one and waiting forever for the other: a deadlock. No amount of
//! waiting ends it, and Rust cannot kill a thread. What a program can do is notice: the
//! threads report each step (waiting for a lock, holding it) over a channel, and a watchdog on
//! the main thread that hears nothing for a while looks at who holds what and who waits for
//! what, and finds the cycle.
//!
//! Shows: `transfer-ab` locks A then B, `transfer-ba` locks B then A; the watchdog's
//! `recv_timeout` runs out, it finds the cycle and reports it; the two stuck threads are left
//! detached (they end with the process).
//!
//! New here: `std::sync::Barrier::new(n)`: its `wait()` blocks until `n` threads have called
//! it, then lets them all go. Here it makes the deadlock certain rather than likely: each
//! thread waits at the barrier after taking its first lock, so both hold one lock before
//! either asks for its second. Level 3 covers `Barrier` with the rest of the sync toolbox.
//!
//! Guide 5 shows how to stop this program in `report_deadlock` under `gdb` and read the stuck
//! threads' stacks.
//!
//! Run: `cargo run --release --example l2-19-deadlock-watchdog`
//!
//! Expect: each thread's steps, the watchdog's report, then `result: deadlock found:
//! transfer-ab holds A, waits for B; transfer-ba holds B, waits for A`.

use anyhow::{Context, bail};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use std::collections::BTreeMap;
use std::sync::{Arc, Barrier, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// How long without a progress message before the watchdog looks for a cycle: a detection
/// window, not a way to synchronise. A slow run only makes the watchdog look and wait again.
const STALL: Duration = Duration::from_millis(500);
/// When the watchdog gives up on a run that neither finishes nor deadlocks (a bug).
const GIVE_UP: Duration = Duration::from_secs(60);

fn main() -> anyhow::Result<()> {
    let (a, b) = (Arc::new(Mutex::new(100)), Arc::new(Mutex::new(100)));
    let (tx, progress) = crossbeam_channel::unbounded();
    let barrier = Arc::new(Barrier::new(2));
    let stuck = [
        start_transfer("transfer-ab", [("A", &a), ("B", &b)], &barrier, &tx)?,
        start_transfer("transfer-ba", [("B", &b), ("A", &a)], &barrier, &tx)?,
    ];
    drop(tx);
    let cycle = watch(&progress)?;
    report_deadlock(&cycle);
    // Rust cannot kill a thread: there is no `terminate()`. Killing one from outside would skip
    // its destructors and leave its locks held forever. A thread stops only by returning, and
    // these two never will. Dropping a `JoinHandle` detaches its thread; the process ends,
    // taking every thread with it, when `main` returns. (Killable work belongs in a process.)
    let still_running: Vec<bool> = stuck.iter().map(|h| !h.is_finished()).collect();
    drop(stuck);

    let expected = [
        ("transfer-ab".to_owned(), "A".to_owned(), "B"),
        ("transfer-ba".to_owned(), "B".to_owned(), "A"),
    ];
    assert_eq!(cycle, expected);
    assert_eq!(still_running, [true, true], "both threads were still stuck");
    let found: Vec<String> = cycle
        .iter()
        .map(|(thread, holds, waits)| format!("{thread} holds {holds}, waits for {waits}"))
        .collect();
    println!("result: deadlock found: {}", found.join("; "));
    Ok(())
}

/// A step a transfer thread reports, before and after every lock.
#[derive(Debug, Clone, Copy)]
enum Step {
    WaitingFor(&'static str),
    Holding(&'static str),
}

type Account<'a> = (&'static str, &'a Arc<Mutex<i64>>);

/// Starts a thread that moves 1 from the first account to the second, locking them in that
/// order, with the barrier between the two locks.
fn start_transfer(
    name: &str,
    [(first, a), (second, b)]: [Account<'_>; 2],
    barrier: &Arc<Barrier>,
    tx: &Sender<(String, Step)>,
) -> anyhow::Result<JoinHandle<()>> {
    let (a, b, barrier) = (Arc::clone(a), Arc::clone(b), Arc::clone(barrier));
    let (tx, me) = (tx.clone(), name.to_owned());
    // The watchdog may have given up and dropped its receiver: then nobody is listening.
    let report = move |step| drop(tx.send((me.clone(), step)));
    thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            report(Step::WaitingFor(first));
            let mut from = a.lock().unwrap_or_else(PoisonError::into_inner);
            report(Step::Holding(first));
            barrier.wait(); // both threads now hold their first lock
            report(Step::WaitingFor(second));
            let mut to = b.lock().unwrap_or_else(PoisonError::into_inner);
            report(Step::Holding(second));
            *from -= 1;
            *to += 1; // not reached: the barrier made the deadlock certain
        })
        .with_context(|| format!("could not spawn {name}"))
}

/// A cycle of threads: `(thread, the locks it holds, the lock it waits for)`.
type Cycle = Vec<(String, String, &'static str)>;

/// What the watchdog knows of one thread, from its messages.
#[derive(Debug, Default)]
struct Seen {
    holding: Vec<&'static str>,
    waiting_for: Option<&'static str>,
}

/// Reads progress; whenever `STALL` passes with no message, looks for a cycle of threads each
/// waiting for a lock the next one holds, and returns it as `(thread, holds, waits for)`.
fn watch(progress: &Receiver<(String, Step)>) -> anyhow::Result<Cycle> {
    let mut seen: BTreeMap<String, Seen> = BTreeMap::new();
    let deadline = Instant::now() + GIVE_UP;
    loop {
        match progress.recv_timeout(STALL) {
            Ok((thread, step)) => {
                println!("[main] watchdog heard {thread}: {step:?}");
                let s = seen.entry(thread).or_default();
                match step {
                    Step::WaitingFor(lock) => s.waiting_for = Some(lock),
                    Step::Holding(lock) => {
                        s.waiting_for = None;
                        s.holding.push(lock);
                    }
                }
            }
            Err(RecvTimeoutError::Timeout) => {
                println!("[main] watchdog: no progress for {} ms", STALL.as_millis());
                if let Some(cycle) = find_cycle(&seen) {
                    return Ok(cycle);
                }
                if Instant::now() >= deadline {
                    bail!("no progress and no deadlock found within {GIVE_UP:?}");
                }
                println!("[main] watchdog: no cycle, so slow rather than stuck: waiting again");
            }
            Err(RecvTimeoutError::Disconnected) => bail!("both threads ended: no deadlock"),
        }
    }
}

/// Follows "waits for a lock held by" from each thread; coming back to a thread already on the
/// path is a deadlock.
fn find_cycle(seen: &BTreeMap<String, Seen>) -> Option<Cycle> {
    let holder_of = |lock| {
        seen.iter()
            .find(|(_, s)| s.holding.contains(&lock))
            .map(|(n, _)| n)
    };
    'starts: for start in seen.keys() {
        let mut path: Vec<&String> = Vec::new();
        let mut current = start;
        while !path.contains(&current) {
            path.push(current);
            let Some(next) = seen[current].waiting_for.and_then(holder_of) else {
                continue 'starts; // this chain ends at a thread that waits for nothing held
            };
            current = next;
        }
        let at = path.iter().position(|name| *name == current)?;
        let cycle = path[at..].iter().map(|name| {
            let s = &seen[*name];
            (
                (*name).clone(),
                s.holding.join(", "),
                s.waiting_for.unwrap_or("nothing"),
            )
        });
        return Some(cycle.collect());
    }
    None
}

/// Prints the cycle. Never inlined, so that a debugger can stop here while the deadlocked
/// threads are still stuck (see the header).
#[inline(never)]
fn report_deadlock(cycle: &Cycle) {
    for (thread, holds, waits) in cycle {
        println!("[main] watchdog: DEADLOCK: {thread} holds {holds} and waits for {waits}");
    }
    println!(
        "[main] a stuck process can be inspected live: gdb -p {}, then thread apply all bt",
        std::process::id()
    );
}
