//! Tests of exercise l2-ex02 (transferables).
//!
//! `cargo test` runs them against the reference solution; `cargo exercise check l2-ex02` runs
//! them against your file, `level-2-intermediate/src/exercises/ex02_transferables.rs`.
//!
//! Most tests use images of a few hundred kilobytes, so that debug builds stay quick; one
//! sends the course's full 50 MB, made and checked by whole slices. No test looks at a time.
//!
//! | promise | test | independent of scheduling and load because |
//! |---|---|---|
//! | bytes 0, 100, 200, ... XORed with 0xFF, every other byte kept, any length | `exactly_the_bytes_at_multiples_of_100_are_inverted`, `inverting_a_tiny_or_empty_image_works` | no threads |
//! | the move round trip inverts and keeps the allocation (`as_ptr`, capacity), 50 MB too | `the_move_round_trip_*`, `the_course_image_of_50_mb_*` | values only |
//! | the clone round trip works on a copy and leaves the caller's image alone | `the_clone_variant_returns_an_inverted_copy_and_leaves_the_callers_image_alone` | values only |
//! | both report a worker id that is not the caller's | `both_variants_do_the_work_on_another_thread` | compares ids |
//! | `round_trip` runs its `work` once, on the worker it reports, not on the caller | `the_work_runs_once_on_the_worker_thread_never_the_callers` | the `work` records the thread it really runs on |
//! | every round trip (and `compare`) joins its worker before returning | `every_round_trip_joins_its_worker_before_it_returns` | looks for live `image-worker` threads after each of 210 calls, alone (a lock keeps the other tests' workers out) |
//! | `compare` checks both results and reports the size | `compare_checks_both_round_trips_and_reports_the_size` | times are never asserted |
//! | ... even a worker with nothing left to do after its last send | none reliably | such a thread, left unjoined, ends within microseconds of that send, before any look can see it; a worker still waiting for input when the call returns is caught |
//! | the worker is named `image-worker`; a worker's panic becomes an error; a wrong result makes `compare` fail | none | the name is only visible while the worker lives, which the test cannot hold open; the worker and `round_trip` cannot be made to panic or err from outside |
//!
//! Deliberate wrong answers that these tests catch are in `xtask/mutants/l2-ex02/`.

// The code under test: your file when `cargo exercise check l2-ex02` turns the `learner`
// feature on (and in rust-analyzer, so that your editor checks it), the reference solution in a
// plain `cargo test`. Your file is compiled into this test alone: a mistake in it breaks no
// other exercise, lesson or test.
#[cfg(any(feature = "learner", rust_analyzer))]
#[path = "../src/exercises/ex02_transferables.rs"]
#[allow(dead_code)] // the items the tests do not call are part of the exercise all the same
mod under_test;
#[cfg(not(any(feature = "learner", rust_analyzer)))]
use level_2_intermediate::solutions::ex02_transferables as under_test;

use shared::testing::{TIMEOUT, live_threads_named, run_within};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::thread::{self, ThreadId};
use under_test::{
    FLIP, IMAGE_SIZE, Processed, STRIDE, WORKER_NAME, compare, invert_every_100th, make_image,
    process_by_clone, process_by_move, round_trip,
};

/// Not a multiple of 100, so the last stretch after an inverted byte is a short one.
const SIZE: usize = 250_037;

/// Fails the test, naming the first byte that is wrong, unless `after` is `before` with
/// exactly the bytes at multiples of 100 XORed with 0xFF.
#[track_caller]
fn assert_every_100th_inverted(before: &[u8], after: &[u8]) {
    assert_eq!(after.len(), before.len(), "the image changed length");
    for (i, (&was, &is)) in before.iter().zip(after).enumerate() {
        let wanted = if i % 100 == 0 { was ^ 0xFF } else { was };
        assert_eq!(
            is, wanted,
            "byte {i} was {was:#04x}: expected {wanted:#04x}, got {is:#04x} (only bytes at \
             multiples of 100 are inverted)"
        );
    }
}

