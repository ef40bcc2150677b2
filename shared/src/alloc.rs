//! A counting global allocator: how many bytes a process, a thread or one closure allocates.
//!
//! Node reports memory with `process.memoryUsage()` (the whole process, sampled) and caps a
//! worker's heap with `resourceLimits.maxOldGenerationSizeMb`. Rust has neither: all threads
//! share one heap, and std keeps no statistics about it. What Rust does have is the
//! [`GlobalAlloc`] trait: a binary may replace the allocator every `Box`, `Vec`, `String`,
//! `HashMap` and `Arc` goes through. [`CountingAllocator`] forwards every request to the
//! operating system's allocator ([`System`]) and counts it on the way:
//!
//! | what | read with | kept in |
//! |---|---|---|
//! | process-wide totals: allocations, bytes allocated and freed, live bytes, peak live bytes | [`process_stats`] | atomics shared by every thread |
//! | what the current thread has allocated and freed | [`thread_stats`] | a thread-local of `Cell`s |
//! | what one closure allocated on the current thread | [`allocated_by`] | the difference of two [`thread_stats`] |
//!
//! # Installing it
//!
//! A binary opts in with one `static`, at the top level of its crate root (`main.rs`, an
//! example, or a test file, which is a binary of its own):
//!
//! ```standalone_crate
//! use shared::alloc::CountingAllocator;
//!
//! #[global_allocator]
//! static GLOBAL: CountingAllocator = CountingAllocator::new();
//!
//! fn main() {
//!     let (buffer, stats) = shared::alloc::allocated_by(|| vec![0u8; 1_000_000]);
//!     assert_eq!((stats.allocations, stats.bytes_allocated), (1, 1_000_000));
//!     drop(buffer);
//! }
//! ```
//!
//! The examples in this module's documentation install it the same way, and run. Each is
//! marked `standalone_crate`: edition 2024 merges documentation tests into one binary, and a
//! binary has one allocator, so these are built as binaries of their own instead.
//! `shared/tests/alloc_counter.rs` installs it too, and tests the counting across threads.
//!
//! A program has one global allocator, so a second `#[global_allocator]` anywhere in the
//! dependency graph is a compile error. That is why a library (this crate included) never
//! installs one: the binary decides. Without it, nothing fails, but every count stays 0; ask
//! [`is_installed`] when a zero would be misleading.
//!
//! # What is counted, and what is not
//!
//! Everything that goes through Rust's global allocator is counted, in every thread, from
//! before `main` starts. Not counted: thread stacks (std maps them from the operating system
//! directly, so [`std::thread::Builder::stack_size`] shows up nowhere here), memory that C
//! code gets from `malloc`, and memory mapped with `mmap` by hand.
//!
//! A thread's counts say what that thread *did*, not what it *owns*: a buffer allocated on
//! one thread and dropped on another counts as allocated on the first and freed on the second.
//! That is why only the process has "live" and "peak" bytes.
//!
//! A `realloc` (a `Vec` or `String` growing in place or moving) counts as one reallocation,
//! not as a new allocation: its growth is added to the bytes allocated, its shrinkage to the
//! bytes freed. So [`AllocStats::allocations`] counts the blocks a program asked for, and
//! `bytes_allocated - bytes_freed` is always the change in live bytes.
//!
//! # Cost
//!
//! Per call: a few additions to thread-local `Cell`s, which cost next to nothing, and three
//! atomic read-modify-writes on counters that every thread shares (a fourth when a new peak
//! is reached). On one thread that is small next to the allocation itself; when many threads
//! allocate at once, the cache line they all write becomes a point of contention. Use it in
//! tests, examples and investigations; measure before leaving it in a hot production path.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

