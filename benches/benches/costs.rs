//! Costs: what the pieces of a multi-threaded program cost, the numbers that decide when
//! threads pay off.
//!
//! Six criterion groups:
//!
//! | group | what one iteration does | the Node.js idea it measures |
//! |---|---|---|
//! | `dispatch` | one tiny task run on another thread and its result awaited: a new thread (`spawn` + `join`), the pool's `submit` + `join`, the pool's `execute` + a channel, and `inline` as the floor | `new Worker()` per task against a pool |
//! | `round_trip` | one message to an echo thread and its answer back: std `mpsc`, crossbeam bounded (1), unbounded, zero-capacity, and `shared::Worker`'s `post` + events | `postMessage` there and back |
//! | `transfer_1KB`, `transfer_1MB`, `transfer_100MB` | a buffer handed to another thread, which reads a byte and answers: moved (and moved back), cloned, or an `Arc` clone | structured clone against `transferList` against `SharedArrayBuffer` |
//! | `counter` | two threads add 1 to one counter 100,000 times each: an `AtomicU64`, a `Mutex<u64>`, or a count of their own added up at the end; `two_threads_only` is the floor (start and join two threads) | `Atomics.add` on a `SharedArrayBuffer` |
//! | `false_sharing` | two threads each increment their own counter 1,000,000 times: counters side by side on one cache line, or each on its own (`CachePadded`) | two workers writing neighbouring slots of one `Int32Array` |
//! | `timeline` | one tiny computation inside a `shared::timeline` span: recorded (`span_recorded`), on a disabled timeline (`span_disabled`), and with no span at all (`no_span`) as the floor | `performance.mark` + `measure` around a call |
//!
//! Every form's result is checked once before timing (the echo's answer, the buffer's pointer
//! and a byte, the counters' totals, the number of spans recorded). Compare forms within a group, as ratios; the absolute
//! times belong to this machine at this moment. A run takes about a minute on two cores:
//!
//! ```text
//! cargo bench -p benches --bench costs                  # everything
//! cargo bench -p benches --bench costs -- round_trip    # one group
//! cargo bench -p benches --bench costs -- transfer_1MB  # one size
//! cargo bench -p benches --bench costs -- --test        # run each once, as a check
//! ```

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, SamplingMode, Throughput};
use crossbeam_channel::{Receiver, Sender};
use crossbeam_utils::CachePadded;
use shared::pool::WorkerPool;
use shared::timeline::Timeline;
use shared::worker::{Event, Worker};
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier, Mutex, PoisonError, mpsc};
use std::thread;
use std::time::{Duration, Instant};

/// Increments per thread in `counter`.
const COUNTER_INCREMENTS: u64 = 100_000;
/// Increments per thread in `false_sharing`.
const SHARING_INCREMENTS: u64 = 1_000_000;
/// The buffer sizes of the `transfer` groups (decimal units, as the Node course's "100 MB").
const TRANSFER_SIZES: [(&str, usize); 3] =
    [("1KB", 1_000), ("1MB", 1_000_000), ("100MB", 100_000_000)];

fn main() {
    // What `criterion_group!` and `criterion_main!` would generate.
    // 10,000 bootstrap resamples rather than criterion's 100,000: the analysis then takes a
    // fraction of a second per benchmark instead of several on two busy cores, and the
    // confidence intervals barely widen. `--nresamples` on the command line still wins.
    let mut criterion = Criterion::default()
        .nresamples(10_000)
        .configure_from_args();
    dispatch(&mut criterion);
    round_trip(&mut criterion);
    for (label, size) in TRANSFER_SIZES {
        transfer(&mut criterion, label, size);
    }
    counter(&mut criterion);
    false_sharing(&mut criterion);
    timeline(&mut criterion);
    criterion.final_summary();
}

/// A group for nanosecond-to-microsecond benchmarks: many samples over a short window.
fn short_group<'a>(criterion: &'a mut Criterion, name: &str) -> BenchmarkGroup<'a, WallTime> {
    let mut group = criterion.benchmark_group(name);
    group
        .sample_size(50)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_millis(1500));
    group
}

