//! # Lesson l3-06: backpressure and flow control
//!
//! The Node course has no lesson on this; its nearest material is a ring that *skips a tick*
//! when full and a queue cap that throws away the oldest tasks. In Node, `postMessage` never
//! blocks: a producer faster than its worker fills the worker's inbox until the heap runs out.
//! Backpressure is the fix: a queue with a bound, so that a full queue slows the producer down
//! (or says no) instead of growing.
//!
//! Shows:
//! 1. a bounded channel saying no: `try_send` on a full queue hands the value back, and
//!    `send_timeout` gives up after its wait; then the same with `shared::WorkerPool`, whose
//!    queue is bounded by default: `try_execute` hands the task back, and the caller runs it
//!    itself (a "caller runs" policy);
//! 2. the memory an unbounded queue costs, measured: a producer makes 10,000 buffers of 4 KiB
//!    while its consumer has not started yet (stalled on a slow start, say). Unbounded, all
//!    10,000 wait in the queue; bounded to 64, the producer waits at 64 and the consumer is
//!    let go. Queue length and bytes are measured (bytes through `shared::alloc`'s counting
//!    allocator, installed below as this program's allocator);
//! 3. rate limiting with a token bucket: tokens refill with elapsed time, up to a burst. First
//!    on a clock the lesson moves by hand (so the counts are exact), then shared by 4 threads on
//!    the real clock, where what is admitted stays within burst + rate x time.
//!
//! Run: `cargo run --release --example l3-06-backpressure`
//!
//! Expect: the refused values; the queue peaks (10000 against 64) and the peak bytes of each
//! run and their ratio; the admitted counts; then `result: try_send handed back item 4,
//! unbounded peak 10000 queued / N MiB, bounded peak 64 queued / M KiB, token bucket admitted 25
//! of 75 on the fake clock and R on the real one`.

use anyhow::{Context, anyhow, bail, ensure};
use crossbeam_channel::{SendTimeoutError, Sender, TrySendError};
use shared::alloc::{CountingAllocator, process_stats, reset_peak};
use shared::pool::{SubmitError, WorkerPool};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};
use thiserror::Error;

/// Counts every allocation of this program, so that the memory a queue holds can be measured.
#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator::new();

/// Part 2: how many buffers the producer makes, and how big each is.
const ITEMS: usize = 10_000;
const ITEM_BYTES: usize = 4 * 1024;

/// Part 2: the bound of the bounded queue.
const BOUND: usize = 64;

/// Room for what is not a queued buffer in part 2's measurement: the channel itself, the two
/// threads' bookkeeping, output buffers. A few kilobytes in practice.
const OVERHEAD_BYTES: u64 = 64 * 1024;

/// The name of the thread this runs on.
fn me() -> String {
    thread::current().name().unwrap_or("<unnamed>").to_owned()
}

/// Part 1: a full bounded channel says no, and gives the value back.
fn bounded_says_no() -> anyhow::Result<u32> {
    let (tx, rx) = crossbeam_channel::bounded::<u32>(3);
    for item in 1..=3 {
        tx.try_send(item).context("the first 3 fit")?;
    }
    // Full: the value comes back, to be retried, stored elsewhere, or dropped on purpose.
    let refused = match tx.try_send(4) {
        Err(TrySendError::Full(item)) => item,
        other => bail!("expected a full queue, got {other:?}"),
    };
    println!("[main] queue of 3 is full: try_send(4) handed back {refused}");
    match tx.send_timeout(refused, Duration::from_millis(20)) {
        Err(SendTimeoutError::Timeout(item)) => {
            println!("[main] send_timeout waited 20 ms for room, then handed back {item}");
        }
        other => bail!("expected a timeout, got {other:?}"),
    }
    let first = rx.recv().context("3 items are queued")?;
    tx.try_send(refused).context("one place is free again")?;
    println!("[main] the consumer took {first}; try_send({refused}) now succeeds");
    let rest: Vec<u32> = rx.try_iter().collect();
    ensure!(
        rest == [2, 3, 4],
        "the queue holds 2, 3, 4 in order, not {rest:?}"
    );
    Ok(refused)
}

