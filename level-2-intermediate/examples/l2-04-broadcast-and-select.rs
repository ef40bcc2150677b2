//! # Lesson l2-04: broadcast, and waiting on several channels with `select!`
//!
//! Replaces two Node ideas. `new BroadcastChannel(name)`, where one `postMessage` reaches
//! every listener in every thread (the Node course never shows it; its guide names a custom
//! class after it). And a worker with several `on('message')` listeners plus a
//! `setInterval` and a `setTimeout`: Node's event loop waits on all of them at once. A Rust
//! thread has no event loop, so it waits explicitly, on exactly the sources it names, with
//! `crossbeam_channel::select!`, where timers are channels too (`tick`, `after`, `at`).
//!
//! Shows:
//! 1. `shared::BroadcastChannel`: one message to every worker (a new setting), against a job
//!    queue where each job goes to one worker;
//! 2. a monitor thread whose `select!` waits on two input channels, the broadcast, a `tick`
//!    heartbeat and an idle timeout, whichever comes first;
//! 3. one `Shutdown` broadcast ending every thread, each leaving its loop by itself;
//! 4. the main thread waiting with `select!`'s `default(timeout)`, so no wait is endless.
//!
//! Run: `cargo run --example l2-04-broadcast-and-select`
//!
//! Expect: each worker acknowledging the broadcast and reporting its jobs, the monitor
//! reporting its inputs and going idle, then `result: 4 threads got 2 broadcasts each; 30 jobs
//! summed to 4650; monitor handled 5 numbers (sum 14) and 3 words, went idle, ticked N
//! times`. N depends on timing and is not checked.

use anyhow::{Context, anyhow, bail, ensure};
use crossbeam_channel::{Receiver, Sender, select};
use shared::channel::{BroadcastChannel, Subscriber};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// What the main thread broadcasts: every subscriber gets every message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Control {
    /// Multiply every job's value by this from now on.
    Scale(u64),
    /// Finish and return.
    Shutdown,
}

/// What the job workers send the main thread.
#[derive(Debug)]
enum Report {
    /// "I have applied `Control::Scale`."
    Ack { worker: usize, scale: u64 },
    /// A job's result.
    Done(u64),
}

/// How many job workers, and how many jobs.
const WORKERS: usize = 3;
const JOBS: u64 = 30;

/// The monitor's heartbeat, and how long without input before it reports itself idle.
const TICK: Duration = Duration::from_millis(20);
const IDLE: Duration = Duration::from_millis(100);

/// How long the main thread waits for any one message before it calls the run a failure.
/// Only a bug reaches it; it never decides an outcome.
const WAIT: Duration = Duration::from_secs(10);

/// What a job worker did.
#[derive(Debug)]
struct WorkerSummary {
    jobs: u64,
    broadcasts: usize,
}

/// What the monitor did.
#[derive(Debug, Default)]
struct MonitorSummary {
    numbers: usize,
    sum: i64,
    words: Vec<String>,
    ticks: u32,
    idle_timeouts: u32,
    broadcasts: usize,
}

/// What the monitor tells the main thread: it went idle after handling this many inputs.
#[derive(Debug)]
struct Idle {
    handled: usize,
}

fn me() -> String {
    thread::current().name().unwrap_or("<unnamed>").to_owned()
}

fn spawn<T: Send + 'static>(
    name: String,
    f: impl FnOnce() -> T + Send + 'static,
) -> anyhow::Result<JoinHandle<T>> {
    thread::Builder::new()
        .name(name.clone())
        .spawn(f)
        .with_context(|| format!("could not spawn {name}"))
}

/// Receives one message, or fails after `WAIT`: `select!` with a single channel and a
/// `default(timeout)` arm is `recv_timeout`, and the same `default` arm works with any number
/// of channels.
fn next<T>(rx: &Receiver<T>, what: &str) -> anyhow::Result<T> {
    select! {
        recv(rx) -> msg => msg.map_err(|_| anyhow!("every sender of {what} is gone")),
        default(WAIT) => bail!("no {what} within {WAIT:?}"),
    }
}