/// A group for millisecond benchmarks: criterion's minimum of 10 samples, each of as few
/// iterations as fill the window.
fn long_group<'a>(criterion: &'a mut Criterion, name: &str) -> BenchmarkGroup<'a, WallTime> {
    let mut group = criterion.benchmark_group(name);
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2));
    group
}

// ---------------------------------------------------------------------------------------------
// dispatch: a thread per task against the pool
// ---------------------------------------------------------------------------------------------

/// One tiny task's work: a multiply and a rotate on an input the optimiser cannot see through
/// (the same as `pool.rs`'s tiny tasks).
fn tiny(i: u64) -> u64 {
    black_box(i)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .rotate_left(17)
}

fn dispatch(criterion: &mut Criterion) {
    let cores = benches::stats::available_cores();
    // Built once: the point is what each task costs once a pool exists.
    let pool = WorkerPool::new(cores).expect("a worker pool");
    let (done_tx, done_rx) = crossbeam_channel::bounded::<u64>(1);

    let spawn_join = |i| {
        thread::spawn(move || tiny(i))
            .join()
            .expect("a tiny task does not panic")
    };
    let submit_join = |i| {
        pool.submit(move || tiny(i))
            .expect("the pool is open")
            .join()
            .expect("a tiny task does not fail")
    };
    let execute = |i| {
        let done = done_tx.clone();
        pool.execute(move || done.send(tiny(i)).expect("the caller waits for it"))
            .expect("the pool is open");
        done_rx.recv().expect("the task sends before it ends")
    };
    let forms: [(&str, &dyn Fn(u64) -> u64); 4] = [
        ("inline", &tiny),
        ("thread_spawn_join", &spawn_join),
        ("pool_submit_join", &submit_join),
        ("pool_execute_channel", &execute),
    ];
    for (name, run) in forms {
        for i in [0, 7, 1 << 40] {
            assert_eq!(run(i), tiny(i), "dispatch/{name}: wrong result");
        }
    }

    let mut group = short_group(criterion, "dispatch");
    for (name, run) in forms {
        group.bench_function(name, |b| {
            let mut i = 0_u64;
            b.iter(|| {
                i += 1;
                run(i)
            })
        });
    }
    group.finish();
}

// ---------------------------------------------------------------------------------------------
// round_trip: one message there and back
// ---------------------------------------------------------------------------------------------

fn round_trip(criterion: &mut Criterion) {
    let mut group = short_group(criterion, "round_trip");

    {
        let (to_echo, from_caller) = mpsc::channel::<u64>();
        let (to_caller, from_echo) = mpsc::channel::<u64>();
        let echo = spawn_echo("echo-mpsc", move || {
            for n in from_caller {
                if to_caller.send(n + 1).is_err() {
                    break;
                }
            }
        });
        bench_trip(&mut group, "std_mpsc", |n| {
            to_echo.send(n).expect("the echo thread runs");
            from_echo.recv().expect("the echo thread answers")
        });
        drop(to_echo); // ends the echo's loop
        echo.join().expect("the echo thread does not panic");
    }

    for (name, capacity) in [
        ("crossbeam_bounded_1", Some(1)),
        ("crossbeam_unbounded", None),
        ("crossbeam_zero_capacity", Some(0)),
    ] {
        let (to_echo, from_caller) = crossbeam_pair(capacity);
        let (to_caller, from_echo) = crossbeam_pair(capacity);
        let echo = spawn_echo(name, move || {
            for n in from_caller {
                if to_caller.send(n + 1).is_err() {
                    break;
                }
            }
        });
        bench_trip(&mut group, name, |n| {
            to_echo.send(n).expect("the echo thread runs");
            from_echo.recv().expect("the echo thread answers")
        });
        drop(to_echo);
        echo.join().expect("the echo thread does not panic");
    }

    {
        let worker = Worker::<u64, u64>::spawn("echo-worker", (), |(), ctx| {
            while let Some(n) = ctx.recv() {
                ctx.post(n + 1);
            }
        })
        .expect("the worker's thread starts");
        assert_eq!(worker.recv_event(), Some(Event::Online));
        bench_trip(&mut group, "shared_worker", |n| {
            worker.post(n).expect("the worker runs");
            match worker.recv_event() {
                Some(Event::Message(answer)) => answer,
                other => panic!("round_trip/shared_worker: expected an answer, got {other:?}"),
            }
        });
        worker.terminate();
    }
    group.finish();
}