/// Part 1, the pool: one worker, a queue of 2. With the worker busy and the queue full,
/// `try_execute` hands the task back and the caller runs it: the producer slows down by doing
/// the work itself. Returns (tasks run on the pool, tasks run by the caller).
fn pool_caller_runs() -> anyhow::Result<(u64, u64)> {
    let pool = WorkerPool::builder()
        .threads(1)
        .queue_capacity(2)
        .thread_name(|i| format!("pool-{i}"))
        .build()
        .context("could not start the pool")?;
    let (started_tx, started) = crossbeam_channel::bounded::<()>(1);
    let (release, blocked) = crossbeam_channel::bounded::<()>(0);
    pool.execute(move || {
        let _ = started_tx.send(());
        // Blocks until `release` is dropped below: the worker is busy until then.
        let _ = blocked.recv();
    })
    .map_err(|e| anyhow!("the blocking task was refused: {e}"))?;
    started
        .recv_timeout(Duration::from_secs(10))
        .context("the pool's worker never started the blocking task")?;

    let on_pool = std::sync::Arc::new(AtomicU64::new(0));
    let mut by_caller = 0;
    for n in 0..5u64 {
        let counter = std::sync::Arc::clone(&on_pool);
        let task = move || {
            // Relaxed: a count read after `pool.join()`.
            counter.fetch_add(1, Ordering::Relaxed);
            println!("[{}] ran task {n}", me());
        };
        match pool.try_execute(task) {
            Ok(()) => println!("[main] task {n} queued"),
            Err(SubmitError::Full(task)) => {
                println!("[main] task {n}: the queue is full, running it myself");
                task();
                by_caller += 1;
            }
            Err(other) => bail!("task {n} refused: {other}"),
        }
    }
    drop(release);
    pool.join().map_err(|e| anyhow!("{e}"))?;
    // The caller's own runs went through the same counter: take them out.
    let on_pool = on_pool.load(Ordering::Relaxed) - by_caller;
    Ok((on_pool, by_caller))
}

/// What part 2 measured for one queue.
#[derive(Debug)]
struct Growth {
    peak_queued: usize,
    peak_bytes: u64,
    producer_waits: u64,
    checksum: u64,
}

