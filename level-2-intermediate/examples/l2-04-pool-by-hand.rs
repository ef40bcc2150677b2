//! # Lesson l2-04: inside a pool: one queue, N workers, closed by dropping its sender
//!
//! Replaces the inside of the Node course's hand-built pool: an array of workers, a task
//! queue, and a `terminate()` that polled every 100 ms until no worker was busy. In Rust the
//! queue is one channel; every worker loops over its own clone of the `Receiver`; and the
//! shutdown signal is the channel closing, which happens when its last `Sender` is dropped.
//!
//! Shows: a tiny pool whose `shutdown(&self)` closes the queue. The pool keeps its only
//! sender in a `Mutex<Option<Sender<Job>>>`: `shutdown` locks it and calls `Option::take`,
//! which moves the `Sender` out (leaving `None`) so it can be dropped, through a shared
//! reference. The workers finish what is queued, their loops end, and `shutdown` joins them.
//! A submit after that finds `None` and is refused. (Exercise l2-ex01 has you build a full
//! pool this way, with handles, stats and panics caught; `shared::WorkerPool` does the same
//! job with more machinery.)
//!
//! Run: `cargo run --release --example l2-04-pool-by-hand`
//!
//! Expect: the workers taking the jobs, each saying when its loop ended, then `result: 2
//! workers ran 10 jobs (sum 385), ended when the queue closed; a job after shutdown was
//! refused`.

use anyhow::{Context, anyhow, ensure};
use crossbeam_channel::{Receiver, Sender};
use std::sync::{Mutex, PoisonError};
use std::thread::{self, JoinHandle};

/// A job: any closure that runs once on some worker.
type Job = Box<dyn FnOnce() + Send + 'static>;

fn main() -> anyhow::Result<()> {
    let pool = TinyPool::new(2)?;
    let (results_tx, results) = crossbeam_channel::unbounded();
    for n in 1..=10u64 {
        let results_tx = results_tx.clone();
        pool.submit(Box::new(move || {
            let _ = results_tx.send(n * n);
        }))?;
    }
    drop(results_tx); // the jobs hold the only senders: `results` ends after the last job

    let ended = pool.shutdown()?; // closes the queue, waits for every worker
    let sum: u64 = results.iter().sum();
    let refused = pool.submit(Box::new(|| {})).is_err();

    assert_eq!(sum, (1..=10u64).map(|n| n * n).sum::<u64>());
    assert_eq!(ended, 2, "every worker's loop ended");
    assert!(refused, "a job after shutdown is refused, not lost");
    println!(
        "result: {ended} workers ran 10 jobs (sum {sum}), ended when the queue closed; a job \
         after shutdown was refused"
    );
    Ok(())
}

#[derive(Debug)]
struct TinyPool {
    /// The queue's only sender; `None` once the pool is shut down.
    queue: Mutex<Option<Sender<Job>>>,
    /// The workers, until `shutdown` takes them to join them.
    workers: Mutex<Vec<JoinHandle<()>>>,
}

impl TinyPool {
    fn new(size: usize) -> anyhow::Result<Self> {
        let (queue, jobs) = crossbeam_channel::unbounded::<Job>();
        let workers = (0..size)
            .map(|index| {
                let jobs = jobs.clone();
                thread::Builder::new()
                    .name(format!("worker-{index}"))
                    .spawn(move || worker_loop(&jobs))
                    .with_context(|| format!("could not spawn worker-{index}"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Self {
            queue: Mutex::new(Some(queue)),
            workers: Mutex::new(workers),
        })
    }

    /// Queues `job`, unless the pool is shut down.
    fn submit(&self, job: Job) -> anyhow::Result<()> {
        let queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(queue) = queue.as_ref() else {
            return Err(anyhow!("the pool is shut down"));
        };
        queue.send(job).map_err(|_| anyhow!("every worker is gone"))
    }

    /// Closes the queue and waits for every worker. Returns how many ended.
    fn shutdown(&self) -> anyhow::Result<usize> {
        // `take` leaves `None` behind and hands us the `Sender`; dropping it closes the queue.
        let sender = self
            .queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        drop(sender);
        // Take the handles out too, so that the lock is not held while joining.
        let workers =
            std::mem::take(&mut *self.workers.lock().unwrap_or_else(PoisonError::into_inner));
        let count = workers.len();
        for worker in workers {
            worker.join().map_err(|_| anyhow!("a worker panicked"))?;
        }
        ensure!(count > 0, "shutdown was called twice");
        Ok(count)
    }
}

/// A worker: runs jobs until the queue is closed *and* empty, so nothing queued is lost.
fn worker_loop(jobs: &Receiver<Job>) {
    let me = thread::current().name().unwrap_or("<unnamed>").to_owned();
    let mut ran = 0;
    for job in jobs {
        job();
        ran += 1;
    }
    println!("[{me}] the queue closed: my loop ended after {ran} jobs");
}