/// Runs `process_by_move` with a deadline; returns the caller's thread id too.
fn by_move(image: Vec<u8>) -> (ThreadId, Processed) {
    let (caller, processed) = run_within(TIMEOUT, "process_by_move", move || {
        (thread::current().id(), process_by_move(image))
    });
    (caller, processed.expect("process_by_move failed"))
}

#[test]
fn exactly_the_bytes_at_multiples_of_100_are_inverted() {
    assert_eq!((STRIDE, FLIP), (100, 0xFF));
    let original = make_image(1_001);
    let mut image = original.clone();
    invert_every_100th(&mut image);
    assert_every_100th_inverted(&original, &image);
    // XOR twice is the identity: inverting again restores the image.
    invert_every_100th(&mut image);
    assert_eq!(
        image, original,
        "inverting twice must give the original back"
    );
}

#[test]
fn inverting_a_tiny_or_empty_image_works() {
    let mut empty: Vec<u8> = Vec::new();
    invert_every_100th(&mut empty);
    assert!(empty.is_empty());

    let mut one = vec![0x0F];
    invert_every_100th(&mut one);
    assert_eq!(one, [0xF0], "byte 0 is the first to invert");

    let original = make_image(101);
    let mut image = original.clone();
    invert_every_100th(&mut image);
    assert_every_100th_inverted(&original, &image);
}

#[test]
fn the_move_round_trip_inverts_every_hundredth_byte() {
    let _alone = no_other_round_trips();
    let original = make_image(SIZE);
    let (_, processed) = by_move(original.clone());
    assert_every_100th_inverted(&original, &processed.image);
}

#[test]
fn the_move_round_trip_gives_back_the_same_allocation() {
    let _alone = no_other_round_trips();
    let image = make_image(SIZE);
    let (address, capacity) = (image.as_ptr(), image.capacity());
    let (_, processed) = by_move(image);
    assert_eq!(
        processed.image.as_ptr(),
        address,
        "the image came back at another address: it was copied on the way (a move copies \
         nothing)"
    );
    assert_eq!(processed.image.capacity(), capacity);
    assert_eq!(processed.image.len(), SIZE);
}

#[test]
fn the_course_image_of_50_mb_moves_there_and_back_without_a_copy() {
    let _alone = no_other_round_trips();
    assert_eq!(IMAGE_SIZE, 50 * 1024 * 1024);
    // Every byte 0x5A: made and checked by whole slices (`memset`, `memcmp`), which stay fast
    // in a debug build on a busy machine, where a byte-by-byte loop over 50 MB takes seconds.
    const BYTE: u8 = 0x5A;
    let image = vec![BYTE; IMAGE_SIZE];
    let address = image.as_ptr();
    let (_, processed) = by_move(image);
    assert_eq!(
        processed.image.as_ptr(),
        address,
        "the 50 MB image was copied"
    );
    assert_eq!(processed.image.len(), IMAGE_SIZE);
    let untouched = [BYTE; 99];
    let wrong = processed
        .image
        .chunks(100)
        .position(|chunk| chunk[0] != BYTE ^ 0xFF || chunk[1..] != untouched[..chunk.len() - 1]);
    assert_eq!(
        wrong.map(|chunk| chunk * 100),
        None,
        "the first wrong stretch of 100 bytes starts here: only the bytes at multiples of 100 \
         are inverted"
    );
}

#[test]
fn the_clone_variant_returns_an_inverted_copy_and_leaves_the_callers_image_alone() {
    let _alone = no_other_round_trips();
    let original = make_image(SIZE);
    let (image, processed) = run_within(TIMEOUT, "process_by_clone", move || {
        let image = make_image(SIZE);
        let processed = process_by_clone(&image);
        (image, processed)
    });
    let processed = processed.expect("process_by_clone failed");
    assert_eq!(image, original, "the caller's image must not change");
    assert_every_100th_inverted(&original, &processed.image);
    assert_ne!(
        processed.image.as_ptr(),
        image.as_ptr(),
        "the clone variant must work on a copy"
    );
}

