//! Tests of exercise l2-ex04 (pool-size benchmark harness).
//!
//! `cargo test` runs them against the reference solution; `cargo exercise check l2-ex04` runs
//! them against your file, `level-2-intermediate/src/exercises/ex04_pool_size_benchmark.rs`.
//!
//! The runs here are small (`fib(15)` to `fib(18)`, a dozen tasks) so that debug builds stay
//! fast. No test looks at how long anything took, or at which pool size won: only at values,
//! counts, concurrency, and at how the clock readings relate to each other.
//!
//! | promise | test | independent of scheduling and load because |
//! |---|---|---|
//! | one record per size, in order; `tasks` samples in index order, each `fib(n)` | `every_result_is_fib_n_at_every_size`, `one_record_per_size_in_the_order_given` | values only |
//! | the job runs exactly `tasks` times, never more than `size` at once | `exactly_t_tasks_run_per_size_and_never_more_at_once_than_the_size` | a probe counts, an upper bound holds whatever the timing |
//! | a pool of 2 runs two at once | `a_pool_of_two_really_runs_two_tasks_at_once` | the first two jobs each wait for the other |
//! | the jobs run on the pools' threads, not the caller's; each pool is joined before `benchmark_with` returns | `the_jobs_run_on_the_pools_threads_which_have_ended_when_it_returns` | the jobs record their own threads; a thread-local on each reports the thread's end, which `join` waits for |
//! | `submit_batch` returns at once; latency runs from submission (queue wait included) | `latency_counts_from_submission_so_it_includes_the_queue_wait` | a gate holds the only worker until every task is queued |
//! | bad input is an error before any task runs; a panicking job is `Task { index }` | `bad_input_is_*`, `a_panicking_job_is_an_error_not_a_hang` | a call counter; the panic is deterministic |
//! | record, p50 by nearest rank, scaling, fastest, table, chart | `a_record_summarises_*`, `the_median_*`, `speedup_*`, `the_fastest_*`, `the_table_*`, `the_bar_chart_*` | built from fixed instants and durations |
//! | the submission time is read before `submit`, so a blocked submit's wait counts | none | `benchmark_with` gives its pool room for every task, so `submit` never waits there; with a pool whose queue is full, the test cannot tell when `submit` has started waiting |
//!
//! Deliberate wrong answers that these tests catch are in `xtask/mutants/l2-ex04/`.

// The code under test: your file when `cargo exercise check l2-ex04` turns the `learner`
// feature on (and in rust-analyzer, so that your editor checks it), the reference solution in a
// plain `cargo test`. Your file is compiled into this test alone: a mistake in it breaks no
// other exercise, lesson or test.
#[cfg(any(feature = "learner", rust_analyzer))]
#[path = "../src/exercises/ex04_pool_size_benchmark.rs"]
#[allow(dead_code)] // the items the tests do not call are part of the exercise all the same
mod under_test;
#[cfg(not(any(feature = "learner", rust_analyzer)))]
use level_2_intermediate::solutions::ex04_pool_size_benchmark as under_test;

use shared::WorkerPool;
use shared::testing::{ConcurrencyProbe, TIMEOUT, recv_within, run_within};
use shared::workload::{checked_fib, fib};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};
use under_test::{
    BenchError, LatencyStats, SizeRecord, TaskSample, bar_chart, benchmark, benchmark_with,
    fastest, format_table, record_for, scaling, submit_batch, summarise,
};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A record made by hand, for the tests of the reporting functions.
fn record(size: usize, throughput: f64) -> SizeRecord {
    SizeRecord {
        size,
        samples: Vec::new(),
        wall: Duration::from_secs_f64(12.0 / throughput),
        throughput,
        latency: LatencyStats {
            min: ms(1),
            mean: ms(2),
            p50: ms(2),
            max: ms(3),
        },
    }
}

#[test]
fn every_result_is_fib_n_at_every_size() {
    let records = run_within(TIMEOUT, "benchmark", || benchmark(&[1, 2, 3], 12, 15))
        .expect("the benchmark failed");
    assert_eq!(records.len(), 3, "one record per size");
    let expected = checked_fib(15).unwrap();
    for r in &records {
        assert_eq!(r.samples.len(), 12, "size {}: one sample per task", r.size);
        let indices: Vec<usize> = r.samples.iter().map(|s| s.index).collect();
        assert_eq!(
            indices,
            (0..12).collect::<Vec<_>>(),
            "size {}: samples in index order",
            r.size
        );
        for s in &r.samples {
            assert_eq!(s.value, expected, "size {}, task {}", r.size, s.index);
        }
    }
}

