//! # Lesson l3-41: async code awaits the pool; a worker thread feeds an async stream
//!
//! Replaces the Node course's "integration with streams and async iterators": `await` on a
//! worker's answer, and `for await` over a stream. An async runtime (tokio here) runs many
//! tasks on few threads, switching only at an `.await`; a task that *blocks* instead stalls
//! every other task on its thread, like a busy Node event loop. So CPU work goes to a pool and
//! the async side awaits its answer: a `oneshot` channel that a `shared::WorkerPool` task
//! completes, or `tokio::task::spawn_blocking`, whose threads (up to 512 by default) are
//! meant for blocking calls: many CPU jobs at once belong on a pool sized to the cores. Never
//! wait for the pool by joining it inside async code, and never call `block_on` inside a
//! worker to wait for async work: that parks a CPU thread, and on a runtime's own thread it
//! panics. The other way round, a worker thread feeds a bounded `tokio::sync::mpsc`
//! channel with `blocking_send`, and async code reads it as a `Stream`; a full channel holds
//! the thread back, which is backpressure crossing from async to threads.
//!
//! Shows: a one-thread runtime (like Node's loop) with a ticker every 10 ms. A job of at least
//! 200 ms is waited for three ways, counting the ticks meanwhile: joined (0 ticks: the runtime
//! stalled), awaited through a oneshot, awaited through `spawn_blocking`. Then a producer
//! thread of primes against a slow async consumer (`ReceiverStream`, `StreamExt::take`): the
//! producer is never more than the channel's 4 items ahead, and ends when the stream is dropped.
//!
//! Run: `cargo run --release --example l3-41-async-bridge`
//!
//! Expect: the ticks per wait, then `result: joined: 0 ticks; oneshot from the pool: N ticks;
//! spawn_blocking: N ticks; the producer thread stayed at most 4 items ahead of the stream`.

use anyhow::{Context, anyhow, bail};
use shared::pool::WorkerPool;
use shared::testing::{TIMEOUT, join_within};
use shared::workload::{count_primes, is_prime};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;

/// The ticker's period, and the least time the CPU job runs: 20 ticks' worth.
const TICK: Duration = Duration::from_millis(10);
const JOB_TIME: Duration = Duration::from_millis(200);
/// The job's answer: there are 9,592 primes below 100,000.
const PRIMES_BELOW_100_000: u64 = 9_592;
/// The stream: its channel's capacity, how many items the consumer takes, and where the
/// producer starts counting.
const CAPACITY: usize = 4;
const TAKE: usize = 50;
const SOURCE_START: u64 = 1_000_000_000;

fn main() -> anyhow::Result<()> {
    let pool = WorkerPool::new(2).context("could not start the pool")?;
    // One thread runs every async task, as Node's event loop does; `time` drives the ticker.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .context("could not start the runtime")?;

    let mut ticks = Vec::new();
    for wait in [Wait::Joined, Wait::Oneshot, Wait::SpawnBlocking] {
        let (answer, during) = runtime.block_on(ticks_while_waiting(wait, &pool))?;
        assert_eq!(answer, PRIMES_BELOW_100_000, "{wait:?}");
        println!("[main] {wait:?}: {during} ticks while the job ran");
        ticks.push(during);
    }
    let (ahead, sent) = stream_from_a_thread(&runtime)?;
    println!("[main] the producer sent {sent} primes in all, at most {ahead} ahead, and ended");

    // Joined: the runtime's only thread sat in `join`, so the ticker could not run at all.
    assert_eq!(ticks[0], 0, "nothing else runs while an async task blocks");
    // Awaited: the ticker kept going. A quarter of the 20 ticks is the bound on a busy machine.
    let least = (JOB_TIME.as_millis() / TICK.as_millis() / 4) as u64;
    assert!(
        ticks[1] >= least && ticks[2] >= least,
        "{ticks:?}, wanted {least}+"
    );
    // Backpressure: never more ahead than the channel holds, even after the consumer left.
    assert!(
        ahead <= CAPACITY as u64,
        "the producer ran {ahead} items ahead"
    );
    assert!(
        sent <= (TAKE + CAPACITY) as u64,
        "sent {sent} for {TAKE} taken"
    );
    println!(
        "result: joined: 0 ticks; oneshot from the pool: {} ticks; spawn_blocking: {} ticks; the \
         producer thread stayed at most {CAPACITY} items ahead of the stream",
        ticks[1], ticks[2]
    );
    Ok(())
}

