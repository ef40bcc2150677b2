//! Tests of exercise l3-ex02 (bounded ring buffer).
//!
//! `cargo test` runs them against the reference solution; `cargo exercise check l3-ex02` runs
//! them against your file, `level-3-advanced/src/exercises/ex02_ring_buffer.rs`.
//!
//! No test depends on timing to pass. Every blocking call runs under a deadline
//! (`run_within`, `join_within`), so a lost wake-up fails a test instead of hanging it. Three
//! tests pause briefly so that their threads are most likely asleep in `pop` or `push` when the
//! ring is closed; they pass just the same if a thread is not asleep yet, and the pause only
//! makes them test the wake-up rather than the check before the wait.
//!
//! | promise | test | independent of scheduling and load because |
//! |---|---|---|
//! | two producers, one consumer: exactly the 40 values, each once, each producer's in order | `two_producers_and_one_consumer_lose_nothing_and_duplicate_nothing` | a correct ring gives that multiset and per-producer order under every interleaving |
//! | a full ring makes `push` wait, never drop the item | `a_full_ring_makes_push_wait_instead_of_dropping_the_item` | 200 values through a ring of 2: a dropped one is missing whatever the timing; the consumer's waits have deadlines |
//! | `len` never exceeds `capacity`, checked while producers and consumers run | every multi-thread test, after each push and pop | a correct ring never holds more; a push that does not re-check after waking overfills it often in 20,000 pushes by 4 producers |
//! | the 11th `push_timeout` into a full ring of 10 is `Full(value)`; after a pop it fits; FIFO | `the_eleventh_push_into_a_full_ring_of_ten_times_out_with_the_value_back` | one thread: no consumer exists to make room |
//! | `pop_timeout` on an empty ring is `None`, not before the timeout | `pop_timeout_on_an_empty_ring_gives_none_after_the_timeout` | one thread; only a lower bound on the elapsed time, which a correct answer always meets |
//! | `close` wakes a consumer in `pop` and a producer in `push`, which gets its value back | `close_wakes_a_consumer_blocked_in_pop`, `close_wakes_a_producer_blocked_in_push_and_hands_its_value_back` | a waiter not yet asleep sees `closed` and returns the same; the pause only makes the wake-up the likely path |
//! | `close` wakes every waiter, not one | `close_wakes_every_blocked_consumer_and_every_blocked_producer` | the same; three waiters of each kind, so a `notify_one` close leaves two asleep (failing at the join's deadline) whenever at least two were asleep, which the pause makes near certain |
//! | after `close`, pushes are refused with their value and consumers drain what was queued, then `None` | `after_close_pushes_are_refused_and_consumers_drain_what_is_left` | one thread |
//! | `new(0)` is `ZeroCapacity` | `a_capacity_of_zero_is_refused_with_a_clear_error` | no threads |
//! | 4 producers, 4 consumers, a ring of 4: counts, sums and values add up | `four_producers_and_four_consumers_through_a_ring_of_four_add_up` | sums and multisets, not times |

// The code under test: your file when `cargo exercise check l3-ex02` turns the `learner`
// feature on (and in rust-analyzer, so that your editor checks it), the reference solution in a
// plain `cargo test`. Your file is compiled into this test alone: a mistake in it breaks no
// other exercise, lesson or test.
#[cfg(any(feature = "learner", rust_analyzer))]
#[path = "../src/exercises/ex02_ring_buffer.rs"]
#[allow(dead_code)] // the items the tests do not call are part of the exercise all the same
mod under_test;
#[cfg(not(any(feature = "learner", rust_analyzer)))]
use level_3_advanced::solutions::ex02_ring_buffer as under_test;

use shared::testing::{TIMEOUT, join_within, recv_or_fail, run_within};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};
use under_test::{Closed, PushError, RingBuffer, ZeroCapacity};

/// A ring, failing the test if `new` refuses a valid capacity.
fn ring<T>(capacity: usize) -> RingBuffer<T> {
    RingBuffer::new(capacity).unwrap_or_else(|e| panic!("RingBuffer::new({capacity}) failed: {e}"))
}

/// Asserts the ring's length is within its capacity; called by producers and consumers while
/// they run.
#[track_caller]
fn assert_within_capacity<T>(ring: &RingBuffer<T>, who: &str) {
    let (len, capacity) = (ring.len(), ring.capacity());
    assert!(
        len <= capacity,
        "{who} saw {len} items in a ring of capacity {capacity}"
    );
}