fn crossbeam_pair(capacity: Option<usize>) -> (Sender<u64>, Receiver<u64>) {
    match capacity {
        Some(n) => crossbeam_channel::bounded(n),
        None => crossbeam_channel::unbounded(),
    }
}

fn spawn_echo(name: &str, body: impl FnOnce() + Send + 'static) -> thread::JoinHandle<()> {
    thread::Builder::new()
        .name(name.to_owned())
        .spawn(body)
        .expect("the echo thread starts")
}

/// Checks that `trip(n)` comes back as `n + 1`, then times it.
fn bench_trip(group: &mut BenchmarkGroup<'_, WallTime>, name: &str, trip: impl Fn(u64) -> u64) {
    for n in [0, 1, 41, 1 << 40] {
        assert_eq!(
            trip(n),
            n + 1,
            "round_trip/{name}: the echo came back wrong"
        );
    }
    group.bench_function(name, |b| {
        let mut n = 0_u64;
        b.iter(|| {
            n = trip(black_box(n));
            n
        })
    });
}

// ---------------------------------------------------------------------------------------------
// transfer: move, clone, Arc
// ---------------------------------------------------------------------------------------------

/// What the caller hands to the receiving thread.
enum Parcel {
    /// The buffer itself, moved: the receiver sends it back the same way.
    Moved(Vec<u8>),
    /// A fresh copy, which the receiver drops (freeing it is part of a copy's cost).
    Cloned(Vec<u8>),
    /// One more reference to a shared buffer, which the receiver drops.
    Shared(Arc<[u8]>),
}

/// What the receiver answers: where the bytes it got live, the middle byte, and the buffer
/// itself if it was moved.
struct Receipt {
    address: usize,
    middle: u8,
    returned: Option<Vec<u8>>,
}

fn transfer(criterion: &mut Criterion, label: &str, size: usize) {
    let (to_receiver, parcels) = crossbeam_channel::bounded::<Parcel>(1);
    let (to_caller, receipts) = crossbeam_channel::bounded::<Receipt>(1);
    let receiver = spawn_echo("receiver", move || {
        for parcel in parcels {
            let look = |bytes: &[u8]| (bytes.as_ptr() as usize, bytes[bytes.len() / 2]);
            let receipt = match parcel {
                Parcel::Moved(buffer) => {
                    let (address, middle) = look(&buffer);
                    Receipt {
                        address,
                        middle,
                        returned: Some(buffer),
                    }
                }
                Parcel::Cloned(buffer) => {
                    let (address, middle) = look(&buffer);
                    drop(buffer);
                    Receipt {
                        address,
                        middle,
                        returned: None,
                    }
                }
                Parcel::Shared(buffer) => {
                    let (address, middle) = look(&buffer);
                    drop(buffer);
                    Receipt {
                        address,
                        middle,
                        returned: None,
                    }
                }
            };
            if to_caller.send(receipt).is_err() {
                break;
            }
        }
    });
    let send = |parcel| {
        to_receiver.send(parcel).expect("the receiver runs");
        receipts.recv().expect("the receiver answers")
    };

    // Not zeros: a zeroed allocation can be lazily mapped, and its copy would be unrealistic.
    let buffer: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
    let shared: Arc<[u8]> = Arc::from(buffer.as_slice());
    let middle = buffer[size / 2];

    // The checks: a move and an `Arc` reach the other thread at the same address (no byte
    // copied), a clone at another; every one with the right contents.
    let original = buffer.as_ptr() as usize;
    let moved = send(Parcel::Moved(buffer));
    let buffer = moved.returned.expect("a moved buffer comes back");
    assert_eq!(
        (moved.address, buffer.as_ptr() as usize, moved.middle),
        (original, original, middle),
        "transfer_{label}/move: the buffer was copied"
    );
    let cloned = send(Parcel::Cloned(buffer.clone()));
    assert!(
        cloned.address != original && cloned.middle == middle,
        "transfer_{label}/clone: not a copy"
    );
    let arc = send(Parcel::Shared(Arc::clone(&shared)));
    assert_eq!(
        (arc.address, arc.middle),
        (shared.as_ptr() as usize, middle),
        "transfer_{label}/arc: the bytes were copied"
    );

    let mut group = if size >= 100_000_000 {
        long_group(criterion, &format!("transfer_{label}"))
    } else {
        short_group(criterion, &format!("transfer_{label}"))
    };
    let mut slot = Some(buffer);
    group.bench_function("move", |b| {
        b.iter(|| {
            let buffer = slot.take().expect("the buffer is back between runs");
            let receipt = send(Parcel::Moved(buffer));
            slot = receipt.returned;
            receipt.middle
        })
    });
    let buffer = slot.take().expect("the buffer is back after the runs");
    group.bench_function("clone", |b| {
        b.iter(|| send(Parcel::Cloned(buffer.clone())).middle)
    });
    group.bench_function("arc", |b| {
        b.iter(|| send(Parcel::Shared(Arc::clone(&shared))).middle)
    });
    group.finish();

    drop(to_receiver);
    receiver.join().expect("the receiver does not panic");
}

