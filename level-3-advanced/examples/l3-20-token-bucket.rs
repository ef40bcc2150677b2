//! # Lesson l3-20: rate limiting with a token bucket
//!
//! Replaces: nothing in the Node course, which has no rate limiter; in Node one would reach for
//! a package such as `limiter`. Shows: a token bucket. Tokens refill with elapsed time, up to a
//! burst, and each admitted request takes one. First on a clock the lesson moves by hand (so
//! the counts are exact), then shared by 4 threads in a `Mutex` on the real clock, where what
//! is admitted stays within burst + rate x time.
//!
//! Run: `cargo run --release --example l3-20-token-bucket`
//!
//! Expect: the admitted counts at each fake time, each client's count on the real clock, then
//! `result: token bucket admitted 25 of 75 on the fake clock and N (at most M) on the real one`.

use anyhow::ensure;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};
use thiserror::Error;

fn main() -> anyhow::Result<()> {
    let (fake_admitted, fake_asked) = bucket_on_a_fake_clock()?;
    let (real_admitted, ceiling) = bucket_on_the_real_clock()?;

    assert_eq!((fake_admitted, fake_asked), (25, 75));
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
        "result: token bucket admitted {fake_admitted} of {fake_asked} on the fake clock and \
         {real_admitted} (at most {ceiling}) on the real one"
    );
    Ok(())
}

/// On a clock moved by hand: the counts are exact. Returns (admitted, asked).
fn bucket_on_a_fake_clock() -> Result<(u32, u32), BucketError> {
    let t0 = Instant::now();
    let mut bucket = TokenBucket::new(10, 100, t0)?;
    let (mut admitted_total, mut asked_total) = (0, 0);
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

/// Why a [`TokenBucket`] cannot be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
enum BucketError {
    #[error("a token bucket needs a burst of at least 1 token")]
    ZeroBurst,
    #[error("a token bucket needs a refill rate of at least 1 token per second")]
    ZeroRate,
}

/// Up to `burst` tokens, refilled at `per_second` tokens a second, one token per admitted
/// request. Tokens are counted in billionths (one billionth per nanosecond at 1 token/s), so
/// refilling is exact integer arithmetic.
#[derive(Debug)]
struct TokenBucket {
    /// Billionths of a token available now, at most `max_credit`.
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
        let per_second = u128::from(per_second);
        Ok(Self {
            credit: max_credit,
            max_credit,
            per_second,
            last: now,
        })
    }

    /// Takes a token if there is one at time `now`. A `now` earlier than the last refills
    /// nothing: time never runs backwards here.
    fn try_acquire_at(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_nanos();
        self.last = self.last.max(now);
        // Nanoseconds x tokens per second = billionths of a token.
        self.credit = (self.credit + elapsed * self.per_second).min(self.max_credit);
        let ok = self.credit >= TOKEN;
        if ok {
            self.credit -= TOKEN;
        }
        ok
    }
}

/// On the real clock: 4 threads share one bucket for a while. Returns (admitted, the most that
/// could have been admitted in the time measured).
fn bucket_on_the_real_clock() -> anyhow::Result<(u64, u64)> {
    const BURST: u32 = 20;
    const PER_SECOND: u32 = 200;
    const RUN: Duration = Duration::from_millis(300);
    let start = Instant::now();
    let bucket = Mutex::new(TokenBucket::new(BURST, PER_SECOND, start)?);
    let (admitted, asked) = (AtomicU64::new(0), AtomicU64::new(0));
    thread::scope(|s| {
        for i in 0..4 {
            let (bucket, admitted, asked) = (&bucket, &admitted, &asked);
            s.spawn(move || {
                let (mut mine, mut tries) = (0, 0);
                // A time-limited load, not a wait for anything: each client keeps asking until
                // its time is up, and asks at least BURST times even if it only got a core
                // after the time was up (so the burst is always asked for).
                while tries < u64::from(BURST) || start.elapsed() < RUN {
                    tries += 1;
                    let now = Instant::now();
                    let mut bucket = bucket.lock().unwrap_or_else(PoisonError::into_inner);
                    if bucket.try_acquire_at(now) {
                        mine += 1;
                    } else {
                        drop(bucket);
                        thread::yield_now();
                    }
                }
                println!("[client-{i}] {mine} of {tries} requests admitted");
                // Relaxed: totals read after the scope joins the threads.
                admitted.fetch_add(mine, Ordering::Relaxed);
                asked.fetch_add(tries, Ordering::Relaxed);
            });
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
    // The bucket starts full and only requests take tokens: the first BURST requests, of the
    // 4 x BURST at least that were made, are all admitted.
    ensure!(
        admitted >= u64::from(BURST),
        "the first {BURST} requests find a full bucket"
    );
    Ok((admitted, ceiling))
}