/// A global allocator that forwards to [`System`] and counts every allocation, reallocation
/// and deallocation, per process and per thread.
///
/// Install it in a binary (see the [module documentation](self)); then read the counts with
/// [`process_stats`], [`thread_stats`] and [`allocated_by`].
///
/// ```standalone_crate
/// use shared::alloc::{CountingAllocator, process_stats};
///
/// #[global_allocator]
/// static GLOBAL: CountingAllocator = CountingAllocator::new();
///
/// fn main() {
///     let big = vec![1u64; 1 << 20]; // 8 MiB
///     let now = process_stats();
///     assert!(now.live_bytes >= 8 << 20);
///     assert!(now.peak_live_bytes >= now.live_bytes);
///     drop(big);
/// }
/// ```
#[derive(Debug, Default, Clone, Copy)]
pub struct CountingAllocator {
    // Private, so that the allocator can gain settings later without breaking its users.
    _private: (),
}

impl CountingAllocator {
    /// The allocator, ready to be put in a `#[global_allocator]` static.
    ///
    /// ```standalone_crate
    /// #[global_allocator]
    /// static GLOBAL: shared::alloc::CountingAllocator = shared::alloc::CountingAllocator::new();
    /// # fn main() {}
    /// ```
    pub const fn new() -> Self {
        Self { _private: () }
    }
}

// SAFETY: every method hands its arguments unchanged to `System`, which implements
// `GlobalAlloc` soundly, and returns what `System` returned; so the blocks, their alignment
// and the contents `realloc` preserves are exactly `System`'s. The counting around the calls
// touches only atomics and a `const`-initialised thread-local of `Cell`s: it never allocates
// (so it cannot re-enter the allocator), and it never panics (all arithmetic wraps, and a
// thread-local that is gone is skipped), so no unwinding can leave the allocator.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: our caller guarantees `layout` has a non-zero size, which is all
        // `System::alloc` requires.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            record_alloc(layout.size());
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`: `layout` has a non-zero size. Forwarded rather than left to
        // the default (alloc + write zeroes) so that `System` can hand out pages the
        // operating system has already zeroed, which `vec![0; n]` relies on to be fast.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            record_alloc(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // Counted before the block goes back: once it is back, another thread may be given
        // the same memory and count it, and the live count would briefly hold it twice.
        record_dealloc(layout.size());
        // SAFETY: our caller guarantees that `ptr` came from this allocator with `layout`,
        // and every block this allocator hands out came from `System` with that same layout.
        unsafe { System.dealloc(ptr, layout) };
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: our caller guarantees that `ptr` came from this allocator (so from `System`)
        // with `layout`, and that `new_size` is non-zero and does not overflow when rounded
        // up to the alignment: `System::realloc`'s requirements, passed on unchanged.
        let new_ptr = unsafe { System.realloc(ptr, layout, new_size) };
        // On failure the old block is untouched and still owned by the caller: count nothing.
        if !new_ptr.is_null() {
            record_realloc(layout.size(), new_size);
        }
        new_ptr
    }
}

/// Counts of allocator calls and the bytes they moved: for a thread ([`thread_stats`]), for
/// one closure ([`allocated_by`]), or for the whole process ([`ProcessStats::totals`]).
///
/// Each count only grows (it wraps at `u64::MAX`, which no real program reaches), so the
/// difference of two snapshots, [`since`](Self::since), is what happened in between.
///
/// ```
/// use shared::alloc::AllocStats;
///
/// let before = AllocStats { allocations: 3, bytes_allocated: 300, ..AllocStats::default() };
/// let after = AllocStats { allocations: 5, bytes_allocated: 1_300, deallocations: 1, bytes_freed: 100, ..before };
/// let between = after.since(&before);
/// assert_eq!((between.allocations, between.bytes_allocated), (2, 1_000));
/// assert_eq!(between.net_bytes(), 900);
/// ```
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AllocStats {
    /// Blocks allocated (`alloc` and `alloc_zeroed` calls that succeeded).
    pub allocations: u64,
    /// Blocks freed.
    pub deallocations: u64,
    /// Blocks resized (`realloc` calls that succeeded). Not counted in `allocations` or
    /// `deallocations`: the block is the same block, perhaps at a new address.
    pub reallocations: u64,
    /// Bytes allocated: the sizes of the new blocks, plus what reallocations grew by.
    pub bytes_allocated: u64,
    /// Bytes freed: the sizes of the freed blocks, plus what reallocations shrank by.
    pub bytes_freed: u64,
}

