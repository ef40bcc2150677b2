//! The memory cap of lesson l3-42 (`level_3_advanced::memory_cap`), on real child processes:
//! a child that allocates past its address-space cap fails (an abort, or a refusal it
//! reports) and the parent reads which; a child under the cap finishes; a child that never
//! ends is killed at the deadline. Then the parent's report for every kind of end, on exit
//! statuses made by hand.
//!
//! The child is this test binary again, running only its ignored `child_entry_point`, with the
//! `L3_MEMORY_CAP_CHILD` variable saying what to allocate. It asks for twice its cap and no
//! more, so a cap that is not applied costs 2 x `CAP` of memory, not the machine's.
#![cfg(target_os = "linux")]

use level_3_advanced::memory_cap::{
    self, Allocation, Finished, MIB, Outcome, REFUSED_EXIT_CODE, SIGABRT, capped_command,
};
use shared::testing::TIMEOUT;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitStatus};
use std::time::Duration;

/// The variable that turns this test binary into a child: `ordinary:MIB` or `fallible:MIB`.
const CHILD: &str = "L3_MEMORY_CAP_CHILD";
/// The test harness runs each test on a thread of its own, whose stack and malloc arena are
/// reserved address space: a child here reaches a `VmPeak` of about 140 MiB before it
/// allocates anything (the lesson's child, about 3 MiB). The cap leaves room for twice that.
const CAP: u64 = 320 * MIB;
const BLOCK: u64 = 16 * MIB;

/// Not a test: the child's entry point, which the tests below run in a child process (hence
/// `ignore`, so that a plain `cargo test` does not count it). It allocates what `CHILD` says
/// and exits.
#[test]
#[ignore = "the child process of the other tests, not a test of its own"]
fn child_entry_point() {
    let spec = std::env::var(CHILD).expect("run by the other tests, with CHILD set");
    let (how, mib) = spec.split_once(':').expect("how:MiB");
    let how = match how {
        "ordinary" => Allocation::Ordinary,
        "fallible" => Allocation::Fallible,
        other => panic!("unknown allocation {other:?}"),
    };
    let mib: u64 = mib.parse().expect("MiB");
    std::process::exit(memory_cap::child(mib * MIB, BLOCK, how));
}

/// Runs this binary as a child capped at `CAP`, allocating `mib` MiB the way `how` says.
fn capped_child(how: &str, mib: u64) -> Finished {
    let mut command = Command::new(std::env::current_exe().expect("the test's own path"));
    command
        .args([
            "--exact",
            "child_entry_point",
            "--include-ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, format!("{how}:{mib}"));
    let child = memory_cap::run(capped_command(command, CAP), TIMEOUT).expect("the child ran");
    let peak =
        memory_cap::baseline_peak_kib(&child).unwrap_or_else(|| panic!("no baseline: {child:?}"));
    assert!(
        peak * 1024 * 2 <= CAP,
        "a baseline of {peak} KiB leaves too little room"
    );
    child
}

#[test]
fn an_ordinary_allocation_past_the_cap_aborts_the_child_and_the_parent_says_so() {
    let child = capped_child("ordinary", 2 * CAP / MIB);
    let Outcome::AbortedOnAllocation { mib, bytes } = memory_cap::outcome(&child) else {
        panic!("expected an abort on an allocation: {child:?}");
    };
    assert_eq!(child.status.signal(), Some(SIGABRT));
    assert_eq!(bytes, BLOCK);
    assert!((1..CAP / MIB).contains(&mib), "{mib} MiB");
}

#[test]
fn a_fallible_allocation_past_the_cap_is_refused_and_reported() {
    let child = capped_child("fallible", 2 * CAP / MIB);
    let Outcome::Refused { mib } = memory_cap::outcome(&child) else {
        panic!("expected a reported refusal: {child:?}");
    };
    assert_eq!(child.status.code(), Some(REFUSED_EXIT_CODE));
    assert!((1..CAP / MIB).contains(&mib), "{mib} MiB");
}

#[test]
fn a_child_under_the_cap_finishes() {
    let child = capped_child("ordinary", 2 * BLOCK / MIB);
    assert_eq!(
        memory_cap::outcome(&child),
        Outcome::Finished {
            mib: 2 * BLOCK / MIB
        },
        "{child:?}"
    );
}

#[test]
fn a_child_past_its_deadline_is_killed_and_the_run_fails() {
    let mut command = Command::new("sleep");
    command.arg("30");
    let error = memory_cap::run(command, Duration::from_millis(100)).expect_err("a deadline");
    assert_eq!(error.kind(), std::io::ErrorKind::TimedOut);
}

/// A finished child made by hand: `raw` is a wait status (an exit code `c` is `c << 8`, a
/// signal `s` is `s`).
fn ended(raw: i32, stdout: &str, stderr: &str) -> Finished {
    Finished {
        status: ExitStatus::from_raw(raw),
        stdout: stdout.into(),
        stderr: stderr.into(),
    }
}

#[test]
fn the_report_reads_each_kind_of_end() {
    let progress = "running 1 test\nbaseline VmPeak 10 KiB\nallocated 8 MiB\nallocated 16 MiB\n";
    let abort = "memory allocation of 8388608 bytes failed\n";
    let refusal = "error: a block of 8 MiB was refused after 16 MiB (...)\n";
    assert_eq!(
        memory_cap::outcome(&ended(0, progress, "")),
        Outcome::Finished { mib: 16 }
    );
    assert_eq!(
        memory_cap::outcome(&ended(SIGABRT, progress, abort)),
        Outcome::AbortedOnAllocation {
            mib: 16,
            bytes: 8 * MIB
        }
    );
    assert_eq!(
        memory_cap::outcome(&ended(REFUSED_EXIT_CODE << 8, progress, refusal)),
        Outcome::Refused { mib: 16 }
    );
    // Not an allocation failure: an abort with no message, a kill, a failure of another kind.
    for (raw, stderr) in [
        (SIGABRT, ""),
        (9, abort),
        (1 << 8, "error: bad input\n"),
        (2 << 8, refusal),
    ] {
        let outcome = memory_cap::outcome(&ended(raw, progress, stderr));
        assert!(matches!(outcome, Outcome::Other(_)), "{raw}: {outcome:?}");
    }
}
