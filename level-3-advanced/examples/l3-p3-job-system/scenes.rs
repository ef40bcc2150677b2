//! Parts 1 to 4 of the demo, each checked as it goes: a mixed batch (priorities, retries with
//! backoff, a timeout, a panic), a crash while the log writes a record, the restart from the
//! log, and a clean shutdown that compacts it.

use crate::monitor::{Monitor, list, ms};
use crate::{BACKOFF, HANG_TIMEOUT, PANIC_MESSAGE, PATIENCE};
use anyhow::{Context, bail, ensure};
use level_3_advanced::projects::jobs::{
    CrashPoint, JobEvent, JobId, JobKind, JobSpec, JobStatus, JobSystem, LOG_FILE, Record, read_log,
};
use shared::workload::{checked_fib, count_primes};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

/// Submits `specs` as one batch, named for the monitor.
fn submit_batch(
    system: &JobSystem,
    monitor: &Monitor,
    specs: Vec<JobSpec>,
) -> anyhow::Result<Vec<JobId>> {
    let next = system.next_id();
    monitor.name(next, &specs);
    let ids = system
        .submit_batch(specs)
        .context("the batch was refused")?;
    ensure!(ids.first() == Some(&next), "ids are given in order");
    Ok(ids)
}

/// What a CPU job must output.
fn expected_output(kind: &JobKind) -> Option<u64> {
    match kind {
        JobKind::Fib { n } => checked_fib(*n),
        JobKind::CountPrimes { start, end } => Some(count_primes(*start..*end)),
        _ => None,
    }
}

/// Part 1: a mixed batch on the first system, checked. Returns the ids and the specs.
fn mixed_batch(system: &JobSystem, monitor: &Monitor) -> anyhow::Result<Vec<(JobId, JobSpec)>> {
    println!(
        "[main] --- 1. a mixed batch, submitted at once: priorities, retries, a timeout, a \
         panic ---"
    );
    let specs = vec![
        JobSpec::new(JobKind::Fib { n: 27 }).priority(1),
        JobSpec::new(JobKind::CountPrimes {
            start: 0,
            end: 200_000,
        })
        .priority(5),
        JobSpec::new(JobKind::FailFirst { failures: 2 })
            .priority(5)
            .max_attempts(4),
        JobSpec::new(JobKind::Hang)
            .priority(9)
            .max_attempts(1)
            .timeout(HANG_TIMEOUT),
        JobSpec::new(JobKind::Panic {
            message: PANIC_MESSAGE.to_owned(),
        })
        .priority(3)
        .max_attempts(2),
        JobSpec::new(JobKind::Fib { n: 30 }).priority(9),
        JobSpec::new(JobKind::CountPrimes {
            start: 200_000,
            end: 400_000,
        })
        .priority(1),
        JobSpec::new(JobKind::Fib { n: 25 }),
    ];
    let ids = submit_batch(system, monitor, specs.clone())?;
    system
        .wait_idle(PATIENCE)
        .context("the mixed batch did not finish")?;
    let jobs: Vec<(JobId, JobSpec)> = ids.into_iter().zip(specs).collect();
    let events = monitor.take_events();

    // The order in which the workers *took* the first attempts is the priority order.
    let mut taken: Vec<(u64, JobId)> = events
        .iter()
        .filter_map(|event| match event {
            JobEvent::Started {
                id,
                attempt: 1,
                seq,
                ..
            } => Some((*seq, *id)),
            _ => None,
        })
        .collect();
    taken.sort();
    let taken: Vec<JobId> = taken.into_iter().map(|(_, id)| id).collect();
    let mut by_priority = jobs.clone();
    by_priority.sort_by_key(|(id, spec)| (std::cmp::Reverse(spec.priority), *id));
    let by_priority: Vec<JobId> = by_priority.into_iter().map(|(id, _)| id).collect();
    assert_eq!(
        taken, by_priority,
        "the first attempts were taken by priority"
    );
    println!(
        "[main] first attempts taken in the order {}: highest priority first, equal priorities \
         in id order",
        list(&taken)
    );

    // No attempt started before the backoff time of the failure before it.
    let mut due: BTreeMap<JobId, Duration> = BTreeMap::new();
    let mut retries = 0;
    for event in &events {
        match event {
            JobEvent::Retrying { id, next_at, .. } => {
                due.insert(*id, *next_at);
                retries += 1;
            }
            JobEvent::Started { id, at, .. } => {
                if let Some(next_at) = due.get(id) {
                    assert!(at >= next_at, "{id} started before its backoff time");
                }
            }
            _ => {}
        }
    }

    println!("[main] statuses by id:");
    for (id, spec) in &jobs {
        let status = system.status(*id)?;
        println!("[main]   {}: {status}", monitor.label(*id));
        match (&spec.kind, &status) {
            (JobKind::FailFirst { .. }, JobStatus::Succeeded { output, attempts }) => {
                assert_eq!((*output, *attempts), (3, 3));
            }
            (JobKind::Hang, JobStatus::Failed { error, attempts }) => {
                assert!(error.contains("timed out") && *attempts == 1, "{error}");
            }
            (JobKind::Panic { message }, JobStatus::Failed { error, attempts }) => {
                assert_eq!(
                    (error.as_str(), *attempts),
                    (&*format!("panicked: {message}"), 2)
                );
            }
            (
                kind,
                JobStatus::Succeeded {
                    output,
                    attempts: 1,
                },
            ) => {
                assert_eq!(Some(*output), expected_output(kind), "{kind}");
            }
            (kind, status) => panic!("{kind}: unexpected {status}"),
        }
    }
    assert_eq!(retries, 3, "fail-first(2) retried twice, the panic once");
    let unknown = JobId(999);
    match system.status(unknown) {
        Err(error) => println!("[main] status({unknown}): error: {error}"),
        Ok(status) => panic!("an unknown id has a status: {status}"),
    }
    Ok(jobs)
}

