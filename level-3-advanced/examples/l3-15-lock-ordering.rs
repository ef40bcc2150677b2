//! # Lesson l3-15: lock ordering against deadlock
//!
//! Replaces the Node course's "lock ordering by index" for workers that need two locks. Two
//! threads, two locks: one takes A then B, the other B then A; each gets its first lock and
//! waits forever for its second. The cure is one global order: every thread takes any two locks
//! in the same order, so the cycle cannot form. The course ordered by an index it assumed
//! unique; two handles to one account have the same index, and locking the same `Mutex` twice
//! deadlocks (or panics). Here a self-transfer is refused instead. (The deadlock itself, caught
//! by a watchdog, is lesson l2-06.)
//!
//! Shows: two threads transfer back and forth between the same two accounts, in opposite
//! directions, 10,000 times each, each account behind its own `Mutex`, locked by id. It always
//! finishes, and the money is conserved.
//!
//! Run: `cargo run --release --example l3-15-lock-ordering`
//!
//! Expect: each thread's transfers, the refused self-transfer, then
//! `result: 20000 transfers with no deadlock and 2000 conserved`.

use anyhow::{Context, anyhow, bail};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::thread;

const TRANSFERS: usize = 10_000;

fn main() -> anyhow::Result<()> {
    let a = Account::new(1, 1_000);
    let b = Account::new(2, 1_000);
    let made = transfer_both_ways(&a, &b)?;
    let err = transfer(&a, &a, 1).expect_err("a self-transfer is refused");
    println!("[main] a self-transfer is refused: {err}");
    let total = *a.lock() + *b.lock();
    println!("[main] {made} transfers, total still {total}");
    assert_eq!(made, 2 * TRANSFERS);
    assert_eq!(total, 2_000, "money is neither made nor lost");
    println!("result: {made} transfers with no deadlock and {total} conserved");
    Ok(())
}

/// An account behind its own lock.
#[derive(Debug)]
struct Account {
    /// Unique, and the order in which locks are taken: lower id first.
    id: u32,
    balance: Mutex<i64>,
}

impl Account {
    fn new(id: u32, balance: i64) -> Self {
        Self {
            id,
            balance: Mutex::new(balance),
        }
    }

    fn lock(&self) -> MutexGuard<'_, i64> {
        // A balance is one integer, never left half-updated: a poisoned lock holds a valid one.
        self.balance.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Two threads transfer between `a` and `b` in opposite directions. Locked in the order each
/// transfer names its accounts, this could deadlock; locked by id, it always finishes. Returns
/// the transfers made.
fn transfer_both_ways(a: &Account, b: &Account) -> anyhow::Result<usize> {
    let made = AtomicUsize::new(0);
    thread::scope(|s| {
        let handles = [("a-to-b", a, b), ("b-to-a", b, a)].map(|(name, from, to)| {
            let made = &made;
            thread::Builder::new()
                .name(name.into())
                .spawn_scoped(s, move || -> anyhow::Result<()> {
                    for _ in 0..TRANSFERS {
                        transfer(from, to, 1)?;
                        // Relaxed: a count read after the join.
                        made.fetch_add(1, Ordering::Relaxed);
                    }
                    println!("[{name}] made {TRANSFERS} transfers");
                    Ok(())
                })
                .context("could not spawn a transfer thread")
        });
        for handle in handles {
            handle?
                .join()
                .map_err(|_| anyhow!("a transfer thread panicked"))??;
        }
        Ok::<(), anyhow::Error>(())
    })?;
    Ok(made.into_inner())
}

/// Moves `amount` from `from` to `to`, locking both accounts in id order: every thread takes
/// any two locks in the same order, so no thread can hold one while waiting for a thread that
/// holds the other.
fn transfer(from: &Account, to: &Account, amount: i64) -> anyhow::Result<()> {
    if from.id == to.id {
        bail!("account {} cannot transfer to itself", from.id);
    }
    let (mut from_balance, mut to_balance) = if from.id < to.id {
        let f = from.lock();
        (f, to.lock())
    } else {
        let t = to.lock();
        (from.lock(), t)
    };
    *from_balance -= amount;
    *to_balance += amount;
    Ok(())
}