// ---------------------------------------------------------------------------------------------
// counter: one contended counter against per-thread counts
// ---------------------------------------------------------------------------------------------

/// Runs `work(0)` and `work(1)` on two new threads that start together (a barrier), and waits
/// for both.
fn on_two_threads(work: impl Fn(usize) + Sync) {
    let start = Barrier::new(2);
    thread::scope(|s| {
        for t in 0..2 {
            let (start, work) = (&start, &work);
            s.spawn(move || {
                start.wait();
                work(t);
            });
        }
    });
}

fn counter(criterion: &mut Criterion) {
    let atomic = || {
        let counter = AtomicU64::new(0);
        on_two_threads(|_| {
            for _ in 0..COUNTER_INCREMENTS {
                // Relaxed: only the count matters, and the scope's join publishes it.
                counter.fetch_add(black_box(1), Ordering::Relaxed);
            }
        });
        counter.into_inner()
    };
    let mutex = || {
        let counter = Mutex::new(0_u64);
        on_two_threads(|_| {
            for _ in 0..COUNTER_INCREMENTS {
                *counter.lock().unwrap_or_else(PoisonError::into_inner) += black_box(1);
            }
        });
        counter.into_inner().unwrap_or_else(PoisonError::into_inner)
    };
    let per_thread = || {
        let total = AtomicU64::new(0);
        on_two_threads(|_| {
            let mut mine = 0_u64;
            for _ in 0..COUNTER_INCREMENTS {
                mine += black_box(1);
            }
            // Relaxed: one add per thread, published by the scope's join.
            total.fetch_add(mine, Ordering::Relaxed);
        });
        total.into_inner()
    };
    let two_threads_only = || {
        on_two_threads(|_| {});
        2 * COUNTER_INCREMENTS
    };
    let forms: [(&str, &dyn Fn() -> u64); 4] = [
        ("atomic_fetch_add", &atomic),
        ("mutex", &mutex),
        ("per_thread_then_reduce", &per_thread),
        ("two_threads_only", &two_threads_only),
    ];
    for (name, run) in forms {
        assert_eq!(
            run(),
            2 * COUNTER_INCREMENTS,
            "counter/{name}: lost updates"
        );
    }

    let mut group = long_group(criterion, "counter");
    group.throughput(Throughput::Elements(2 * COUNTER_INCREMENTS));
    for (name, run) in forms {
        group.bench_function(name, |b| b.iter(run));
    }
    group.finish();
}

// ---------------------------------------------------------------------------------------------
// false_sharing: neighbouring counters against padded ones
// ---------------------------------------------------------------------------------------------

/// Two counters on one cache line: 64-byte aligned, so the pair never straddles two lines.
#[repr(C, align(64))]
struct Adjacent([AtomicU64; 2]);

/// Two counters, each alone on its cache line (128 bytes on x86-64, where the prefetcher
/// fetches lines in pairs).
struct Padded([CachePadded<AtomicU64>; 2]);

