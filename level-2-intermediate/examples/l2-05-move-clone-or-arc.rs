//! # Lesson l2-05: moving data to a thread: move, clone or `Arc`
//!
//! Replaces the Node course's `02-transferable-objects`, which posts a big buffer to a worker
//! twice: once copied by structured clone, once in a `transferList`, after which the sender's
//! buffer is *detached* (its `byteLength` is 0). In Rust the three ways are all visible:
//!
//! | Node | Rust | cost | the sender afterwards |
//! |---|---|---|---|
//! | `postMessage(buf, [buf])` (transfer) | send the `Vec<u8>` itself: a move | a pointer, a length, a capacity | cannot name it: a compile error, not a detached buffer |
//! | `postMessage(buf)` (structured clone) | send `buf.clone()` | every byte copied | keeps its own, independent copy |
//! | `SharedArrayBuffer` (read-only use) | send `Arc::clone(&shared)` of an `Arc<[u8]>` | a counter increment | keeps reading the same bytes |
//!
//! Shows: a 100 MiB buffer sent to a worker each way; the worker sums the bytes and reports
//! the address it received (`as_ptr()`), which proves that the move and the `Arc` share the
//! bytes while the clone copied them; and what making each message cost the sender.
//!
//! Run: `cargo run --release --example l2-05-move-clone-or-arc`
//!
//! Expect: three receipts from `[summer]`, the three costs (they vary by machine and run): the
//! move and the `Arc` in µs, the clone also as a copying rate in MB/s, and no ratio of the
//! clone to the other two, which take too little time to compare
//! (`shared::timing::compare_text`), then `result: 3 sums of 4404019200 matched; move and Arc
//! shared the bytes, the clone copied them`.

use anyhow::{Context, anyhow};
use crossbeam_channel::{Receiver, Sender};
use shared::timing::compare_text;
use std::mem::size_of;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// 100 MiB of `FILL`, as in the Node example, and what the worker must find.
const SIZE: usize = 100 * 1024 * 1024;
const FILL: u8 = 42;
const EXPECTED_SUM: u64 = FILL as u64 * SIZE as u64;

fn main() -> anyhow::Result<()> {
    let (parcel_tx, parcel_rx) = crossbeam_channel::unbounded();
    let (receipt_tx, receipts) = crossbeam_channel::unbounded();
    let worker = thread::Builder::new()
        .name("summer".to_owned())
        .spawn(move || summer(parcel_rx, receipt_tx))
        .context("could not spawn the summer")?;
    let buffer = vec![FILL; SIZE];
    let original = buffer.as_ptr() as usize;
    println!("[main] a {} MiB buffer at {original:#x}", SIZE >> 20);

    // 1. Structured clone: `.clone()` copies every byte; `buffer` is still ours, untouched.
    let (cloned, clone_cost) = hand_over(&parcel_tx, &receipts, || Parcel::Cloned(buffer.clone()))?;
    println!(
        "[main] after the clone the buffer is still mine: {} bytes",
        buffer.len()
    );

    // 2. Transfer: the `Vec` itself moves; only its pointer, length and capacity travel.
    let (moved, move_cost) = hand_over(&parcel_tx, &receipts, || Parcel::Moved(buffer))?;
    // Node would now show a detached buffer. Here the name is gone; uncomment to see:
    // println!("{}", buffer.len()); // error[E0382]: borrow of moved value: `buffer`

    // 3. Shared, read-only: building the `Arc<[u8]>` copies once; each share after that is a
    //    counter increment.
    let shared: Arc<[u8]> = vec![FILL; SIZE].into();
    let shared_at = shared.as_ptr() as usize;
    let (arc, arc_cost) = hand_over(&parcel_tx, &receipts, || {
        Parcel::Shared(Arc::clone(&shared))
    })?;
    let owners_after = Arc::strong_count(&shared);

    drop(parcel_tx); // the summer's loop ends
    worker.join().map_err(|_| anyhow!("the summer panicked"))?;
    print_costs(move_cost, arc_cost, clone_cost);

    for receipt in [&cloned, &moved, &arc] {
        assert_eq!(receipt.sum, EXPECTED_SUM, "the {} bytes", receipt.how);
    }
    assert_eq!(moved.address, original, "the move shared the bytes");
    assert_ne!(cloned.address, original, "the clone copied them elsewhere");
    assert_eq!(arc.address, shared_at, "the Arc shared the bytes");
    assert_eq!(
        owners_after, 1,
        "the summer dropped its Arc before replying"
    );
    println!(
        "result: 3 sums of {EXPECTED_SUM} matched; move and Arc shared the bytes, the clone \
         copied them"
    );
    Ok(())
}

/// How the buffer travels. Each variant owns what it carries: the message *is* the data.
#[derive(Debug)]
enum Parcel {
    Moved(Vec<u8>),
    Cloned(Vec<u8>),
    Shared(Arc<[u8]>),
}

/// What the worker reports back: which way the bytes came, where they were, and their sum.
#[derive(Debug)]
struct Receipt {
    how: &'static str,
    address: usize,
    sum: u64,
}

/// The worker: sums every buffer it is given and reports where it found it.
fn summer(parcels: Receiver<Parcel>, receipts: Sender<Receipt>) {
    for parcel in parcels {
        let (how, bytes): (&'static str, &[u8]) = match &parcel {
            Parcel::Moved(v) => ("moved", v),
            Parcel::Cloned(v) => ("cloned", v),
            Parcel::Shared(arc) => ("Arc", arc),
        };
        let address = bytes.as_ptr() as usize;
        let sum = bytes.iter().map(|&b| u64::from(b)).sum();
        println!("[summer] got {how} bytes at {address:#x}, sum {sum}");
        // Dropped before replying: the reader of the receipt knows the parcel is let go.
        drop(parcel);
        if receipts.send(Receipt { how, address, sum }).is_err() {
            break;
        }
    }
}

/// Makes a parcel with `make` (which may copy), sends it, and returns the worker's receipt
/// with what *making* the parcel cost this thread. The send is left out of the timing: it is
/// the same few words in all three cases, and its wall time mostly measures the scheduler.
fn hand_over(
    parcels: &Sender<Parcel>,
    receipts: &Receiver<Receipt>,
    make: impl FnOnce() -> Parcel,
) -> anyhow::Result<(Receipt, Duration)> {
    let start = Instant::now();
    let parcel = make();
    let cost = start.elapsed();
    parcels
        .send(parcel)
        .map_err(|_| anyhow!("the summer stopped early"))?;
    let receipt = receipts
        .recv()
        .context("the summer ended without a receipt")?;
    Ok((receipt, cost))
}

fn print_costs(move_cost: Duration, arc_cost: Duration, clone_cost: Duration) {
    let micros = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "[main] making the message for 100 MiB (every message is {} bytes, whatever it holds):",
        size_of::<Parcel>()
    );
    println!("[main]   move:      {:>10.1} µs", micros(move_cost));
    println!("[main]   Arc clone: {:>10.1} µs", micros(arc_cost));
    println!(
        "[main]   .clone():  {:>10.1} µs, copying {:.0} MB/s (it varies by machine and run)",
        micros(clone_cost),
        SIZE as f64 / clone_cost.as_secs_f64().max(1e-9) / 1e6
    );
    // A ratio needs both times long enough to measure: the move and the Arc copy no bytes,
    // whatever the buffer's size, and take far too little time to divide by.
    println!(
        "[main]   .clone() / move: {}; .clone() / Arc clone: {}",
        compare_text(clone_cost, move_cost),
        compare_text(clone_cost, arc_cost)
    );
}
