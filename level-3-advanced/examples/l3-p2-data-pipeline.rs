//! # Project l3-p2: a streaming data pipeline with backpressure
//!
//! The Node course names this project and builds only a toy: three stages passing six
//! in-memory items through `MessageChannel`s, in one batch, with no backpressure (Node's
//! `postMessage` never blocks, so a fast stage fills a slow one's inbox without limit). This
//! is the real thing: a million CSV sensor readings (`id,timestamp,sensor,value`) streamed
//! through five stages, never held in memory all at once:
//!
//! ```text
//! generate ─▶ parse ×N ─▶ validate ×N ─▶ transform ×N ─▶ aggregate
//! ```
//!
//! Shows:
//! - bounded channels between the stages (Node streams' `highWaterMark`): a stage that runs
//!   ahead blocks in `send`, so the records alive at once are bounded by the capacities. A
//!   counter of live records proves it (its peak is asserted against the bound), and so does
//!   this program's heap, measured with `shared::alloc::CountingAllocator`: the peak for
//!   four times the records is about the same;
//! - the parse, validate and transform stages with N worker threads each, sharing one input
//!   channel (transform converts to Fahrenheit and computes each record's SHA-256
//!   fingerprint, the costliest step): the per-stage table says how busy each stage was and
//!   how many records per second it handles while busy; the queue table says how full each
//!   channel ran (sampled after every send: a queue that runs full means the stage after it
//!   is the slower one);
//! - bad lines counted by reason, never fatal: the generator plants a few at known places
//!   (a missing field every 1,000 lines, `n/a` values, an unknown sensor, out-of-range
//!   values, empty lines), and the counts are checked exactly;
//! - the same stages run one after another on one thread, with the same result (asserted),
//!   and the speedup. The generator is one thread, as reading a file would be, so it is the
//!   sequential part that caps the speedup (Amdahl); on a 2-core machine the ceiling is
//!   near 2x anyway.
//!
//! Run: `cargo run --release --example l3-p2-data-pipeline` (a few seconds). Options:
//! `--records N` (default 1,000,000, at most 100,000,000), `--threads N` workers per parallel
//! stage (default: the logical core count, at most 256), `--capacity N` batches per channel
//! (default 4, 1 to 1,024), `--batch N` lines per batch (default 1,024), `--input PATH` a CSV
//! file instead of generated data (an optional `id,timestamp,sensor,value` header is skipped;
//! bad lines are counted; a missing file, or one with no valid record at all, is an error),
//! `--verbose`; `--help` gives every limit.
//!
//! Expect: each stage thread's `[parse-0] done: ...` line, the two stage tables (sequential
//! and parallel), the queue table, the rejections by reason, the per-sensor results, the
//! timings and the speedup, the memory comparison, then `result: 1000000 lines, 998676
//! accepted, 1324 rejected; parallel == sequential; peak in flight P <= B records; peak heap
//! for 4x the records Rx`, with B 24576 on 2 cores and R near 1 (P, R and the timings vary
//! from run to run; a run too short to time prints `not compared (under 1 ms)` for the
//! speedup). Bad input is refused before the work, in one line on stderr, `error: <what>
//! (<why>)`: exit code 2 for bad usage (an unknown option, a bad or out-of-range number,
//! settings whose records in flight would exceed the limit), 1 for a run that failed (an input
//! file that cannot be opened or read, or that holds no valid record: a scan that stops at
//! the first valid record checks it before any work).

use anyhow::{Context, anyhow, ensure};
use level_3_advanced::projects::cli::{self, Args, EXIT_CODES, unknown_flag, usage};
use level_3_advanced::projects::grouped;
use level_3_advanced::projects::pipeline::{
    Config, DEFAULT_BATCH, DEFAULT_CAPACITY, DEFAULT_RECORDS, Defect, MAX_BATCH, MAX_CAPACITY,
    MAX_THREADS, Reject, RunReport, SENSORS, Source, generated_line, run_parallel, run_sequential,
    scan_for_valid_record,
};
use shared::alloc::{CountingAllocator, process_stats, reset_peak};
use shared::timing::{compare, compare_text};
use std::process::ExitCode;

/// Counts every allocation, so that the pipeline's peak heap can be measured.
#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator::new();

