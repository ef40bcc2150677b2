//! # Lesson l1-05: errors and panics in workers
//!
//! Replaces Node's `try/catch` inside the worker with errors posted back as data, the
//! worker's `'error'` event, and the `process.on('uncaughtException')` hook. Rust has two
//! kinds of failure, and threads treat them differently:
//!
//! - an **expected** failure is a value, `Result<T, E>`: it crosses a channel like any other
//!   message, with a typed error the receiver can `match`;
//! - a **bug** is a panic: it unwinds its own thread only. `join()` reports it as `Err(payload)`,
//!   `catch_unwind` stops it at a task boundary, a panic hook sees every one, and a mutex held
//!   during the panic is marked *poisoned* so nobody trusts half-updated data by accident.
//!
//! Shows: 1. `Result` sent as data (10 / 2 = 5, then division by zero, an unknown task and bad
//! input as `TaskError`s, the worker serving on); 2. a panicking thread seen through `join`,
//! its message recovered; 3. `catch_unwind` per task, so one bad task does not end a worker
//! that serves several; 4. a poisoned `Mutex`, inspected, repaired and cleared. Throughout, a
//! `panic::set_hook` hook prints each panic on one line (and counts them), like Node's
//! `uncaughtException` handler; the default hook is restored at the end.
//!
//! Run: `cargo run --example l1-05-error-handling`
//!
//! Expect: three `[panic hook]` lines on stderr, each part's outcome on stdout, then
//! `result: 1 answer and 3 typed errors, 1 panic seen by join, 2 of 3 tasks ok with the worker
//! alive, a poisoned mutex repaired, 3 panics hooked`.

use anyhow::{Context, anyhow, bail};
use shared::testing::panic_message;
use std::num::ParseIntError;
use std::panic::{self, PanicHookInfo};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use thiserror::Error;

/// Everything that can go wrong with a task, as data: the receiver `match`es on it instead of
/// parsing a message string, and `thiserror` writes the `Display` text.
#[derive(Debug, Clone, PartialEq, Error)]
enum TaskError {
    #[error("division by zero")]
    DivisionByZero,
    #[error("the quotient does not fit in an i64")]
    Overflow,
    #[error("unknown task {0:?}")]
    UnknownTask(String),
    #[error("bad input {input:?}: not a whole number")]
    BadInput {
        input: String,
        #[source]
        source: ParseIntError,
    },
}

/// Runs one task written as text, such as `divide 10 2`. Text stands in for input from
/// outside (Node's example parses JSON): an enum would make an unknown task impossible to
/// send, but input you did not write can say anything.
fn run_task(line: &str) -> Result<i64, TaskError> {
    let mut words = line.split_whitespace();
    match words.next().unwrap_or_default() {
        "divide" => {
            let a = number(words.next())?;
            let b = number(words.next())?;
            if b == 0 {
                return Err(TaskError::DivisionByZero);
            }
            a.checked_div(b).ok_or(TaskError::Overflow) // i64::MIN / -1
        }
        other => Err(TaskError::UnknownTask(other.to_owned())),
    }
}

fn number(word: Option<&str>) -> Result<i64, TaskError> {
    let word = word.unwrap_or_default();
    word.parse().map_err(|source| TaskError::BadInput {
        input: word.to_owned(),
        source,
    })
}

/// A function with a bug: it panics on an empty slice ("attempt to divide by zero").
fn mean(numbers: &[i64]) -> i64 {
    numbers.iter().sum::<i64>() / numbers.len() as i64
}

/// Another bug: an off-by-one index (it should be `len() - 1`), which panics.
fn last_of(numbers: &[i64]) -> i64 {
    numbers[numbers.len()]
}

/// Two balances that must always add up to 100.
#[derive(Debug, Clone, PartialEq)]
struct Accounts {
    alice: i64,
    bob: i64,
}

/// How many panics the hook has seen. `Relaxed` is enough: it is read only after every
/// panicking thread has been joined, and `join` makes all of that thread's writes visible.
static PANICS_SEEN: AtomicUsize = AtomicUsize::new(0);

/// Node's `process.on('uncaughtException', ...)`, almost: it runs on the panicking thread, for
/// every panic (caught later or not), *before* unwinding, and cannot stop the panic. It
/// replaces the default report, so each panic prints one line here.
fn one_line_hook(info: &PanicHookInfo<'_>) {
    PANICS_SEEN.fetch_add(1, Ordering::Relaxed);
    let thread = thread::current();
    let location = info
        .location()
        .map(|at| format!(" at {}:{}", at.file(), at.line()))
        .unwrap_or_default();
    eprintln!(
        "[panic hook] thread {:?} panicked{location}: {}",
        thread.name().unwrap_or("<unnamed>"),
        panic_message(info.payload())
    );
}

