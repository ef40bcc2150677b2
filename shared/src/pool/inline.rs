//! A fire-and-forget closure carried in the queue slot itself, with no allocation.
//!
//! [`WorkerPool::execute`](super::WorkerPool::execute) used to box every closure. For a tiny
//! task that allocation was the dearest thing the submitter did (a `perf` profile of the pool
//! bench put the allocator at about a third of all samples): the block is allocated on the
//! submitting thread and freed on a worker, so the allocator's shared lists travel between
//! cores twice per task. A closure of at most [`INLINE_WORDS`] machine words (a counter, an
//! index and a channel sender, say) now travels by value inside the [`Queued`](super::Queued)
//! slot instead, next to a pointer to a table of three functions generated for its type. A
//! larger closure is still boxed.
//!
//! The unsafe code is this file's: writing the closure into untyped words, and reading it back
//! out exactly once (to call it, to drop it, or to hand it back to a refused caller). The
//! tests at the bottom run every path under Miri (`cargo +nightly miri test -p shared --lib
//! pool::inline`).

use super::task::{Detached, Outcome, drop_quietly};
use std::any::Any;
use std::mem::{ManuallyDrop, MaybeUninit};
use std::panic::{self, AssertUnwindSafe};

/// The largest closure carried inline, in machine words: three covers a sender and an index,
/// or an `Arc` and two numbers, and keeps a queue slot within one 64-byte cache line.
pub(crate) const INLINE_WORDS: usize = 3;

type Words = [usize; INLINE_WORDS];

/// A closure of type `F` stored in [`Words`], and the table that knows its type.
pub(crate) struct InlineJob {
    /// Initialised with an `F` (the one `table` was made for) until it is read out.
    data: MaybeUninit<Words>,
    table: &'static Table,
}

/// What can be done with the stored closure, one function per use; each takes the closure out
/// of the words, so each may be called at most once per stored value.
struct Table {
    /// Reads the closure out and calls it.
    call: unsafe fn(*mut Words),
    /// Reads the closure out and drops it.
    drop: unsafe fn(*mut Words),
    /// Reads the closure out and boxes it as a `Detached<F>`, for a refusal to hand back.
    into_any: unsafe fn(*mut Words) -> Box<dyn Any>,
}

/// The table for `F`, as a promoted constant: one per closure type, made at compile time.
struct TableFor<F>(F);

impl<F: FnOnce() + Send + 'static> TableFor<F> {
    const TABLE: &'static Table = &Table {
        call: call::<F>,
        drop: drop_in::<F>,
        into_any: into_any::<F>,
    };
    /// Whether an `F` fits in the words and their alignment suits it.
    const FITS: bool =
        size_of::<F>() <= size_of::<Words>() && align_of::<F>() <= align_of::<Words>();
}

// SAFETY (all three): the caller passes words holding an initialised `F`, and does not use
// them again; `read` moves the value out, leaving the words logically uninitialised.
unsafe fn call<F: FnOnce()>(words: *mut Words) {
    // SAFETY: see above; `F` fits and is aligned (checked by `InlineJob::new`).
    let task = unsafe { words.cast::<F>().read() };
    task();
}

unsafe fn drop_in<F>(words: *mut Words) {
    // SAFETY: see above.
    unsafe { words.cast::<F>().drop_in_place() };
}

unsafe fn into_any<F: FnOnce() + Send + 'static>(words: *mut Words) -> Box<dyn Any> {
    // SAFETY: see above.
    let task = unsafe { words.cast::<F>().read() };
    Box::new(Detached(task))
}