#[test]
fn one_record_per_size_in_the_order_given() {
    let records = run_within(TIMEOUT, "benchmark", || benchmark(&[3, 1, 2, 1], 4, 12))
        .expect("the benchmark failed");
    let sizes: Vec<usize> = records.iter().map(|r| r.size).collect();
    assert_eq!(sizes, [3, 1, 2, 1]);
}

#[test]
fn exactly_t_tasks_run_per_size_and_never_more_at_once_than_the_size() {
    for size in [1, 2, 3] {
        let (records, calls, probe) = run_within(TIMEOUT, "benchmark_with", move || {
            let calls = Arc::new(AtomicUsize::new(0));
            let probe = ConcurrencyProbe::new();
            let (c, p) = (Arc::clone(&calls), probe.clone());
            let records = benchmark_with(&[size], 10, move |_| {
                let _running = p.enter();
                c.fetch_add(1, Ordering::SeqCst);
                fib(16)
            });
            (records, calls.load(Ordering::SeqCst), probe)
        });
        let records = records.expect("the benchmark failed");
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].samples.len(), 10, "size {size}: samples");
        assert_eq!(
            calls, 10,
            "size {size}: the job must run exactly once per task"
        );
        assert!(
            probe.max() <= size,
            "{} tasks ran at once on a pool of {size}",
            probe.max()
        );
    }
}

#[test]
fn a_pool_of_two_really_runs_two_tasks_at_once() {
    let (records, probe) = run_within(TIMEOUT * 2, "benchmark_with", || {
        let probe = ConcurrencyProbe::new();
        let arrived = Arc::new(AtomicUsize::new(0));
        let p = probe.clone();
        let records = benchmark_with(&[2], 6, move |index| {
            let _running = p.enter();
            if index < 2 {
                // The first two tasks wait for each other: only a pool that runs two at once
                // gets both inside. A sequential harness fails here instead of hanging.
                arrived.fetch_add(1, Ordering::SeqCst);
                let deadline = Instant::now() + TIMEOUT;
                while arrived.load(Ordering::SeqCst) < 2 {
                    assert!(
                        Instant::now() < deadline,
                        "task {index} waited {TIMEOUT:?} for a second task to run beside it"
                    );
                    thread::yield_now();
                }
            }
            fib(15)
        });
        (records, probe)
    });
    let records = records.expect("the benchmark failed");
    assert_eq!(records[0].samples.len(), 6);
    assert_eq!(probe.max(), 2, "a pool of 2 ran {} at once", probe.max());
}

#[test]
fn latency_counts_from_submission_so_it_includes_the_queue_wait() {
    let samples = run_within(TIMEOUT, "submit_batch and collect", || {
        let pool = WorkerPool::new(1).unwrap();
        let (open, gate) = crossbeam_channel::bounded::<()>(1);
        // Task 0 holds the only worker until every task is queued, so each later task waits
        // for all the tasks before it: its latency must include their run times.
        let job = Arc::new(move |index: usize| {
            if index == 0 {
                recv_within(&gate, TIMEOUT, "the gate to open");
            }
            fib(18)
        });
        let batch = submit_batch(&pool, 6, &job).expect("submit_batch failed");
        open.send(()).unwrap();
        batch.collect()
    })
    .expect("the batch failed");

    assert_eq!(samples.len(), 6);
    for s in &samples {
        assert_eq!(s.value, 2_584);
        assert!(s.submitted <= s.started && s.started <= s.finished, "{s:?}");
        assert!(s.latency() >= s.run_time(), "task {}: {s:?}", s.index);
        assert_eq!(
            s.latency(),
            s.queue_wait() + s.run_time(),
            "task {}",
            s.index
        );
    }
    // All six were queued before task 0 let go, and one worker runs them one by one: the last
    // waited for tasks 1 to 4 and then ran itself, so its latency covers all five run times.
    let after_the_gate: Duration = samples[1..].iter().map(TaskSample::run_time).sum();
    let last = samples.last().unwrap();
    assert!(
        last.latency() >= after_the_gate,
        "the last task's latency {:?} is less than the run times of tasks 1..=5 \
         ({after_the_gate:?}): latency must run from submission, not from the task's start",
        last.latency()
    );
}