fn main() -> anyhow::Result<()> {
    panic::set_hook(Box::new(one_line_hook));

    // 1. Expected failures travel as data: `Result<i64, TaskError>` is just another message.
    let (task_tx, task_rx) = crossbeam_channel::unbounded::<String>();
    let (result_tx, result_rx) = crossbeam_channel::unbounded::<Result<i64, TaskError>>();
    let task_worker = thread::Builder::new()
        .name("task-worker".to_owned())
        .spawn(move || {
            for line in task_rx {
                // An `Err` is an answer like any other: the loop goes on.
                let outcome = run_task(&line);
                println!("[task-worker] {line:?} -> {outcome:?}");
                if result_tx.send(outcome).is_err() {
                    break;
                }
            }
        })
        .context("could not spawn task-worker")?;
    let lines = ["divide 10 2", "divide 7 0", "resize 10 2", "divide ten 2"];
    for line in lines {
        task_tx
            .send(line.to_owned())
            .map_err(|_| anyhow!("task-worker stopped early"))?;
    }
    drop(task_tx); // no more tasks: the worker's loop ends after the last one
    let outcomes: Vec<Result<i64, TaskError>> = result_rx.iter().collect();
    for (line, outcome) in lines.iter().zip(&outcomes) {
        match outcome {
            Ok(value) => println!("[main] {line:?} = {value}"),
            Err(error) => println!("[main] {line:?} failed: {error}"),
        }
    }
    task_worker
        .join()
        .map_err(|_| anyhow!("task-worker panicked"))?;

    // 2. A bug in a worker: the panic ends that thread only, and `join` hands over its payload.
    let crasher = thread::Builder::new()
        .name("crasher".to_owned())
        .spawn(|| last_of(&[10, 20]))
        .context("could not spawn crasher")?;
    let crash_message = match crasher.join() {
        Ok(value) => bail!("crasher should have panicked, returned {value}"),
        // Node's `worker.on('error', err => ...)`: the payload is `Box<dyn Any + Send>`,
        // and its message is a `&str` or a `String` inside.
        Err(payload) => panic_message(payload.as_ref()),
    };
    println!("[main] crasher's join() -> Err: {crash_message:?}; main carries on");

    // 3. One worker, several tasks, one of which panics: `catch_unwind` turns that panic into
    //    an `Err` for that task alone, and the worker goes on serving.
    let (batch_tx, batch_rx) = crossbeam_channel::unbounded::<Vec<i64>>();
    let (mean_tx, mean_rx) = crossbeam_channel::unbounded::<Result<i64, String>>();
    let mean_worker = thread::Builder::new()
        .name("mean-worker".to_owned())
        .spawn(move || {
            let mut served = 0;
            for batch in batch_rx {
                let outcome = panic::catch_unwind(|| mean(&batch))
                    .map_err(|payload| panic_message(payload.as_ref()));
                served += 1;
                if mean_tx.send(outcome).is_err() {
                    break;
                }
            }
            served
        })
        .context("could not spawn mean-worker")?;
    for batch in [vec![2, 4, 6], vec![], vec![10, 20]] {
        batch_tx
            .send(batch)
            .map_err(|_| anyhow!("mean-worker stopped early"))?;
    }
    drop(batch_tx);
    let means: Vec<Result<i64, String>> = mean_rx.iter().collect();
    println!("[main] means: {means:?}");
    let served = mean_worker
        .join()
        .map_err(|_| anyhow!("mean-worker panicked"))?;
    println!("[main] mean-worker served {served} tasks and ended normally");

    // 4. Poisoning: a thread panics while holding a lock, in the middle of an update.
    let accounts = Arc::new(Mutex::new(Accounts { alice: 100, bob: 0 }));
    let transfer = {
        let accounts = Arc::clone(&accounts);
        thread::Builder::new()
            .name("transfer".to_owned())
            .spawn(move || {
                let mut accounts = accounts.lock().expect("nobody has panicked with it yet");
                accounts.alice -= 30;
                // The deposit to Bob never happens; the guard is dropped while unwinding, and
                // that marks the mutex poisoned.
                panic!("crashed between the withdrawal and the deposit");
            })
            .context("could not spawn transfer")?
    };
    let transfer_panicked = transfer.join().is_err();
    let was_poisoned = accounts.is_poisoned();
    // `lock()` now returns `Err(PoisonError)`, which still holds the guard: the data is
    // reachable, but only by saying so.
    let seen_after_crash = {
        let mut guard = match accounts.lock() {
            Ok(_) => bail!("the mutex should be poisoned"),
            Err(poisoned) => {
                println!("[main] accounts.lock() -> Err: {poisoned}");
                poisoned.into_inner()
            }
        };
        let seen = guard.clone();
        println!(
            "[main] half-done update: {seen:?}, total {}",
            seen.alice + seen.bob
        );
        guard.alice += 30; // repair: roll the withdrawal back
        seen
    };
    accounts.clear_poison(); // repaired: tell later users the data can be trusted again
    let repaired = accounts
        .lock()
        .map_err(|_| anyhow!("still poisoned"))?
        .clone();
    println!("[main] repaired and cleared: {repaired:?}");

    // Back to the default hook (`take_hook` removes ours), so a later panic prints as usual.
    drop(panic::take_hook());
    let panics_hooked = PANICS_SEEN.load(Ordering::Relaxed);

    assert_eq!(outcomes.len(), 4);
    assert_eq!(outcomes[0], Ok(5));
    assert_eq!(outcomes[1], Err(TaskError::DivisionByZero));
    assert_eq!(
        outcomes[2],
        Err(TaskError::UnknownTask("resize".to_owned()))
    );
    assert!(
        matches!(&outcomes[3], Err(TaskError::BadInput { input, .. }) if input == "ten"),
        "{:?}",
        outcomes[3]
    );
    assert_eq!(
        crash_message,
        "index out of bounds: the len is 2 but the index is 2"
    );
    assert_eq!(
        means,
        [Ok(4), Err("attempt to divide by zero".to_owned()), Ok(15)]
    );
    assert_eq!(served, 3);
    assert!(transfer_panicked && was_poisoned);
    assert_eq!(seen_after_crash, Accounts { alice: 70, bob: 0 });
    assert_eq!(repaired, Accounts { alice: 100, bob: 0 });
    assert!(!accounts.is_poisoned());
    assert_eq!(panics_hooked, 3); // crasher, the empty batch, transfer
    println!(
        "result: 1 answer and 3 typed errors, 1 panic seen by join, 2 of 3 tasks ok with the \
         worker alive, a poisoned mutex repaired, {panics_hooked} panics hooked"
    );
    Ok(())
}
