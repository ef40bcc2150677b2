//! # Lesson l2-11: one message to every worker
//!
//! Replaces Node's `new BroadcastChannel(name)`, where one `postMessage` reaches every
//! listener in every thread (the Node course never shows it; its guide names a custom class
//! after it). A channel hands each message to *one* receiver; `shared::BroadcastChannel` keeps
//! one channel per subscriber and sends a copy down each.
//!
//! Shows: three workers that wait (with `select!`, lesson l2-10) on a broadcast and on a
//! shared job queue at once. A `Scale` broadcast reaches every worker, each acknowledges it;
//! then 30 jobs go through the queue, each to exactly one worker; then one `Shutdown`
//! broadcast ends every worker, each leaving its loop by itself.
//!
//! Run: `cargo run --release --example l2-11-broadcast`
//!
//! Expect: each worker acknowledging the new scale and leaving with its count of jobs, then
//! `result: 3 workers got 2 broadcasts each; 30 jobs, each to one worker, summed to 4650`.

use anyhow::{Context, anyhow, bail};
use crossbeam_channel::{Receiver, Sender, select};
use shared::channel::{BroadcastChannel, Subscriber};
use std::thread;
use std::time::Duration;

/// What the main thread broadcasts: every subscriber gets every message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Control {
    /// Multiply every job's value by this from now on.
    Scale(u64),
    /// Finish and return.
    Shutdown,
}

const WORKERS: usize = 3;
const JOBS: u64 = 30;
/// How long the main thread waits for any one report; only a bug reaches it.
const WAIT: Duration = Duration::from_secs(10);

fn main() -> anyhow::Result<()> {
    let control = BroadcastChannel::new();
    let (job_tx, job_rx) = crossbeam_channel::unbounded::<u64>();
    let (report_tx, reports) = crossbeam_channel::unbounded::<Report>();
    // Subscribe *before* spawning: a subscriber hears only what is sent after it subscribed,
    // so subscribing here means no worker can miss a broadcast sent before it got going.
    let workers = (0..WORKERS)
        .map(|index| {
            let (subscription, jobs, reports) =
                (control.subscribe(), job_rx.clone(), report_tx.clone());
            thread::Builder::new()
                .name(format!("worker-{index}"))
                .spawn(move || job_worker(index, subscription, jobs, reports))
                .context("could not spawn a worker")
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    drop((job_rx, report_tx)); // the workers hold the only copies now

    let reached = control.send(Control::Scale(10));
    println!("[main] Scale(10) broadcast to {reached} subscribers");
    let mut acked = Vec::new();
    while acked.len() < WORKERS {
        match next(&reports)? {
            Report::Acked { worker, scale } => acked.push((worker, scale)),
            Report::Done(_) => bail!("a job result before any job was sent"),
        }
    }
    acked.sort_unstable();
    // Sent only after every worker acknowledged the new scale, so every result is scaled.
    for n in 1..=JOBS {
        job_tx
            .send(n)
            .map_err(|_| anyhow!("every worker is gone"))?;
    }
    let mut total = 0;
    for _ in 0..JOBS {
        match next(&reports)? {
            Report::Done(value) => total += value,
            Report::Acked { worker, .. } => bail!("worker-{worker} acknowledged twice"),
        }
    }
    // Nothing is queued for any worker now, so `select!` has nothing else to pick first.
    let stopped = control.send(Control::Shutdown);
    let summaries = workers
        .into_iter()
        .map(|w| w.join().map_err(|_| anyhow!("a worker panicked")))
        .collect::<anyhow::Result<Vec<_>>>()?;

    assert_eq!((reached, stopped), (WORKERS, WORKERS));
    assert_eq!(acked, (0..WORKERS).map(|w| (w, 10)).collect::<Vec<_>>());
    assert_eq!(total, 10 * JOBS * (JOBS + 1) / 2);
    assert_eq!(
        summaries.iter().map(|s| s.jobs).sum::<u64>(),
        JOBS,
        "each job to one worker"
    );
    assert!(
        summaries.iter().all(|s| s.broadcasts == 2),
        "Scale and Shutdown, to every worker"
    );
    println!(
        "result: {stopped} workers got 2 broadcasts each; {JOBS} jobs, each to one worker, summed \
         to {total}"
    );
    Ok(())
}

/// What a job worker sends the main thread.
#[derive(Debug)]
enum Report {
    /// "I have applied `Control::Scale`."
    Acked { worker: usize, scale: u64 },
    /// A job's result.
    Done(u64),
}

/// What a job worker did.
#[derive(Debug)]
struct Summary {
    jobs: u64,
    broadcasts: usize,
}

/// A job worker: waits on the broadcast and on the shared job queue at once.
fn job_worker(
    index: usize,
    control: Subscriber<Control>,
    jobs: Receiver<u64>,
    reports: Sender<Report>,
) -> Summary {
    let me = thread::current().name().unwrap_or("<unnamed>").to_owned();
    let mut summary = Summary {
        jobs: 0,
        broadcasts: 0,
    };
    let mut scale = 1;
    loop {
        // If both are ready, `select!` picks one at random: neither can starve the other.
        select! {
            recv(control.receiver()) -> msg => {
                let Ok(msg) = msg else { break }; // every broadcaster is gone
                summary.broadcasts += 1;
                match msg {
                    Control::Scale(new_scale) => {
                        scale = new_scale;
                        println!("[{me}] scale is now {scale}");
                        if reports.send(Report::Acked { worker: index, scale }).is_err() {
                            break;
                        }
                    }
                    Control::Shutdown => break,
                }
            }
            recv(jobs) -> job => {
                let Ok(n) = job else { break }; // the queue was closed
                summary.jobs += 1;
                if reports.send(Report::Done(n * scale)).is_err() {
                    break;
                }
            }
        }
    }
    println!(
        "[{me}] leaving: {} jobs, {} broadcasts",
        summary.jobs, summary.broadcasts
    );
    summary
}

/// Receives one report, or fails after `WAIT`.
fn next(reports: &Receiver<Report>) -> anyhow::Result<Report> {
    reports
        .recv_timeout(WAIT)
        .map_err(|e| anyhow!("no report within {WAIT:?}: {e}"))
}