/// Each of two threads increments `counters[t]` and nothing else: no value is shared, so
/// the only thing that can slow one thread down is the other's counter sitting on the same
/// cache line. A `fetch_add` needs the line in its own core's cache for every increment, so
/// a shared line moves between the cores again and again. (A relaxed load and store would do
/// as a counter with one writer, but the store buffer then batches the writes and hides part
/// of the effect: 1.9x instead of 3x in a trial on the course's machine.)
fn count_apart(counters: [&AtomicU64; 2]) -> [u64; 2] {
    on_two_threads(|t| {
        let counter = counters[t];
        for _ in 0..SHARING_INCREMENTS {
            // Relaxed: each counter has one writer; the scope's join publishes the result.
            counter.fetch_add(1, Ordering::Relaxed);
        }
    });
    counters.map(|c| c.load(Ordering::Relaxed))
}

fn false_sharing(criterion: &mut Criterion) {
    let adjacent = || {
        let pair = Adjacent([AtomicU64::new(0), AtomicU64::new(0)]);
        count_apart([&pair.0[0], &pair.0[1]])
    };
    let padded = || {
        let pair = Padded([
            CachePadded::new(AtomicU64::new(0)),
            CachePadded::new(AtomicU64::new(0)),
        ]);
        count_apart([&pair.0[0], &pair.0[1]])
    };
    let forms: [(&str, &dyn Fn() -> [u64; 2]); 2] =
        [("adjacent", &adjacent), ("cache_padded", &padded)];
    for (name, run) in forms {
        assert_eq!(
            run(),
            [SHARING_INCREMENTS; 2],
            "false_sharing/{name}: wrong counts"
        );
    }
    // The layouts themselves: one line for both, or a line each.
    let pair = Adjacent([AtomicU64::new(0), AtomicU64::new(0)]);
    let line = |c: &AtomicU64| c as *const AtomicU64 as usize / 64;
    assert_eq!(line(&pair.0[0]), line(&pair.0[1]), "adjacent: two lines");
    assert!(std::mem::size_of::<CachePadded<AtomicU64>>() >= 64);

    let mut group = long_group(criterion, "false_sharing");
    group.throughput(Throughput::Elements(2 * SHARING_INCREMENTS));
    for (name, run) in forms {
        group.bench_function(name, |b| b.iter(run));
    }
    group.finish();
}

// ---------------------------------------------------------------------------------------------
// timeline: what a span costs, recorded and disabled
// ---------------------------------------------------------------------------------------------

/// The time `iters` tiny computations take, each inside a span of `timeline` if `span` is
/// set. The `else` loop is the same body without a span.
fn spans(timeline: &Timeline, span: bool, iters: u64) -> Duration {
    let work = timeline.label("work");
    let start = Instant::now();
    if span {
        for i in 0..iters {
            let _span = timeline.span(work);
            black_box(tiny(i));
        }
    } else {
        for i in 0..iters {
            black_box(tiny(i));
        }
    }
    start.elapsed()
}

fn timeline(criterion: &mut Criterion) {
    // Each sample records into a timeline of its own, dropped after it: the spans of a whole
    // run would otherwise pile up in memory (24 bytes each).
    let recorded = || Timeline::new("costs");
    let forms: [(&str, &dyn Fn() -> Timeline, bool); 3] = [
        ("span_recorded", &recorded, true),
        ("span_disabled", &Timeline::disabled, true),
        ("no_span", &Timeline::disabled, false),
    ];
    for (name, make, span) in forms {
        let timeline = make();
        spans(&timeline, span, 1_000);
        let recorded: usize = timeline
            .finish()
            .threads()
            .iter()
            .map(|r| r.spans.len())
            .sum();
        let expected = if timeline.is_enabled() { 1_000 } else { 0 };
        assert_eq!(recorded, expected, "timeline/{name}: spans recorded");
    }

    let mut group = criterion.benchmark_group("timeline");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    for (name, make, span) in forms {
        group.bench_function(name, |b| b.iter_custom(|iters| spans(&make(), span, iters)));
    }
    group.finish();
}