/// The three ways an async task can wait for the CPU job.
#[derive(Debug, Clone, Copy)]
enum Wait {
    /// Submitted to the pool, then joined: a blocking wait inside async code (the mistake).
    Joined,
    /// Run on the pool, which completes a `oneshot`; the async task awaits the receiver.
    Oneshot,
    /// Run on tokio's blocking threads; the async task awaits its `JoinHandle`.
    SpawnBlocking,
}

/// Starts a ticker task, waits for one CPU job in the way `wait` says, and returns the job's
/// answer with the number of ticks that happened while the job was awaited.
async fn ticks_while_waiting(wait: Wait, pool: &WorkerPool) -> anyhow::Result<(u64, u64)> {
    let ticks = Arc::new(AtomicU64::new(0));
    let ticker = tokio::spawn(tick_forever(Arc::clone(&ticks)));
    tokio::task::yield_now().await; // the ticker starts (and ticks once) before the job
    let before = ticks.load(Ordering::SeqCst);
    let answer = match wait {
        Wait::Joined => match pool.submit(cpu_job)?.join_timeout(TIMEOUT) {
            Ok(answer) => answer?,
            Err(_) => bail!("the job took more than {TIMEOUT:?}"),
        },
        Wait::Oneshot => {
            let (tx, rx) = oneshot::channel();
            pool.execute(move || {
                let _ = tx.send(cpu_job()); // Err only if the awaiting task is gone
            })
            .map_err(|e| anyhow!("the pool refused the job: {e}"))?;
            tokio::time::timeout(TIMEOUT, rx).await??
        }
        Wait::SpawnBlocking => {
            tokio::time::timeout(TIMEOUT, tokio::task::spawn_blocking(cpu_job)).await??
        }
    };
    let during = ticks.load(Ordering::SeqCst) - before;
    ticker.abort();
    Ok((answer, during))
}

/// Counts a tick every `TICK`, for as long as the runtime lets it run.
async fn tick_forever(ticks: Arc<AtomicU64>) {
    let mut interval = tokio::time::interval(TICK);
    loop {
        interval.tick().await;
        ticks.fetch_add(1, Ordering::SeqCst);
    }
}

/// A CPU job of at least `JOB_TIME`: it counts the primes below 100,000 until that long has
/// passed, and returns the count.
fn cpu_job() -> u64 {
    let start = Instant::now();
    loop {
        let count = count_primes(0..100_000);
        if start.elapsed() >= JOB_TIME {
            return count;
        }
    }
}

/// A producer thread sends primes into a bounded channel with `blocking_send`; the async
/// consumer reads `TAKE` of them as a `Stream`, slowly, then drops it. Returns the most items
/// the producer was ever ahead of the consumer, and how many it sent in all.
fn stream_from_a_thread(runtime: &tokio::runtime::Runtime) -> anyhow::Result<(u64, u64)> {
    let (tx, rx) = mpsc::channel::<u64>(CAPACITY);
    let sent = Arc::new(AtomicU64::new(0));
    let producer_sent = Arc::clone(&sent);
    let producer = thread::Builder::new()
        .name("producer".into())
        .spawn(move || {
            for n in (SOURCE_START..).filter(|&n| is_prime(n)) {
                // Waits while the channel holds CAPACITY items; fails once the stream is gone.
                if tx.blocking_send(n).is_err() {
                    break;
                }
                producer_sent.fetch_add(1, Ordering::SeqCst);
            }
        })
        .context("could not spawn the producer")?;
    let ahead = runtime.block_on(consume_slowly(ReceiverStream::new(rx), &sent))?;
    // The stream, and the receiver in it, are dropped: the producer's next send fails. The
    // join waits here, outside the runtime: a blocking wait has no place in async code.
    join_within(producer, TIMEOUT, "the producer").map_err(|_| anyhow!("it panicked"))?;
    Ok((ahead, sent.load(Ordering::SeqCst)))
}

/// The async consumer: `TAKE` items through `StreamExt`, 1 ms apart (a slow client), each
/// checked. Returns how far ahead the producer's count was at the most.
async fn consume_slowly(stream: ReceiverStream<u64>, sent: &AtomicU64) -> anyhow::Result<u64> {
    let (mut received, mut ahead) = (0u64, 0u64);
    let mut primes = stream.take(TAKE);
    while let Some(prime) = tokio::time::timeout(TIMEOUT, primes.next()).await? {
        received += 1;
        // The producer counts a send after it returns, so its count may lag, never lead.
        ahead = ahead.max(sent.load(Ordering::SeqCst).saturating_sub(received));
        if !is_prime(prime) {
            bail!("{prime} is not prime");
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    println!("[stream] took {received} primes, then dropped the stream");
    assert_eq!(received, TAKE as u64);
    Ok(ahead)
}
