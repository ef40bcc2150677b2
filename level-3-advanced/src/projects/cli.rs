//! What the five projects' command lines share, so that they refuse bad input the same way,
//! before any work: the thread limit ([`MAX_THREADS`]), the option reader ([`Args`]), the
//! check that an output file can be written ([`check_writable`]), and the one error style
//! ([`fail`]):
//!
//! ```text
//! error: <what> (<why>)
//! ```
//!
//! on one line of stderr (the whole chain of causes only with `--verbose`), with exit code 2
//! for bad usage ([`UsageError`]: an unknown option, a missing value, a bad or out-of-range
//! number) and 1 for a run that failed (an unreadable input, an unwritable output, no valid
//! record, a worker that failed).

use std::ffi::OsString;
use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::thread;

/// The most threads a project accepts (per stage, for the data pipeline).
///
/// Why a limit at all: every thread reserves its own stack, and with tens of thousands of them
/// the operating system runs out of memory mappings or threads; Rust's runtime then aborts the
/// whole process (`l3-p1 --threads 100000` once did, with "fatal runtime error" and exit code
/// 134) instead of returning an error. Why 256: the projects' work is CPU-bound, so threads
/// beyond the machine's cores add switching and no speed; 256 is above the core count of
/// nearly every machine the course runs on, and far below where thread creation fails.
pub const MAX_THREADS: usize = 256;

/// The line each `--help` ends with.
pub const EXIT_CODES: &str = "\
Errors are one line on stderr, `error: <what> (<why>)` (with --verbose, every cause).
Exit codes: 0 success; 1 the run failed (an input that cannot be read, an output that cannot be
written, a worker that failed); 2 bad usage (an unknown option, a missing value, a bad or
out-of-range number), refused before any work.";

/// The default thread count for a machine with `cores` logical cores: `cores`, kept within
/// `1..=MAX_THREADS` (a machine with more cores than [`MAX_THREADS`] gets [`MAX_THREADS`]).
///
/// ```
/// use level_3_advanced::projects::cli::{MAX_THREADS, threads_for};
///
/// assert_eq!(threads_for(2), 2);
/// assert_eq!(threads_for(0), 1);
/// assert_eq!(threads_for(4 * MAX_THREADS), MAX_THREADS);
/// ```
pub fn threads_for(cores: usize) -> usize {
    cores.clamp(1, MAX_THREADS)
}

/// [`threads_for`] this machine's logical cores (2 where the count is unknown).
pub fn default_threads() -> usize {
    threads_for(thread::available_parallelism().map_or(2, |n| n.get()))
}

/// What a speedup line adds in a debug build, where the timings are many times slower than in
/// a release build and their ratio means little; nothing in a release build.
pub fn debug_build_note() -> &'static str {
    if cfg!(debug_assertions) {
        "; this is a debug build: use --release"
    } else {
        ""
    }
}

/// The speedup below which a CPU-bound project, run on at least 2 threads and 2 cores, says
/// why it fell short ([`shortfall_note`]): 2 cores give at most about 2x, and an idle machine
/// gives these projects well over 1.5x.
pub const EXPECTED_SPEEDUP: f64 = 1.5;

/// The note a CPU-bound project prints under its speedup when the measured ratio is below
/// [`EXPECTED_SPEEDUP`]: how busy the rest of the machine was meanwhile, from `watch`
/// (started before the sequential run). `None` when there is nothing to explain: no
/// comparable ratio, fewer than 2 threads or 2 cores, or a ratio as expected.
pub fn shortfall_note(
    watch: &shared::timing::CpuWatch,
    measured: Option<f64>,
    threads: usize,
) -> Option<String> {
    let cores = thread::available_parallelism().map_or(1, |n| n.get());
    if threads.min(cores) < 2 {
        return None;
    }
    watch.shortfall_note(measured?, EXPECTED_SPEEDUP)
}

/// A mistake in the command line, found before any work: exit code 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError {
    /// What was wrong: `--threads 100000 is out of range`.
    pub what: String,
    /// Why, or what is expected instead: `it must be 1 to 256`.
    pub why: String,
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.what, self.why)
    }
}

impl std::error::Error for UsageError {}

/// A [`UsageError`] as an `anyhow::Error`.
pub fn usage(what: impl Into<String>, why: impl Into<String>) -> anyhow::Error {
    UsageError {
        what: what.into(),
        why: why.into(),
    }
    .into()
}

/// Reads a command line option by option.
#[derive(Debug)]
pub struct Args {
    rest: std::vec::IntoIter<OsString>,
}

