//! # Lesson l2-06: a buffer handed back and forth, never copied
//!
//! Replaces the Node pattern of transferring an `ArrayBuffer` to a worker and having the
//! worker transfer it back (`postMessage(buf, [buf])` both ways), so that the buffer is
//! detached on one side while the other works on it. In Rust each hop is a move of the
//! `Vec<u8>` through a channel: the bytes stay where they are, and only the thread that
//! holds the `Vec` can touch them.
//!
//! Shows: a 100 MiB buffer sent between `main` and `pong` 20 times; at every hop the receiver
//! checks with `as_ptr()` that it is the same allocation, and bumps the first byte.
//!
//! Run: `cargo run --release --example l2-06-buffer-ping-pong`
//!
//! Expect: 20 hop lines alternating `[pong]` and `[main]`, the time for all of them, then
//! `result: 20 hops of 100 MiB, 1 address, first byte bumped 20 times`.

use anyhow::{Context, anyhow, ensure};
use std::thread;
use std::time::Instant;

/// 100 MiB of `FILL`, and the round trips (each is two hops).
const SIZE: usize = 100 * 1024 * 1024;
const FILL: u8 = 42;
const ROUND_TRIPS: usize = 10;

fn main() -> anyhow::Result<()> {
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
                let buffer = hop("pong", buffer, address)?;
                to_main.send(buffer).map_err(|_| anyhow!("main hung up"))?;
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
        let back = main_inbox.recv().context("pong ended early")?;
        buffer = hop("main", back, address)?;
    }
    let elapsed = start.elapsed();
    pong.join().map_err(|_| anyhow!("pong panicked"))??;
    let hops = 2 * ROUND_TRIPS;
    println!(
        "[main] {hops} hops of {} MiB took {:.1} µs in all (it varies by run)",
        SIZE >> 20,
        elapsed.as_secs_f64() * 1e6
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
    assert!(
        buffer[1..].iter().all(|&b| b == FILL),
        "nothing else changed"
    );
    println!(
        "result: {hops} hops of {} MiB, 1 address, first byte bumped {} times",
        SIZE >> 20,
        buffer[0]
    );
    Ok(())
}

/// One hop: checks the buffer is still the same allocation, bumps its first byte, and hands
/// it back for the next send.
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
