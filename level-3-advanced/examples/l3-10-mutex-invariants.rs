//! # Lesson l3-10: a `Mutex` for data that must change together
//!
//! Replaces the Node course's hand-built mutex (`Atomics.compareExchange` to take it,
//! `Atomics.wait`/`notify` to sleep and wake, an unlock in `finally`). Its constructor
//! re-initialised the shared state, so every worker that built one reset the lock the others
//! held. A Rust `Mutex<T>` is created once and shared; it *contains* its data, the only way in is
//! `lock()`, and the guard it returns unlocks when it is dropped, also during a panic.
//!
//! Atomics fit one number whose updates stand alone (lessons l3-01 to l3-03). Two values that
//! must agree need a lock: with two atomics, another thread could see the new balance with the
//! old history.
//!
//! Shows: 4 threads each make 1,000 deposits to an account whose balance and history change
//! together, one deposit at a time under the lock; the balance and the history's length and sum
//! agree at the end.
//!
//! Run: `cargo run --release --example l3-10-mutex-invariants`
//!
//! Expect: the balance and the number of deposits recorded, then `result: mutex 4000 updates,
//! balance and history agree`.

use std::sync::{Mutex, PoisonError};
use std::thread;

const THREADS: usize = 4;
const DEPOSITS: usize = 1_000;

fn main() {
    let account = deposit_from_many_threads();
    println!(
        "[main] balance {} after {} deposits recorded",
        account.balance,
        account.history.len()
    );
    assert_eq!(account.balance, 4_000, "every deposit counted");
    assert_eq!(account.history.len(), 4_000, "every deposit recorded");
    assert_eq!(account.history.iter().sum::<i64>(), account.balance);
    println!(
        "result: mutex {} updates, balance and history agree",
        account.balance
    );
}

/// Two fields that must change together: the balance is always the sum of the history.
#[derive(Debug, Default)]
struct Account {
    balance: i64,
    history: Vec<i64>,
}

/// `THREADS` threads deposit 1, `DEPOSITS` times each, into one account behind one lock.
fn deposit_from_many_threads() -> Account {
    let account = Mutex::new(Account::default());
    thread::scope(|s| {
        for i in 0..THREADS {
            let account = &account;
            thread::Builder::new()
                .name(format!("depositor-{i}"))
                .spawn_scoped(s, move || {
                    for _ in 0..DEPOSITS {
                        // The guard is the lock: it unlocks when dropped at the end of the loop
                        // body, whatever happens inside (no `finally`). `unwrap_or_else` takes
                        // the data even if another thread panicked while holding the lock
                        // (poisoning): each deposit below is whole before anything can panic.
                        let mut account = account.lock().unwrap_or_else(PoisonError::into_inner);
                        account.balance += 1;
                        account.history.push(1);
                    }
                })
                .expect("could not spawn a depositor");
        }
    });
    // Every thread is joined: take the data out of the lock.
    account.into_inner().unwrap_or_else(PoisonError::into_inner)
}