/// Pops everything until the end of the stream (closed and empty), checking the length after
/// each pop.
fn drain(ring: &RingBuffer<u64>, who: &str) -> Vec<u64> {
    let mut got = Vec::new();
    while let Some(value) = ring.pop() {
        assert_within_capacity(ring, who);
        got.push(value);
    }
    got
}

#[test]
fn two_producers_and_one_consumer_lose_nothing_and_duplicate_nothing() {
    let (consumed, from_first, from_second) =
        run_within(TIMEOUT, "2 producers, 1 consumer", || {
            let ring = ring::<u64>(10);
            thread::scope(|s| {
                let consumer = s.spawn(|| drain(&ring, "the consumer"));
                let producers: Vec<_> = [0..20, 1000..1020]
                    .into_iter()
                    .map(|values| {
                        let ring = &ring;
                        s.spawn(move || {
                            for v in values {
                                ring.push(v).expect("the ring is open while producers run");
                                assert_within_capacity(ring, "a producer");
                            }
                        })
                    })
                    .collect();
                for producer in producers {
                    producer.join().expect("a producer panicked");
                }
                // Every value is in (or through) the ring: end the stream.
                ring.close();
                let consumed = consumer.join().expect("the consumer panicked");
                let from = |lo: u64, hi: u64| -> Vec<u64> {
                    consumed
                        .iter()
                        .copied()
                        .filter(|v| (lo..hi).contains(v))
                        .collect()
                };
                let (first, second) = (from(0, 20), from(1000, 1020));
                (consumed, first, second)
            })
        });
    // Each producer's values come out in the order it pushed them: the ring is FIFO.
    assert_eq!(from_first, (0..20).collect::<Vec<_>>());
    assert_eq!(from_second, (1000..1020).collect::<Vec<_>>());
    // The multiset consumed is the multiset produced: nothing lost, nothing duplicated.
    let mut sorted = consumed;
    sorted.sort_unstable();
    let expected: Vec<u64> = (0..20).chain(1000..1020).collect();
    assert_eq!(
        sorted, expected,
        "the values consumed (sorted) must be exactly the values produced"
    );
}

#[test]
fn a_full_ring_makes_push_wait_instead_of_dropping_the_item() {
    // One producer pushes 200 values through a ring of 2 with blocking `push`; the consumer
    // takes them one at a time. A push that gave up on a full ring would lose values.
    // The outer deadline is longer than the consumer's own, whose message says more.
    let got = run_within(TIMEOUT * 3, "push through a ring of 2", || {
        let ring = Arc::new(ring::<u64>(2));
        let producer = {
            let ring = Arc::clone(&ring);
            thread::spawn(move || {
                for v in 0..200 {
                    ring.push(v).expect("the ring is open");
                    assert_within_capacity(&ring, "the producer");
                }
            })
        };
        let mut got = Vec::new();
        while got.len() < 200 {
            match ring.pop_timeout(TIMEOUT) {
                Some(v) => got.push(v),
                None => panic!("no value within {TIMEOUT:?} after {} values", got.len()),
            }
            assert_within_capacity(&ring, "the consumer");
        }
        join_within(producer, TIMEOUT, "the producer").expect("the producer panicked");
        assert!(ring.is_empty(), "more values than were pushed");
        got
    });
    assert_eq!(got, (0..200).collect::<Vec<_>>());
}

#[test]
fn the_eleventh_push_into_a_full_ring_of_ten_times_out_with_the_value_back() {
    let ring = ring::<u32>(10);
    assert_eq!(ring.capacity(), 10);
    for v in 0..10 {
        assert_eq!(
            ring.push_timeout(v, Duration::from_millis(10)),
            Ok(()),
            "push {v} into a ring with room"
        );
    }
    assert_eq!(ring.len(), 10);
    assert_eq!(
        ring.push_timeout(10, Duration::from_millis(20)),
        Err(PushError::Full(10)),
        "the 11th push into a full ring must give its value back in Err(Full)"
    );
    assert_eq!(ring.len(), 10, "a refused push must not change the ring");
    // Room again after one pop; the oldest value comes out first.
    assert_eq!(ring.pop_timeout(TIMEOUT), Some(0));
    assert_eq!(ring.push_timeout(10, TIMEOUT), Ok(()));
    assert_eq!(ring.len(), 10);
    let mut rest = Vec::new();
    while let Some(v) = ring.pop_timeout(Duration::ZERO) {
        rest.push(v);
    }
    assert_eq!(rest, (1..=10).collect::<Vec<_>>());
}

