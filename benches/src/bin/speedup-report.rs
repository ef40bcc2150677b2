//! The speedup report: how much faster each CPU-bound workload of `shared::workload` runs on
//! 1, 2, 4 and all available threads, without criterion.
//!
//! For each workload it first checks that every parallel answer equals the sequential one,
//! then times the sequential run and each thread count in turns (the median of several warm
//! runs), and prints a table of time, speedup, efficiency and Amdahl's serial fraction (the
//! Karp-Flatt metric), with a bar per thread count. The Node course measured its Fibonacci
//! workers with `Date.now()` around one run; this is the same question asked with medians,
//! a correctness check, and the arithmetic that says what the numbers mean.
//!
//! Run (always `--release`; the debug build is tens of times slower and says nothing):
//!
//! ```text
//! cargo run --release -p benches --bin speedup-report                 # about 5 s on 2 cores
//! cargo run --release -p benches --bin speedup-report -- --quick      # a check in seconds (CI)
//! cargo run --release -p benches --bin speedup-report -- primes blur --engine rayon
//! cargo run --release -p benches --bin speedup-report -- --engine all --svg docs/charts
//! cargo run --release -p benches --bin speedup-report -- --help
//! ```
//!
//! `--svg DIR` also writes one chart per workload, `DIR/<workload>.svg` (`benches::chart`):
//! speedup against threads for every engine measured (`--engine all` for the three), the
//! ideal line, Amdahl's law with the serial fraction the table gives, and the core count. DIR
//! is created before anything is measured; if it cannot be, the report says why in one line
//! and exits with code 1.
//!
//! Expect speedups near 2x at 2 threads on a 2-core machine for `primes`, `mandelbrot` and
//! `blur`, less for `fib_set` (its last input is 40% of the work), nothing more at 4 threads,
//! and a last line `result: ...` naming the best speedup. Unknown arguments are refused with
//! an error and a non-zero exit. Why a `[[bin]]` and not an example: it is a tool of the
//! benches crate rather than a lesson, and its name says what it does from anywhere in the
//! workspace (`--bin speedup-report`).

use anyhow::Context as _;
use benches::chart::{Series, SpeedupChart};
use benches::report::{self, Measured, ReportArgs};
use benches::stats::{self, available_cores, load_average, thread_counts};
use benches::workloads::{Answer, Engine, EngineKind, Inputs, Workload, run_sequential, time_all};
use std::path::Path;

fn main() -> anyhow::Result<()> {
    let args = match report::parse_args(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(err) => {
            // A usage error: said in one line, with exit code 2 as command-line tools do.
            eprintln!("speedup-report: {err}\nRun with --help for the options.");
            std::process::exit(2);
        }
    };
    if args.help {
        println!("{}", report::USAGE);
        return Ok(());
    }
    // The chart directory first, so that a bad one is refused before minutes of measuring.
    if let Some(dir) = &args.svg
        && let Err(err) = std::fs::create_dir_all(dir)
    {
        eprintln!(
            "speedup-report: cannot create the chart directory `{}`: {err}",
            dir.display()
        );
        std::process::exit(1);
    }

    let cores = available_cores();
    let threads = thread_counts();
    print_header(&args, cores, &threads);

    // Built once, outside every timed run: the inputs, and one engine per thread count.
    let inputs = Inputs::new(args.size);
    // Engine by engine, each at every thread count.
    let engines = args
        .engines
        .iter()
        .flat_map(|&kind| threads.iter().map(move |&t| (kind, t)))
        .map(|(kind, t)| Engine::new(kind, t))
        .collect::<anyhow::Result<Vec<_>>>()?;

    let mut best: Option<(f64, Workload, EngineKind, usize)> = None;
    for &workload in &args.workloads {
        let (answer, rows) = measure(workload, &inputs, &engines, args.runs())?;
        println!(
            "\n{workload}: {} (answer: {})",
            inputs.describe(workload),
            answer.summary()
        );
        let sequential = rows[0];
        let mut series = Vec::new();
        for (&kind, measured) in args.engines.iter().zip(rows[1..].chunks(threads.len())) {
            if args.engines.len() > 1 {
                println!("  {kind}: {}", kind.describe());
            }
            let table: Vec<Measured> = std::iter::once(sequential)
                .chain(measured.iter().copied())
                .collect();
            print!("{}", report::speedup_table(&table, cores, args.bars));
            for row in measured {
                let s = stats::speedup(sequential.time, row.time);
                let threads = row.threads.unwrap_or(1);
                if best.is_none_or(|(b, ..)| s > b) {
                    best = Some((s, workload, kind, threads));
                }
            }
            let times: Vec<(usize, std::time::Duration)> = measured
                .iter()
                .map(|row| (row.threads.unwrap_or(1), row.time))
                .collect();
            series.push(Series::from_times(kind.name(), sequential.time, &times));
        }
        if let Some(dir) = &args.svg {
            let chart = SpeedupChart {
                workload: workload.name().to_owned(),
                input: inputs.describe(workload),
                method: format!(
                    "median of {} warm runs per point, forms taking turns; one run",
                    args.runs()
                ),
                cores,
                series,
            };
            let path = write_chart(dir, workload, &chart)?;
            println!("[main] {workload}: chart written to {}", path.display());
        }
    }

    println!();
    println!("Reading the tables:");
    println!("  speedup = sequential time / parallel time; efficiency = speedup / p, where p =");
    println!("  min(threads, cores): more threads than cores only take turns on the same cores.");
    println!("  The serial fraction e (Karp-Flatt) is what Amdahl's law needs to explain the");
    println!("  speedup: truly serial work, but also an uneven split (fib_set's last input is");
    println!("  40% of its work), starting threads, and other programs using the cores.");
    match cores {
        1 => println!("  This machine has 1 core: threads can take turns, never speed up."),
        2 => println!(
            "  This machine has 2 cores: no speedup can exceed 2x, and near 2x is the best a\n  \
             parallel form can reach here, however many threads it starts."
        ),
        n => println!("  This machine has {n} cores: no speedup can exceed {n}x."),
    }
    let Some((speedup, workload, kind, threads_best)) = best else {
        anyhow::bail!("no workload was measured");
    };
    println!(
        "result: {} checked against the sequential answer on {} threads ({}); best speedup \
         {speedup:.2}x ({workload}, {kind} on {}, {cores} cores)",
        plural(args.workloads.len(), "workload"),
        join(&threads),
        names(&args.engines),
        plural(threads_best, "thread"),
    );
    Ok(())
}