/// How many times more records the memory check runs with.
const MEMORY_SCALE: u64 = 4;

/// The most records `--records` accepts: the memory check then streams four times as many,
/// 400,000,000 lines, and the count stays far from overflowing anything.
const MAX_RECORDS: u64 = 100_000_000;

/// The fewest records the memory check runs for: below this, the fixed heap of the threads
/// and channels outweighs the records, whatever the input's size.
const MEMORY_CHECK_MIN_RECORDS: u64 = 100_000;

/// How many times the records that may be in flight at once the generated input must hold at
/// least for the memory check, so that its heap says something about streaming.
const MEMORY_CHECK_RECORDS_PER_BOUND: u64 = 8;

/// The memory check's runs must stay under this share of their input's size, in heap: a
/// pipeline that held its whole input would use far more.
const MAX_HEAP_SHARE_OF_INPUT: u64 = 8;

const USAGE: &str = "\
Usage: l3-p2-data-pipeline [--records N | --input PATH] [--threads N] [--capacity N] [--batch N]
                           [--verbose]

Streams CSV sensor readings (id,timestamp,sensor,value) through generate -> parse -> validate ->
transform -> aggregate over bounded channels, compares with a sequential run, and reports each
stage's throughput and each queue's depth.

Options:
  --records N    generate N lines, 1 to 100000000 (default: 1000000)
  --input PATH   read this CSV file instead: bad lines are counted, not fatal, but a file with
                 no valid record at all (empty, or not this CSV) is refused, exit code 1
  --threads N    worker threads per parallel stage, 1 to 256 (default: the logical core count)
  --capacity N   batches each channel holds, 1 to 1024 (default: 4)
  --batch N      lines per batch, 1 to 1048576 (default: 1024); batch x (2 + 4 x capacity +
                 3 x threads), the records alive at once, at most 2097152
  --verbose      on an error, print every cause on its own line
  --help         print this help
";

/// The parsed command line.
#[derive(Debug)]
struct Parsed {
    source: Source,
    config: Config,
    verbose: bool,
}

/// Parses and checks the command line; `Ok(None)` means `--help` was asked for. Every error
/// is a usage error (exit code 2).
fn parse_args(mut args: Args) -> anyhow::Result<Option<Parsed>> {
    let mut records = None;
    let mut input = None;
    let mut verbose = false;
    let mut config = Config {
        capacity: DEFAULT_CAPACITY,
        batch_size: DEFAULT_BATCH,
        announce: true,
        ..Config::default()
    };
    while let Some(flag) = args.next_flag()? {
        match flag.as_str() {
            "--help" | "-h" => return Ok(None),
            "--verbose" => verbose = true,
            "--records" => records = Some(args.number(&flag, 1, MAX_RECORDS)?),
            "--input" => input = Some(args.path(&flag)?),
            "--threads" => config.threads = args.number(&flag, 1, MAX_THREADS)?,
            "--capacity" => config.capacity = args.number(&flag, 1, MAX_CAPACITY)?,
            "--batch" => config.batch_size = args.number(&flag, 1, MAX_BATCH)?,
            other => return Err(unknown_flag(other)),
        }
    }
    let source = match (records, input) {
        (Some(_), Some(_)) => return Err(usage("both --records and --input", "give one of them")),
        (_, Some(path)) => Source::File(path),
        (records, None) => Source::Generated {
            records: records.unwrap_or(DEFAULT_RECORDS),
        },
    };
    config
        .check()
        .map_err(|error| usage("bad settings", error.to_string()))?;
    Ok(Some(Parsed {
        source,
        config,
        verbose,
    }))
}

/// How many of the first `records` generated lines have `defect`: counted line by line from
/// the schedule, the slow and obvious way.
fn planted(defect: Defect, records: u64) -> u64 {
    let (every, at) = defect.schedule();
    (0..records).filter(|i| i % every == at).count() as u64
}

