//! The pieces of the speedup report (`src/bin/speedup-report.rs`) that can be tested without
//! timing anything: its command line, its tables and its bars. The benches' summaries use the
//! tables too.

use crate::stats::{self, amdahl_speedup, efficiency, karp_flatt, processors};
use crate::workloads::{EngineKind, Size, Workload};
use std::fmt::{self, Write as _};
use std::path::PathBuf;
use std::time::Duration;

/// `--help`.
pub const USAGE: &str = "\
Usage: cargo run --release -p benches --bin speedup-report -- [OPTIONS] [WORKLOAD...]

Times each CPU-bound workload sequentially and on 1, 2, 4 and all available threads, after
checking that every parallel answer equals the sequential one, and prints time, speedup,
efficiency and Amdahl's serial fraction (the Karp-Flatt metric) per thread count.

Workloads (default: all): fib_set, primes, mandelbrot, blur

Options:
  --quick            small inputs and 3 runs: a check in seconds (CI)
  --runs N           timed runs per thread count, the median is shown (default 7, quick 3)
  --engine ENGINE    scoped (std::thread::scope, default), pool (shared::WorkerPool), rayon,
                     or all (the three, taking turns: a table each, one chart)
  --svg DIR          also write a speedup chart per workload, DIR/<workload>.svg: speedup
                     against threads per engine, the ideal line, Amdahl's law fitted to the
                     measurements, and the core count (DIR is created if missing)
  --ascii            draw the bars with '#' instead of Unicode blocks
  -h, --help         this text";

/// The report's command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportArgs {
    /// `--quick`: [`Size::Quick`].
    pub size: Size,
    /// `--runs N`, if given.
    pub runs: Option<usize>,
    /// `--engine`: one engine, or every one (in [`EngineKind::ALL`]'s order) for `all`.
    pub engines: Vec<EngineKind>,
    /// The workloads named, in the report's order; every one if none was named.
    pub workloads: Vec<Workload>,
    /// `--ascii`.
    pub bars: BarStyle,
    /// `--svg DIR`: where to write a chart per workload, if anywhere.
    pub svg: Option<PathBuf>,
    /// `-h` or `--help`: print [`USAGE`] and nothing else.
    pub help: bool,
}

/// The most `--runs` accepted: more would only make the report slow.
pub const MAX_RUNS: usize = 101;

impl ReportArgs {
    /// Timed runs per variant: `--runs`, else 7, or 3 with `--quick`.
    pub fn runs(&self) -> usize {
        self.runs.unwrap_or(match self.size {
            Size::Full => 7,
            Size::Quick => 3,
        })
    }
}

/// What is wrong with a command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArgsError {
    /// An option the report does not have.
    UnknownOption(String),
    /// An option that needs a value came last.
    MissingValue(&'static str),
    /// `--runs` with something other than a number in `1..=MAX_RUNS`.
    BadRuns(String),
    /// `--engine` with an unknown engine.
    UnknownEngine(String),
    /// A workload name that does not exist.
    UnknownWorkload(String),
}

impl fmt::Display for ArgsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArgsError::UnknownOption(option) => write!(f, "unknown option `{option}`"),
            ArgsError::MissingValue(option) => write!(f, "`{option}` needs a value"),
            ArgsError::BadRuns(value) => write!(
                f,
                "`--runs` takes a whole number from 1 to {MAX_RUNS}, got `{value}`"
            ),
            ArgsError::UnknownEngine(name) => write!(
                f,
                "unknown engine `{name}`; choose one of {}, or all",
                EngineKind::ALL.map(EngineKind::name).join(", ")
            ),
            ArgsError::UnknownWorkload(name) => write!(
                f,
                "unknown workload `{name}`; choose from {}",
                Workload::ALL.map(Workload::name).join(", ")
            ),
        }
    }
}

impl std::error::Error for ArgsError {}