#[test]
fn bad_input_is_a_typed_error_before_any_task_runs() {
    assert_eq!(benchmark(&[], 10, 10).unwrap_err(), BenchError::NoSizes);
    assert_eq!(
        benchmark(&[1, 0, 2], 10, 10).unwrap_err(),
        BenchError::ZeroSize { position: 1 }
    );
    assert_eq!(benchmark(&[1, 2], 0, 10).unwrap_err(), BenchError::NoTasks);
    assert_eq!(
        benchmark(&[1], 10, 94).unwrap_err(),
        BenchError::TooLarge { n: 94 }
    );

    let calls = Arc::new(AtomicUsize::new(0));
    let c = Arc::clone(&calls);
    let result = benchmark_with(&[2, 4, 0], 5, move |_| {
        c.fetch_add(1, Ordering::SeqCst);
        1
    });
    assert_eq!(result.unwrap_err(), BenchError::ZeroSize { position: 2 });
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "no task may run before every size is checked"
    );
}

#[test]
fn a_panicking_job_is_an_error_not_a_hang() {
    let result = run_within(TIMEOUT, "benchmark_with", || {
        benchmark_with(&[2], 5, |index| {
            if index == 3 {
                panic!("task 3 is broken");
            }
            fib(12)
        })
    });
    match result {
        Err(BenchError::Task { index: 3, .. }) => {}
        other => panic!("expected BenchError::Task for index 3, got {other:?}"),
    }
}

#[test]
fn a_record_summarises_its_samples() {
    let t0 = Instant::now();
    // (submitted, started, finished) in ms after t0.
    let times = [(0, 0, 10), (0, 10, 20), (5, 20, 30), (5, 30, 40)];
    let samples: Vec<TaskSample> = times
        .iter()
        .enumerate()
        .map(|(index, &(s, b, e))| TaskSample {
            index,
            value: 7,
            submitted: t0 + ms(s),
            started: t0 + ms(b),
            finished: t0 + ms(e),
        })
        .collect();
    let r = record_for(2, samples.clone()).expect("four samples have a record");
    assert_eq!(r.size, 2);
    assert_eq!(r.samples, samples);
    assert_eq!(
        r.wall,
        ms(40),
        "from the first submission to the last finish"
    );
    assert!(
        (r.throughput - 100.0).abs() < 1e-6,
        "4 tasks in 40 ms: {}",
        r.throughput
    );
    // Latencies (end to end): 10, 20, 25, 35 ms.
    assert_eq!(
        r.latency,
        LatencyStats {
            min: ms(10),
            mean: Duration::from_micros(22_500),
            p50: ms(20),
            max: ms(35),
        }
    );
    assert_eq!(record_for(1, Vec::new()).unwrap_err(), BenchError::NoTasks);
}

#[test]
fn the_median_is_the_middle_value_or_the_lower_middle_for_an_even_count() {
    let odd = summarise(&[ms(4), ms(1), ms(3), ms(2), ms(100)]).expect("five values");
    assert_eq!(
        odd,
        LatencyStats {
            min: ms(1),
            mean: ms(22),
            p50: ms(3),
            max: ms(100),
        }
    );
    let even = summarise(&[ms(4), ms(3), ms(2), ms(1)]).expect("four values");
    assert_eq!(even.p50, ms(2));
    assert_eq!(summarise(&[ms(7)]).map(|s| s.p50), Some(ms(7)));
    assert_eq!(summarise(&[]), None);
}

#[test]
fn speedup_and_efficiency_are_relative_to_the_pool_of_one() {
    // The size-1 record is not first: the baseline is found by size, not by position.
    let records = [record(2, 180.0), record(1, 100.0), record(4, 300.0)];
    let scaled = scaling(&records).expect("there is a size-1 record");
    let got: Vec<(usize, f64, f64)> = scaled
        .iter()
        .map(|s| (s.size, s.speedup, s.efficiency))
        .collect();
    let want = [(2, 1.8, 0.9), (1, 1.0, 1.0), (4, 3.0, 0.75)];
    for ((size, speedup, efficiency), (w_size, w_speedup, w_efficiency)) in got.iter().zip(want) {
        assert_eq!(*size, w_size);
        assert!(
            (speedup - w_speedup).abs() < 1e-9,
            "size {size}: speedup {speedup}"
        );
        assert!(
            (efficiency - w_efficiency).abs() < 1e-9,
            "size {size}: efficiency {efficiency}"
        );
    }
    assert_eq!(got.len(), 3);
    assert_eq!(
        scaling(&[record(2, 10.0), record(4, 20.0)]).unwrap_err(),
        BenchError::NoBaseline
    );
}

