//! # Lesson l3-24: containing a panic per job with `catch_unwind`
//!
//! Replaces the Node course's claim that each worker's own V8 isolate keeps a bad worker from
//! harming the rest. Rust threads share one address space: safe Rust keeps them from corrupting
//! each other's memory, but a thread is not a sandbox. Shows: five untrusted jobs, one of which
//! panics on a bad input. On a bare thread the panic ends the thread and the jobs after it never
//! run; with `std::panic::catch_unwind` around each job, the panic becomes that job's error and
//! the rest run. (An abort, a stack overflow or running out of memory is not a panic:
//! `catch_unwind` cannot contain those; only a process boundary can, lesson l3-27.)
//!
//! Run: `cargo run --release --example l3-24-panic-containment`
//!
//! Expect: `[panic hook]` lines on stderr for the panics caused on purpose (one line each, no
//! backtrace: `shared::panics::quiet_hook`, a hook as in lesson l1-13), then `result: panic
//! contained (2 of 5 jobs ran without containment, all 5 with it, 1 reported)`.

use anyhow::{Context, anyhow, bail};
use shared::testing::panic_message;
use std::panic::{self, AssertUnwindSafe};
use std::thread;

fn main() -> anyhow::Result<()> {
    let quiet = shared::panics::quiet_hook();
    println!("[main] five untrusted jobs; job 3 indexes past the end of its input");
    let (ran_bare, bare_panic) = uncontained(5)?;
    println!("[main] the bare thread died with {bare_panic:?}: {ran_bare} of 5 jobs ran");
    let outcomes = contained(5)?;
    let ok = outcomes.iter().filter(|o| o.is_ok()).count();
    println!(
        "[main] {ok} of 5 jobs ok, {} panicked and was reported; the worker ran them all",
        outcomes.len() - ok
    );
    drop(quiet); // back to the default report for anything unexpected

    assert_eq!(
        ran_bare, 2,
        "jobs 1 and 2 ran, then job 3 killed the thread"
    );
    assert!(bare_panic.contains("index out of bounds"), "{bare_panic}");
    assert_eq!((outcomes.len(), ok), (5, 4));
    assert!(
        outcomes[2]
            .as_ref()
            .is_err_and(|m| m.contains("index out of bounds"))
    );
    println!(
        "result: panic contained ({ran_bare} of 5 jobs ran without containment, all 5 with it, \
         {} reported)",
        outcomes.len() - ok
    );
    Ok(())
}

/// Five jobs on a bare thread: the panic in job 3 unwinds the thread, and jobs 4 and 5 never
/// run. Returns how many jobs finished before that, and the panic's message.
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

/// An untrusted job: it reads the byte at a position of its input. Job 3's position is past
/// the end of its input, which panics (an index out of bounds), as a bug in a plug-in would.
fn untrusted_job(job: usize) -> u8 {
    let input = [10u8, 20, 30, 40];
    let position = if job == 3 { 7 } else { job % input.len() };
    input[position]
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
                        Err(message) => println!("[{}] job {job} panicked ({message})", me()),
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

/// The name of the thread that speaks.
fn me() -> String {
    thread::current().name().unwrap_or("<unnamed>").to_owned()
}
