//! # Lesson l2-02: moving data between threads (Node's transferable objects)
//!
//! Replaces the Node course's `02-transferable-objects`, which posts a big buffer to a worker
//! twice: once copied by structured clone, once in a `transferList`, after which the sender's
//! buffer is *detached* (its `byteLength` is 0, and writes to it are silently dropped). In
//! Rust the three ways to hand data to a thread are all visible in the code:
//!
//! | Node | Rust | cost | the sender afterwards |
//! |---|---|---|---|
//! | `postMessage(buf, [buf])` (transfer) | send the `Vec<u8>` itself: a move | a pointer, a length, a capacity | cannot name it: a compile error, not a detached buffer |
//! | `postMessage(buf)` (structured clone) | send `buf.clone()` | every byte copied | keeps its own, independent copy |
//! | `SharedArrayBuffer` (read-only use) | send `Arc::clone(&shared)` of an `Arc<[u8]>` | a counter increment | keeps reading the same bytes |
//!
//! Shows: a 100 MiB buffer sent to a worker each way; the worker sums the bytes and reports
//! the address it received (`as_ptr()`), which proves that the move and the `Arc` share the
//! bytes while the clone copied them; what making each message cost the sender, side by
//! side; then the buffer handed back and forth between two threads, its address unchanged at
//! every hop.
//!
//! Run: `cargo run --release --example l2-02-transferable-objects` (a debug build works, but
//! takes several seconds to sum 300 MiB)
//!
//! Expect: three receipts from `[summer]`, the three costs with their ratios (they vary by
//! machine and run; the copy is always the slow one), 20 hops of the ping-pong, then
//! `result: 3 sums of 4404019200 matched; move and Arc shared the bytes, the clone copied
//! them; 20 hops, 1 address`.

use anyhow::{Context, anyhow, ensure};
use crossbeam_channel::{Receiver, Sender};
use shared::timing::ratio;
use std::mem::size_of;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// 100 MiB.
const SIZE: usize = 100 * 1024 * 1024;

/// Every byte of the buffer, as in the Node example.
const FILL: u8 = 42;

/// What the worker must find: `SIZE` bytes of `FILL`.
const EXPECTED_SUM: u64 = FILL as u64 * SIZE as u64;

/// Round trips of the ping-pong (each is two hops).
const ROUND_TRIPS: usize = 10;

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

fn sum(bytes: &[u8]) -> u64 {
    bytes.iter().map(|&b| u64::from(b)).sum()
}

/// The worker: sums every buffer it is given and reports where it found it.
fn summer(parcels: Receiver<Parcel>, receipts: Sender<Receipt>) {
    for parcel in parcels {
        let (how, bytes): (&'static str, &[u8]) = match &parcel {
            Parcel::Moved(v) => ("moved", v),
            Parcel::Cloned(v) => ("cloned", v),
            Parcel::Shared(arc) => ("Arc", arc),
        };
        let receipt = Receipt {
            how,
            address: bytes.as_ptr() as usize,
            sum: sum(bytes),
        };
        println!(
            "[summer] got {how} bytes at {:#x}, sum {}",
            receipt.address, receipt.sum
        );
        // Dropped before replying: whoever reads the receipt knows the worker let go of the
        // parcel (its `Vec` freed, or its `Arc` count lowered).
        drop(parcel);
        if receipts.send(receipt).is_err() {
            break;
        }
    }
}

/// Makes a parcel with `make` (which may copy), sends it, and returns the worker's receipt
/// with what *making* the parcel cost this thread.
///
/// The send itself is left out of the timing: it is the same in all three cases (the message
/// is a few words, see `size_of::<Parcel>()`), and its wall time mostly measures the
/// scheduler: waking the worker can make the operating system run it on this core first.
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

/// One hop of the ping-pong: checks the buffer is still the same allocation, bumps its first
/// byte, and hands it back for the next send.
fn hop(me: &str, mut buffer: Vec<u8>, address: usize) -> anyhow::Result<Vec<u8>> {
    ensure!(
        buffer.as_ptr() as usize == address,
        "[{me}] the buffer arrived at a new address: it was copied"
    );
    buffer[0] = buffer[0].wrapping_add(1);
    println!(
        "[{me}] buffer at {address:#x}, first byte now {}",
        buffer[0]
    );
    Ok(buffer)
}