impl AllocStats {
    /// `bytes_allocated - bytes_freed`: how much more memory is live because of what these
    /// counts cover. Negative when more was freed than allocated (a thread that dropped
    /// buffers another thread made). Saturates at the limits of `i64`.
    ///
    /// ```
    /// use shared::alloc::AllocStats;
    ///
    /// let freed_more = AllocStats { bytes_allocated: 10, bytes_freed: 50, ..AllocStats::default() };
    /// assert_eq!(freed_more.net_bytes(), -40);
    /// ```
    pub fn net_bytes(&self) -> i64 {
        let net = i128::from(self.bytes_allocated) - i128::from(self.bytes_freed);
        i64::try_from(net).unwrap_or(if net < 0 { i64::MIN } else { i64::MAX })
    }

    /// What happened between `earlier` and `self`, two snapshots of the same counts (the same
    /// thread's, or the process's), `earlier` taken first.
    ///
    /// ```
    /// use shared::alloc::AllocStats;
    ///
    /// let earlier = AllocStats { deallocations: 1, bytes_freed: 64, ..AllocStats::default() };
    /// let later = AllocStats { deallocations: 4, bytes_freed: 256, ..earlier };
    /// assert_eq!(later.since(&earlier).deallocations, 3);
    /// assert_eq!(later.since(&earlier).bytes_freed, 192);
    /// ```
    pub fn since(&self, earlier: &Self) -> Self {
        Self {
            allocations: self.allocations.wrapping_sub(earlier.allocations),
            deallocations: self.deallocations.wrapping_sub(earlier.deallocations),
            reallocations: self.reallocations.wrapping_sub(earlier.reallocations),
            bytes_allocated: self.bytes_allocated.wrapping_sub(earlier.bytes_allocated),
            bytes_freed: self.bytes_freed.wrapping_sub(earlier.bytes_freed),
        }
    }
}

impl fmt::Display for AllocStats {
    /// One line: `3 allocations (1,024 B), 1 realloc, 2 frees (512 B)`.
    ///
    /// ```
    /// use shared::alloc::AllocStats;
    ///
    /// let stats = AllocStats {
    ///     allocations: 2,
    ///     deallocations: 1,
    ///     reallocations: 3,
    ///     bytes_allocated: 1_048_576,
    ///     bytes_freed: 64,
    /// };
    /// assert_eq!(stats.to_string(), "2 allocs (1,048,576 B), 3 reallocs, 1 frees (64 B)");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} allocs ({} B), {} reallocs, {} frees ({} B)",
            self.allocations,
            Grouped(self.bytes_allocated),
            self.reallocations,
            self.deallocations,
            Grouped(self.bytes_freed)
        )
    }
}

/// The process-wide counts, from [`process_stats`].
///
/// A snapshot is read counter by counter while other threads may be allocating, so it is not
/// one instant: each number was true when it was read. Two things always hold:
/// `peak_live_bytes >= live_bytes`, and, once no thread is allocating,
/// `totals.net_bytes() == live_bytes`.
///
/// ```standalone_crate
/// use shared::alloc::{CountingAllocator, process_stats};
///
/// #[global_allocator]
/// static GLOBAL: CountingAllocator = CountingAllocator::new();
///
/// fn main() {
///     let stats = process_stats();
///     println!("{} bytes live, at most {} so far", stats.live_bytes, stats.peak_live_bytes);
///     println!("{}", stats.totals);
/// }
/// ```
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProcessStats {
    /// Every thread's calls added up, since the process started.
    pub totals: AllocStats,
    /// Bytes allocated and not yet freed, in all threads together.
    pub live_bytes: u64,
    /// The most `live_bytes` has been since the process started, or since the last
    /// [`reset_peak`].
    pub peak_live_bytes: u64,
}

