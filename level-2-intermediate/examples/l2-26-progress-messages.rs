//! # Lesson l2-26: progress messages: workers report, the main thread prints
//!
//! Replaces Node's progress messages (`parentPort.postMessage({ type: 'progress', percent })`,
//! printed by the main thread). The Node course's example never reached 100%: its last report
//! said about 90%. Here every job reports each block it finishes, the last one included, so a
//! finished job reaches exactly 100%, and the lesson asserts it.
//!
//! Shows: four workers counting primes over their own ranges, block by block, reporting over
//! one channel with an `enum` the compiler checks (`Started`, `Progress`, `Finished`,
//! `Failed`) instead of Node's `{ type: ... }` objects. The workers never print: each holds
//! only a `Sender`, and the main thread alone turns the reports into lines. One job's range
//! passes the input limit, so its worker fails midway and says so in its last report.
//!
//! Run: `cargo run --release --example l2-26-progress-messages`
//!
//! Expect: each worker's progress at every quarter, one summary line per worker, then
//! `result: 3 jobs finished at 100%, 1 failed after 4 of 8 blocks; 602489 primes counted,
//! checked`.

use anyhow::{Context, anyhow, bail};
use crossbeam_channel::Sender;
use shared::workload::count_primes;
use std::ops::Range;
use std::thread;

/// One block, one progress report. A job that reaches past `MAX_NUMBER` fails there.
const BLOCK: u64 = 50_000;
const MAX_NUMBER: u64 = 10_000_000;
/// The jobs. The last one runs past `MAX_NUMBER` (a mistake in the input); checked block by
/// block, to show a failure in the middle of a job.
const JOBS: [Range<u64>; 4] = [
    0..4_000_000,
    4_000_000..7_000_000,
    7_000_000..9_000_000,
    9_800_000..10_200_000,
];

fn main() -> anyhow::Result<()> {
    let (tx, rx) = crossbeam_channel::unbounded::<(usize, Event)>();
    let workers = (0..JOBS.len())
        .map(|w| {
            let tx = tx.clone();
            thread::Builder::new()
                .name(format!("worker-{w}"))
                .spawn(move || count_job(w, JOBS[w].clone(), &tx))
                .with_context(|| format!("could not spawn worker-{w}"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    drop(tx); // keep no sender here: the loop below ends when the last worker drops its own

    // `last[w]`: worker w's last progress `(done, total)`, and its final event.
    let mut last = vec![((0, 0), None); JOBS.len()];
    for (w, event) in &rx {
        match event {
            Event::Started { total } => last[w].0 = (0, total),
            Event::Progress { done, total } => {
                // One line per quarter: every report would be 190 lines.
                if done * 4 / total > (done - 1) * 4 / total {
                    println!(
                        "[main] worker-{w}: {done}/{total} blocks ({}%)",
                        done * 100 / total
                    );
                }
                last[w].0 = (done, total);
            }
            Event::Finished { .. } | Event::Failed { .. } => last[w].1 = Some(event),
        }
    }
    for worker in workers {
        worker.join().map_err(|_| anyhow!("a worker panicked"))?;
    }

    let (mut counted, mut finished, mut failed) = (0, 0, Vec::new());
    for (w, ((done, total), end)) in last.iter().enumerate() {
        match end {
            Some(Event::Finished { primes }) => {
                println!(
                    "[main] worker-{w}: finished, {primes} primes in {:?}",
                    JOBS[w]
                );
                assert_eq!(*primes, count_primes(JOBS[w].clone()), "worker-{w}");
                assert_eq!(done, total, "worker-{w} reached 100%");
                (counted, finished) = (counted + primes, finished + 1);
            }
            Some(Event::Failed { error, .. }) => {
                println!("[main] worker-{w}: failed after {done}/{total} blocks: {error}");
                failed.push((w, *done, *total));
            }
            _ => bail!("worker-{w} ended without a final report"),
        }
    }
    assert_eq!(finished, 3);
    assert_eq!(
        failed,
        [(3, 4, 8)],
        "worker-3 fails at the block that reaches past 10,000,000"
    );
    println!(
        "result: {finished} jobs finished at 100%, 1 failed after {} of {} blocks; {counted} primes \
         counted, checked",
        failed[0].1, failed[0].2
    );
    Ok(())
}

/// What a worker tells the main thread: Node's `{ type: 'progress', ... }`, as an `enum`.
#[derive(Debug, Clone, PartialEq)]
enum Event {
    /// The job has `total` blocks.
    Started { total: u64 },
    /// `done` of `total` blocks are counted; sent after every block, the last one included.
    Progress { done: u64, total: u64 },
    /// Every block is counted: the job's answer.
    Finished { primes: u64 },
    /// The job stopped at a block it could not do; the `done` blocks before it were counted.
    Failed { done: u64, error: String },
}

/// A worker's whole job. It owns a `Sender` and its range, and never prints.
fn count_job(worker: usize, range: Range<u64>, reports: &Sender<(usize, Event)>) {
    // The main thread may have stopped listening (it failed); then there is nobody to tell.
    let send = |event| drop(reports.send((worker, event)));
    let total = (range.end - range.start).div_ceil(BLOCK);
    send(Event::Started { total });
    let mut primes = 0;
    for (done, low) in (1..).zip((range.start..range.end).step_by(BLOCK as usize)) {
        let high = (low + BLOCK).min(range.end);
        if high > MAX_NUMBER {
            let error = format!("the block {low}..{high} reaches past the limit of {MAX_NUMBER}");
            return send(Event::Failed {
                done: done - 1,
                error,
            });
        }
        primes += count_primes(low..high);
        send(Event::Progress { done, total });
    }
    send(Event::Finished { primes });
}