/// Part 2: the producer makes `ITEMS` buffers as fast as it can. The consumer is held back
/// until the producer either finds the queue full (bounded) or has sent everything
/// (unbounded): the worst case, a consumer that falls behind from the start.
fn produce_with_stalled_consumer(bound: Option<usize>) -> anyhow::Result<Growth> {
    let (tx, rx) = match bound {
        Some(n) => crossbeam_channel::bounded::<Vec<u8>>(n),
        None => crossbeam_channel::unbounded::<Vec<u8>>(),
    };
    let (go_tx, go) = crossbeam_channel::bounded::<()>(1);
    let label = match bound {
        Some(n) => format!("bounded-{n}"),
        None => "unbounded".to_owned(),
    };

    // The peak of live bytes is for the whole process, so measure it while only this phase's
    // threads allocate.
    let baseline = process_stats().live_bytes;
    reset_peak();
    let (peak_queued, producer_waits, checksum) = thread::scope(|s| {
        let consumer = thread::Builder::new()
            .name(format!("{label}-consumer"))
            .spawn_scoped(s, move || {
                // Stalled until the producer lets go (or gives up: then `recv` fails).
                let _ = go.recv();
                println!("[{}] starting", me());
                let mut checksum = 0u64;
                for buffer in rx {
                    // The "work": read the whole buffer. Each buffer is freed here, as it is
                    // consumed.
                    checksum += buffer.iter().map(|&b| u64::from(b)).sum::<u64>();
                }
                checksum
            })
            .context("could not spawn the consumer")?;

        let producer = thread::Builder::new()
            .name(format!("{label}-producer"))
            .spawn_scoped(s, move || -> anyhow::Result<(usize, u64)> {
                let mut go = Some(go_tx);
                let mut let_go = |why: &str| {
                    if let Some(go) = go.take() {
                        println!("[{}] {why}: letting the consumer start", me());
                        let _ = go.send(());
                    }
                };
                let (mut peak, mut waits) = (0, 0);
                for i in 0..ITEMS {
                    let buffer = vec![(i % 251) as u8; ITEM_BYTES];
                    let buffer = match tx.try_send(buffer) {
                        Ok(()) => None,
                        Err(TrySendError::Full(buffer)) => Some(buffer),
                        Err(TrySendError::Disconnected(_)) => bail!("the consumer is gone"),
                    };
                    if let Some(buffer) = buffer {
                        // Backpressure: the producer waits for room instead of piling up.
                        waits += 1;
                        let_go("the queue is full");
                        send_or_fail(&tx, buffer)?;
                    }
                    peak = peak.max(tx.len());
                }
                let_go("all sent");
                println!("[{}] made {ITEMS} buffers; queue peak {peak}", me());
                Ok((peak, waits))
                // `tx` is dropped here: the consumer's loop ends once the queue is empty.
            })
            .context("could not spawn the producer")?;

        let (peak, waits) = producer
            .join()
            .map_err(|_| anyhow!("the producer panicked"))??;
        let checksum = consumer
            .join()
            .map_err(|_| anyhow!("the consumer panicked"))?;
        Ok::<_, anyhow::Error>((peak, waits, checksum))
    })?;
    let peak_bytes = process_stats().peak_live_bytes.saturating_sub(baseline);
    println!(
        "[main] {label:>10}: queue peak {peak_queued:>5} buffers, live-bytes peak {:>10.1} KiB, \
         producer waited {producer_waits} times",
        peak_bytes as f64 / 1024.0
    );
    Ok(Growth {
        peak_queued,
        peak_bytes,
        producer_waits,
        checksum,
    })
}

/// A blocking send that fails instead of waiting forever if the consumer stops reading.
fn send_or_fail(tx: &Sender<Vec<u8>>, buffer: Vec<u8>) -> anyhow::Result<()> {
    match tx.send_timeout(buffer, Duration::from_secs(10)) {
        Ok(()) => Ok(()),
        Err(SendTimeoutError::Timeout(_)) => bail!("the consumer stopped reading"),
        Err(SendTimeoutError::Disconnected(_)) => bail!("the consumer is gone"),
    }
}

/// Why a [`TokenBucket`] cannot be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
enum BucketError {
    #[error("a token bucket needs a burst of at least 1 token")]
    ZeroBurst,
    #[error("a token bucket needs a refill rate of at least 1 token per second")]
    ZeroRate,
}

/// A token bucket: up to `burst` tokens, refilled at `per_second` tokens a second, one token
/// per admitted request. Tokens are counted in billionths (one billionth per nanosecond at
/// 1 token/s), so refilling is exact integer arithmetic.
#[derive(Debug)]
struct TokenBucket {
    /// Billionths of a token available now.
    credit: u128,
    max_credit: u128,
    per_second: u128,
    /// When `credit` was last brought up to date.
    last: Instant,
}

/// One token, in the bucket's units.
const TOKEN: u128 = 1_000_000_000;

impl TokenBucket {
    /// A full bucket at time `now`.
    fn new(burst: u32, per_second: u32, now: Instant) -> Result<Self, BucketError> {
        if burst == 0 {
            return Err(BucketError::ZeroBurst);
        }
        if per_second == 0 {
            return Err(BucketError::ZeroRate);
        }
        let max_credit = u128::from(burst) * TOKEN;
        Ok(Self {
            credit: max_credit,
            max_credit,
            per_second: u128::from(per_second),
            last: now,
        })
    }