impl InlineJob {
    /// `task` stored inline, or handed back if it is too large or too strictly aligned.
    pub(crate) fn new<F: FnOnce() + Send + 'static>(task: F) -> Result<Self, F> {
        if !TableFor::<F>::FITS {
            return Err(task);
        }
        let mut data = MaybeUninit::<Words>::uninit();
        // SAFETY: `FITS` says an `F` fits in the words and their alignment is enough for it.
        unsafe { data.as_mut_ptr().cast::<F>().write(task) };
        Ok(Self {
            data,
            table: TableFor::<F>::TABLE,
        })
    }

    /// Runs the closure as `Detached::run` does: a panic is caught (the panic hook has printed
    /// it), its payload dropped under a guard of its own, and the outcome reported.
    pub(crate) fn run(self, done: &mut dyn FnMut(Outcome)) {
        let mut this = ManuallyDrop::new(self);
        let call = this.table.call;
        let words = this.data.as_mut_ptr();
        // SAFETY: the words hold the closure `table` was made for; `this` is never dropped, so
        // this is the one read.
        match panic::catch_unwind(AssertUnwindSafe(|| unsafe { call(words) })) {
            Ok(()) => done(Outcome::Completed),
            Err(payload) => {
                drop_quietly(payload);
                done(Outcome::Panicked);
            }
        }
    }

    /// The closure, boxed as the `Detached<F>` that `refused` downcasts.
    pub(crate) fn into_any(self) -> Box<dyn Any> {
        let mut this = ManuallyDrop::new(self);
        // SAFETY: as in `run`: the one read, and `this` is never dropped.
        unsafe { (this.table.into_any)(this.data.as_mut_ptr()) }
    }
}

impl Drop for InlineJob {
    /// A job never run (rejected by `shutdown_now`, or refused and dropped) drops its closure.
    fn drop(&mut self) {
        // SAFETY: `run` and `into_any` do not let `Drop` run, so the words still hold the
        // closure.
        unsafe { (self.table.drop)(self.data.as_mut_ptr()) }
    }
}

// SAFETY: an `InlineJob` is only made from an `F: Send` and gives access to it only by moving
// it out, so sending the job to another thread sends an `F`, which is allowed.
unsafe impl Send for InlineJob {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn outcome_of(job: InlineJob) -> Option<Outcome> {
        let mut seen = None;
        job.run(&mut |outcome| seen = Some(outcome));
        seen
    }