#[test]
fn both_variants_do_the_work_on_another_thread() {
    let _alone = no_other_round_trips();
    let (caller, moved) = by_move(make_image(1_000));
    assert_ne!(
        moved.worker, caller,
        "process_by_move inverted the image on the caller's thread: send it to a worker"
    );

    let (caller, cloned) = run_within(TIMEOUT, "process_by_clone", || {
        (thread::current().id(), process_by_clone(&make_image(1_000)))
    });
    let cloned = cloned.expect("process_by_clone failed");
    assert_ne!(
        cloned.worker, caller,
        "process_by_clone inverted the image on the caller's thread: send it to a worker"
    );
}

#[test]
fn compare_checks_both_round_trips_and_reports_the_size() {
    let _alone = no_other_round_trips();
    let comparison = run_within(TIMEOUT, "compare", || compare(SIZE))
        .expect("compare found a wrong result, or a round trip failed");
    assert_eq!(comparison.size, SIZE);
    // The times depend on the machine: shown, never asserted.
    println!("{comparison}");
    let empty = run_within(TIMEOUT, "compare(0)", || compare(0)).expect("an empty image");
    assert_eq!(empty.size, 0);
}

/// Taken by the tests that look for live image workers, so that no other test's worker is
/// alive while they look: `cargo test` runs a file's tests as threads of one process.
static LOOKING_FOR_WORKERS: Mutex<()> = Mutex::new(());

fn no_other_round_trips() -> MutexGuard<'static, ()> {
    LOOKING_FOR_WORKERS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
}

/// The image workers still alive, where the system can tell (`None` elsewhere).
fn live_image_workers() -> Option<Vec<String>> {
    live_threads_named(WORKER_NAME)
}

#[test]
fn every_round_trip_joins_its_worker_before_it_returns() {
    let _alone = no_other_round_trips();
    assert_eq!(WORKER_NAME, "image-worker");
    // A worker that is not joined ends on its own shortly after it sends the image back: one
    // look may miss it, a hundred do not. A joined worker has ended, whatever the timing.
    let leftovers = run_within(TIMEOUT, "round trips", || {
        let image = make_image(1_000);
        let mut leftovers = Vec::new();
        for round in 0..100 {
            let moved = process_by_move(image.clone()).map(|_| ());
            leftovers.push(("process_by_move", round, moved, live_image_workers()));
            let cloned = process_by_clone(&image).map(|_| ());
            leftovers.push(("process_by_clone", round, cloned, live_image_workers()));
        }
        for round in 0..10 {
            let compared = compare(1_000).map(|_| ());
            leftovers.push(("compare", round, compared, live_image_workers()));
        }
        leftovers
    });
    for (call, round, outcome, live) in leftovers {
        if let Err(e) = outcome {
            panic!("{call} failed in round {round}: {e:#}");
        }
        if let Some(live) = live {
            assert!(
                live.is_empty(),
                "{call} returned (round {round}) while its worker thread was still running: \
                 join it ({live:?})"
            );
        }
    }
}

/// The threads `recording_work` ran on. Only the test below uses it.
static WORK_RAN_ON: Mutex<Vec<ThreadId>> = Mutex::new(Vec::new());

/// A `work` for `round_trip` that records the thread it really runs on, then inverts.
fn recording_work(bytes: &mut [u8]) {
    WORK_RAN_ON
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(thread::current().id());
    invert_every_100th(bytes);
}

#[test]
fn the_work_runs_once_on_the_worker_thread_never_the_callers() {
    let _alone = no_other_round_trips();
    let original = make_image(1_000);
    let image = original.clone();
    let (caller, processed) = run_within(TIMEOUT, "round_trip", move || {
        (thread::current().id(), round_trip(image, recording_work))
    });
    let processed = processed.expect("round_trip failed");
    let ran_on = WORK_RAN_ON
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    assert_every_100th_inverted(&original, &processed.image);
    assert!(
        !ran_on.contains(&caller),
        "the work ran on the caller's thread: the worker must do it, not just carry the result"
    );
    assert_eq!(
        ran_on,
        [processed.worker],
        "the work must run exactly once, on the worker thread the result names"
    );
}
