//! # Lesson l3-23: false sharing, and `CachePadded`
//!
//! Replaces: nothing in the Node course (a `SharedArrayBuffer`'s layout is left to chance).
//! Shows: two threads each increment their *own* counter. When the two counters sit in one
//! cache line, every increment steals the line from the other core; with each counter in a
//! `crossbeam_utils::CachePadded`, they do not interfere.
//!
//! New here: `CachePadded<T>` (crate `crossbeam-utils`) wraps a value and pads and aligns it to
//! a cache line (128 bytes on x86-64, where the hardware fetches lines in adjacent pairs), so
//! that no other value shares its line. Guide 06 explains cache lines.
//!
//! Run: `cargo run --release --example l3-23-false-sharing` (a debug build's times say little)
//!
//! Expect: the two layouts' distances, a time ratio, best of 5 interleaved rounds (printed,
//! never asserted: it needs the two threads on two cores at the same moment; a busy machine, or
//! two vCPUs sharing one physical core, shrinks it towards 1x; below 1.5x the lesson says how
//! busy the rest of the machine was, `shared::timing::CpuWatch`), then `result: 2 x 5000000
//! increments counted either way, side by side / padded Nx (times vary by machine)`.

use crossbeam_utils::CachePadded;
use shared::timing::{CpuWatch, ratio};
use std::mem::offset_of;
use std::sync::Barrier;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// Increments per thread.
const INCREMENTS: u64 = 5_000_000;
/// Each time is the best of this many rounds; a round runs both layouts once.
const ROUNDS: usize = 5;

fn main() {
    let watch = CpuWatch::start();
    let (mut shared_best, mut padded_best) = (Duration::MAX, Duration::MAX);
    let (mut shared, mut padded) = ((false, (0, 0)), (false, (0, 0)));
    for _ in 0..ROUNDS {
        let (same_line, counts, time) = race_once::<SideBySide>(|c| (&c.a, &c.b));
        (shared, shared_best) = ((same_line, counts), shared_best.min(time));
        let (same_line, counts, time) = race_once::<Padded>(|c| (&c.a, &c.b));
        (padded, padded_best) = ((same_line, counts), padded_best.min(time));
    }
    let distance = |a: usize, b: usize| b - a;
    println!(
        "[main] side by side: {} bytes apart, one cache line: {}",
        distance(offset_of!(SideBySide, a), offset_of!(SideBySide, b)),
        shared.0
    );
    println!(
        "[main] CachePadded:  {} bytes apart, one cache line: {}",
        distance(offset_of!(Padded, a), offset_of!(Padded, b)),
        padded.0
    );
    let false_sharing = ratio(shared_best, padded_best);
    println!("[main] time: side by side / padded = {false_sharing:.2}x");
    if let Some(note) = watch.shortfall_note(false_sharing, 1.5) {
        println!("[main] {note}");
    }

    assert!(shared.0 && !padded.0, "one line shared, then two lines");
    assert_eq!(shared.1, (INCREMENTS, INCREMENTS));
    assert_eq!(padded.1, (INCREMENTS, INCREMENTS));
    println!(
        "result: 2 x {INCREMENTS} increments counted either way, side by side / padded \
         {false_sharing:.2}x (times vary by machine)"
    );
}

/// Two counters side by side, in one 64-byte cache line (the alignment makes sure of it).
#[derive(Debug, Default)]
#[repr(C, align(64))]
struct SideBySide {
    a: AtomicU64,
    b: AtomicU64,
}

/// Two counters, each padded and aligned to its own cache line.
#[derive(Debug, Default)]
struct Padded {
    a: CachePadded<AtomicU64>,
    b: CachePadded<AtomicU64>,
}

/// Runs `race` once on fresh counters; returns whether the two counters share a 64-byte cache
/// line, their final counts, and the time.
fn race_once<C: Default>(
    counters: fn(&C) -> (&AtomicU64, &AtomicU64),
) -> (bool, (u64, u64), Duration) {
    let c = C::default();
    let (a, b) = counters(&c);
    let time = race(a, b);
    let line = |counter: &AtomicU64| (counter as *const AtomicU64 as usize) / 64;
    let counts = (a.load(Ordering::Relaxed), b.load(Ordering::Relaxed));
    (line(a) == line(b), counts, time)
}

/// Two threads, started together at a `Barrier`, each adding 1 to its own counter INCREMENTS
/// times. Returns the time from the start until both have finished.
fn race(a: &AtomicU64, b: &AtomicU64) -> Duration {
    let gate = Barrier::new(3);
    let mut started = None;
    thread::scope(|s| {
        for counter in [a, b] {
            let gate = &gate;
            s.spawn(move || {
                gate.wait();
                for _ in 0..INCREMENTS {
                    // Relaxed: a plain tally with one writer, read after the scope joins.
                    counter.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        gate.wait();
        started = Some(Instant::now());
        // The scope joins both threads when this closure returns.
    });
    started.map_or(Duration::ZERO, |at| at.elapsed())
}