#[test]
fn the_fastest_size_has_the_highest_throughput_and_a_tie_goes_to_the_smaller_pool() {
    let records = [
        record(1, 100.0),
        record(4, 190.0),
        record(2, 190.0),
        record(8, 150.0),
    ];
    assert_eq!(fastest(&records).map(|r| r.size), Some(2));
    assert_eq!(fastest(&[]).map(|r| r.size), None);
}

#[test]
fn the_table_has_a_row_per_size_with_its_speedup_and_efficiency() {
    let records = [record(1, 100.0), record(2, 180.0), record(4, 300.0)];
    let table = format_table(&records);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(
        lines.len(),
        2 + records.len(),
        "header, rule, rows:\n{table}"
    );
    let rows = &lines[2..];
    let sizes: Vec<&str> = rows
        .iter()
        .map(|row| row.split_whitespace().next().unwrap_or(""))
        .collect();
    assert_eq!(
        sizes,
        ["1", "2", "4"],
        "each row starts with its size:\n{table}"
    );
    for (row, (speedup, efficiency)) in
        rows.iter()
            .zip([("1.00x", "100%"), ("1.80x", "90%"), ("3.00x", "75%")])
    {
        assert!(row.contains(speedup), "{row:?} lacks {speedup}");
        assert!(row.contains(efficiency), "{row:?} lacks {efficiency}");
    }

    // Without a size-1 record there is nothing to compare with.
    let table = format_table(&[record(2, 180.0)]);
    let row = table.lines().nth(2).expect("a row");
    assert!(!row.contains('x') && !row.contains('%'), "{row:?}");
}

#[test]
fn the_bar_chart_scales_each_bar_to_the_best_throughput() {
    let records = [
        record(1, 10.0),
        record(2, 20.0),
        record(4, 40.0),
        record(8, 26.0),
    ];
    let chart = bar_chart(&records, 20);
    let bars: Vec<usize> = chart.lines().map(|l| l.matches('#').count()).collect();
    assert_eq!(bars, [5, 10, 20, 13], "bars of:\n{chart}");
}

// A worker thread's exit, seen from the test: a thread-local whose destructor runs as the
// thread ends reports it. `join` returns only after the thread's thread-locals are destroyed.
thread_local! {
    static EXIT_WATCH: std::cell::RefCell<Option<ExitWatch>> =
        const { std::cell::RefCell::new(None) };
}

struct ExitWatch {
    thread: thread::ThreadId,
    report: crossbeam_channel::Sender<thread::ThreadId>,
}

impl Drop for ExitWatch {
    fn drop(&mut self) {
        let _ = self.report.send(self.thread);
    }
}

#[test]
fn the_jobs_run_on_the_pools_threads_which_have_ended_when_it_returns() {
    let (caller, ran_on, exited) = run_within(TIMEOUT, "benchmark_with", || {
        let (exit_tx, exits) = crossbeam_channel::unbounded();
        let ran_on = Arc::new(std::sync::Mutex::new(std::collections::HashSet::new()));
        let seen = Arc::clone(&ran_on);
        let records = benchmark_with(&[1, 3, 2], 8, move |_| {
            let me = thread::current().id();
            // Each job records the thread it really runs on; the first on each thread sets a
            // watch that reports when that thread ends.
            if seen.lock().unwrap().insert(me) {
                let report = exit_tx.clone();
                EXIT_WATCH.with(|w| *w.borrow_mut() = Some(ExitWatch { thread: me, report }));
            }
            fib(12)
        });
        records.expect("the benchmark failed");
        // No waiting: a pool that was dropped has joined its threads, so all have reported.
        let exited: std::collections::HashSet<_> = exits.try_iter().collect();
        let ran_on = ran_on.lock().unwrap().clone();
        (thread::current().id(), ran_on, exited)
    });
    assert!(
        !ran_on.contains(&caller),
        "a job ran on the thread that called benchmark_with: jobs belong on the pool's workers"
    );
    assert_eq!(
        exited, ran_on,
        "benchmark_with returned while pool threads were still running: drop (join) each pool"
    );
}
