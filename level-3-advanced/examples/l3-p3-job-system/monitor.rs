//! The demo's voice: a listener of the job systems' events that prints each one as it
//! happens, counts every job's executions across restarts, and keeps the events of the current
//! session for the checks; and the small helpers the demo's lines share.

use crate::BACKOFF;
use level_3_advanced::projects::jobs::{Config, JobEvent, JobId, JobSpec};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::Duration;

/// The name of the thread that speaks, for the `[name]` prefix of every line.
pub(crate) fn me() -> String {
    thread::current().name().unwrap_or("<unnamed>").to_owned()
}

/// `1st`, `2nd`, `3rd`, `4th`, ..., `11th`, `12th`, `13th`, ..., `21st`.
fn ordinal(n: u64) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// A duration in whole milliseconds, as the demo prints them.
pub(crate) fn ms(d: Duration) -> u128 {
    d.as_millis()
}

/// Listens to the job systems' events: prints them, counts the executions of every job across
/// restarts, and keeps the order in which the workers took the attempts.
#[derive(Clone, Default)]
pub(crate) struct Monitor {
    labels: Arc<Mutex<BTreeMap<JobId, String>>>,
    /// Attempts started per job, in every session: the counter the crash check relies on.
    executions: Arc<Mutex<BTreeMap<JobId, u32>>>,
    /// Every event of the current session.
    events: Arc<Mutex<Vec<JobEvent>>>,
}

impl Monitor {
    pub(crate) fn config(&self, workers: usize) -> Config {
        let monitor = self.clone();
        Config::new(workers)
            .backoff(BACKOFF)
            .on_event(move |event| monitor.hear(event))
    }

    /// Names the jobs about to be submitted, so that their events can be printed from the
    /// first: ids are given in order from `next`.
    pub(crate) fn name(&self, next: JobId, specs: &[JobSpec]) {
        let mut labels = lock(&self.labels);
        for (spec, id) in specs.iter().zip(next.0..) {
            labels.insert(
                JobId(id),
                format!("{} {} (priority {})", JobId(id), spec.kind, spec.priority),
            );
        }
    }

    pub(crate) fn label(&self, id: JobId) -> String {
        lock(&self.labels)
            .get(&id)
            .cloned()
            .unwrap_or_else(|| id.to_string())
    }

    fn hear(&self, event: &JobEvent) {
        let who = me();
        let label = |id| self.label(id);
        match event {
            JobEvent::Started {
                id,
                attempt,
                seq,
                at,
            } => {
                *lock(&self.executions).entry(*id).or_insert(0) += 1;
                println!(
                    "[{who}] {}: attempt {attempt} starts at t={} ms, the {} taken",
                    label(*id),
                    ms(*at),
                    ordinal(*seq)
                );
            }
            JobEvent::Retrying {
                id,
                failed_attempt,
                error,
                next_at,
            } => println!(
                "[{who}] {}: attempt {failed_attempt} failed ({error}); next attempt not before \
                 t={} ms",
                label(*id),
                ms(*next_at)
            ),
            JobEvent::Finished { id, status } => println!("[{who}] {}: {status}", label(*id)),
            JobEvent::CutOff { id, attempt } => println!(
                "[{who}] {}: attempt {attempt} cut off; it runs again at the next start",
                label(*id)
            ),
        }
        lock(&self.events).push(event.clone());
    }

    pub(crate) fn take_events(&self) -> Vec<JobEvent> {
        std::mem::take(&mut *lock(&self.events))
    }

    pub(crate) fn executions(&self) -> BTreeMap<JobId, u32> {
        lock(&self.executions).clone()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// `#1, #2, #3`.
pub(crate) fn list(ids: &[JobId]) -> String {
    ids.iter()
        .map(JobId::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