    /// Takes a token if there is one at time `now`. Time never runs backwards here: a `now`
    /// earlier than the last one refills nothing.
    fn try_acquire_at(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_nanos();
        self.last = self.last.max(now);
        // Nanoseconds x tokens per second = billionths of a token.
        self.credit = (self.credit + elapsed * self.per_second).min(self.max_credit);
        if self.credit >= TOKEN {
            self.credit -= TOKEN;
            true
        } else {
            false
        }
    }
}

/// Part 3 on a clock moved by hand: the counts are exact. Returns (admitted, asked).
fn bucket_on_a_fake_clock() -> Result<(u32, u32), BucketError> {
    let t0 = Instant::now();
    let mut bucket = TokenBucket::new(10, 100, t0)?;
    let mut admitted_total = 0;
    let mut asked_total = 0;
    // (time, requests, admitted): a burst of 10 at once; 50 ms later, 5 tokens have come back
    // (100 a second); a whole second later, the bucket is full again but holds only 10.
    for (at_ms, asked, expected) in [(0, 25, 10), (50, 25, 5), (1_050, 25, 10)] {
        let now = t0 + Duration::from_millis(at_ms);
        let admitted = (0..asked).filter(|_| bucket.try_acquire_at(now)).count() as u32;
        println!("[main] fake clock at {at_ms:>4} ms: {admitted:>2} of {asked} admitted");
        assert_eq!(admitted, expected, "at {at_ms} ms");
        admitted_total += admitted;
        asked_total += asked;
    }
    Ok((admitted_total, asked_total))
}

/// Part 3 on the real clock: 4 threads share one bucket for a while. Returns (admitted, the
/// most that could have been admitted in the time measured).
fn bucket_on_the_real_clock() -> anyhow::Result<(u64, u64)> {
    const BURST: u32 = 20;
    const PER_SECOND: u32 = 200;
    const RUN: Duration = Duration::from_millis(300);
    let start = Instant::now();
    let bucket = Mutex::new(TokenBucket::new(BURST, PER_SECOND, start)?);
    let admitted = AtomicU64::new(0);
    let asked = AtomicU64::new(0);
    thread::scope(|s| {
        for i in 0..4 {
            let (bucket, admitted, asked) = (&bucket, &admitted, &asked);
            thread::Builder::new()
                .name(format!("client-{i}"))
                .spawn_scoped(s, move || {
                    let (mut mine, mut tries) = (0, 0);
                    // A time-limited load, not a wait for anything: each client keeps asking
                    // until its time is up, and asks at least BURST times even if it only got
                    // a core after the time was up (so the burst is always asked for).
                    while tries < u64::from(BURST) || start.elapsed() < RUN {
                        tries += 1;
                        let now = Instant::now();
                        let ok = bucket
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .try_acquire_at(now);
                        if ok {
                            mine += 1;
                        } else {
                            thread::yield_now();
                        }
                    }
                    println!("[{}] {mine} of {tries} requests admitted", me());
                    // Relaxed: totals read after the scope joins the threads.
                    admitted.fetch_add(mine, Ordering::Relaxed);
                    asked.fetch_add(tries, Ordering::Relaxed);
                })
                .expect("could not spawn a client");
        }
    });
    // Measured after every request: no request was made later than this.
    let elapsed = start.elapsed();
    let admitted = admitted.load(Ordering::Relaxed);
    let ceiling = u64::from(BURST) + (elapsed.as_secs_f64() * f64::from(PER_SECOND)) as u64 + 1;
    println!(
        "[main] real clock: {admitted} of {} requests admitted in {:.0} ms ({:.0} a second \
         after the burst of {BURST}; the limit is {PER_SECOND}); at most {ceiling} possible",
        asked.load(Ordering::Relaxed),
        elapsed.as_secs_f64() * 1e3,
        (admitted.saturating_sub(u64::from(BURST))) as f64 / elapsed.as_secs_f64(),
    );
    // The bucket starts full and only requests take tokens: the first BURST requests, of
    // the 4 x BURST at least that were made, are all admitted.
    ensure!(
        admitted >= u64::from(BURST),
        "the first {BURST} requests find a full bucket"
    );
    Ok((admitted, ceiling))
}