#[test]
fn pop_timeout_on_an_empty_ring_gives_none_after_the_timeout() {
    let ring = ring::<u32>(4);
    let timeout = Duration::from_millis(30);
    let started = Instant::now();
    assert_eq!(ring.pop_timeout(timeout), None);
    // A lower bound only: a correct ring can never return sooner.
    assert!(
        started.elapsed() >= timeout,
        "pop_timeout returned None before its timeout"
    );
    assert!(!ring.is_closed(), "a timeout does not close the ring");
    // The ring still works afterwards.
    assert_eq!(ring.push_timeout(7, TIMEOUT), Ok(()));
    assert_eq!(ring.pop_timeout(TIMEOUT), Some(7));
}

#[test]
fn close_wakes_a_consumer_blocked_in_pop() {
    let ring = Arc::new(ring::<u32>(4));
    let (waiting_tx, waiting_rx) = crossbeam_channel::bounded(1);
    let consumer = {
        let ring = Arc::clone(&ring);
        thread::spawn(move || {
            waiting_tx.send(()).unwrap();
            ring.pop()
        })
    };
    recv_or_fail(&waiting_rx, "the consumer to start");
    // Most likely asleep in `pop` by now; the test passes either way (see the file's header).
    thread::sleep(Duration::from_millis(50));
    ring.close();
    let got = join_within(consumer, TIMEOUT, "the consumer blocked in pop")
        .expect("the consumer panicked");
    assert_eq!(
        got, None,
        "pop on a closed, empty ring is the end of the stream"
    );
    assert!(ring.is_closed());
}

#[test]
fn close_wakes_a_producer_blocked_in_push_and_hands_its_value_back() {
    let ring = Arc::new(ring::<u32>(2));
    ring.push_timeout(0, TIMEOUT).unwrap();
    ring.push_timeout(1, TIMEOUT).unwrap();
    let (waiting_tx, waiting_rx) = crossbeam_channel::bounded(1);
    let producer = {
        let ring = Arc::clone(&ring);
        thread::spawn(move || {
            waiting_tx.send(()).unwrap();
            ring.push(99)
        })
    };
    recv_or_fail(&waiting_rx, "the producer to start");
    // Most likely asleep in `push` by now; the test passes either way (see the file's header).
    thread::sleep(Duration::from_millis(50));
    ring.close();
    let pushed = join_within(producer, TIMEOUT, "the producer blocked in push")
        .expect("the producer panicked");
    assert_eq!(pushed, Err(Closed(99)), "the refused value must come back");
    // What was queued before the close is still delivered, then the stream ends.
    assert_eq!(ring.pop_timeout(TIMEOUT), Some(0));
    assert_eq!(ring.pop_timeout(TIMEOUT), Some(1));
    assert_eq!(ring.pop_timeout(TIMEOUT), None);
}

#[test]
fn close_wakes_every_blocked_consumer_and_every_blocked_producer() {
    const WAITERS: u32 = 3;
    // Three consumers wait on an empty ring: all three must be woken, not just one.
    let empty = Arc::new(ring::<u32>(1));
    let (waiting_tx, waiting_rx) = crossbeam_channel::bounded(WAITERS as usize);
    let consumers: Vec<_> = (0..WAITERS)
        .map(|_| {
            let (empty, waiting_tx) = (Arc::clone(&empty), waiting_tx.clone());
            thread::spawn(move || {
                waiting_tx.send(()).unwrap();
                empty.pop()
            })
        })
        .collect();
    for _ in 0..WAITERS {
        recv_or_fail(&waiting_rx, "a consumer to start");
    }
    // Most likely all asleep in `pop` by now; the test passes either way (see the header).
    thread::sleep(Duration::from_millis(50));
    empty.close();
    for consumer in consumers {
        let got = join_within(
            consumer,
            TIMEOUT,
            "a consumer blocked in pop (close must wake all)",
        )
        .expect("a consumer panicked");
        assert_eq!(got, None);
    }

    // Three producers wait on a full ring: all three must be woken and get their value back.
    let full = Arc::new(ring::<u32>(1));
    full.push_timeout(0, TIMEOUT).unwrap();
    let producers: Vec<_> = (1..=WAITERS)
        .map(|v| {
            let (full, waiting_tx) = (Arc::clone(&full), waiting_tx.clone());
            thread::spawn(move || {
                waiting_tx.send(()).unwrap();
                (v, full.push(v))
            })
        })
        .collect();
    for _ in 0..WAITERS {
        recv_or_fail(&waiting_rx, "a producer to start");
    }
    thread::sleep(Duration::from_millis(50));
    full.close();
    for producer in producers {
        let (v, pushed) = join_within(
            producer,
            TIMEOUT,
            "a producer blocked in push (close must wake all)",
        )
        .expect("a producer panicked");
        assert_eq!(pushed, Err(Closed(v)), "the refused value must come back");
    }
    assert_eq!(full.pop_timeout(TIMEOUT), Some(0));
    assert_eq!(full.pop_timeout(TIMEOUT), None);
}