impl Args {
    /// The arguments after the program's name.
    pub fn from_env() -> Self {
        Self::new(std::env::args_os().skip(1))
    }

    /// Reads these arguments.
    pub fn new(args: impl IntoIterator<Item = OsString>) -> Self {
        Self {
            rest: args.into_iter().collect::<Vec<_>>().into_iter(),
        }
    }

    /// The next option's name, or `None` at the end.
    ///
    /// # Errors
    /// A [`UsageError`] if it is not valid UTF-8 (no option is).
    pub fn next_flag(&mut self) -> anyhow::Result<Option<String>> {
        self.rest
            .next()
            .map(|flag| {
                flag.into_string()
                    .map_err(|flag| unknown_flag(&flag.to_string_lossy()))
            })
            .transpose()
    }

    /// The value after `flag`.
    ///
    /// # Errors
    /// A [`UsageError`] if there is none.
    pub fn value(&mut self, flag: &str) -> anyhow::Result<OsString> {
        self.rest
            .next()
            .ok_or_else(|| usage(format!("{flag} needs a value"), "see --help"))
    }

    /// The value after `flag`, as text.
    ///
    /// # Errors
    /// A [`UsageError`] if there is none or it is not valid UTF-8.
    pub fn text(&mut self, flag: &str) -> anyhow::Result<String> {
        self.value(flag)?.into_string().map_err(|value| {
            usage(
                format!("{flag} {:?} is not valid text", value.to_string_lossy()),
                "it must be UTF-8",
            )
        })
    }

    /// The value after `flag`, as a path.
    ///
    /// # Errors
    /// A [`UsageError`] if there is none.
    pub fn path(&mut self, flag: &str) -> anyhow::Result<PathBuf> {
        Ok(PathBuf::from(self.value(flag)?))
    }

    /// The value after `flag`, a whole number from `min` to `max`.
    ///
    /// # Errors
    /// A [`UsageError`] if there is none, it is not a whole number, or it is out of range.
    pub fn number<T>(&mut self, flag: &str, min: T, max: T) -> anyhow::Result<T>
    where
        T: Copy + PartialOrd + fmt::Display + std::str::FromStr,
    {
        let text = self.text(flag)?;
        number_in(flag, &text, min, max)
    }
}

/// `text`, the value given for `flag`, as a whole number from `min` to `max`.
///
/// ```
/// use level_3_advanced::projects::cli::number_in;
///
/// assert_eq!(number_in("--threads", "4", 1, 256)?, 4);
/// let error = number_in("--threads", "100000", 1, 256).unwrap_err();
/// assert_eq!(error.to_string(), "--threads 100000 is out of range (it must be 1 to 256)");
/// let error = number_in("--threads", "two", 1, 256).unwrap_err();
/// assert_eq!(
///     error.to_string(),
///     "--threads \"two\" is not a whole number (it must be 1 to 256)"
/// );
/// # Ok::<(), anyhow::Error>(())
/// ```
///
/// # Errors
/// A [`UsageError`] if `text` is not a whole number or is out of range.
pub fn number_in<T>(flag: &str, text: &str, min: T, max: T) -> anyhow::Result<T>
where
    T: Copy + PartialOrd + fmt::Display + std::str::FromStr,
{
    let why = || format!("it must be {min} to {max}");
    match text.parse::<T>() {
        Ok(n) if n >= min && n <= max => Ok(n),
        Ok(_) => Err(usage(format!("{flag} {text} is out of range"), why())),
        // Digits too many for the type: out of range too, not "not a number".
        Err(_) if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) => {
            Err(usage(format!("{flag} {text} is out of range"), why()))
        }
        Err(_) => Err(usage(
            format!("{flag} {text:?} is not a whole number"),
            why(),
        )),
    }
}

/// The error for an option no project knows.
pub fn unknown_flag(flag: &str) -> anyhow::Error {
    usage(format!("unknown option {flag:?}"), "see --help")
}

/// Checks, before any work, that `path` can be written, and leaves the file system as it was:
/// an existing file is opened for writing without being truncated; a new one is created and
/// removed at once.
///
/// # Errors
/// If `path` is a directory, its directory does not exist, or writing is not allowed.
pub fn check_writable(path: &Path, what: &str) -> anyhow::Result<()> {
    let cannot = |why: String| anyhow::anyhow!("cannot write {what} {} ({why})", path.display());
    if path.is_dir() {
        return Err(cannot("it is a directory".to_owned()));
    }
    match OpenOptions::new().write(true).open(path) {
        Ok(_) => Ok(()),
        Err(error) if error.kind() == ErrorKind::NotFound => {
            OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)
                .map_err(|error| cannot(error.to_string()))?;
            fs::remove_file(path).map_err(|error| cannot(error.to_string()))
        }
        Err(error) => Err(cannot(error.to_string())),
    }
}