/// Parses the report's arguments (without the program name).
///
/// # Errors
/// The first thing wrong with them, as an [`ArgsError`].
pub fn parse_args<I>(args: I) -> Result<ReportArgs, ArgsError>
where
    I: IntoIterator,
    I::Item: Into<String>,
{
    let mut parsed = ReportArgs {
        size: Size::Full,
        runs: None,
        engines: vec![EngineKind::Scoped],
        workloads: Vec::new(),
        bars: BarStyle::Unicode,
        svg: None,
        help: false,
    };
    let mut named = Vec::new();
    let mut args = args.into_iter().map(Into::into);
    while let Some(arg) = args.next() {
        // `--runs=5` and `--runs 5` alike.
        let (option, inline) = match arg.split_once('=') {
            Some((option, value)) if arg.starts_with("--") => {
                (option.to_owned(), Some(value.to_owned()))
            }
            _ => (arg.clone(), None),
        };
        let mut value = |name: &'static str| {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or(ArgsError::MissingValue(name))
        };
        match option.as_str() {
            "-h" | "--help" => parsed.help = true,
            "--quick" => parsed.size = Size::Quick,
            "--ascii" => parsed.bars = BarStyle::Ascii,
            "--runs" => {
                let text = value("--runs")?;
                let runs = text
                    .parse()
                    .ok()
                    .filter(|n| (1..=MAX_RUNS).contains(n))
                    .ok_or(ArgsError::BadRuns(text))?;
                parsed.runs = Some(runs);
            }
            "--engine" => {
                let text = value("--engine")?;
                parsed.engines = if text == "all" {
                    EngineKind::ALL.to_vec()
                } else {
                    vec![EngineKind::from_name(&text).ok_or(ArgsError::UnknownEngine(text))?]
                };
            }
            "--svg" => {
                let dir = value("--svg")?;
                if dir.is_empty() {
                    return Err(ArgsError::MissingValue("--svg"));
                }
                parsed.svg = Some(PathBuf::from(dir));
            }
            _ if option.starts_with('-') => return Err(ArgsError::UnknownOption(arg)),
            name => {
                named.push(
                    Workload::from_name(name)
                        .ok_or_else(|| ArgsError::UnknownWorkload(name.to_owned()))?,
                );
            }
        }
    }
    parsed.workloads = Workload::ALL
        .into_iter()
        .filter(|w| named.is_empty() || named.contains(w))
        .collect();
    Ok(parsed)
}

/// How bars are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BarStyle {
    /// Unicode block elements, with eighths of a cell at the tip.
    Unicode,
    /// `#`, whole cells only, for terminals without Unicode.
    Ascii,
}

/// Cells of the longest bar.
pub const BAR_WIDTH: usize = 40;

/// A horizontal bar for `value` on a scale where `full` fills `width` cells. Values below
/// zero (or not numbers) draw nothing; values above `full` are cut at `width` cells.
pub fn bar(value: f64, full: f64, width: usize, style: BarStyle) -> String {
    if !(value.is_finite() && full.is_finite() && full > 0.0 && value > 0.0) {
        return String::new();
    }
    let cells = (value / full * width as f64).min(width as f64);
    match style {
        BarStyle::Ascii => "#".repeat(cells.round() as usize),
        BarStyle::Unicode => {
            const EIGHTHS: [&str; 8] = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"];
            let eighths = (cells * 8.0).round() as usize;
            let mut out = "█".repeat(eighths / 8);
            out.push_str(EIGHTHS[eighths % 8]);
            out
        }
    }
}

/// A time for a table: `812 µs`, `31.2 ms`, `1.25 s`.
pub fn format_duration(time: Duration) -> String {
    let secs = time.as_secs_f64();
    if secs >= 1.0 {
        format!("{secs:.2} s")
    } else if secs >= 1e-3 {
        format!("{:.1} ms", secs * 1e3)
    } else {
        format!("{:.0} µs", secs * 1e6)
    }
}

/// One measured line of a speedup table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measured {
    /// `None` for the sequential run.
    pub threads: Option<usize>,
    /// The median time.
    pub time: Duration,
}

