//! Wrong answer (promise not kept): invert_every_100th starts at byte 100 instead of byte 0.
//! # Exercise l2-ex02: transferables
//!
//! **Goal.** Send a 50 MB image to a worker thread that inverts every 100th byte and sends it
//! back, once by *move* and once by *clone*, and compare the two. In Node the first is
//! `postMessage(buf, [buf])` with a transfer list (no copy, and the sender's `ArrayBuffer` is
//! left detached, length 0), the second a plain `postMessage(buf)` (a structured clone, a full
//! copy). In Rust sending a `Vec<u8>` *is* the transfer: only the pointer, length and capacity
//! travel, and the compiler refuses any use of the moved value. A copy happens only where the
//! code says `.clone()` or `.to_vec()`.
//!
//! **Check your attempt:** `cargo exercise check l2-ex02`
//!
//! **What the tests expect**
//! - [`invert_every_100th`] XORs bytes 0, 100, 200, ... with `0xFF` and leaves every other byte
//!   as it was, whatever the length (0 and 1 included).
//! - [`process_by_move`] moves the image to a new worker thread and gets it back with exactly
//!   those bytes inverted, in the **same allocation**: `as_ptr()` is unchanged, so not one
//!   byte was copied. This holds for the course's 50 MB ([`IMAGE_SIZE`]) too.
//! - [`process_by_clone`] gives the worker a copy: the result is inverted and lives in another
//!   allocation, and the caller's image is unchanged.
//! - Both report the worker's thread id, which is not the caller's. [`round_trip`] runs the
//!   `work` it is given once, on that worker thread: a test passes a `work` that records the
//!   thread it really runs on.
//! - [`compare`] runs both on an image of the given size, checks the results, and reports
//!   both times. The tests never look at the times.
//! - Using an image after moving it does not compile: see the `compile_fail` example on
//!   [`process_by_move`].
//!
//! **Hints:** `cargo exercise hint l2-ex02` shows one at a time, from the idea to the
//! exact API to the documentation.

use anyhow::{Context, anyhow, ensure};
use std::fmt;
use std::thread::{self, ThreadId};
use std::time::{Duration, Instant};

/// The size of the Node exercise's simulated image: 50 MB.
pub const IMAGE_SIZE: usize = 50 * 1024 * 1024;

/// Every `STRIDE`th byte is inverted: bytes 0, 100, 200, ...
pub const STRIDE: usize = 100;

/// What an inverted byte is XORed with.
pub const FLIP: u8 = 0xFF;

/// The name of the worker thread.
pub const WORKER_NAME: &str = "image-worker";

/// How long a round trip waits for the worker's reply before it gives up with an error.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(30);

/// A made-up image of `size` bytes: byte `i` is `i % 256`.
pub fn make_image(size: usize) -> Vec<u8> {
    // Truncation is the point: the pattern repeats every 256 bytes.
    (0..size).map(|i| i as u8).collect()
}

/// An image back from the worker, and which thread processed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Processed {
    /// The image, with every 100th byte inverted.
    pub image: Vec<u8>,
    /// The id of the worker thread that inverted it.
    pub worker: ThreadId,
}

/// The times of one round trip of each kind, on images of the same size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Comparison {
    /// The image size, in bytes.
    pub size: usize,
    /// The round trip by move: spawn, send, invert, send back, join.
    pub by_move: Duration,
    /// The same round trip, plus a copy of the image on the way out.
    pub by_clone: Duration,
}

impl Comparison {
    /// How many times longer the clone round trip took: the price of the copy.
    pub fn ratio(&self) -> f64 {
        self.by_clone.as_secs_f64() / self.by_move.as_secs_f64().max(f64::MIN_POSITIVE)
    }
}

impl fmt::Display for Comparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mb = self.size as f64 / (1024.0 * 1024.0);
        writeln!(f, "{:<24}{:>12.1?}", "round trip by move", self.by_move)?;
        writeln!(f, "{:<24}{:>12.1?}", "round trip by clone", self.by_clone)?;
        write!(f, "clone / move ({mb:.1} MB): {:.1}x", self.ratio())
    }
}