/// The exit code for `error`: 2 if it is a [`UsageError`], 1 otherwise.
pub fn exit_code(error: &anyhow::Error) -> u8 {
    if error.downcast_ref::<UsageError>().is_some() {
        2
    } else {
        1
    }
}

/// `error` as one line: `error: <what> (<why>)`, the why being its causes, outermost first.
///
/// ```
/// use anyhow::Context;
/// use level_3_advanced::projects::cli::one_line;
///
/// let error = std::fs::read("/no/such/file").context("cannot read the input").unwrap_err();
/// let line = one_line(&error);
/// assert!(line.starts_with("error: cannot read the input ("), "{line}");
/// assert!(!line.contains('\n'));
/// ```
pub fn one_line(error: &anyhow::Error) -> String {
    let mut chain = error.chain().map(ToString::to_string);
    let what = chain.next().unwrap_or_default();
    let why: Vec<String> = chain.collect();
    let line = if why.is_empty() {
        format!("error: {what}")
    } else {
        format!("error: {what} ({})", why.join(": "))
    };
    line.replace(['\n', '\r'], " ")
}

/// Prints `error` to stderr, as [`one_line`] or, when `verbose`, with every cause on its own
/// line, and returns its exit code ([`exit_code`]).
pub fn fail(error: &anyhow::Error, verbose: bool) -> ExitCode {
    if verbose {
        eprintln!("error: {error:?}");
    } else {
        eprintln!("{}", one_line(error));
    }
    ExitCode::from(exit_code(error))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_errors_exit_2_and_run_errors_exit_1() {
        assert_eq!(exit_code(&usage("a", "b")), 2);
        assert_eq!(
            exit_code(&usage("a", "b").context("with a context on top")),
            2
        );
        assert_eq!(exit_code(&anyhow::anyhow!("cannot read")), 1);
    }

    #[test]
    fn numbers_are_refused_outside_their_range_or_when_not_numbers() {
        assert_eq!(number_in("--n", "1", 1usize, 3).unwrap(), 1);
        assert_eq!(number_in("--n", "3", 1usize, 3).unwrap(), 3);
        for bad in ["0", "4", "", "-1", "1.5", "99999999999999999999999", " 2"] {
            let error = number_in("--n", bad, 1usize, 3).unwrap_err();
            assert_eq!(exit_code(&error), 2, "{bad:?}");
        }
        let huge = number_in("--n", "99999999999999999999999", 1usize, 3).unwrap_err();
        assert!(huge.to_string().contains("out of range"), "{huge}");
    }

    #[test]
    fn missing_values_and_unknown_flags_are_usage_errors() {
        let mut args = Args::new(["--x".into()]);
        assert_eq!(args.next_flag().unwrap().as_deref(), Some("--x"));
        let error = args.value("--x").unwrap_err();
        assert_eq!(exit_code(&error), 2);
        assert_eq!(one_line(&error), "error: --x needs a value (see --help)");
        assert_eq!(args.next_flag().unwrap(), None);
        assert_eq!(exit_code(&unknown_flag("--y")), 2);
    }

    #[test]
    fn the_default_thread_count_stays_within_the_limit() {
        assert_eq!(threads_for(1), 1);
        assert_eq!(threads_for(MAX_THREADS), MAX_THREADS);
        assert_eq!(threads_for(MAX_THREADS + 1), MAX_THREADS);
        assert!((1..=MAX_THREADS).contains(&default_threads()));
    }

    #[test]
    fn a_writable_path_is_checked_without_leaving_a_file() {
        let dir = std::env::temp_dir().join(format!("cli-check-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let new = dir.join("new.png");
        check_writable(&new, "the output").unwrap();
        assert!(!new.exists(), "the check left a file behind");
        let existing = dir.join("old.png");
        fs::write(&existing, b"keep me").unwrap();
        check_writable(&existing, "the output").unwrap();
        assert_eq!(fs::read(&existing).unwrap(), b"keep me");
        // A path under a regular file cannot be created, even by root.
        let under_file = existing.join("x.png");
        let error = check_writable(&under_file, "the output").unwrap_err();
        assert_eq!(exit_code(&error), 1);
        assert!(one_line(&error).starts_with("error: cannot write the output"));
        let error = check_writable(&dir, "the output").unwrap_err();
        assert!(error.to_string().contains("directory"), "{error}");
        fs::remove_dir_all(&dir).unwrap();
    }
}