/// The CPU jobs of the batch the crash hits.
fn crash_batch_specs() -> Vec<JobSpec> {
    [(31, 9), (28, 5), (29, 5), (27, 2), (30, 2), (26, 0)]
        .into_iter()
        .map(|(n, priority)| JobSpec::new(JobKind::Fib { n }).priority(priority))
        .collect()
}

/// What the crash and the restart showed.
pub(crate) struct CrashSummary {
    pub(crate) jobs: usize,
    pub(crate) ran_again: Vec<JobId>,
}

/// Part 3: the crash and the restart, checked from the log and the execution counts.
pub(crate) fn crash_and_restart(
    dir: &Path,
    workers: usize,
    monitor: &Monitor,
) -> anyhow::Result<CrashSummary> {
    // Ids in a fresh log are 1, 2, ...: the mixed batch takes 1 to 8, the crash batch starts
    // at 9, and its highest-priority job (taken first) is the one whose `Finished` is torn.
    let mixed_len = 8;
    let victim = JobId(mixed_len + 1);
    let config = monitor
        .config(workers)
        .crash_at(CrashPoint::WhileFinishing(victim));
    let system = JobSystem::open(dir, config)
        .with_context(|| format!("cannot start the job system in {}", dir.display()))?;
    println!(
        "[main] job log: {} ({} workers, backoff {} ms doubling up to {} ms)",
        system.log_path().display(),
        workers,
        ms(BACKOFF.base),
        ms(BACKOFF.cap)
    );
    let mixed = mixed_batch(&system, monitor)?;
    ensure!(
        mixed.len() as u64 == mixed_len,
        "the mixed batch has {mixed_len} jobs"
    );

    println!("[main] --- 2. a crash: the log dies while writing {victim}'s Finished record ---");
    let crash_ids = submit_batch(&system, monitor, crash_batch_specs())?;
    ensure!(
        crash_ids[0] == victim,
        "the crash hits the first job of the batch"
    );
    match system.wait_idle(PATIENCE) {
        Err(error) => println!("[main] the system stopped: {error}"),
        Ok(()) => bail!("the simulated crash did not happen"),
    }
    // No shutdown: the log is dead, so nothing more reaches the disk, as after a real crash.
    drop(system);
    monitor.take_events();
    let before = read_log(&dir.join(LOG_FILE)).context("cannot read the log after the crash")?;
    let finished_before: BTreeSet<JobId> = before
        .records
        .iter()
        .filter(|(_, r)| matches!(r, Record::Finished { .. }))
        .map(|(_, r)| r.id())
        .collect();

    println!("[main] --- 3. restart from the log ---");
    let system = JobSystem::open(dir, monitor.config(workers))
        .context("cannot restart the job system from its log")?;
    let recovery = system.recovery().clone();
    for warning in recovery.warnings() {
        println!("[main] warning: {warning}");
    }
    let interrupted: Vec<JobId> = recovery.interrupted.iter().map(|(id, _)| *id).collect();
    println!(
        "[main] replayed {} records: {} jobs finished (they will not run again), {} to run: {}; \
         cut off by the crash, running again: {}",
        recovery.records,
        recovery.finished,
        recovery.requeued.len(),
        list(&recovery.requeued),
        list(&interrupted)
    );
    ensure!(recovery.torn_tail.is_some(), "the crash tore the last line");
    ensure!(interrupted.contains(&victim), "{victim}'s outcome was lost");
    system
        .wait_idle(PATIENCE)
        .context("the jobs of the log did not finish after the restart")?;
    for id in &crash_ids {
        let status = system.status(*id)?;
        let kind = &system.job(*id)?.spec.kind;
        assert_eq!(
            status,
            JobStatus::Succeeded {
                output: expected_output(kind).expect("a CPU job"),
                attempts: 1
            },
            "{id}"
        );
    }

    // Checked from the log: every accepted job finished exactly once; nothing that had
    // finished before the crash has a record after the restart.
    let log = read_log(&dir.join(LOG_FILE)).context("cannot read the log after the restart")?;
    ensure!(log.torn_tail.is_none(), "the torn line was cut off");
    let (session_1, session_2) = log.records.split_at(recovery.records);
    let accepted: BTreeSet<JobId> = log
        .records
        .iter()
        .filter(|(_, r)| matches!(r, Record::Accepted(_)))
        .map(|(_, r)| r.id())
        .collect();
    for id in &accepted {
        let finished = log
            .records
            .iter()
            .filter(|(_, r)| r.id() == *id && matches!(r, Record::Finished { .. }))
            .count();
        assert_eq!(finished, 1, "{id} finished exactly once in the log");
    }
    let ran_again_after_finishing: Vec<JobId> = session_2
        .iter()
        .map(|(_, r)| r.id())
        .filter(|id| finished_before.contains(id))
        .collect();
    assert!(
        ran_again_after_finishing.is_empty(),
        "finished jobs ran again"
    );
    assert_eq!(session_1.len(), before.records.len());

    // Checked from the counter kept across the restart: one execution per started record,
    // two for the jobs cut off by the crash, one for every other job of the crash batch.
    let executions = monitor.executions();
    for id in &crash_ids {
        let expected = if interrupted.contains(id) { 2 } else { 1 };
        assert_eq!(executions.get(id), Some(&expected), "{id}");
    }
    let started_records = |id: JobId| {
        log.records
            .iter()
            .filter(|(_, r)| r.id() == id && matches!(r, Record::Started { .. }))
            .count() as u32
    };
    for id in &accepted {
        assert_eq!(executions[id], started_records(*id), "{id}");
    }
    println!(
        "[main] every one of the {} accepted jobs finished exactly once in the log; ran again \
         after the crash: {} (at-least-once); finished jobs that ran again: none",
        accepted.len(),
        list(&interrupted)
    );

    println!("[main] --- 4. a clean shutdown, compacting the log ---");
    let report = system
        .shutdown(Duration::from_secs(5), true)
        .context("the shutdown failed")?;
    ensure!(report.finished_in_time && report.left_for_next_start.is_empty());
    let compaction = report.compaction.context("a compaction was asked for")?;
    println!(
        "[main] log compacted from {} to {} bytes ({} unfinished jobs kept)",
        compaction.bytes_before, compaction.bytes_after, compaction.jobs_kept
    );
    drop(system);
    let system = JobSystem::open(dir, monitor.config(1)).context("cannot reopen the log")?;
    let next = system.recovery().next_id;
    ensure!(system.recovery().requeued.is_empty());
    ensure!(
        next.0 == accepted.len() as u64 + 1,
        "ids stay unique after a compaction"
    );
    println!("[main] reopened: nothing to run, and the next job will be {next} (ids stay unique)");
    system.shutdown(Duration::ZERO, false)?;
    Ok(CrashSummary {
        jobs: accepted.len(),
        ran_again: interrupted,
    })
}
