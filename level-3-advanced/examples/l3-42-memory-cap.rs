//! # Lesson l3-42: a real memory cap: a child process with an address-space limit (Linux)
//!
//! Replaces the Node course's `resourceLimits.maxOldGenerationSizeMb`: a worker with a heap
//! cap of its own, ended alone when it goes past it while the main thread carries on. Threads
//! share one heap, and no thread can have a cap. A process can: the parent starts this same
//! binary again with `setrlimit(RLIMIT_AS)` applied in the child before it runs
//! (`CommandExt::pre_exec`, through the `rlimit` crate; `level_3_advanced::memory_cap`).
//!
//! `RLIMIT_AS` limits **address space**, reserved or used (`VmSize` in `/proc/self/status`),
//! not memory in use (`VmRSS`). Each thread's stack (2 MiB for threads std spawns) and each of
//! glibc's per-thread malloc arenas (up to 64 MiB) count in full from the moment they are
//! mapped, touched or not: once two threads have read its children's output, this parent
//! maps far more than it has in memory (printed). So the cap is set with room over the
//! child's own baseline: the child prints its `VmPeak` first, and the lesson checks that the
//! cap is at least twice that.
//!
//! Shows: three children capped at 64 MiB, each allocating and writing 8 MiB blocks. One asks
//! for 128 MiB the ordinary way (`vec!`): the kernel refuses a block, Rust's
//! `handle_alloc_error` prints `memory allocation of 8388608 bytes failed` and aborts (SIGABRT).
//! That is what ordinary code gets; the parent captures that line and reports it, so nothing
//! reaches this lesson's stderr. One asks for 128 MiB with `Vec::try_reserve_exact`: a clean
//! error, exit code 1. One asks for 16 MiB and finishes. The parent then allocates the 128 MiB
//! itself: the cap was the child's alone. Each child is reaped within a deadline.
//!
//! Linux only: on other systems it prints one line and exits 0.
//!
//! Run: `cargo run --release --example l3-42-memory-cap`
//!
//! Expect: each child's report, then `result: capped at 64 MiB, the ordinary child aborted
//! (signal 6) after N MiB, the try_reserve child refused after N MiB (exit 1), the 16 MiB child
//! finished; the parent lived on`.

#[cfg(target_os = "linux")]
use {
    anyhow::{Context, bail},
    level_3_advanced::memory_cap::{
        self, Allocation, MIB, Outcome, REFUSED_EXIT_CODE, SIGABRT, capped_command,
    },
    shared::testing::TIMEOUT,
    std::process::{Command, ExitCode},
};

/// The child's cap, the blocks it allocates in, and what the two kinds of child ask for.
#[cfg(target_os = "linux")]
const CAP: u64 = 64 * MIB;
#[cfg(target_os = "linux")]
const BLOCK: u64 = 8 * MIB;
/// Twice the cap, and no more: without a cap, the child would just take it.
#[cfg(target_os = "linux")]
const TOO_MUCH: u64 = 2 * CAP;
#[cfg(target_os = "linux")]
const UNDER_THE_CAP: u64 = 16 * MIB;

#[cfg(target_os = "linux")]
fn main() -> anyhow::Result<ExitCode> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        [] => {}
        ["--child", how @ ("ordinary" | "fallible"), mib]
            if mib
                .parse::<u64>()
                .is_ok_and(|m| m.checked_mul(MIB).is_some()) =>
        {
            let how = match how {
                "ordinary" => Allocation::Ordinary,
                _ => Allocation::Fallible,
            };
            let code = memory_cap::child(mib.parse::<u64>()? * MIB, BLOCK, how);
            return Ok(ExitCode::from(code as u8));
        }
        _ => {
            eprintln!("error: unexpected arguments {args:?}; this lesson takes none");
            return Ok(ExitCode::from(2));
        }
    }
    let ordinary = capped_child("ordinary", TOO_MUCH)?;
    let fallible = capped_child("fallible", TOO_MUCH)?;
    let light = capped_child("ordinary", UNDER_THE_CAP)?;
    let (_, size, rss) = memory_cap::vm_kib()?;
    println!(
        "[main] the parent, whose threads read the children's output: VmSize {} MiB of \
         address space, VmRSS {} MiB in memory now",
        size / 1024,
        rss / 1024
    );

    // The parent is not capped: it can have what the children could not.
    let mine = vec![1u8; TOO_MUCH as usize];
    println!(
        "[main] the parent allocated {} MiB itself",
        mine.len() as u64 / MIB
    );
    let Outcome::AbortedOnAllocation {
        mib: aborted_at,
        bytes,
    } = ordinary
    else {
        bail!("the ordinary child was meant to abort on an allocation: {ordinary:?}");
    };
    assert_eq!(bytes, BLOCK, "the refused allocation was one block");
    let Outcome::Refused { mib: refused_at } = fallible else {
        bail!("the try_reserve child was meant to report a refusal: {fallible:?}");
    };
    // Each got some of its blocks, and stopped below the cap.
    assert!((1..CAP / MIB).contains(&aborted_at) && (1..CAP / MIB).contains(&refused_at));
    assert_eq!(
        light,
        Outcome::Finished {
            mib: UNDER_THE_CAP / MIB
        }
    );
    println!(
        "result: capped at {} MiB, the ordinary child aborted (signal {SIGABRT}) after \
         {aborted_at} MiB, the try_reserve child refused after {refused_at} MiB (exit \
         {REFUSED_EXIT_CODE}), the {} MiB child finished; the parent lived on",
        CAP / MIB,
        UNDER_THE_CAP / MIB
    );
    Ok(ExitCode::SUCCESS)
}

/// Runs this binary again as a child capped at `CAP`, asking it for `mib` MiB the way `how`
/// says; reports how it ended, with what it printed on stderr, and returns the outcome.
#[cfg(target_os = "linux")]
fn capped_child(how: &str, total: u64) -> anyhow::Result<Outcome> {
    let exe = std::env::current_exe().context("cannot find this program's own binary")?;
    let mut command = Command::new(exe);
    command.args(["--child", how, &(total / MIB).to_string()]);
    let child = memory_cap::run(capped_command(command, CAP), TIMEOUT)
        .with_context(|| format!("the {how} child"))?;
    let peak = memory_cap::baseline_peak_kib(&child).context("the child gave no baseline")?;
    println!(
        "[main] {how} child asking for {} MiB: started at VmPeak {} MiB; {}",
        total / MIB,
        peak / 1024,
        child.status
    );
    for line in child.stderr.lines() {
        println!("[main]   it said on stderr: {line}");
    }
    // The cap leaves room for the child's own baseline, twice over.
    assert!(
        peak * 1024 * 2 <= CAP,
        "a baseline of {peak} KiB leaves too little room"
    );
    let outcome = memory_cap::outcome(&child);
    println!("[main]   the parent's report: {outcome:?}");
    Ok(outcome)
}

/// Elsewhere: the lesson needs Linux's `RLIMIT_AS` and `/proc/self/status`.
#[cfg(not(target_os = "linux"))]
fn main() {
    println!("result: skipped: this lesson's address-space limit is shown on Linux only");
}