impl fmt::Display for ProcessStats {
    /// `live 1,024 B (peak 4,096 B); ` followed by the totals.
    ///
    /// ```
    /// use shared::alloc::ProcessStats;
    ///
    /// let stats = ProcessStats { live_bytes: 1_024, peak_live_bytes: 4_096, ..Default::default() };
    /// assert!(stats.to_string().starts_with("live 1,024 B (peak 4,096 B); 0 allocs"));
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "live {} B (peak {} B); {}",
            Grouped(self.live_bytes),
            Grouped(self.peak_live_bytes),
            self.totals
        )
    }
}

/// The process-wide counts now: every thread's allocations added up, the live bytes, and the
/// peak of the live bytes. All zero if [`CountingAllocator`] is not installed.
///
/// ```standalone_crate
/// # #[global_allocator]
/// # static GLOBAL: shared::alloc::CountingAllocator = shared::alloc::CountingAllocator::new();
/// # fn main() {
/// use shared::alloc::process_stats;
///
/// let before = process_stats();
/// let handles: Vec<_> = (0..4)
///     .map(|_| std::thread::spawn(|| vec![0u8; 1 << 20]))
///     .collect();
/// let buffers: Vec<Vec<u8>> = handles.into_iter().map(|h| h.join().unwrap()).collect();
/// let after = process_stats();
/// // Four threads' allocations, seen from here (plus whatever else ran meanwhile).
/// assert!(after.totals.since(&before.totals).bytes_allocated >= 4 << 20);
/// assert!(after.live_bytes >= 4 << 20);
/// # drop(buffers);
/// # }
/// ```
pub fn process_stats() -> ProcessStats {
    let t = &TOTALS;
    // Read `live` before `peak`: the peak is then at least this live value even if an
    // allocation raised `live` without having raised `peak` yet; and that live value really
    // occurred, so `max` reports no peak that never happened.
    let live_bytes = t.live_bytes.load(Ordering::Relaxed);
    let peak_live_bytes = t.peak_live_bytes.load(Ordering::Relaxed).max(live_bytes);
    ProcessStats {
        totals: AllocStats {
            allocations: t.allocations.load(Ordering::Relaxed),
            deallocations: t.deallocations.load(Ordering::Relaxed),
            reallocations: t.reallocations.load(Ordering::Relaxed),
            bytes_allocated: t.bytes_allocated.load(Ordering::Relaxed),
            bytes_freed: t.bytes_freed.load(Ordering::Relaxed),
        },
        live_bytes,
        peak_live_bytes,
    }
}

/// What the current thread has allocated, reallocated and freed since it started. All zero
/// if [`CountingAllocator`] is not installed.
///
/// ```standalone_crate
/// # #[global_allocator]
/// # static GLOBAL: shared::alloc::CountingAllocator = shared::alloc::CountingAllocator::new();
/// # fn main() {
/// use shared::alloc::thread_stats;
///
/// let worker = std::thread::spawn(|| {
///     let start = thread_stats();
///     let words: Vec<String> = (0..100).map(|i| i.to_string()).collect();
///     let used = thread_stats().since(&start);
///     assert!(used.allocations >= 100); // a String each, and the Vec
///     words.len()
/// });
/// assert_eq!(worker.join().unwrap(), 100);
/// # }
/// ```
pub fn thread_stats() -> AllocStats {
    // `try_with` fails only while this thread's thread-locals are being torn down, which a
    // `const` thread-local without a destructor never is; zeros are the honest fallback.
    THREAD.try_with(ThreadCounts::snapshot).unwrap_or_default()
}