/// A workload's speedup table: one row per [`Measured`] (the sequential one first), with time,
/// speedup against the sequential time, efficiency, the Karp-Flatt serial fraction and a bar;
/// then what Amdahl's law makes of the serial fraction. `cores` is the machine's, for `p`.
///
/// # Panics
/// If `rows` has no sequential row.
pub fn speedup_table(rows: &[Measured], cores: usize, style: BarStyle) -> String {
    let sequential = rows
        .iter()
        .find(|r| r.threads.is_none())
        .expect("a speedup table needs the sequential time")
        .time;
    let speedups: Vec<f64> = rows
        .iter()
        .map(|r| stats::speedup(sequential, r.time))
        .collect();
    let ideal = rows
        .iter()
        .filter_map(|r| r.threads)
        .map(|t| processors(t, cores))
        .max()
        .unwrap_or(1) as f64;
    let full = speedups
        .iter()
        .copied()
        .filter(|s| s.is_finite())
        .fold(ideal, f64::max);

    let mut out = String::new();
    let _ = writeln!(
        out,
        "  {:<12} {:>9} {:>8} {:>11} {:>9}  speedup (full bar = {full:.1}x)",
        "threads", "time", "speedup", "efficiency", "serial e"
    );
    for (row, &s) in rows.iter().zip(&speedups) {
        let (label, eff, serial) = match row.threads {
            None => ("sequential".to_owned(), "-".to_owned(), "-".to_owned()),
            Some(t) => {
                let p = processors(t, cores);
                let label = if t > cores {
                    format!("{t} (on {cores})")
                } else {
                    t.to_string()
                };
                let serial = karp_flatt(s, p).map_or("-".to_owned(), |e| format!("{e:.3}"));
                (label, format!("{:.0}%", efficiency(s, p) * 100.0), serial)
            }
        };
        let _ = writeln!(
            out,
            "  {label:<12} {:>9} {:>7.2}x {eff:>11} {serial:>9}  {}",
            format_duration(row.time),
            s,
            bar(s, full, BAR_WIDTH, style)
        );
    }
    out.push_str(&amdahl_note(rows, &speedups, cores));
    out
}

/// The serial fraction a run's speedups give (Karp-Flatt), read as the report reads it: from
/// the measurement that uses the most cores with the fewest threads.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AmdahlFit {
    /// The threads of the measurement it was read from.
    pub threads: usize,
    /// The processors those threads could use: `min(threads, cores)`.
    pub processors: usize,
    /// The speedup measured there.
    pub speedup: f64,
    /// [`karp_flatt`] of that speedup on those processors: `None` for one processor. It is 1
    /// or more for no speedup at all, 0 or less for a speedup at or above `processors`; only
    /// a value strictly between is a serial fraction.
    pub serial: Option<f64>,
}

impl AmdahlFit {
    /// The serial fraction, if the measurement gives one strictly between 0 and 1.
    pub fn fraction(&self) -> Option<f64> {
        self.serial.filter(|e| *e > 0.0 && *e < 1.0)
    }
}

/// Fits Amdahl's law to `(threads, speedup)` measurements on `cores` cores: the Karp-Flatt
/// serial fraction of the one that uses the most cores (`min(threads, cores)`) with the fewest
/// threads. `None` if there is no measurement.
///
/// ```
/// use benches::report::amdahl_fit;
/// // 1.6x on 2 threads of 2 cores: e = (1/1.6 - 1/2) / (1 - 1/2) = 0.25. The 4-thread
/// // measurement uses no more cores, so it is not the one read.
/// let fit = amdahl_fit([(1, 0.98), (2, 1.6), (4, 1.5)], 2).unwrap();
/// assert_eq!((fit.threads, fit.processors), (2, 2));
/// assert!((fit.fraction().unwrap() - 0.25).abs() < 1e-9);
/// ```
pub fn amdahl_fit<I>(measured: I, cores: usize) -> Option<AmdahlFit>
where
    I: IntoIterator<Item = (usize, f64)>,
{
    measured
        .into_iter()
        .map(|(t, s)| (t, processors(t, cores), s))
        .max_by_key(|&(t, p, _)| (p, std::cmp::Reverse(t)))
        .map(|(threads, processors, speedup)| AmdahlFit {
            threads,
            processors,
            speedup,
            serial: karp_flatt(speedup, processors),
        })
}