#[test]
fn after_close_pushes_are_refused_and_consumers_drain_what_is_left() {
    let ring = ring::<u32>(8);
    for v in [5, 6, 7] {
        ring.push_timeout(v, TIMEOUT).unwrap();
    }
    ring.close();
    ring.close(); // closing twice is harmless
    assert!(ring.is_closed());
    assert_eq!(ring.push(8), Err(Closed(8)));
    assert_eq!(ring.push_timeout(9, TIMEOUT), Err(PushError::Closed(9)));
    assert_eq!(PushError::Closed(9).into_inner(), 9);
    assert_eq!(ring.len(), 3, "refused pushes must not change the ring");
    let drained = run_within(TIMEOUT, "draining a closed ring", move || {
        let mut got = Vec::new();
        while let Some(v) = ring.pop() {
            got.push(v);
        }
        // The end of the stream is final: pop keeps returning None at once.
        assert_eq!(ring.pop(), None);
        assert_eq!(ring.pop_timeout(TIMEOUT), None);
        got
    });
    assert_eq!(drained, [5, 6, 7]);
}

#[test]
fn a_capacity_of_zero_is_refused_with_a_clear_error() {
    let refused = RingBuffer::<u32>::new(0);
    assert!(
        matches!(refused, Err(ZeroCapacity)),
        "capacity 0 must be Err(ZeroCapacity)"
    );
    let message = ZeroCapacity.to_string();
    assert!(
        message.contains("capacity") && message.contains('0'),
        "the message should say the capacity 0 is the problem: {message:?}"
    );
    let one = ring::<u32>(1);
    assert_eq!((one.capacity(), one.len(), one.is_empty()), (1, 0, true));
}

#[test]
fn four_producers_and_four_consumers_through_a_ring_of_four_add_up() {
    const PRODUCERS: u64 = 4;
    const CONSUMERS: usize = 4;
    const PER_PRODUCER: u64 = 5_000;

    /// Count, sum and xor of the values one consumer took, and the values themselves.
    #[derive(Default)]
    struct Tally {
        count: u64,
        sum: u64,
        xor: u64,
        values: Vec<u64>,
    }

    let value = |producer: u64, i: u64| producer * 1_000_000 + i;
    let tallies = run_within(TIMEOUT, "4 producers, 4 consumers", move || {
        let ring = ring::<u64>(4);
        thread::scope(|s| {
            let consumers: Vec<_> = (0..CONSUMERS)
                .map(|_| {
                    s.spawn(|| {
                        let mut tally = Tally::default();
                        while let Some(v) = ring.pop() {
                            assert_within_capacity(&ring, "a consumer");
                            tally.count += 1;
                            tally.sum += v;
                            tally.xor ^= v;
                            tally.values.push(v);
                        }
                        assert_within_capacity(&ring, "a consumer");
                        tally
                    })
                })
                .collect();
            let producers: Vec<_> = (0..PRODUCERS)
                .map(|p| {
                    let ring = &ring;
                    s.spawn(move || {
                        for i in 0..PER_PRODUCER {
                            ring.push(value(p, i)).expect("the ring is open");
                            assert_within_capacity(ring, "a producer");
                        }
                    })
                })
                .collect();
            for producer in producers {
                producer.join().expect("a producer panicked");
            }
            ring.close();
            consumers
                .into_iter()
                .map(|c| c.join().expect("a consumer panicked"))
                .collect::<Vec<Tally>>()
        })
    });

    let expected: Vec<u64> = (0..PRODUCERS)
        .flat_map(|p| (0..PER_PRODUCER).map(move |i| value(p, i)))
        .collect();
    let count: u64 = tallies.iter().map(|t| t.count).sum();
    let sum: u64 = tallies.iter().map(|t| t.sum).sum();
    let xor = tallies.iter().fold(0, |acc, t| acc ^ t.xor);
    assert_eq!(count, PRODUCERS * PER_PRODUCER, "values consumed");
    assert_eq!(sum, expected.iter().sum::<u64>(), "checksum: sum");
    assert_eq!(xor, expected.iter().fold(0, |a, v| a ^ v), "checksum: xor");
    let mut all: Vec<u64> = tallies.into_iter().flat_map(|t| t.values).collect();
    all.sort_unstable();
    assert_eq!(all, expected, "every value exactly once");
}