/// Runs `f` and returns its result with what it allocated, reallocated and freed **on the
/// current thread**.
///
/// Threads that `f` starts count on their own threads, not here: measure inside them, or use
/// [`process_stats`]. Calls nest: an inner `allocated_by` counts a part of the outer one.
/// All zero if [`CountingAllocator`] is not installed (see [`is_installed`]).
///
/// ```standalone_crate
/// # #[global_allocator]
/// # static GLOBAL: shared::alloc::CountingAllocator = shared::alloc::CountingAllocator::new();
/// # fn main() {
/// use shared::alloc::allocated_by;
///
/// // One block of exactly the size asked for.
/// let (squares, stats) = allocated_by(|| (0..1_000u64).map(|n| n * n).collect::<Vec<_>>());
/// assert_eq!(stats.allocations, 1);
/// assert_eq!(stats.bytes_allocated, 8_000);
///
/// // Dropping is counted too.
/// let ((), stats) = allocated_by(|| drop(squares));
/// assert_eq!((stats.deallocations, stats.bytes_freed), (1, 8_000));
///
/// // Pushing one at a time grows the buffer: reallocations, not new blocks.
/// let (text, stats) = allocated_by(|| {
///     let mut s = String::new();
///     for _ in 0..1_000 {
///         s.push('x');
///     }
///     s
/// });
/// assert_eq!(stats.allocations, 1);
/// assert!(stats.reallocations >= 1);
/// assert_eq!(stats.net_bytes(), text.capacity() as i64);
/// # }
/// ```
pub fn allocated_by<R>(f: impl FnOnce() -> R) -> (R, AllocStats) {
    let before = thread_stats();
    let result = f();
    let after = thread_stats();
    (result, after.since(&before))
}

/// Sets the process's peak live bytes to the live bytes now, and returns the old peak: to
/// measure the peak of one phase of a program.
///
/// The peak is shared by every thread. If other threads allocate while it is reset, an
/// allocation made at that very moment may be missing from the new peak: take the peak of a
/// phase while the other threads are quiet, or read it as a lower bound.
///
/// ```standalone_crate
/// # #[global_allocator]
/// # static GLOBAL: shared::alloc::CountingAllocator = shared::alloc::CountingAllocator::new();
/// # fn main() {
/// use shared::alloc::{process_stats, reset_peak};
///
/// reset_peak();
/// let baseline = process_stats().live_bytes;
/// drop(std::hint::black_box(vec![0u8; 10 << 20])); // 10 MiB, freed at once
/// let phase_peak = process_stats().peak_live_bytes - baseline;
/// assert!(phase_peak >= 10 << 20);
/// # }
/// ```
pub fn reset_peak() -> u64 {
    let live = TOTALS.live_bytes.load(Ordering::Relaxed);
    TOTALS.peak_live_bytes.swap(live, Ordering::Relaxed)
}

/// Whether this binary's global allocator is the [`CountingAllocator`]: it makes one small
/// allocation and checks that this thread's count moved.
///
/// ```standalone_crate
/// // This binary does not install the allocator: nothing is counted, and it says so.
/// assert!(!shared::alloc::is_installed());
/// let ((), stats) = shared::alloc::allocated_by(|| drop(vec![0u8; 100]));
/// assert_eq!(stats.allocations, 0); // a misleading zero: check `is_installed` first
/// ```
///
/// ```standalone_crate
/// #[global_allocator]
/// static GLOBAL: shared::alloc::CountingAllocator = shared::alloc::CountingAllocator::new();
///
/// fn main() {
///     assert!(shared::alloc::is_installed());
/// }
/// ```
pub fn is_installed() -> bool {
    let before = thread_stats().allocations;
    // `black_box` keeps the optimiser from removing the allocation it could prove unused.
    drop(std::hint::black_box(Box::new(0u8)));
    thread_stats().allocations != before
}

