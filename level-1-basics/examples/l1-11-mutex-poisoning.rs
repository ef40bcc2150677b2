//! # Lesson l1-11: a poisoned mutex
//!
//! No Node equivalent: a Node worker that throws shares no objects with anyone, so nothing it
//! half-updated can be seen by another worker. A Rust thread that panics while holding a
//! `Mutex` lock may leave the data half-updated, so the mutex is marked **poisoned**: every
//! later `lock()` returns `Err(PoisonError)` instead of the guard. Nobody trusts the data by
//! accident; `PoisonError::into_inner()` still hands over the guard, for a thread that says it
//! will check or repair the data, and `clear_poison()` marks it trustworthy again.
//!
//! Shows: a transfer between two accounts that panics between the withdrawal and the deposit;
//! the mutex is poisoned, the half-done update is inspected through `into_inner`, repaired,
//! and the poison cleared.
//!
//! Run: `cargo run --example l1-11-mutex-poisoning`
//!
//! Expect: one `[panic hook]` line for `transfer` on stderr (the panic is part of the lesson,
//! so `shared::panics::quiet_hook` reports it without a backtrace; lesson l1-13), then
//! `result: poisoned after a panic mid-transfer (total 70), repaired to 100 and cleared`.

use anyhow::{Context, anyhow, bail};
use std::sync::{Arc, Mutex};
use std::thread;

fn main() -> anyhow::Result<()> {
    let accounts = Arc::new(Mutex::new(Accounts { alice: 100, bob: 0 }));

    let quiet = shared::panics::quiet_hook(); // one line for this panic, no backtrace
    let transfer = spawn_transfer_that_crashes(Arc::clone(&accounts))?;
    assert!(transfer.join().is_err(), "the transfer panicked");
    drop(quiet); // Rust's default report again, for any panic nobody meant
    let was_poisoned = accounts.is_poisoned();

    let seen = inspect_and_repair(&accounts)?;
    accounts.clear_poison(); // repaired: tell later users the data can be trusted again

    let repaired = accounts
        .lock()
        .map_err(|_| anyhow!("still poisoned"))?
        .clone();
    println!("[main] repaired and cleared: {repaired:?}");

    assert!(was_poisoned);
    assert_eq!(seen, Accounts { alice: 70, bob: 0 });
    assert_eq!(repaired, Accounts { alice: 100, bob: 0 });
    assert!(!accounts.is_poisoned());
    println!(
        "result: poisoned after a panic mid-transfer (total {}), repaired to {} and cleared",
        seen.total(),
        repaired.total()
    );
    Ok(())
}

/// Two balances that must always add up to 100.
#[derive(Debug, Clone, PartialEq)]
struct Accounts {
    alice: i64,
    bob: i64,
}

impl Accounts {
    fn total(&self) -> i64 {
        self.alice + self.bob
    }
}

/// A thread that panics while it holds the lock, in the middle of an update.
fn spawn_transfer_that_crashes(
    accounts: Arc<Mutex<Accounts>>,
) -> anyhow::Result<thread::JoinHandle<()>> {
    thread::Builder::new()
        .name("transfer".to_owned())
        .spawn(move || {
            let mut accounts = accounts.lock().expect("nobody has panicked with it yet");
            accounts.alice -= 30;
            // The deposit to Bob never happens; the guard is dropped while unwinding, and
            // that marks the mutex poisoned.
            panic!("crashed between the withdrawal and the deposit");
        })
        .context("could not spawn transfer")
}

/// `lock()` now returns `Err(PoisonError)`, which still holds the guard: the data is
/// reachable, but only by saying so. Returns what it saw before repairing it.
fn inspect_and_repair(accounts: &Mutex<Accounts>) -> anyhow::Result<Accounts> {
    let mut guard = match accounts.lock() {
        Ok(_) => bail!("the mutex should be poisoned"),
        Err(poisoned) => {
            println!("[main] accounts.lock() -> Err: {poisoned}");
            poisoned.into_inner()
        }
    };
    let seen = guard.clone();
    println!("[main] half-done update: {seen:?}, total {}", seen.total());
    guard.alice += 30; // repair: roll the withdrawal back
    Ok(seen)
}