fn print_header(args: &ReportArgs, cores: usize, threads: &[usize]) {
    println!(
        "[main] speedup report: {}, {} inputs, median of {} warm runs per row",
        args.engines
            .iter()
            .map(|kind| kind.describe())
            .collect::<Vec<_>>()
            .join("; "),
        match args.size {
            benches::workloads::Size::Full => "full",
            benches::workloads::Size::Quick => "quick (--quick)",
        },
        args.runs()
    );
    println!(
        "[main] {cores} logical cores (available_parallelism), {} physical (num_cpus); \
         threads: {}",
        num_cpus::get_physical(),
        join(threads)
    );
    // Nothing of ours runs yet, so any load is other programs'.
    if let Some(load) = load_average().filter(|&load| load >= 0.5) {
        println!(
            "[main] note: load average {load:.2} before starting: other processes use the \
             cores, so the speedups will come out lower than on an idle machine"
        );
    }
    if cfg!(debug_assertions) {
        println!("[main] note: a debug build; run with --release for meaningful times");
    }
}

/// Checks every engine's answer against the sequential one, then times them all in turns.
/// Returns the sequential answer and the rows of the table, the sequential row first.
fn measure(
    workload: Workload,
    inputs: &Inputs,
    engines: &[Engine],
    runs: usize,
) -> anyhow::Result<(Answer, Vec<Measured>)> {
    let expected = run_sequential(workload, inputs);
    for engine in engines {
        // `ensure!` rather than `assert_eq!`: a mismatch should not print two 170,000-pixel
        // grids, and a wrong answer makes every time below meaningless.
        anyhow::ensure!(
            engine.run(workload, inputs) == expected,
            "{workload}: {} on {} threads returned a different answer from the sequential \
             run; no time is worth printing",
            engine.kind(),
            engine.threads()
        );
    }
    println!(
        "[main] {workload}: the answers on {} threads equal the sequential one; timing",
        join(&thread_list(engines))
    );

    let (sequential, times) = time_all(workload, inputs, engines, runs);
    let rows = std::iter::once(None)
        .chain(engines.iter().map(|e| Some(e.threads())))
        .zip(std::iter::once(sequential).chain(times))
        .map(|(threads, time)| Measured { threads, time })
        .collect();
    Ok((expected, rows))
}

fn thread_list(engines: &[Engine]) -> Vec<usize> {
    let mut threads: Vec<usize> = engines.iter().map(Engine::threads).collect();
    threads.sort_unstable();
    threads.dedup();
    threads
}

fn names(engines: &[EngineKind]) -> String {
    engines
        .iter()
        .map(|kind| kind.name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Writes `chart` to `dir/<workload>.svg` and returns the path.
fn write_chart(
    dir: &Path,
    workload: Workload,
    chart: &SpeedupChart,
) -> anyhow::Result<std::path::PathBuf> {
    let path = dir.join(format!("{}.svg", workload.name()));
    std::fs::write(&path, chart.to_svg())
        .with_context(|| format!("cannot write the chart {}", path.display()))?;
    Ok(path)
}

/// `1 thread`, `2 threads`.
fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("{n} {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

fn join(numbers: &[usize]) -> String {
    numbers
        .iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