/// What Amdahl's law says, from the row that uses the most cores with the fewest threads.
fn amdahl_note(rows: &[Measured], speedups: &[f64], cores: usize) -> String {
    let measured = rows
        .iter()
        .zip(speedups)
        .filter_map(|(r, &s)| r.threads.map(|t| (t, s)));
    let Some(AmdahlFit {
        threads,
        processors: p,
        speedup: s,
        serial,
    }) = amdahl_fit(measured, cores)
    else {
        return String::new();
    };
    let Some(e) = serial else {
        return "  Amdahl: with p = 1 no serial fraction can be measured (Karp-Flatt needs p > 1)\n"
            .to_owned();
    };
    if e >= 1.0 {
        return format!(
            "  Amdahl: {s:.2}x on {threads} threads is no speedup at all (e = {e:.2} is not a \
             fraction): starting threads cost more than they gave, or other programs had the \
             cores\n"
        );
    }
    if e <= 0.0 {
        return format!(
            "  Amdahl: {s:.2}x on {threads} threads is at or above {p}x, so no serial \
             fraction is measurable here\n"
        );
    }
    let mut note = format!(
        "  Amdahl: serial fraction e = {e:.3} (from {s:.2}x on p = {p}); so at most {:.1}x \
         on any number of cores",
        1.0 / e
    );
    let bigger: Vec<String> = [4, 8, 16, 64]
        .into_iter()
        .filter(|&n| n > p)
        .take(3)
        .map(|n| format!("{:.1}x on {n}", amdahl_speedup(e, n)))
        .collect();
    if !bigger.is_empty() {
        let _ = write!(note, ", and about {}", bigger.join(", "));
    }
    note.push('\n');
    note
}

/// The heading of the benches' summary tables: one column per thread count.
pub fn speedup_matrix_heading(threads: &[usize]) -> String {
    let mut out = format!("  {:<12} {:<8}", "workload", "engine");
    for t in threads {
        let _ = write!(out, " {:>9}", format!("{t} thr"));
    }
    out.push('\n');
    out
}

