//! # Lesson l2-15: CPU time against wall time
//!
//! Replaces the Node course's promised (never shown) per-worker CPU tracking:
//! `process.cpuUsage()` is per process. `cpu_time::ThreadTime` (std does not offer it) reads
//! the CPU time of the calling thread: the time the OS actually ran it. Against wall time it
//! tells a thread that computes from a thread that waits, which a clock alone cannot.
//!
//! Shows: a `cruncher` thread that counts the primes below 1,000,000 and a `waiter` thread
//! blocked on a channel until the cruncher says it is done; each measures its own CPU time
//! and wall time.
//!
//! Run: `cargo run --release --example l2-15-cpu-time`
//!
//! Expect: each thread's CPU and wall time and how busy it was (they vary by run; the waiter's
//! CPU time stays near zero), then `result: 78498 primes; the cruncher was busy N% of its
//! time, the waiter M%`.

use anyhow::{Context, anyhow};
use cpu_time::ThreadTime;
use shared::workload::count_primes;
use std::thread;
use std::time::{Duration, Instant};

/// How long the waiter waits before it calls the run a failure. Only a bug reaches it.
const WAIT: Duration = Duration::from_secs(10);

fn main() -> anyhow::Result<()> {
    let (done_tx, done_rx) = crossbeam_channel::bounded::<()>(1);
    let waiter = thread::Builder::new()
        .name("waiter".to_owned())
        .spawn(move || {
            measure(|| {
                // Blocked in the kernel: the clock runs, the CPU time hardly moves.
                done_rx
                    .recv_timeout(WAIT)
                    .context("the cruncher never said it was done")
            })
        })
        .context("could not spawn the waiter")?;
    let cruncher = thread::Builder::new()
        .name("cruncher".to_owned())
        .spawn(move || {
            let measured = measure(|| Ok(count_primes(0..1_000_000)));
            let _ = done_tx.send(());
            measured
        })
        .context("could not spawn the cruncher")?;
    let (primes, crunched) = cruncher
        .join()
        .map_err(|_| anyhow!("the cruncher panicked"))??;
    let ((), waited) = waiter
        .join()
        .map_err(|_| anyhow!("the waiter panicked"))??;

    for (name, t) in [("cruncher", &crunched), ("waiter", &waited)] {
        println!(
            "[main] {name:<9} cpu {:>8.2} ms, wall {:>8.2} ms: busy {:>3.0}% of its time",
            t.cpu.as_secs_f64() * 1e3,
            t.wall.as_secs_f64() * 1e3,
            t.busy_percent()
        );
    }
    assert_eq!(primes, 78_498); // the times are printed, not checked
    println!(
        "result: {primes} primes; the cruncher was busy {:.0}% of its time, the waiter {:.0}%",
        crunched.busy_percent(),
        waited.busy_percent()
    );
    Ok(())
}

/// What a thread measured about itself.
#[derive(Debug)]
struct Times {
    cpu: Duration,
    wall: Duration,
}

impl Times {
    fn busy_percent(&self) -> f64 {
        100.0 * self.cpu.as_secs_f64() / self.wall.as_secs_f64().max(1e-9)
    }
}

/// Runs `work` on this thread and returns its result with this thread's CPU and wall time.
fn measure<T>(work: impl FnOnce() -> anyhow::Result<T>) -> anyhow::Result<(T, Times)> {
    let cpu = ThreadTime::try_now().context("this platform cannot read a thread's CPU time")?;
    let wall = Instant::now();
    let value = work()?;
    Ok((
        value,
        Times {
            cpu: cpu.elapsed(),
            wall: wall.elapsed(),
        },
    ))
}