/// The process-wide counters.
///
/// Every access is `Relaxed`, and that is enough:
/// - each counter is a statistic on its own; no other memory is published or read through
///   it, so there is nothing for an `Acquire`/`Release` pair to order;
/// - a read-modify-write (`fetch_add`, `fetch_max`) is atomic whatever its ordering, so no
///   update is ever lost;
/// - all updates of one atomic form one order that agrees with happens-before. A block is
///   freed only after it was allocated (handing a pointer to another thread needs
///   synchronisation anyway), so the subtraction of its size comes after the addition, and
///   `live_bytes` never goes below zero;
/// - a snapshot reads several counters one after another, so it is not one instant with any
///   ordering, `SeqCst` included: only a lock around every allocation could give that.
///
/// Aligned to 128 bytes (two cache lines, as `crossbeam_utils::CachePadded` does on x86-64),
/// so that the line every allocating thread writes is shared with no unrelated static.
#[derive(Debug)]
#[repr(align(128))]
struct Totals {
    allocations: AtomicU64,
    deallocations: AtomicU64,
    reallocations: AtomicU64,
    bytes_allocated: AtomicU64,
    bytes_freed: AtomicU64,
    live_bytes: AtomicU64,
    peak_live_bytes: AtomicU64,
}

static TOTALS: Totals = Totals {
    allocations: AtomicU64::new(0),
    deallocations: AtomicU64::new(0),
    reallocations: AtomicU64::new(0),
    bytes_allocated: AtomicU64::new(0),
    bytes_freed: AtomicU64::new(0),
    live_bytes: AtomicU64::new(0),
    peak_live_bytes: AtomicU64::new(0),
};

/// One thread's counts. Plain `Cell`s: only the owning thread ever touches them.
#[derive(Debug)]
struct ThreadCounts {
    allocations: Cell<u64>,
    deallocations: Cell<u64>,
    reallocations: Cell<u64>,
    bytes_allocated: Cell<u64>,
    bytes_freed: Cell<u64>,
}

impl ThreadCounts {
    const fn new() -> Self {
        Self {
            allocations: Cell::new(0),
            deallocations: Cell::new(0),
            reallocations: Cell::new(0),
            bytes_allocated: Cell::new(0),
            bytes_freed: Cell::new(0),
        }
    }

    fn snapshot(&self) -> AllocStats {
        AllocStats {
            allocations: self.allocations.get(),
            deallocations: self.deallocations.get(),
            reallocations: self.reallocations.get(),
            bytes_allocated: self.bytes_allocated.get(),
            bytes_freed: self.bytes_freed.get(),
        }
    }
}

thread_local! {
    // `const`-initialised, and `ThreadCounts` has no `Drop`: on every target with native
    // thread-locals (Linux, macOS, Windows and the other tier-1 targets), std then keeps it
    // in the thread's static TLS block, with no lazy initialisation (which could allocate,
    // and so re-enter this allocator) and no destructor to register (which allocates on some
    // platforms, and would make the counts unreadable while the thread ends).
    static THREAD: ThreadCounts = const { ThreadCounts::new() };
}

/// Adds to a thread-local count. Wrapping: a debug build's overflow check would panic, and
/// the allocator must never panic.
fn add(cell: &Cell<u64>, n: u64) {
    cell.set(cell.get().wrapping_add(n));
}

/// A block size as a count. `usize` is at most 64 bits on every platform Rust supports.
fn bytes(size: usize) -> u64 {
    size as u64
}

fn record_alloc(size: usize) {
    let size = bytes(size);
    TOTALS.allocations.fetch_add(1, Ordering::Relaxed);
    TOTALS.bytes_allocated.fetch_add(size, Ordering::Relaxed);
    grow_live(size);
    let _ = THREAD.try_with(|t| {
        add(&t.allocations, 1);
        add(&t.bytes_allocated, size);
    });
}

fn record_dealloc(size: usize) {
    let size = bytes(size);
    TOTALS.deallocations.fetch_add(1, Ordering::Relaxed);
    TOTALS.bytes_freed.fetch_add(size, Ordering::Relaxed);
    TOTALS.live_bytes.fetch_sub(size, Ordering::Relaxed);
    let _ = THREAD.try_with(|t| {
        add(&t.deallocations, 1);
        add(&t.bytes_freed, size);
    });
}