fn main() -> anyhow::Result<()> {
    let (parcel_tx, parcel_rx) = crossbeam_channel::unbounded();
    let (receipt_tx, receipt_rx) = crossbeam_channel::unbounded();
    let worker = thread::Builder::new()
        .name("summer".to_owned())
        .spawn(move || summer(parcel_rx, receipt_tx))
        .context("could not spawn the summer")?;

    let buffer = vec![FILL; SIZE];
    let original = buffer.as_ptr() as usize;
    println!("[main] a {} MiB buffer at {original:#x}", SIZE >> 20);

    // 1. Structured clone: `.clone()` copies every byte into a new allocation. The copy is
    //    the worker's; `buffer` is still ours, untouched.
    let (cloned, clone_cost) =
        hand_over(&parcel_tx, &receipt_rx, || Parcel::Cloned(buffer.clone()))?;
    ensure!(buffer.len() == SIZE && buffer[SIZE - 1] == FILL);
    println!(
        "[main] after the clone the buffer is still mine: {} bytes",
        buffer.len()
    );

    // 2. Transfer: the `Vec` itself moves into the message. Only its pointer, length and
    //    capacity travel; the 100 MiB stay where they are.
    let (moved, move_cost) = hand_over(&parcel_tx, &receipt_rx, || Parcel::Moved(buffer))?;
    // Node would now show a detached buffer: `buffer.byteLength === 0`, and a write through
    // an old view silently does nothing. Here the name is gone. Uncomment to see the compiler
    // refuse it:
    // println!("{}", buffer.len()); // error[E0382]: borrow of moved value: `buffer`

    // 3. Shared, read-only: one `Arc<[u8]>`, and every thread that needs the bytes gets a
    //    clone of the `Arc`: a counter increment. Building the `Arc` from a `Vec` copies once
    //    (the `Arc` keeps its counts in front of the bytes, in one allocation); after that,
    //    sharing is free however often it happens.
    let shared: Arc<[u8]> = vec![FILL; SIZE].into();
    let shared_at = shared.as_ptr() as usize;
    let (arc, arc_cost) = hand_over(&parcel_tx, &receipt_rx, || {
        Parcel::Shared(Arc::clone(&shared))
    })?;
    let owners_after = Arc::strong_count(&shared);
    drop(shared);

    drop(parcel_tx); // the summer's loop ends
    worker.join().map_err(|_| anyhow!("the summer panicked"))?;

    let micros = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "[main] making the message for 100 MiB (every message is {} bytes, whatever it holds):",
        size_of::<Parcel>()
    );
    println!("[main]   move:      {:>12.1} µs", micros(move_cost));
    println!("[main]   Arc clone: {:>12.1} µs", micros(arc_cost));
    println!(
        "[main]   .clone():  {:>12.1} µs  ({:.0}x the move, {:.0}x the Arc; ratios vary by run)",
        micros(clone_cost),
        ratio(clone_cost, move_cost),
        ratio(clone_cost, arc_cost)
    );

    // 4. Ping-pong: the same buffer back and forth between two threads, moved at each hop.
    let mut buffer = vec![FILL; SIZE];
    let address = buffer.as_ptr() as usize;
    buffer[0] = 0;
    let (to_pong, pong_inbox) = crossbeam_channel::bounded::<Vec<u8>>(1);
    let (to_main, main_inbox) = crossbeam_channel::bounded::<Vec<u8>>(1);
    let pong = thread::Builder::new()
        .name("pong".to_owned())
        .spawn(move || -> anyhow::Result<()> {
            for _ in 0..ROUND_TRIPS {
                let buffer = pong_inbox.recv().context("main hung up")?;
                to_main
                    .send(hop("pong", buffer, address)?)
                    .map_err(|_| anyhow!("main hung up"))?;
            }
            Ok(())
        })
        .context("could not spawn pong")?;
    let start = Instant::now();
    for _ in 0..ROUND_TRIPS {
        to_pong
            .send(buffer)
            .map_err(|_| anyhow!("pong ended early"))?;
        // If pong fails, it drops its sender and this receive fails instead of waiting.
        buffer = hop(
            "main",
            main_inbox.recv().context("pong ended early")?,
            address,
        )?;
    }
    let elapsed = start.elapsed();
    pong.join().map_err(|_| anyhow!("pong panicked"))??;
    let hops = 2 * ROUND_TRIPS;
    println!(
        "[main] {hops} hops of {} MiB took {:.1} µs in all",
        SIZE >> 20,
        micros(elapsed)
    );

    // The checks: every sum, every address, every hop.
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
    assert_eq!(
        buffer.as_ptr() as usize,
        address,
        "the ping-pong never copied"
    );
    assert_eq!(
        usize::from(buffer[0]),
        hops,
        "each hop bumped the first byte once"
    );
    assert_eq!(sum(&buffer[1..]), EXPECTED_SUM - u64::from(FILL));

    println!(
        "result: 3 sums of {EXPECTED_SUM} matched; move and Arc shared the bytes, the clone \
         copied them; {hops} hops, 1 address"
    );
    Ok(())
}