/// XORs bytes 0, 100, 200, ... of `bytes` with [`FLIP`], in place. What the worker does.
pub fn invert_every_100th(bytes: &mut [u8]) {
    for byte in bytes.iter_mut().skip(STRIDE).step_by(STRIDE) {
        *byte ^= FLIP;
    }
}

/// Sends `image` to a new worker thread, which runs `work` on it and sends the very same `Vec`
/// back. Two moves, no copy: only the `Vec`'s pointer, length and capacity cross the channels.
/// [`process_by_move`] and [`process_by_clone`] pass [`invert_every_100th`] as the `work`.
///
/// # Errors
/// As [`process_by_move`].
pub fn round_trip(image: Vec<u8>, work: fn(&mut [u8])) -> anyhow::Result<Processed> {
    let (image_tx, image_rx) = crossbeam_channel::bounded::<Vec<u8>>(1);
    let (done_tx, done_rx) = crossbeam_channel::bounded::<Processed>(1);

    let worker = thread::Builder::new()
        .name(WORKER_NAME.to_owned())
        .spawn(move || {
            // The main thread hung up without sending: nothing to do.
            let Ok(mut image) = image_rx.recv() else {
                return;
            };
            work(&mut image);
            let worker = thread::current().id();
            // The caller may have given up waiting; then the image is simply dropped.
            let _ = done_tx.send(Processed { image, worker });
        })
        .context("could not spawn the image worker")?;

    // `postMessage(buf, [buf])`: the `Vec` moves into the channel, its bytes stay put.
    image_tx
        .send(image)
        .map_err(|_| anyhow!("the image worker ended before it got the image"))?;
    let processed = done_rx
        .recv_timeout(REPLY_TIMEOUT)
        .context("the image worker sent nothing back")?;
    worker
        .join()
        .map_err(|_| anyhow!("the image worker panicked"))?;
    Ok(processed)
}

/// Moves `image` to a worker thread and back, every 100th byte inverted, without copying it:
/// the `Vec` that comes back is the one that went, in the same allocation.
///
/// The caller gives the image away. Using it afterwards does not compile, where Node's
/// transferred `ArrayBuffer` quietly becomes an empty, detached one at run time:
///
/// ```compile_fail,E0382
/// use level_2_intermediate::solutions::ex02_transferables::{make_image, process_by_move};
///
/// let image = make_image(1_000);
/// let processed = process_by_move(image)?;
/// println!("{}", image.len()); // error[E0382]: borrow of moved value: `image`
/// # Ok::<(), anyhow::Error>(())
/// ```
///
/// # Errors
/// If the worker cannot be spawned, sends nothing back within [`REPLY_TIMEOUT`], or panics.
pub fn process_by_move(image: Vec<u8>) -> anyhow::Result<Processed> {
    round_trip(image, invert_every_100th)
}

/// Gives a worker thread a copy of `image` to invert, and returns the copy. The caller's
/// bytes are only borrowed, so they cannot change: the compiler guarantees it.
///
/// # Errors
/// As [`process_by_move`].
pub fn process_by_clone(image: &[u8]) -> anyhow::Result<Processed> {
    // The structured clone of a plain `postMessage(buf)`, made once, where the code says so.
    round_trip(image.to_vec(), invert_every_100th)
}

/// Runs a round trip of each kind on an image of `size` bytes, checks both results against
/// [`invert_every_100th`], and returns their times.
///
/// # Errors
/// If a round trip fails, or a result is not the image inverted (or the move copied it).
pub fn compare(size: usize) -> anyhow::Result<Comparison> {
    let image = make_image(size);
    let mut wanted = image.clone();
    invert_every_100th(&mut wanted);

    let started = Instant::now();
    let cloned = process_by_clone(&image)?;
    let by_clone = started.elapsed();
    ensure!(
        cloned.image == wanted,
        "the clone round trip gave wrong bytes"
    );

    let address = image.as_ptr();
    let started = Instant::now();
    let moved = process_by_move(image)?;
    let by_move = started.elapsed();
    ensure!(
        moved.image == wanted,
        "the move round trip gave wrong bytes"
    );
    ensure!(
        moved.image.as_ptr() == address,
        "the move round trip copied the image"
    );

    Ok(Comparison {
        size,
        by_move,
        by_clone,
    })
}