/// A job worker: waits on the broadcast and on the shared job queue at once.
fn job_worker(
    index: usize,
    control: Subscriber<Control>,
    jobs: Receiver<u64>,
    reports: Sender<Report>,
) -> WorkerSummary {
    let mut summary = WorkerSummary {
        jobs: 0,
        broadcasts: 0,
    };
    let mut scale = 1;
    loop {
        // Whichever is ready first. If both are, `select!` picks one at random, so a
        // broadcast cannot be starved by a busy queue (nor the other way round).
        select! {
            recv(control.receiver()) -> msg => {
                let Ok(msg) = msg else { break }; // every broadcaster is gone
                summary.broadcasts += 1;
                match msg {
                    Control::Scale(new_scale) => {
                        scale = new_scale;
                        println!("[{}] scale is now {scale}", me());
                        if reports.send(Report::Ack { worker: index, scale }).is_err() {
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
        "[{}] leaving: {} jobs, {} broadcasts",
        me(),
        summary.jobs,
        summary.broadcasts
    );
    summary
}

/// The monitor: two inputs, the broadcast, a heartbeat and an idle timeout, in one `select!`.
fn monitor(
    numbers: Receiver<i64>,
    words: Receiver<String>,
    control: Subscriber<Control>,
    idle_reports: Sender<Idle>,
) -> MonitorSummary {
    let mut summary = MonitorSummary::default();
    // `tick` is a channel that delivers the time every `TICK`: a `setInterval`.
    let heartbeat = crossbeam_channel::tick(TICK);
    let mut idle_at = Instant::now() + IDLE;
    loop {
        // The idle timeout is a deadline, not `select!`'s `default(IDLE)` arm: `default(IDLE)`
        // fires only if *nothing* is ready for `IDLE`, and the heartbeat is ready every `TICK`,
        // so it would never fire. `at` fires once, at the deadline, which only input moves.
        let idle = crossbeam_channel::at(idle_at);
        select! {
            recv(numbers) -> n => {
                let Ok(n) = n else { break }; // a closed input ends the monitor too
                summary.numbers += 1;
                summary.sum += n;
                idle_at = Instant::now() + IDLE;
            }
            recv(words) -> word => {
                let Ok(word) = word else { break };
                println!("[{}] word {word:?}", me());
                summary.words.push(word);
                idle_at = Instant::now() + IDLE;
            }
            recv(heartbeat) -> _ => summary.ticks += 1,
            recv(idle) -> _ => {
                summary.idle_timeouts += 1;
                let handled = summary.numbers + summary.words.len();
                println!("[{}] idle for {IDLE:?} after {handled} inputs", me());
                if idle_reports.send(Idle { handled }).is_err() {
                    break;
                }
                idle_at = Instant::now() + IDLE;
            }
            recv(control.receiver()) -> msg => {
                let Ok(msg) = msg else { break };
                summary.broadcasts += 1;
                if msg == Control::Shutdown {
                    break;
                }
            }
        }
    }
    println!(
        "[{}] leaving after {} ticks and {} idle reports",
        me(),
        summary.ticks,
        summary.idle_timeouts
    );
    summary
}

fn main() -> anyhow::Result<()> {
    let control = BroadcastChannel::new();
    let (job_tx, job_rx) = crossbeam_channel::unbounded::<u64>();
    let (report_tx, report_rx) = crossbeam_channel::unbounded::<Report>();
    let (number_tx, number_rx) = crossbeam_channel::unbounded::<i64>();
    let (word_tx, word_rx) = crossbeam_channel::unbounded::<String>();
    let (idle_tx, idle_rx) = crossbeam_channel::unbounded::<Idle>();

    // Subscribe *before* spawning: a subscriber hears only what is sent after it subscribed,
    // and subscribing here means no thread can miss a broadcast sent before it got going.
    let workers = (0..WORKERS)
        .map(|index| {
            let (subscription, jobs, reports) =
                (control.subscribe(), job_rx.clone(), report_tx.clone());
            spawn(format!("worker-{index}"), move || {
                job_worker(index, subscription, jobs, reports)
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    drop((job_rx, report_tx)); // the workers hold the only copies now
    let subscription = control.subscribe();
    let monitor = spawn("monitor".to_owned(), move || {
        monitor(number_rx, word_rx, subscription, idle_tx)
    })?;

    // 1. One message, every subscriber.
    let reached = control.send(Control::Scale(10));
    println!("[main] Scale(10) broadcast to {reached} subscribers");
    let mut acked = Vec::new();
    while acked.len() < WORKERS {
        match next(&report_rx, "acknowledgement")? {
            Report::Ack { worker, scale } => acked.push((worker, scale)),
            Report::Done(_) => bail!("a job result before any job was sent"),
        }
    }
    acked.sort_unstable();

    // Jobs go through one shared queue: each job to exactly one worker. Sent only after
    // every worker acknowledged the new scale, so every result is scaled.
    for n in 1..=JOBS {
        job_tx
            .send(n)
            .map_err(|_| anyhow!("every worker is gone"))?;
    }
    let mut total = 0;
    for _ in 0..JOBS {
        match next(&report_rx, "job result")? {
            Report::Done(value) => total += value,
            Report::Ack { worker, .. } => bail!("worker-{worker} acknowledged twice"),
        }
    }
    println!("[main] {JOBS} results, total {total}");

    // 2. The monitor's inputs, then wait until it reports being idle with all of them
    //    handled. (It may report idle earlier too, if this thread is slow to send.)
    let numbers = [3, 1, 4, 1, 5];
    let words = ["alpha", "beta", "gamma"];
    for n in numbers {
        number_tx
            .send(n)
            .map_err(|_| anyhow!("the monitor is gone"))?;
    }
    for word in words {
        word_tx
            .send(word.to_owned())
            .map_err(|_| anyhow!("the monitor is gone"))?;
    }
    let inputs = numbers.len() + words.len();
    while next(&idle_rx, "idle report")?.handled < inputs {}
    println!("[main] the monitor is idle with all {inputs} inputs handled");

    // 3. One broadcast ends every thread. Nothing is queued for any of them any more, so
    //    `select!` has nothing else to pick first.
    let stopped = control.send(Control::Shutdown);
    println!("[main] Shutdown broadcast to {stopped} subscribers");
    let summaries = workers
        .into_iter()
        .map(|w| w.join().map_err(|_| anyhow!("a worker panicked")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let monitored = monitor
        .join()
        .map_err(|_| anyhow!("the monitor panicked"))?;

    assert_eq!(reached, WORKERS + 1, "3 workers and the monitor subscribed");
    assert_eq!(stopped, WORKERS + 1);
    assert_eq!(acked, (0..WORKERS).map(|w| (w, 10)).collect::<Vec<_>>());
    assert_eq!(total, 10 * JOBS * (JOBS + 1) / 2);
    assert_eq!(summaries.iter().map(|s| s.jobs).sum::<u64>(), JOBS);
    for summary in &summaries {
        assert_eq!(summary.broadcasts, 2, "Scale and Shutdown, to every worker");
    }
    assert_eq!(
        monitored.broadcasts, 2,
        "the monitor heard both broadcasts too"
    );
    assert_eq!(monitored.numbers, numbers.len());
    assert_eq!(monitored.sum, numbers.iter().sum::<i64>());
    assert_eq!(monitored.words, words);
    assert!(
        monitored.idle_timeouts >= 1,
        "main waited for an idle report"
    );
    ensure!(
        summaries
            .iter()
            .all(|s| s.broadcasts == monitored.broadcasts),
        "every subscriber heard the same broadcasts"
    );

    println!(
        "result: {stopped} threads got 2 broadcasts each; {JOBS} jobs summed to {total}; \
         monitor handled {} numbers (sum {}) and {} words, went idle, ticked {} times",
        monitored.numbers,
        monitored.sum,
        monitored.words.len(),
        monitored.ticks
    );
    Ok(())
}
