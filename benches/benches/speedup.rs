//! Speedup: every kernel of `shared::workload`, sequential against three ways of running it on
//! threads, at 1, 2, 4 and all available threads.
//!
//! One criterion group per workload (`fib_set`, `primes`, `mandelbrot`, `blur`), each timing
//! `sequential`, then `scoped/T`, `pool/T` and `rayon/T` for every thread count `T`:
//!
//! | engine | what runs | set up |
//! |---|---|---|
//! | `scoped` | the kernel's own `_parallel` function: `std::thread::scope`, threads spawned on every run | nothing |
//! | `pool` | the same work cut into chunks, through `WorkerPool::map` or `WorkerPool::scope` | a `shared::WorkerPool` of `T` threads, started before timing |
//! | `rayon` | the same chunks, through `install` + `par_iter` / `par_chunks_mut` | a `rayon::ThreadPool` of `T` threads, built before timing |
//!
//! (`benches::workloads` says how each workload is cut.) Read the results as:
//!
//! - `scoped/1` against `sequential`: what spawning and joining threads costs by itself; the
//!   pools pay it once, before timing, so `pool/1` and `rayon/1` show only their dispatch;
//! - `*/2` and `*/N` against `sequential`: the speedup, at most the number of cores, less
//!   when the split is uneven (`fib_set`: its last input is 40% of the work);
//! - `*/4` on a 2-core machine: more threads than cores, taking turns.
//!
//! Throughput is in elements (Fibonacci inputs, numbers tested, pixels), so criterion also
//! reports elements per second. Before timing, each group checks once that every form
//! returns exactly what the sequential one does: a fast wrong answer is no speedup.
//!
//! After criterion's output, a measuring run prints a table of speedups (sequential time /
//! parallel time) per engine and thread count, from its own re-timing: the median of 7 warm
//! runs of each form, the forms taking turns, because criterion keeps its estimates to
//! itself. It then draws the same numbers as a chart per group, next to criterion's report:
//! `target/criterion/<group>/speedup.svg` (`benches::chart`: speedup against threads per
//! engine, the ideal line, Amdahl's law fitted to them, and the core count), and prints each
//! path. The target directory is found as criterion finds it, so `CARGO_TARGET_DIR` and
//! `CRITERION_HOME` are honoured. The whole bench takes about two minutes on two cores:
//!
//! ```text
//! cargo bench -p benches --bench speedup              # measure, then print the speedups
//! cargo bench -p benches --bench speedup -- primes    # one group only
//! cargo bench -p benches --bench speedup -- rayon/2   # the benchmarks whose id contains this
//! cargo bench -p benches --bench speedup -- --test    # run each once, as a check
//! ```

use benches::chart::{Series, SpeedupChart};
use benches::report::{speedup_matrix, speedup_matrix_heading};
use benches::stats::{available_cores, speedup, thread_counts};
use benches::workloads::{Engine, EngineKind, Inputs, Size, Workload, run_sequential, time_all};
use benches::{measuring, selected};
use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput};
use std::path::PathBuf;
use std::time::Duration;

/// Re-timings per form for the summary; the median is kept.
const SUMMARY_RUNS: usize = 7;

fn main() {
    // What `criterion_group!` and `criterion_main!` would generate, plus a summary at the end.
    // 10,000 bootstrap resamples rather than criterion's 100,000: the analysis then takes a
    // fraction of a second per benchmark instead of several on two busy cores, and the
    // confidence intervals barely widen. `--nresamples` on the command line still wins.
    let mut criterion = Criterion::default()
        .nresamples(10_000)
        .configure_from_args();
    let threads = thread_counts();
    let inputs = Inputs::new(Size::Full);
    // Every engine at every thread count, built once: the pools' threads sleep while another
    // form runs.
    let engines: Vec<Engine> = EngineKind::ALL
        .into_iter()
        .flat_map(|kind| threads.iter().map(move |&t| (kind, t)))
        .map(|(kind, t)| Engine::new(kind, t).expect("the engine's threads start"))
        .collect();

    let summary: Vec<(String, SpeedupChart)> = Workload::ALL
        .into_iter()
        .filter_map(|workload| compare(&mut criterion, workload, &inputs, &engines, &threads))
        .collect();

    criterion.final_summary();
    if !summary.is_empty() {
        println!(
            "\nSpeedup: sequential time / parallel time, median of {SUMMARY_RUNS} warm runs per \
             form, forms taking turns"
        );
        print!("{}", speedup_matrix_heading(&threads));
        for (table, _) in &summary {
            print!("{table}");
        }
        println!(
            "  ({} cores here: no speedup can exceed that number)",
            available_cores()
        );
        println!("\nSpeedup charts, from the same re-timing:");
        let home = criterion_home();
        for (_, chart) in &summary {
            let path = home.join(&chart.workload).join("speedup.svg");
            let written = path
                .parent()
                .map_or(Ok(()), std::fs::create_dir_all)
                .and_then(|()| std::fs::write(&path, chart.to_svg()));
            match written {
                Ok(()) => println!("  {}: {}", chart.workload, path.display()),
                Err(err) => eprintln!(
                    "  {}: cannot write {}: {err}",
                    chart.workload,
                    path.display()
                ),
            }
        }
    }
}