/// Checks what a run over generated data must have found, exactly.
fn check_generated(report: &RunReport, records: u64) {
    let summary = &report.summary;
    assert_eq!(summary.lines, records);
    let mut planted_total = 0;
    for defect in Defect::ALL {
        planted_total += planted(defect, records);
    }
    for reason in Reject::ALL {
        let expected: u64 = Defect::ALL
            .iter()
            .filter(|d| d.rejected_as() == reason)
            .map(|&d| planted(d, records))
            .sum();
        assert_eq!(summary.rejected.count(reason), expected, "{reason}");
    }
    assert_eq!(summary.rejected.total(), planted_total);
    assert_eq!(summary.accepted, records - planted_total);
}

/// Runs the pipeline in parallel and returns the report with the run's peak heap growth:
/// the most live heap bytes above what was live when it started.
fn parallel_with_peak_heap(source: &Source, config: &Config) -> anyhow::Result<(RunReport, u64)> {
    reset_peak();
    let baseline = process_stats().live_bytes;
    let report =
        run_parallel(source, config).with_context(|| format!("parallel run on {source}"))?;
    let peak = process_stats().peak_live_bytes.saturating_sub(baseline);
    Ok((report, peak))
}

fn run(args: &Parsed) -> anyhow::Result<()> {
    let Parsed { source, config, .. } = args;
    // What the arguments cannot say, checked before any work: that the input opens, and that
    // it holds at least one valid record. Bad lines are counted, not fatal; but an input with
    // none at all is not a data set with some bad lines, it is the wrong file (an empty one, a
    // PNG renamed .csv). The scan stops at the first valid record, a batch or so in.
    let scan = scan_for_valid_record(source, config.batch_size)?;
    if scan.first_valid.is_none() {
        return Err(anyhow!(
            "no valid record in {source} ({} lines read, {} rejected: {})",
            scan.lines,
            scan.rejected.total(),
            scan.rejected
        ));
    }
    println!(
        "[main] input: {source}; {} worker(s) per parallel stage, channels of {} batches of {} lines",
        config.threads, config.capacity, config.batch_size
    );
    if let Source::Generated { .. } = source {
        println!("[main] generated line 0: {}", generated_line(0));
    }

    println!("[main] sequential run: every stage on this thread, one batch at a time");
    let sequential = run_sequential(source, config.batch_size)
        .with_context(|| format!("sequential run on {source}"))?;
    println!("[main] parallel run: one thread per stage worker, bounded channels between");
    let (parallel, peak_heap) = parallel_with_peak_heap(source, config)?;

    // The results first: the two runs agree, the counts add up, memory stayed bounded.
    assert_eq!(
        parallel.summary, sequential.summary,
        "the parallel pipeline disagrees with the sequential one"
    );
    let summary = &parallel.summary;
    assert_eq!(summary.lines, summary.accepted + summary.rejected.total());
    assert!(
        parallel.peak_in_flight <= parallel.in_flight_bound,
        "{} records were alive at once, more than the bound {}",
        parallel.peak_in_flight,
        parallel.in_flight_bound
    );
    if let Source::Generated { records } = source {
        check_generated(&parallel, *records);
    }

    println!("\nsequential stages (one thread):");
    print!("{}", sequential.stage_table());
    println!(
        "\nparallel stages ({} worker(s) per middle stage):",
        config.threads
    );
    print!("{}", parallel.stage_table());
    println!();
    print!("{}", parallel.queue_table());
    for stage in &parallel.stages {
        if stage.workers > 1 {
            let shares: Vec<String> = stage.per_worker.iter().map(|n| grouped(*n)).collect();
            println!(
                "[main] {} records per worker: {}",
                stage.name,
                shares.join(", ")
            );
        }
    }

    println!(
        "\nlines {}, accepted {}, rejected {}: {}",
        grouped(summary.lines),
        grouped(summary.accepted),
        grouped(summary.rejected.total()),
        summary.rejected
    );
    println!(
        "{:<7} {:>9} {:>9} {:>9} {:>9}",
        "sensor", "readings", "mean °F", "min °F", "max °F"
    );
    for (sensor, stats) in summary
        .sensors
        .iter()
        .enumerate()
        .take(usize::from(SENSORS))
    {
        if let Some(mean) = stats.mean_fahrenheit() {
            println!(
                "s{sensor:02}     {:>9} {:>9.2} {:>9.2} {:>9.2}",
                stats.count,
                mean,
                stats.min_centi as f64 / 100.0,
                stats.max_centi as f64 / 100.0
            );
        }
    }

    // Under shared::timing::MIN_COMPARABLE on either side (a handful of records), no ratio.
    let speedup = compare_text(sequential.elapsed, parallel.elapsed);
    println!();
    println!(
        "{:<34} {:>8.0} ms",
        "sequential",
        sequential.elapsed.as_secs_f64() * 1e3
    );
    println!(
        "{:<34} {:>8.0} ms",
        format!("parallel ({} workers per stage)", config.threads),
        parallel.elapsed.as_secs_f64() * 1e3
    );
    match compare(sequential.elapsed, parallel.elapsed) {
        Some(ratio) => println!(
            "{:<34} {ratio:>8.2}x (measured in this run; the single generator thread and a \
             2-core machine cap it near 2x{})",
            "speedup",
            cli::debug_build_note()
        ),
        None => println!("{:<34} {speedup}: too few records to time", "speedup"),
    }
    println!(
        "[main] records alive at once: peak {} of the bound {} = batch x (generator + 4 \
         channels x capacity + 3 stages x workers + aggregator)",
        grouped(parallel.peak_in_flight),
        grouped(parallel.in_flight_bound)
    );

    // Memory: the same pipeline on four times the records peaks at about the same heap. The
    // check means something only for an input far larger than what may be in flight at once
    // and than the threads' and channels' fixed cost; for a smaller one it is not made.
    let checkable = |records: u64| {
        records >= MEMORY_CHECK_MIN_RECORDS
            && records >= MEMORY_CHECK_RECORDS_PER_BOUND.saturating_mul(parallel.in_flight_bound)
    };
    let memory = match source {
        Source::Generated { records } if checkable(*records) => {
            let bigger = Source::Generated {
                records: records * MEMORY_SCALE,
            };
            println!("[main] memory check: the parallel run again on {bigger}");
            let quiet = Config {
                announce: false,
                ..*config
            };
            let (big, big_peak) = parallel_with_peak_heap(&bigger, &quiet)?;
            check_generated(&big, records * MEMORY_SCALE);
            assert!(big.peak_in_flight <= big.in_flight_bound);
            // About 30 bytes per generated line: the input the big run streamed through.
            let input_bytes = records * MEMORY_SCALE * 30;
            assert!(
                big_peak < input_bytes / MAX_HEAP_SHARE_OF_INPUT,
                "the run on {bigger} peaked at {big_peak} heap bytes: its memory grew with \
                 its input"
            );
            let ratio = big_peak as f64 / peak_heap.max(1) as f64;
            println!(
                "[main] peak heap during the run: {} KiB for {} records, {} KiB for {} \
                 records ({ratio:.2}x for {MEMORY_SCALE}x the records)",
                peak_heap / 1024,
                grouped(*records),
                big_peak / 1024,
                grouped(records * MEMORY_SCALE)
            );
            format!("; peak heap for {MEMORY_SCALE}x the records {ratio:.2}x")
        }
        _ => {
            println!(
                "[main] peak heap during the parallel run: {} KiB (the check on {MEMORY_SCALE}x \
                 the records needs at least {} generated records, and \
                 {MEMORY_CHECK_RECORDS_PER_BOUND} times the {} that may be in flight)",
                peak_heap / 1024,
                grouped(MEMORY_CHECK_MIN_RECORDS),
                grouped(parallel.in_flight_bound)
            );
            String::new()
        }
    };

    println!(
        "result: {} lines, {} accepted, {} rejected; parallel == sequential; peak in flight \
         {} <= {} records{memory}",
        summary.lines,
        summary.accepted,
        summary.rejected.total(),
        parallel.peak_in_flight,
        parallel.in_flight_bound
    );
    Ok(())
}

fn main() -> ExitCode {
    let args = match parse_args(Args::from_env()) {
        Ok(Some(args)) => args,
        Ok(None) => {
            println!("{USAGE}\n{EXIT_CODES}");
            return ExitCode::SUCCESS;
        }
        Err(error) => return cli::fail(&error, false),
    };
    let checked = || {
        ensure!(
            shared::alloc::is_installed(),
            "the counting allocator is not installed"
        );
        run(&args)
    };
    match checked() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => cli::fail(&error, args.verbose),
    }
}
