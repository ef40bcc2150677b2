//! # Lesson l3-31: configuration from the environment, refused clearly
//!
//! Replaces the Node course's `process.env.WORKER_THREADS || os.cpus().length`, which turns a
//! typo into `NaN` threads. Shows: `WORKER_THREADS`, `DRAIN_DEADLINE_MS` and `PORT` read with
//! defaults, each parsed and range-checked, and a bad value refused with an error that names the
//! variable and what is wrong, before anything starts. The lookup is a function parameter, so
//! the lesson can feed in a fake environment: four bad values, each refused. Then this run's
//! real environment is read; a bad value there is a one-line error and exit status 2 (try
//! `WORKER_THREADS=0 cargo run --release --example l3-31-config-from-env`).
//!
//! Run: `cargo run --release --example l3-31-config-from-env`
//!
//! Expect: this run's configuration, the four refusals, then `result: 4 bad values refused,
//! each naming its variable; this run: WORKER_THREADS=N DRAIN_DEADLINE_MS=10000 PORT=0`.

use std::ffi::OsString;
use std::ops::RangeInclusive;
use std::process::ExitCode;
use std::time::Duration;
use thiserror::Error;

fn main() -> ExitCode {
    if let Some(arg) = std::env::args().nth(1) {
        eprintln!("error: unexpected argument {arg:?}; this lesson takes none");
        return ExitCode::from(2);
    }
    // The real environment first: a bad value stops the program before any work.
    let config = match Config::from_env(|name| std::env::var_os(name)) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    println!("[main] this run: {config:?}");
    let refused = show_config_errors();

    assert_eq!(refused.len(), 4, "every bad value is refused");
    for (error, name) in refused
        .iter()
        .zip(["WORKER_THREADS", "WORKER_THREADS", "DRAIN", "PORT"])
    {
        assert!(error.to_string().starts_with(name), "{error}");
    }
    println!(
        "result: {} bad values refused, each naming its variable; this run: WORKER_THREADS={} \
         DRAIN_DEADLINE_MS={} PORT={}",
        refused.len(),
        config.threads,
        config.drain_deadline.as_millis(),
        config.port
    );
    ExitCode::SUCCESS
}

/// Feeds four bad values through a fake environment; returns the errors.
fn show_config_errors() -> Vec<ConfigError> {
    let cases = [
        ("WORKER_THREADS", "0"),
        ("WORKER_THREADS", "four"),
        ("DRAIN_DEADLINE_MS", "-5"),
        ("PORT", "70000"),
    ];
    cases
        .iter()
        .filter_map(|&(name, value)| {
            let fake_env = |key: &str| (key == name).then(|| OsString::from(value));
            let outcome = Config::from_env(fake_env);
            match &outcome {
                Ok(config) => println!("[main] {name}={value:?}: accepted?! {config:?}"),
                Err(e) => println!("[main] refused: {e}"),
            }
            outcome.err()
        })
        .collect()
}

/// The service's settings.
#[derive(Debug, Clone, PartialEq)]
struct Config {
    threads: usize,
    drain_deadline: Duration,
    port: u16,
}

/// A value that cannot be used, naming the variable and what is wrong with it.
#[derive(Debug, Error, PartialEq)]
enum ConfigError {
    #[error("{name}={value:?} is not valid: {reason}")]
    Invalid {
        name: &'static str,
        value: String,
        reason: String,
    },
    #[error("{name} is not valid UTF-8")]
    NotUnicode { name: &'static str },
}

impl Config {
    /// The configuration from `env`, a lookup of one variable (`std::env::var_os` for real).
    fn from_env(env: impl Fn(&str) -> Option<OsString>) -> Result<Self, ConfigError> {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get()) as u64;
        let deadline_ms = int_var(&env, "DRAIN_DEADLINE_MS", 10_000, 1..=600_000)?;
        Ok(Self {
            threads: int_var(&env, "WORKER_THREADS", cores, 1..=1024)? as usize,
            drain_deadline: Duration::from_millis(deadline_ms),
            port: int_var(&env, "PORT", 0, 0..=65_535)? as u16,
        })
    }
}

/// Reads one integer variable: `default` when unset, an error when not a number in `range`.
fn int_var(
    env: &impl Fn(&str) -> Option<OsString>,
    name: &'static str,
    default: u64,
    range: RangeInclusive<u64>,
) -> Result<u64, ConfigError> {
    let Some(raw) = env(name) else {
        return Ok(default);
    };
    let value = raw
        .into_string()
        .map_err(|_| ConfigError::NotUnicode { name })?;
    let invalid = |reason: String| ConfigError::Invalid {
        name,
        value: value.clone(),
        reason,
    };
    let n: u64 = value
        .trim()
        .parse()
        .map_err(|e| invalid(format!("not a whole number ({e})")))?;
    if !range.contains(&n) {
        let (low, high) = (range.start(), range.end());
        return Err(invalid(format!("must be between {low} and {high}")));
    }
    Ok(n)
}
