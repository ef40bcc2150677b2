//! # Lesson l2-14: a task that keeps its own memory budget
//!
//! Replaces Node's `resourceLimits.maxOldGenerationSizeMb` and the Node course's monitor that
//! throws "Memory limit exceeded" only *after* a task has finished allocating. Every Rust
//! thread allocates from the same heap and no allocator call says which task it serves, so
//! there is no per-thread heap cap. What a task can do is check, as it goes, what its own
//! thread has allocated since it began (`shared::alloc::thread_stats`, lesson l2-13's
//! counting allocator), and stop with a typed error when it passes its budget.
//!
//! Shows: a task that builds up to 64 chunks of 1 MiB with a budget of 16 MiB, checking after
//! each chunk; it stops within one chunk of the budget, with an `OverBudget` error that says
//! how much it had used, and frees what it built.
//!
//! To enforce a limit for real, run the work in a child process (`std::process::Command`)
//! under an operating-system limit (`prlimit --as`, `ulimit -v`, a cgroup's `memory.max`):
//! when it runs out, that process dies alone and the parent reads its exit status.
//!
//! Run: `cargo run --release --example l2-14-memory-budget`
//!
//! Expect: `[budget] stopped: the task allocated 16777600 bytes, over its budget of 16777216`
//! (the 16 MiB of chunks and the list that holds them; the bytes may differ a little), then
//! `result: stopped at 16.0 MiB of a 16 MiB budget, not 64 MiB; everything freed`.

use anyhow::{Context, anyhow, bail, ensure};
use shared::alloc::{self, CountingAllocator};
use std::thread;

// Every allocation of this program goes through the counting allocator.
#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator::new();

const MIB: u64 = 1024 * 1024;
const BUDGET: u64 = 16 * MIB;
const CHUNK: usize = MIB as usize;

fn main() -> anyhow::Result<()> {
    ensure!(
        alloc::is_installed(),
        "the counting allocator is not the global allocator"
    );
    let worker = thread::Builder::new()
        .name("budget".to_owned())
        .spawn(|| {
            let start = alloc::thread_stats();
            let outcome = within_budget(BUDGET);
            let left = alloc::thread_stats().since(&start).net_bytes();
            (outcome, left)
        })
        .context("could not spawn the budget task")?;
    let (outcome, left) = worker
        .join()
        .map_err(|_| anyhow!("the budget task panicked"))?;

    let used = match outcome {
        Err(OverBudget { used, budget }) => {
            println!("[budget] stopped: {}", OverBudget { used, budget });
            used
        }
        Ok(chunks) => bail!("64 MiB cannot fit a 16 MiB budget, yet {chunks} chunks did"),
    };
    assert!(used > BUDGET && used <= BUDGET + 2 * CHUNK as u64, "{used}");
    assert_eq!(left, 0, "the chunks were freed when the task returned");
    println!(
        "result: stopped at {:.1} MiB of a {} MiB budget, not 64 MiB; everything freed",
        used as f64 / MIB as f64,
        BUDGET / MIB
    );
    Ok(())
}

/// A task that goes over its memory budget.
#[derive(Debug, thiserror::Error)]
#[error("the task allocated {used} bytes, over its budget of {budget}")]
struct OverBudget {
    used: u64,
    budget: u64,
}

/// Builds up to 64 chunks of 1 MiB, checking after each one what this thread has allocated
/// since the task began. The check stops the work within one chunk of the budget.
fn within_budget(budget: u64) -> Result<usize, OverBudget> {
    let start = alloc::thread_stats();
    let mut chunks: Vec<Vec<u8>> = Vec::new();
    for i in 0..64 {
        chunks.push(vec![i as u8; CHUNK]);
        let used = alloc::thread_stats().since(&start).net_bytes().max(0) as u64;
        if used > budget {
            return Err(OverBudget { used, budget });
        }
    }
    Ok(chunks.len())
}