/// Criterion's output directory, found as criterion 0.8 finds it (`Criterion::default`, which
/// keeps it to itself): `$CRITERION_HOME`; else `$CARGO_TARGET_DIR/criterion`; else
/// `criterion` in the target directory that `cargo metadata` reports, with the cargo that
/// runs the bench (`$CARGO`); else `target/criterion`.
fn criterion_home() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            let output = std::process::Command::new(std::env::var_os("CARGO")?)
                .args(["metadata", "--format-version", "1", "--no-deps"])
                .output()
                .ok()?;
            let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).ok()?;
            Some(PathBuf::from(metadata.get("target_directory")?.as_str()?))
        });
    target.map_or_else(
        || PathBuf::from("target/criterion"),
        |t| t.join("criterion"),
    )
}

/// One criterion group: `sequential` against every engine, after checking that they all
/// agree. When measuring, returns the speedup table for the summary, and its chart.
fn compare(
    criterion: &mut Criterion,
    workload: Workload,
    inputs: &Inputs,
    engines: &[Engine],
    threads: &[usize],
) -> Option<(String, SpeedupChart)> {
    let expected = run_sequential(workload, inputs);
    for engine in engines {
        // `assert!` rather than `assert_eq!`: a mismatch should not print two 170,000-pixel
        // grids.
        assert!(
            engine.run(workload, inputs) == expected,
            "{workload}: {} on {} threads differs from the sequential answer",
            engine.kind(),
            engine.threads()
        );
    }

    let mut group = criterion.benchmark_group(workload.name());
    // Runs of tens of milliseconds, steady: criterion's minimum of 10 samples, each of as
    // few runs as fill a short window (flat sampling), keep the 40 benchmarks to about two
    // minutes. The point is the ratio between forms, not the last percent.
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_millis(1500))
        .throughput(Throughput::Elements(inputs.elements(workload)));
    group.bench_function("sequential", |b| {
        b.iter(|| run_sequential(workload, inputs))
    });
    for engine in engines {
        let id = BenchmarkId::new(engine.kind().name(), engine.threads());
        group.bench_with_input(id, engine, |b, engine| {
            b.iter(|| engine.run(workload, inputs))
        });
    }
    group.finish();

    let chosen = |engine: &Engine| {
        selected(&format!(
            "{workload}/{}/{}",
            engine.kind(),
            engine.threads()
        ))
    };
    if !measuring() || !engines.iter().any(chosen) {
        return None;
    }
    let (sequential, times) = time_all(workload, inputs, engines, SUMMARY_RUNS);

    // One row per engine, one column per thread count, in the order the engines were built.
    let names: Vec<&str> = EngineKind::ALL.map(EngineKind::name).to_vec();
    let rows: Vec<Vec<f64>> = times
        .chunks(threads.len())
        .map(|row| row.iter().map(|&t| speedup(sequential, t)).collect())
        .collect();
    let series = EngineKind::ALL
        .iter()
        .zip(times.chunks(threads.len()))
        .map(|(kind, row)| {
            let at: Vec<(usize, Duration)> =
                threads.iter().copied().zip(row.iter().copied()).collect();
            Series::from_times(kind.name(), sequential, &at)
        })
        .collect();
    let chart = SpeedupChart {
        workload: workload.name().to_owned(),
        input: inputs.describe(workload),
        method: format!(
            "re-timed by the bench after criterion: median of {SUMMARY_RUNS} warm runs per \
             point, forms taking turns; one run"
        ),
        cores: available_cores(),
        series,
    };
    Some((speedup_matrix(workload.name(), &names, &rows), chart))
}
