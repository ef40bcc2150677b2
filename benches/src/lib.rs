//! Helpers shared by the bench files in `benches/` and by the speedup report
//! (`src/bin/speedup-report.rs`); see `benches/README.md`.
//!
//! - [`workloads`]: the CPU-bound kernels with fixed inputs, on scoped threads, the pool and
//!   rayon, each returning an [`Answer`](workloads::Answer) to compare before timing;
//! - [`stats`]: interleaved median timing, speedup, efficiency, Amdahl and Karp-Flatt;
//! - [`report`]: the report's command line, speedup tables and bars;
//! - [`chart`]: speedup charts as SVG, for the report's `--svg` and the speedup bench.

pub mod chart;
pub mod report;
pub mod stats;
pub mod workloads;

/// Whether this run measures (`cargo bench`) rather than checks (`--test`, or `cargo test
/// --benches`, which passes no `--bench`) or lists: the same rule criterion applies. The
/// benches print their own summaries only when measuring.
pub fn measuring() -> bool {
    let args: Vec<String> = std::env::args().collect();
    let has = |flag: &str| args.iter().any(|arg| arg == flag);
    let profiling = args.iter().any(|arg| arg.starts_with("--profile-time"));
    has("--bench") && !has("--test") && !has("--list") && !profiling
}

/// Whether criterion, given this process's command line, runs the benchmark `id`
/// (`group/function`), so that a summary re-times only what the filter selected.
pub fn selected(id: &str) -> bool {
    let args: Vec<String> = std::env::args().skip(1).collect();
    filter_selects(&args, id)
}

/// Criterion's filter is a regular expression over `group/function`, the first argument that
/// is neither an option nor an option's value. A plain word (letters, digits, `_`, `/`, `-`)
/// is matched here as a substring, as the regex would; anything fancier is assumed to match,
/// leaving the choice to criterion. No filter selects everything.
pub fn filter_selects(args: &[String], id: &str) -> bool {
    // Options of criterion's command line that take a value, which is then no filter.
    const VALUED: [&str; 14] = [
        "--sample-size",
        "--warm-up-time",
        "--measurement-time",
        "--nresamples",
        "--noise-threshold",
        "--confidence-level",
        "--significance-level",
        "--save-baseline",
        "--baseline",
        "--baseline-lenient",
        "--load-baseline",
        "--color",
        "--plotting-backend",
        "--output-format",
    ];
    let filter = args.iter().enumerate().find(|(i, arg)| {
        !arg.starts_with('-') && (*i == 0 || !VALUED.contains(&args[i - 1].as_str()))
    });
    match filter {
        None => true,
        Some((_, f))
            if f.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_/-".contains(c)) =>
        {
            id.contains(f.as_str())
        }
        Some(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|&s| s.to_owned()).collect()
    }

    #[test]
    fn no_filter_selects_everything() {
        assert!(filter_selects(&args(&["--bench"]), "primes/sequential"));
        assert!(filter_selects(&args(&[]), "anything"));
    }

    #[test]
    fn a_word_filter_is_a_substring_match() {
        let a = args(&["--bench", "primes"]);
        assert!(filter_selects(&a, "primes/pool/2"));
        assert!(!filter_selects(&a, "mandelbrot/pool/2"));
        let a = args(&["--bench", "pool/2"]);
        assert!(filter_selects(&a, "blur/pool/2"));
        assert!(!filter_selects(&a, "blur/rayon/2"));
    }

    #[test]
    fn an_option_value_is_not_a_filter() {
        let a = args(&["--bench", "--save-baseline", "main", "blur"]);
        assert!(!filter_selects(&a, "primes/sequential"));
        assert!(filter_selects(&a, "blur/sequential"));
        let a = args(&["--bench", "--sample-size", "20"]);
        assert!(filter_selects(&a, "primes/sequential"));
    }

    #[test]
    fn a_regex_is_left_to_criterion() {
        assert!(filter_selects(&args(&["--bench", "^blur$"]), "primes/x"));
    }
}