/// One workload's lines of the benches' summary, under [`speedup_matrix_heading`]: one line
/// per engine, the speedup at each thread count. `speedups[i][j]` is engine `i` on thread
/// count `j`.
pub fn speedup_matrix(workload: &str, engines: &[&str], speedups: &[Vec<f64>]) -> String {
    let mut out = String::new();
    for (i, (engine, row)) in engines.iter().zip(speedups).enumerate() {
        let name = if i == 0 { workload } else { "" };
        let _ = write!(out, "  {name:<12} {engine:<8}");
        for s in row {
            let _ = write!(out, " {s:>8.2}x");
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<ReportArgs, ArgsError> {
        parse_args(args.iter().copied())
    }

    #[test]
    fn no_arguments_means_every_workload_full_size_scoped() {
        let args = parse(&[]).unwrap();
        assert_eq!(args.size, Size::Full);
        assert_eq!(args.runs(), 7);
        assert_eq!(args.engines, [EngineKind::Scoped]);
        assert_eq!(args.svg, None);
        assert_eq!(args.workloads, Workload::ALL);
        assert_eq!(args.bars, BarStyle::Unicode);
        assert!(!args.help);
    }

    #[test]
    fn options_and_workload_names() {
        let args = parse(&["--quick", "blur", "--engine", "rayon", "primes", "--ascii"]).unwrap();
        assert_eq!(args.size, Size::Quick);
        assert_eq!(args.runs(), 3);
        assert_eq!(args.engines, [EngineKind::Rayon]);
        // In the report's order, whatever the command line's.
        assert_eq!(args.workloads, [Workload::Primes, Workload::Blur]);
        assert_eq!(args.bars, BarStyle::Ascii);

        let args = parse(&["--runs=5", "--engine=pool", "primes", "primes"]).unwrap();
        assert_eq!(args.runs(), 5);
        assert_eq!(args.engines, [EngineKind::Pool]);
        assert_eq!(args.workloads, [Workload::Primes]);
        assert_eq!(parse(&["--quick", "--runs", "9"]).unwrap().runs(), 9);
        assert!(parse(&["-h"]).unwrap().help);

        let args = parse(&["--engine", "all", "--svg", "target/charts"]).unwrap();
        assert_eq!(args.engines, EngineKind::ALL);
        assert_eq!(args.svg, Some(PathBuf::from("target/charts")));
        assert_eq!(
            parse(&["--svg=out dir"]).unwrap().svg,
            Some(PathBuf::from("out dir"))
        );
    }

    #[test]
    fn bad_arguments_are_errors_that_say_what_is_wrong() {
        let cases: [(&[&str], ArgsError); 9] = [
            (&["--svg"], ArgsError::MissingValue("--svg")),
            (&["--svg="], ArgsError::MissingValue("--svg")),
            (&["--fast"], ArgsError::UnknownOption("--fast".into())),
            (&["-q"], ArgsError::UnknownOption("-q".into())),
            (&["--runs"], ArgsError::MissingValue("--runs")),
            (&["--runs", "0"], ArgsError::BadRuns("0".into())),
            (&["--runs=many"], ArgsError::BadRuns("many".into())),
            (
                &["--engine", "tokio"],
                ArgsError::UnknownEngine("tokio".into()),
            ),
            (&["mandel"], ArgsError::UnknownWorkload("mandel".into())),
        ];
        for (args, expected) in cases {
            assert_eq!(parse(args), Err(expected), "{args:?}");
        }
        assert_eq!(
            ArgsError::UnknownWorkload("mandel".into()).to_string(),
            "unknown workload `mandel`; choose from fib_set, primes, mandelbrot, blur"
        );
        assert_eq!(
            ArgsError::BadRuns("0".into()).to_string(),
            format!("`--runs` takes a whole number from 1 to {MAX_RUNS}, got `0`")
        );
        assert_eq!(
            parse(&["--runs", "102"]),
            Err(ArgsError::BadRuns("102".into()))
        );
    }

    #[test]
    fn bars_scale_and_cut() {
        assert_eq!(bar(1.0, 2.0, 10, BarStyle::Ascii), "#####");
        assert_eq!(bar(2.0, 2.0, 10, BarStyle::Ascii), "##########");
        assert_eq!(bar(5.0, 2.0, 10, BarStyle::Ascii), "##########");
        assert_eq!(bar(1.0, 2.0, 10, BarStyle::Unicode), "█████");
        // 1.05 of 2 on 10 cells: 5.25 cells, five full and two eighths.
        assert_eq!(bar(1.05, 2.0, 10, BarStyle::Unicode), "█████▎");
        assert_eq!(bar(0.0, 2.0, 10, BarStyle::Unicode), "");
        assert_eq!(bar(-1.0, 2.0, 10, BarStyle::Ascii), "");
        assert_eq!(bar(f64::NAN, 2.0, 10, BarStyle::Ascii), "");
        assert_eq!(bar(1.0, 0.0, 10, BarStyle::Ascii), "");
    }

    #[test]
    fn durations_in_readable_units() {
        assert_eq!(format_duration(Duration::from_micros(812)), "812 µs");
        assert_eq!(format_duration(Duration::from_micros(31_240)), "31.2 ms");
        assert_eq!(format_duration(Duration::from_millis(1_250)), "1.25 s");
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_speedup_table_on_two_cores() {
        let rows = [
            Measured {
                threads: None,
                time: ms(100),
            },
            Measured {
                threads: Some(1),
                time: ms(100),
            },
            Measured {
                threads: Some(2),
                time: ms(75),
            },
            Measured {
                threads: Some(4),
                time: ms(50),
            },
        ];
        let table = speedup_table(&rows, 2, BarStyle::Ascii);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 6, "{table}");
        assert!(lines[0].contains("full bar = 2.0x"), "{table}");
        assert!(
            lines[1].starts_with("  sequential") && lines[1].contains("1.00x"),
            "{table}"
        );
        // 1.33x on 2 cores: efficiency 67%, e = (0.75 - 0.5) / 0.5 = 0.5, 26.7 of 40 cells.
        assert!(
            lines[3].contains("1.33x") && lines[3].contains("67%"),
            "{table}"
        );
        assert!(lines[3].contains("0.500"), "{table}");
        assert!(
            lines[3].ends_with(&format!(" {}", "#".repeat(27))),
            "{table}"
        );
        // 4 threads on 2 cores count as p = 2: 2x is 100%, e = 0.
        assert!(
            lines[4].contains("4 (on 2)") && lines[4].contains("100%"),
            "{table}"
        );
        assert!(lines[4].contains("0.000"), "{table}");
        // The Amdahl line uses p = 2 with the fewest threads: the 2-thread row.
        assert!(lines[5].contains("serial fraction e = 0.500"), "{table}");
        assert!(
            lines[5].contains("at most 2.0x on any number of cores"),
            "{table}"
        );
        assert!(lines[5].contains("1.6x on 4"), "{table}");
    }

    #[test]
    fn amdahl_notes_for_perfect_and_single_core_runs() {
        let perfect = [
            Measured {
                threads: None,
                time: ms(100),
            },
            Measured {
                threads: Some(2),
                time: ms(49),
            },
        ];
        assert!(speedup_table(&perfect, 2, BarStyle::Ascii).contains("no serial fraction"));
        let slower = [
            Measured {
                threads: None,
                time: ms(100),
            },
            Measured {
                threads: Some(2),
                time: ms(150),
            },
        ];
        assert!(speedup_table(&slower, 2, BarStyle::Ascii).contains("no speedup at all"));
        let one_core = [
            Measured {
                threads: None,
                time: ms(100),
            },
            Measured {
                threads: Some(2),
                time: ms(100),
            },
        ];
        assert!(speedup_table(&one_core, 1, BarStyle::Ascii).contains("with p = 1"));
    }

    #[test]
    fn amdahl_fit_reads_the_most_cores_with_the_fewest_threads() {
        // The example in amdahl_fit's documentation (doctests are off in this crate).
        let fit = amdahl_fit([(1, 0.98), (2, 1.6), (4, 1.5)], 2).unwrap();
        assert_eq!((fit.threads, fit.processors), (2, 2));
        assert!((fit.fraction().unwrap() - 0.25).abs() < 1e-9);
        // On 8 cores the 4-thread run uses the most.
        let fit = amdahl_fit([(1, 0.98), (2, 1.6), (4, 2.5)], 8).unwrap();
        assert_eq!((fit.threads, fit.processors, fit.speedup), (4, 4, 2.5));
        // No fraction for one processor, none at or above p-fold, none for no speedup.
        assert_eq!(amdahl_fit([(1, 1.0)], 2).unwrap().fraction(), None);
        assert_eq!(amdahl_fit([(2, 2.0)], 2).unwrap().fraction(), None);
        assert_eq!(amdahl_fit([(2, 0.9)], 2).unwrap().fraction(), None);
        assert!(amdahl_fit([(2, 0.9)], 2).unwrap().serial.unwrap() > 1.0);
        assert_eq!(amdahl_fit(std::iter::empty(), 2), None);
    }

    #[test]
    fn the_matrix_has_a_line_per_engine_under_a_heading_per_thread_count() {
        let heading = speedup_matrix_heading(&[1, 2, 4]);
        assert!(
            heading.contains("1 thr") && heading.contains("2 thr") && heading.contains("4 thr")
        );
        let text = speedup_matrix(
            "primes",
            &["scoped", "pool"],
            &[vec![0.99, 1.95], vec![1.0, 1.9]],
        );
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with("  primes") && lines[0].contains("1.95x"));
        assert!(lines[1].trim_start().starts_with("pool") && lines[1].contains("1.90x"));
        // The columns line up with the heading's.
        assert_eq!(
            lines[0].find("1.95x").map(|i| i + 5),
            heading.find("2 thr").map(|i| i + 5)
        );
    }
}