    #[test]
    fn a_small_closure_runs_once_and_its_captures_are_dropped_once() {
        let runs = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&runs);
        let job = InlineJob::new(move || {
            counted.fetch_add(1, Ordering::Relaxed);
        })
        .unwrap_or_else(|_| panic!("an Arc fits"));
        assert_eq!(Arc::strong_count(&runs), 2);
        assert!(matches!(outcome_of(job), Some(Outcome::Completed)));
        assert_eq!(runs.load(Ordering::Relaxed), 1);
        assert_eq!(
            Arc::strong_count(&runs),
            1,
            "the capture was dropped after the call"
        );
    }

    #[test]
    fn a_closure_of_exactly_three_words_fits_and_a_fourth_word_does_not() {
        let (a, b, c) = (1usize, 2usize, 3usize);
        let seen = Arc::new(AtomicUsize::new(0));
        let three = {
            let seen = Arc::clone(&seen);
            move || seen.store(a + b + c, Ordering::Relaxed)
        };
        assert_eq!(size_of_val(&three), 4 * size_of::<usize>());
        assert!(InlineJob::new(three).is_err(), "four words are handed back");
        let fits = {
            let seen = Arc::clone(&seen);
            move || seen.store(a + b, Ordering::Relaxed)
        };
        assert_eq!(size_of_val(&fits), 3 * size_of::<usize>());
        let job = InlineJob::new(fits).unwrap_or_else(|_| panic!("three words fit"));
        assert!(matches!(outcome_of(job), Some(Outcome::Completed)));
        assert_eq!(seen.load(Ordering::Relaxed), 3);
    }

    #[test]
    fn an_over_aligned_closure_is_handed_back() {
        #[repr(align(32))]
        struct Wide(u8);
        let wide = Wide(7);
        let task = move || {
            let whole = wide; // the whole value, not just its field, is captured
            assert_eq!(whole.0, 7);
        };
        assert_eq!(align_of_val(&task), 32);
        let back = InlineJob::new(task)
            .err()
            .expect("32-byte alignment is refused");
        back();
    }

    #[test]
    fn a_closure_that_captures_nothing_runs() {
        let job = InlineJob::new(|| ()).unwrap_or_else(|_| panic!("a ZST fits"));
        assert!(matches!(outcome_of(job), Some(Outcome::Completed)));
    }

    #[test]
    fn a_panicking_closure_is_caught_and_counted() {
        let _quiet = crate::panics::quiet_hook();
        let held = Arc::new(());
        let inside = Arc::clone(&held);
        let job = InlineJob::new(move || {
            let _keep = &inside;
            panic!("inline task fails")
        })
        .unwrap_or_else(|_| panic!("fits"));
        assert!(matches!(outcome_of(job), Some(Outcome::Panicked)));
        assert_eq!(
            Arc::strong_count(&held),
            1,
            "the unwinding dropped the capture"
        );
    }

    #[test]
    fn a_job_dropped_unrun_drops_its_closure_once() {
        let held = Arc::new(());
        let inside = Arc::clone(&held);
        let job = InlineJob::new(move || drop(inside)).unwrap_or_else(|_| panic!("fits"));
        let moved = job; // a move between threads or slots is a plain copy of the words
        assert_eq!(Arc::strong_count(&held), 2);
        drop(moved);
        assert_eq!(Arc::strong_count(&held), 1);
    }

    /// What `refused` does with a job handed back: downcast to the `Detached` of its type.
    fn hand_back<F: FnOnce() + Send + 'static>(task: F) -> F {
        let job = InlineJob::new(task).unwrap_or_else(|_| panic!("fits"));
        match job.into_any().downcast::<Detached<F>>() {
            Ok(detached) => detached.0,
            Err(_) => panic!("the box holds a Detached of the closure's type"),
        }
    }

    #[test]
    fn a_refused_job_hands_back_the_callers_closure() {
        let held = Arc::new(AtomicUsize::new(0));
        let inside = Arc::clone(&held);
        let task = hand_back(move || {
            inside.fetch_add(5, Ordering::Relaxed);
        });
        assert_eq!(Arc::strong_count(&held), 2, "handed back, not dropped");
        task();
        assert_eq!(held.load(Ordering::Relaxed), 5);
        assert_eq!(Arc::strong_count(&held), 1);
    }

    #[test]
    fn a_closure_whose_drop_panics_when_dropped_unrun_unwinds_to_the_guard() {
        let _quiet = crate::panics::quiet_hook();
        struct Loud;
        impl Drop for Loud {
            fn drop(&mut self) {
                panic!("inline capture's drop fails");
            }
        }
        let loud = Loud;
        let job = InlineJob::new(move || drop(loud)).unwrap_or_else(|_| panic!("fits"));
        let caught = panic::catch_unwind(AssertUnwindSafe(|| drop(job)));
        assert!(
            caught.is_err(),
            "the panic reaches the pool's guard, which catches it"
        );
    }

    #[test]
    fn the_pool_runs_rejects_and_hands_back_inline_jobs() {
        use crate::pool::{SubmitError, WorkerPool};
        use crate::testing::recv_or_fail;
        let pool = WorkerPool::builder().threads(1).build().expect("a pool");
        let (ran, done) = crossbeam_channel::unbounded();
        for n in 0..3usize {
            let ran = ran.clone();
            pool.execute(move || ran.send(n).expect("the test listens"))
                .expect("open");
        }
        let mut seen: Vec<usize> = (0..3)
            .map(|_| recv_or_fail(&done, "an inline task"))
            .collect();
        seen.sort_unstable();
        assert_eq!(seen, [0, 1, 2]);

        // Queued behind a held worker, then rejected by `shutdown_now`: dropped, not run.
        let (release, held) = crossbeam_channel::bounded::<()>(0);
        let (started, running) = crossbeam_channel::bounded::<()>(1);
        pool.execute(move || {
            let _ = started.send(());
            let _ = held.recv_timeout(crate::testing::TIMEOUT);
        })
        .expect("open");
        recv_or_fail(&running, "the holding task");
        let captured = Arc::new(());
        for _ in 0..2 {
            let mine = Arc::clone(&captured);
            pool.execute(move || drop(mine)).expect("open");
        }
        assert_eq!(pool.shutdown_now(), 2, "both queued tasks rejected");
        assert_eq!(
            Arc::strong_count(&captured),
            1,
            "their captures were dropped"
        );
        drop(release);

        // Refused: the caller gets its own closure back, and can still run it.
        let mine = Arc::clone(&captured);
        match pool.execute(move || drop(mine)) {
            Err(SubmitError::Closed(task)) => {
                assert_eq!(Arc::strong_count(&captured), 2);
                task();
            }
            other => panic!("a closed pool refuses, got {other:?}"),
        }
        assert_eq!(Arc::strong_count(&captured), 1);
        pool.join().expect("the worker ends");
    }
}