fn main() -> anyhow::Result<()> {
    ensure!(
        shared::alloc::is_installed(),
        "the counting allocator should be this program's allocator"
    );

    println!("[main] --- 1. a full queue says no ---");
    let refused = bounded_says_no()?;
    let (on_pool, by_caller) = pool_caller_runs()?;
    println!("[main] pool: {on_pool} tasks ran on the pool, {by_caller} on the caller");
    assert_eq!(refused, 4);
    assert_eq!(
        (on_pool, by_caller),
        (2, 3),
        "a queue of 2 takes 2 tasks while the worker is busy; the caller runs the other 3"
    );

    println!("[main] --- 2. memory: unbounded against bounded, consumer stalled ---");
    let unbounded = produce_with_stalled_consumer(None)?;
    let bounded = produce_with_stalled_consumer(Some(BOUND))?;
    let expected_checksum: u64 = (0..ITEMS)
        .map(|i| (i % 251) as u64 * ITEM_BYTES as u64)
        .sum();
    let buffer_bytes = (ITEMS * ITEM_BYTES) as u64;
    println!(
        "[main] the unbounded queue peaked at {:.1}x the bounded one's bytes",
        unbounded.peak_bytes as f64 / bounded.peak_bytes.max(1) as f64
    );
    assert_eq!(
        unbounded.checksum, expected_checksum,
        "every buffer consumed"
    );
    assert_eq!(bounded.checksum, expected_checksum, "every buffer consumed");
    assert_eq!(
        unbounded.peak_queued, ITEMS,
        "unbounded: all of them waited at once"
    );
    assert_eq!(
        unbounded.producer_waits, 0,
        "unbounded: the producer never waits"
    );
    assert!(
        unbounded.peak_bytes >= buffer_bytes,
        "unbounded: every buffer was alive at once"
    );
    assert_eq!(
        bounded.peak_queued, BOUND,
        "bounded: never more than the bound"
    );
    assert!(
        bounded.producer_waits > 0,
        "bounded: the producer was held back"
    );
    // At most: the queue full, one buffer in the producer's hand, one in the consumer's.
    let bounded_ceiling = ((BOUND + 2) * ITEM_BYTES) as u64 + OVERHEAD_BYTES;
    assert!(
        bounded.peak_bytes <= bounded_ceiling,
        "bounded: peak {} B, more than {bounded_ceiling} B",
        bounded.peak_bytes
    );

    println!("[main] --- 3. rate limiting with a token bucket ---");
    let (fake_admitted, fake_asked) = bucket_on_a_fake_clock()?;
    assert_eq!((fake_admitted, fake_asked), (25, 75));
    let (real_admitted, ceiling) = bucket_on_the_real_clock()?;
    assert!(
        real_admitted <= ceiling,
        "never more than burst + rate x time: {real_admitted} > {ceiling}"
    );
    assert_eq!(
        TokenBucket::new(0, 1, Instant::now()).unwrap_err(),
        BucketError::ZeroBurst
    );
    assert_eq!(
        TokenBucket::new(1, 0, Instant::now()).unwrap_err(),
        BucketError::ZeroRate
    );

    println!(
        "result: try_send handed back item {refused}, unbounded peak {} queued / {:.1} MiB, \
         bounded peak {} queued / {:.0} KiB, token bucket admitted {fake_admitted} of \
         {fake_asked} on the fake clock and {real_admitted} (at most {ceiling}) on the real one",
        unbounded.peak_queued,
        unbounded.peak_bytes as f64 / (1024.0 * 1024.0),
        bounded.peak_queued,
        bounded.peak_bytes as f64 / 1024.0
    );
    Ok(())
}