fn record_realloc(old_size: usize, new_size: usize) {
    let (old_size, new_size) = (bytes(old_size), bytes(new_size));
    TOTALS.reallocations.fetch_add(1, Ordering::Relaxed);
    let grown = new_size.saturating_sub(old_size);
    let shrunk = old_size.saturating_sub(new_size);
    if grown > 0 {
        TOTALS.bytes_allocated.fetch_add(grown, Ordering::Relaxed);
        grow_live(grown);
    }
    if shrunk > 0 {
        TOTALS.bytes_freed.fetch_add(shrunk, Ordering::Relaxed);
        TOTALS.live_bytes.fetch_sub(shrunk, Ordering::Relaxed);
    }
    let _ = THREAD.try_with(|t| {
        add(&t.reallocations, 1);
        add(&t.bytes_allocated, grown);
        add(&t.bytes_freed, shrunk);
    });
}

/// Adds to the live bytes and raises the peak if this is a new high.
fn grow_live(by: u64) {
    let live = TOTALS
        .live_bytes
        .fetch_add(by, Ordering::Relaxed)
        .wrapping_add(by);
    // Most allocations set no new peak: a plain load spares the shared line a write. If the
    // load is stale (lower than the real peak), `fetch_max` is merely called for nothing.
    if live > TOTALS.peak_live_bytes.load(Ordering::Relaxed) {
        TOTALS.peak_live_bytes.fetch_max(live, Ordering::Relaxed);
    }
}

/// A number with thousands separators, for byte counts a reader can take in at a glance.
#[derive(Debug)]
struct Grouped(u64);

impl fmt::Display for Grouped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.0.to_string();
        let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
        for (i, digit) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                grouped.push(',');
            }
            grouped.push(digit);
        }
        f.pad(&grouped)
    }
}

#[cfg(test)]
mod tests {
    //! The arithmetic, without the allocator installed (the crate's unit tests use the
    //! system allocator). `shared/tests/alloc_counter.rs` installs it and tests the counting.

    use super::*;

    #[test]
    fn since_is_the_fieldwise_difference() {
        let earlier = AllocStats {
            allocations: 1,
            deallocations: 2,
            reallocations: 3,
            bytes_allocated: 40,
            bytes_freed: 50,
        };
        let later = AllocStats {
            allocations: 11,
            deallocations: 12,
            reallocations: 13,
            bytes_allocated: 140,
            bytes_freed: 150,
        };
        assert_eq!(
            later.since(&earlier),
            AllocStats {
                allocations: 10,
                deallocations: 10,
                reallocations: 10,
                bytes_allocated: 100,
                bytes_freed: 100,
            }
        );
    }

    #[test]
    fn net_bytes_saturates_instead_of_overflowing() {
        let huge = AllocStats {
            bytes_allocated: u64::MAX,
            ..AllocStats::default()
        };
        assert_eq!(huge.net_bytes(), i64::MAX);
        let freed = AllocStats {
            bytes_freed: u64::MAX,
            ..AllocStats::default()
        };
        assert_eq!(freed.net_bytes(), i64::MIN);
    }

    #[test]
    fn byte_counts_are_grouped_by_thousands() {
        let cases = [
            (0, "0"),
            (999, "999"),
            (1_000, "1,000"),
            (123_456_789, "123,456,789"),
        ];
        for (n, text) in cases {
            assert_eq!(Grouped(n).to_string(), text);
        }
        assert_eq!(format!("{:>7}", Grouped(1_000)), "  1,000");
    }

    #[test]
    fn without_the_allocator_installed_nothing_is_counted() {
        // The unit-test binary uses the system allocator.
        assert!(!is_installed());
        let ((), stats) = allocated_by(|| drop(std::hint::black_box(vec![1u8; 100])));
        assert_eq!(stats, AllocStats::default());
    }
}
