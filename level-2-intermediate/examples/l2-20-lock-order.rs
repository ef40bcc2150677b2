//! # Lesson l2-20: the fix for that deadlock: one lock order
//!
//! Replaces nothing in Node, whose workers share no locks; it is the fix for lesson l2-19's
//! deadlock. Two threads can deadlock on two locks only if they take them in opposite orders.
//! The fix is a rule: every thread takes the locks in one global order (here by name, A
//! before B), whatever the direction of its transfer. Then the thread holding A is never
//! waiting for a thread that holds B and waits for A: one of them always gets both.
//!
//! Shows: `transfer-ab` moves 1 from A to B and `transfer-ba` from B to A, 2,000 times each,
//! both locking A then B; every transfer completes, and the total is kept. The main thread
//! waits for each to finish with a timeout, so a bug would fail the run instead of hanging it.
//!
//! Run: `cargo run --release --example l2-20-lock-order`
//!
//! Expect: both threads finishing, then `result: one lock order: 4000 transfers, A = 100,
//! B = 100, total 200 kept`.

use anyhow::{Context, anyhow};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// Transfers each thread makes, and each account's opening balance.
const ROUNDS: u64 = 2_000;
const OPENING: i64 = 100;
/// How long the main thread waits for a thread to finish; only a deadlock reaches it.
const WAIT: Duration = Duration::from_secs(10);

fn main() -> anyhow::Result<()> {
    let (a, b) = (Arc::new(Mutex::new(OPENING)), Arc::new(Mutex::new(OPENING)));
    let (done_tx, done) = crossbeam_channel::unbounded();
    let threads = [
        start_transfers("transfer-ab", Direction::AToB, &a, &b, done_tx.clone())?,
        start_transfers("transfer-ba", Direction::BToA, &a, &b, done_tx)?,
    ];
    let mut counts = Vec::new();
    for _ in &threads {
        let (name, count) = done
            .recv_timeout(WAIT)
            .map_err(|_| anyhow!("a transfer thread did not finish within {WAIT:?}"))?;
        println!("[main] {name} finished {count} transfers");
        counts.push(count);
    }
    let transfers: u64 = counts.iter().sum();
    for thread in threads {
        thread
            .join()
            .map_err(|_| anyhow!("a transfer thread panicked"))?;
    }
    let balances = (*lock(&a), *lock(&b));

    assert_eq!(counts, [ROUNDS, ROUNDS], "each thread made every transfer");
    // Each thread moved 1 the other way ROUNDS times: both end where they started.
    assert_eq!(balances, (OPENING, OPENING));
    println!(
        "result: one lock order: {transfers} transfers, A = {}, B = {}, total {} kept",
        balances.0,
        balances.1,
        balances.0 + balances.1
    );
    Ok(())
}

#[derive(Debug, Clone, Copy)]
enum Direction {
    AToB,
    BToA,
}

/// Starts a thread that moves 1 in `direction`, `ROUNDS` times, always locking A then B,
/// and sends its name and count on `done` when it has finished.
fn start_transfers(
    name: &str,
    direction: Direction,
    a: &Arc<Mutex<i64>>,
    b: &Arc<Mutex<i64>>,
    done: crossbeam_channel::Sender<(String, u64)>,
) -> anyhow::Result<JoinHandle<()>> {
    let (a, b, me) = (Arc::clone(a), Arc::clone(b), name.to_owned());
    thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            let mut made = 0;
            for _ in 0..ROUNDS {
                // The rule: A before B, whichever way the money goes.
                let mut a = lock(&a);
                let mut b = lock(&b);
                let (from, to) = match direction {
                    Direction::AToB => (&mut *a, &mut *b),
                    Direction::BToA => (&mut *b, &mut *a),
                };
                *from -= 1;
                *to += 1;
                made += 1;
            }
            let _ = done.send((me, made));
        })
        .with_context(|| format!("could not spawn {name}"))
}

/// Locks a balance. No thread panics while holding one, but if one did, the number is still
/// whole (a single integer): recover the guard rather than panic in turn.
fn lock(balance: &Mutex<i64>) -> MutexGuard<'_, i64> {
    balance.lock().unwrap_or_else(PoisonError::into_inner)
}
