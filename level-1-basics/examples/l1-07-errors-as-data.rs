//! # Lesson l1-07: expected errors travel as data
//!
//! Replaces Node's `try/catch` inside the worker with `postMessage({ success: false, error })`:
//! in Rust an **expected** failure is a value, `Result<T, E>`. It crosses a channel like any
//! other message, with a typed error the receiver can `match` instead of parsing a string.
//! (A **bug** is a panic, which the next lessons handle: l1-08 and l1-09.)
//!
//! Shows: a worker serving four tasks written as text: `10 / 2 = 5`, then division by zero, an
//! unknown task and bad input come back as `TaskError`s, and the worker serves on after each.
//!
//! Run: `cargo run --example l1-07-errors-as-data`
//!
//! Expect: each task's outcome from both threads, then
//! `result: 1 answer and 3 typed errors, the worker served all 4 tasks`.

use anyhow::{Context, anyhow};
use std::num::ParseIntError;
use std::thread;
use thiserror::Error;

fn main() -> anyhow::Result<()> {
    let (task_tx, task_rx) = crossbeam_channel::unbounded::<String>();
    let (result_tx, result_rx) = crossbeam_channel::unbounded::<Result<i64, TaskError>>();
    let worker = thread::Builder::new()
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
        // The receiver decides what each error means, by its type, not its text.
        match outcome {
            Ok(value) => println!("[main] {line:?} = {value}"),
            Err(error) => println!("[main] {line:?} failed: {error}"),
        }
    }
    worker.join().map_err(|_| anyhow!("task-worker panicked"))?;

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
    println!(
        "result: 1 answer and 3 typed errors, the worker served all {} tasks",
        outcomes.len()
    );
    Ok(())
}

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
