//! # Lesson l3-10: production deployment: signals, drain, health, metrics, configuration
//!
//! Replaces the Node course's production pool (L3 exercise 5 and the guide "production
//! deployment"): `process.on('SIGTERM')` handlers, a `/health` route, a metrics collector and a
//! histogram, and a 30 s shutdown cap. The Node solution's histogram is malformed (its buckets
//! are not cumulative and `+Inf` is never counted) and its shutdown ends in `process.exit(0)`
//! whatever happened. Here is a small service that does each part for real:
//!
//! - **work**: a `shared::WorkerPool` runs jobs (prime counts); each job checks its
//!   `TaskContext` so that a shutdown can ask it to stop;
//! - **configuration from the environment**: `WORKER_THREADS`, `DRAIN_DEADLINE_MS` and `PORT`,
//!   each with a default, and a clear error (exit status 2) naming the variable on a bad value;
//! - **HTTP on loopback** (std `TcpListener` on 127.0.0.1; `PORT=0`, the default, takes any
//!   free port; the port is printed as `listening on 127.0.0.1:PORT`): `GET /healthz`
//!   (liveness: 200 while the process can answer), `GET /readyz` (readiness: 503 once draining,
//!   so a load balancer sends no more traffic), `GET /metrics` (Prometheus text format:
//!   counters, gauges, and a job-duration histogram whose buckets are cumulative and whose
//!   `+Inf` bucket equals `_count`);
//! - **signals, for real**: SIGTERM and SIGINT are caught with `signal_hook::iterator::Signals`
//!   on a thread of their own and turned into a channel message. The first one starts the
//!   drain: readiness goes to 503, the pool takes no new jobs, queued and running jobs finish.
//!   Exit status 0 if they all finished within the drain deadline; otherwise the jobs left are
//!   asked to stop, the program says how many, and exits with 1. A second signal during the
//!   drain is reported and changes nothing (SIGKILL is the way to stop at once).
//!
//! Two modes:
//! - without arguments, a **demo** that ends by itself: a drain that misses its deadline first
//!   (what goes wrong, on a separate pool), then the service: a batch of jobs, its own
//!   endpoints queried over loopback and checked, then SIGTERM raised on itself with
//!   `signal_hook::low_level::raise`, and the drain;
//! - `--serve`: the service runs, with a trickle of jobs, until SIGTERM or SIGINT (Ctrl-C). The
//!   script `level-3-advanced/scripts/sigterm-smoke.sh` runs it that way and sends `kill -TERM`.
//!
//! Run: `cargo run --release --example l3-10-production-deployment` (the demo), or
//! `cargo run --release --example l3-10-production-deployment -- --serve`, then
//! `curl http://127.0.0.1:PORT/metrics` from another terminal, then Ctrl-C (or `kill -TERM`).
//!
//! Expect (demo): the refused configurations; the missed drain (`the drain deadline passed
//! with 2 jobs queued and 1 running`, status 1 in a real service); then `listening on
//! 127.0.0.1:PORT`, the endpoint checks, `[signals] received SIGTERM`, `/readyz` answering 503
//! during the drain, `[main] drain complete: ...`, the pool's final metrics, and `result: 24
//! jobs drained after SIGTERM (N queued, N running when it came); /healthz 200, /readyz 200
//! then 503, /metrics histogram cumulative with +Inf = count = 24; 1 late job refused; exit
//! status 0`.

use anyhow::{Context, anyhow, bail, ensure};
use crossbeam_channel::{Receiver, select};
use shared::CancellationToken;
use shared::pool::{PoolMetrics, SubmitError, TaskContext, WorkerPool};
use shared::testing::TIMEOUT;
use shared::workload::count_primes;
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};
use thiserror::Error;

/// Jobs in the demo's batch, and the numbers each job counts primes in.
const BATCH: u64 = 24;
const JOB_BASE: u64 = 10_000_000;
const JOB_SPAN: u64 = 100_000;
/// A job checks for cancellation after each block of this many numbers.
const JOB_BLOCK: u64 = 5_000;
/// In `--serve` mode, one job is submitted every this often until the drain starts.
const TRICKLE: Duration = Duration::from_millis(100);
/// The demo's missed drain: its deadline.
const SHORT_DEADLINE: Duration = Duration::from_millis(100);
/// How long a request may take to arrive or to be written before the connection is dropped.
const IO_TIMEOUT: Duration = Duration::from_secs(2);
/// The largest request head the server reads.
const MAX_REQUEST: usize = 8 * 1024;
/// The job-duration histogram's bucket bounds, in seconds (Prometheus `le`, "less or equal").
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// The name of the thread that speaks, for the `[name]` prefix of every line.
fn me() -> String {
    thread::current().name().unwrap_or("<unnamed>").to_owned()
}

// ---------------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------------

/// The service's settings, from the environment and the command line.
#[derive(Debug, Clone, PartialEq)]
struct Config {
    threads: usize,
    drain_deadline: Duration,
    port: u16,
    serve: bool,
}

/// A configuration that cannot be used, naming the variable and what is wrong with it.
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
    #[error("unknown argument {0:?}; the only argument is --serve")]
    UnknownArgument(String),
}

/// Reads one integer variable: `default` when unset, an error when not a number in `range`.
fn int_var(
    env: &impl Fn(&str) -> Option<OsString>,
    name: &'static str,
    default: u64,
    range: std::ops::RangeInclusive<u64>,
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
        return Err(invalid(format!(
            "must be between {} and {}",
            range.start(),
            range.end()
        )));
    }
    Ok(n)
}

impl Config {
    /// The configuration from `env` (a lookup, so that tests and the demo can pass a fake
    /// environment) and the arguments after the program name.
    fn from_env(
        env: impl Fn(&str) -> Option<OsString>,
        args: impl IntoIterator<Item = String>,
    ) -> Result<Self, ConfigError> {
        let cores = thread::available_parallelism().map_or(2, |n| n.get()) as u64;
        let mut serve = false;
        for arg in args {
            match arg.as_str() {
                "--serve" => serve = true,
                _ => return Err(ConfigError::UnknownArgument(arg)),
            }
        }
        Ok(Self {
            threads: int_var(&env, "WORKER_THREADS", cores, 1..=1024)? as usize,
            drain_deadline: Duration::from_millis(int_var(
                &env,
                "DRAIN_DEADLINE_MS",
                10_000,
                1..=600_000,
            )?),
            port: int_var(&env, "PORT", 0, 0..=65_535)? as u16,
            serve,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Metrics: a Prometheus histogram
// ---------------------------------------------------------------------------------------------

/// A histogram with fixed bucket bounds, in Prometheus's shape.
///
/// Each bucket counts only its own values (those above the previous bound, up to and including
/// its own); the exposition adds them up, so every `le` line is cumulative, and the `+Inf`
/// line and `_count` are both the sum of one snapshot of all buckets: they cannot disagree.
#[derive(Debug)]
struct PromHistogram {
    /// One per bound, and one more for the values above the last bound.
    counts: [AtomicU64; BUCKETS.len() + 1],
    sum_nanos: AtomicU64,
}

impl PromHistogram {
    fn new() -> Self {
        Self {
            counts: std::array::from_fn(|_| AtomicU64::new(0)),
            sum_nanos: AtomicU64::new(0),
        }
    }

    fn observe(&self, d: Duration) {
        let seconds = d.as_secs_f64();
        // The first bound with `seconds <= bound`; past the last, the overflow bucket.
        let index = BUCKETS.partition_point(|&bound| bound < seconds);
        // Relaxed: independent statistics, publishing no other data.
        self.counts[index].fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// Appends the histogram's lines to `out`.
    fn expose(&self, out: &mut String, name: &str, help: &str) {
        let snapshot: Vec<u64> = self
            .counts
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .collect();
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} histogram");
        let mut cumulative = 0;
        for (bound, n) in BUCKETS.iter().zip(&snapshot) {
            cumulative += n;
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
        }
        let count: u64 = snapshot.iter().sum();
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let sum = self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        let _ = writeln!(out, "{name}_sum {sum}");
        let _ = writeln!(out, "{name}_count {count}");
    }
}

// ---------------------------------------------------------------------------------------------
// The service
// ---------------------------------------------------------------------------------------------

/// Everything the request handlers, the jobs and the shutdown share.
#[derive(Debug)]
struct Service {
    /// In an `Arc` so that the drain can join it from a helper thread.
    pool: Arc<WorkerPool>,
    /// Readiness: true from start until the drain begins.
    ready: AtomicBool,
    job_duration: PromHistogram,
    /// The sum of every finished job's answer: checked against a sequential count.
    primes_found: AtomicU64,
    /// Jobs that stopped early because a forced shutdown asked them to. The pool counts them
    /// as completed (they returned), so the service counts them itself.
    jobs_stopped: AtomicU64,
    started: Instant,
}

impl Service {
    fn new(threads: usize) -> anyhow::Result<Self> {
        let pool = WorkerPool::builder()
            .threads(threads)
            .thread_name(|i| format!("job-worker-{i}"))
            .build()
            .context("could not start the worker pool")?;
        Ok(Self {
            pool: Arc::new(pool),
            ready: AtomicBool::new(true),
            job_duration: PromHistogram::new(),
            primes_found: AtomicU64::new(0),
            jobs_stopped: AtomicU64::new(0),
            started: Instant::now(),
        })
    }

    /// Queues job `id`. Refused (the pool counts it) once the intake has stopped.
    fn submit(self: &Arc<Self>, id: u64) -> Result<(), &'static str> {
        let service = Arc::clone(self);
        match self.pool.submit_with(move |cx| service.run_job(id, cx)) {
            // Fire and forget: the outcome is counted in the pool's metrics, the answer in
            // `primes_found`; dropping the handle does not cancel the job.
            Ok(handle) => {
                drop(handle);
                Ok(())
            }
            Err(SubmitError::Closed(_)) => Err("the intake is closed"),
            Err(SubmitError::Full(_) | SubmitError::Timeout(..)) => Err("the queue is full"),
        }
    }

    /// One job: the primes in its span, counted block by block, checking between blocks
    /// whether it has been asked to stop.
    fn run_job(&self, id: u64, cx: &mut TaskContext<'_>) -> Option<u64> {
        let start = Instant::now();
        let low = JOB_BASE + id * JOB_SPAN;
        let mut found = 0;
        let mut block = low;
        let mut finished = true;
        while block < low + JOB_SPAN {
            if cx.is_cancelled() {
                finished = false;
                break;
            }
            found += count_primes(block..block + JOB_BLOCK);
            block += JOB_BLOCK;
        }
        self.job_duration.observe(start.elapsed());
        if finished {
            self.primes_found.fetch_add(found, Ordering::Relaxed);
            Some(found)
        } else {
            self.jobs_stopped.fetch_add(1, Ordering::Relaxed);
            println!("[{}] job {id} asked to stop; stopping", me());
            None
        }
    }

    /// The Prometheus text exposition of the service's state.
    fn metrics_text(&self) -> String {
        let m = self.pool.metrics();
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, value: String| {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            let _ = writeln!(out, "{name} {value}");
        };
        let counters = [
            (
                "app_jobs_submitted_total",
                "Jobs accepted into the queue.",
                m.submitted,
            ),
            (
                "app_jobs_completed_total",
                "Jobs that returned, including those stopped early.",
                m.completed,
            ),
            (
                "app_jobs_stopped_total",
                "Jobs stopped early by a forced shutdown.",
                self.jobs_stopped.load(Ordering::Relaxed),
            ),
            ("app_jobs_panicked_total", "Jobs that panicked.", m.panicked),
            (
                "app_jobs_cancelled_total",
                "Jobs dropped from the queue by a forced shutdown.",
                m.cancelled,
            ),
            (
                "app_jobs_rejected_total",
                "Submissions refused (queue full or intake closed).",
                m.rejected,
            ),
        ];
        for (name, help, value) in counters {
            metric(name, "counter", help, value.to_string());
        }
        let gauges = [
            ("app_jobs_queued", "Jobs waiting in the queue.", m.queued),
            ("app_jobs_running", "Jobs running now.", m.running),
            (
                "app_worker_threads",
                "Worker threads alive.",
                m.threads as u64,
            ),
            (
                "app_ready",
                "1 while the service takes traffic, 0 while draining.",
                u64::from(self.ready.load(Ordering::Acquire)),
            ),
        ];
        for (name, help, value) in gauges {
            metric(name, "gauge", help, value.to_string());
        }
        metric(
            "app_uptime_seconds",
            "gauge",
            "Seconds since the service started.",
            format!("{:.3}", self.started.elapsed().as_secs_f64()),
        );
        self.job_duration.expose(
            &mut out,
            "app_job_duration_seconds",
            "Time from a job's start to its end.",
        );
        out
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP: a tiny loopback server, and a client for the demo
// ---------------------------------------------------------------------------------------------

/// The accept loop, on its own thread. One request per connection, answered in turn: enough
/// for health checks and a metrics scraper, which send one small request at a time. Ends when
/// `stop` is set and the listener is woken by a connection.
fn serve_http(listener: TcpListener, service: Arc<Service>, stop: Arc<AtomicBool>) {
    for stream in listener.incoming() {
        if stop.load(Ordering::Acquire) {
            break;
        }
        match stream {
            Ok(stream) => {
                if let Err(e) = answer(stream, &service) {
                    eprintln!("[{}] request failed: {e:#}", me());
                }
            }
            Err(e) => eprintln!("[{}] accept failed: {e}", me()),
        }
    }
    println!("[{}] stopped listening", me());
}

/// Reads one request head and writes the response.
fn answer(mut stream: TcpStream, service: &Service) -> anyhow::Result<()> {
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let mut head = Vec::new();
    let mut chunk = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        if head.len() > MAX_REQUEST {
            return respond(&mut stream, 431, "text/plain", "request head too large\n");
        }
        let n = stream.read(&mut chunk).context("reading the request")?;
        if n == 0 {
            bail!("the client closed the connection mid-request");
        }
        head.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&head);
    let mut words = head.lines().next().unwrap_or_default().split_whitespace();
    let (method, path) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    if method != "GET" {
        return respond(&mut stream, 405, "text/plain", "only GET is served\n");
    }
    match path {
        "/healthz" => respond(&mut stream, 200, "text/plain", "ok\n"),
        "/readyz" if service.ready.load(Ordering::Acquire) => {
            respond(&mut stream, 200, "text/plain", "ready\n")
        }
        "/readyz" => respond(&mut stream, 503, "text/plain", "draining\n"),
        "/metrics" => respond(
            &mut stream,
            200,
            "text/plain; version=0.0.4",
            &service.metrics_text(),
        ),
        _ => respond(&mut stream, 404, "text/plain", "not found\n"),
    }
}

fn respond(
    stream: &mut TcpStream,
    status: u16,
    content_type: &str,
    body: &str,
) -> anyhow::Result<()> {
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "",
    };
    write!(
        stream,
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    )
    .context("writing the response")?;
    stream.flush().context("writing the response")?;
    Ok(())
}

/// A one-shot HTTP GET over loopback: the status code and the body.
fn http_get(addr: SocketAddr, path: &str) -> anyhow::Result<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, TIMEOUT)
        .with_context(|| format!("could not connect to {addr}"))?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.set_write_timeout(Some(TIMEOUT))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .with_context(|| format!("reading the response to GET {path}"))?;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .with_context(|| format!("a malformed response to GET {path}: {response:?}"))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .with_context(|| format!("no status code in {head:?}"))?;
    Ok((status, body.to_owned()))
}

/// The samples of a Prometheus text exposition, by series (name with labels), in the order
/// they appear, after checking that every sample's metric was declared by a `# TYPE` line.
fn parse_exposition(text: &str) -> anyhow::Result<Vec<(String, f64)>> {
    let mut declared = Vec::new();
    let mut samples = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let name = rest.split_whitespace().next().unwrap_or_default();
            declared.push(name.to_owned());
            continue;
        }
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .with_context(|| format!("a sample line without a value: {line:?}"))?;
        let value: f64 = value
            .parse()
            .with_context(|| format!("not a number in {line:?}"))?;
        let name = series.split('{').next().unwrap_or_default();
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| name.strip_suffix(suffix))
            .filter(|base| declared.iter().any(|d| d == base))
            .unwrap_or(name);
        ensure!(
            declared.iter().any(|d| d == family),
            "{name} has no # TYPE line"
        );
        samples.push((series.to_owned(), value));
    }
    Ok(samples)
}

/// What the demo learned from one `/metrics` scrape.
#[derive(Debug)]
struct Scrape {
    values: BTreeMap<String, f64>,
    /// The histogram's `le` buckets, in order, and its `_count`.
    buckets: Vec<(String, f64)>,
    count: f64,
}

/// Scrapes `/metrics` and checks the histogram's shape: buckets never decrease, and `+Inf`
/// (the last) equals `_count`.
fn scrape(addr: SocketAddr) -> anyhow::Result<Scrape> {
    let (status, body) = http_get(addr, "/metrics")?;
    ensure!(status == 200, "/metrics answered {status}");
    let samples = parse_exposition(&body)?;
    let buckets: Vec<(String, f64)> = samples
        .iter()
        .filter(|(series, _)| series.starts_with("app_job_duration_seconds_bucket{"))
        .cloned()
        .collect();
    let values: BTreeMap<String, f64> = samples.into_iter().collect();
    let count = *values
        .get("app_job_duration_seconds_count")
        .context("no app_job_duration_seconds_count")?;
    ensure!(
        buckets.windows(2).all(|w| w[0].1 <= w[1].1),
        "the buckets are not cumulative: {buckets:?}"
    );
    let last = buckets.last().context("no buckets")?;
    ensure!(
        last.0.contains("le=\"+Inf\""),
        "the last bucket is not +Inf: {last:?}"
    );
    ensure!(last.1 == count, "+Inf is {} but _count is {count}", last.1);
    Ok(Scrape {
        values,
        buckets,
        count,
    })
}

impl Scrape {
    fn get(&self, series: &str) -> anyhow::Result<f64> {
        self.values
            .get(series)
            .copied()
            .with_context(|| format!("/metrics has no {series}"))
    }
}

// ---------------------------------------------------------------------------------------------
// Shutdown
// ---------------------------------------------------------------------------------------------

/// How a drain ended.
#[derive(Debug, PartialEq)]
enum Drain {
    /// Every queued and running job finished within the deadline.
    Complete { waited: Duration },
    /// The deadline passed with jobs left: they were asked to stop.
    DeadlinePassed { queued: u64, running: u64 },
}

/// Waits for `pool` (already closed) to finish its jobs, for at most `deadline` from `since`.
/// If jobs are left when it passes, they are stopped: queued ones dropped, running ones asked
/// to stop through their `TaskContext`. A signal on `interrupts` meanwhile (a second Ctrl-C)
/// is reported and changes nothing: the deadline stands, and SIGKILL is the way to stop at
/// once.
fn drain(
    pool: &Arc<WorkerPool>,
    since: Instant,
    deadline: Duration,
    interrupts: &Receiver<i32>,
) -> anyhow::Result<Drain> {
    let (done_tx, done_rx) = crossbeam_channel::bounded::<()>(1);
    // `WorkerPool::join` has no timeout: a helper thread joins, and this one waits for it with
    // one. (If the jobs never stop, the helper is left behind; the process exit ends it.)
    let joiner = {
        let pool = Arc::clone(pool);
        thread::Builder::new()
            .name("drain-joiner".into())
            .spawn(move || {
                let _ = pool.join();
                let _ = done_tx.send(());
            })
            .context("could not spawn the drain joiner")?
    };
    let no_signals = crossbeam_channel::never();
    let mut signals = interrupts;
    loop {
        let left = deadline.saturating_sub(since.elapsed());
        select! {
            recv(done_rx) -> _ => {
                let _ = joiner.join();
                return Ok(Drain::Complete { waited: since.elapsed() });
            }
            recv(signals) -> signal => match signal {
                Ok(signal) => {
                    let m = pool.metrics();
                    println!(
                        "[{}] {} again: still draining {} queued and {} running jobs; the \
                         deadline stands (SIGKILL stops at once, and loses them)",
                        me(),
                        signal_hook::low_level::signal_name(signal).unwrap_or("a signal"),
                        m.queued,
                        m.running
                    );
                }
                // The signal thread has ended: nothing more can come from it.
                Err(_) => signals = &no_signals,
            },
            default(left) => break,
        }
    }
    let m = pool.metrics();
    let (queued, running) = (m.queued, m.running);
    println!(
        "[{}] the drain deadline passed with {queued} jobs queued and {running} running: \
         dropping the queued ones, asking the running ones to stop",
        me()
    );
    pool.shutdown_now();
    match done_rx.recv_timeout(TIMEOUT) {
        Ok(()) => {
            let _ = joiner.join();
        }
        Err(_) => println!(
            "[{}] a job ignored the stop request; leaving it behind",
            me()
        ),
    }
    Ok(Drain::DeadlinePassed { queued, running })
}

/// The demo's "what goes wrong": a drain whose deadline is too short for the work. One job
/// runs until it is told to stop (standing for a job slower than the deadline) and two wait.
fn missed_drain() -> anyhow::Result<Drain> {
    let pool = WorkerPool::builder()
        .threads(1)
        .thread_name(|i| format!("slow-worker-{i}"))
        .build()
        .context("could not start the pool")?;
    let (started_tx, started_rx) = crossbeam_channel::bounded(1);
    let slow = pool
        .submit_with(move |cx| {
            let _ = started_tx.send(());
            while !cx.is_cancelled() {
                std::hint::spin_loop();
            }
        })
        .map_err(|e| anyhow!("{e}"))?;
    let queued = (0..2)
        .map(|_| pool.submit(|| ()).map_err(|e| anyhow!("{e}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    started_rx
        .recv_timeout(TIMEOUT)
        .context("the slow job did not start")?;
    pool.close();
    let pool = Arc::new(pool);
    let outcome = drain(
        &pool,
        Instant::now(),
        SHORT_DEADLINE,
        &crossbeam_channel::never(),
    )?;
    drop((slow, queued));
    Ok(outcome)
}

/// The signal thread: every SIGTERM or SIGINT becomes a message on the returned channel. The
/// handlers are installed before this returns, so a signal raised afterwards is never lost.
fn watch_signals() -> anyhow::Result<(Receiver<i32>, signal_hook::iterator::Handle, JoinHandle<()>)>
{
    let mut signals =
        Signals::new([SIGTERM, SIGINT]).context("could not install the signal handlers")?;
    let handle = signals.handle();
    let (tx, rx) = crossbeam_channel::unbounded();
    let thread = thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            // `forever` ends when `handle.close()` is called.
            for signal in signals.forever() {
                let name = signal_hook::low_level::signal_name(signal).unwrap_or("a signal");
                println!("[{}] received {name}", me());
                if tx.send(signal).is_err() {
                    break;
                }
            }
        })
        .context("could not spawn the signal thread")?;
    Ok((rx, handle, thread))
}

/// In `--serve` mode: one job every `TRICKLE` until the intake closes.
fn trickle(service: Arc<Service>, stop: CancellationToken) -> anyhow::Result<JoinHandle<u64>> {
    thread::Builder::new()
        .name("trickle".into())
        .spawn(move || {
            let mut id = BATCH;
            // `wait_timeout` is the ticker, and returns at once when the drain starts.
            while !stop.wait_timeout(TRICKLE) {
                if service.submit(id).is_err() {
                    break;
                }
                id += 1;
            }
            id - BATCH
        })
        .context("could not spawn the trickle thread")
}

/// What the demo checked, for the assertions and the result line.
#[derive(Debug, Default)]
struct DemoChecks {
    healthz: u16,
    readyz_before: u16,
    readyz_during: u16,
    healthz_during: u16,
    first_scrape_count: f64,
    late_job_refused: bool,
}

/// The demo's client before the signal: the three endpoints, checked; then SIGTERM, raised
/// on this very process.
fn demo_client_before_signal(addr: SocketAddr, checks: &mut DemoChecks) -> anyhow::Result<()> {
    checks.healthz = http_get(addr, "/healthz")?.0;
    checks.readyz_before = http_get(addr, "/readyz")?.0;
    let first = scrape(addr)?;
    checks.first_scrape_count = first.count;
    println!(
        "[main] demo client: /healthz {}, /readyz {}, /metrics: {} submitted, {} running, {} \
         queued, histogram count {} (buckets cumulative, +Inf = count)",
        checks.healthz,
        checks.readyz_before,
        first.get("app_jobs_submitted_total")?,
        first.get("app_jobs_running")?,
        first.get("app_jobs_queued")?,
        first.count
    );
    ensure!(first.get("app_jobs_submitted_total")? == BATCH as f64);
    ensure!(first.buckets.len() == BUCKETS.len() + 1);
    println!("[main] demo: raising SIGTERM on myself");
    signal_hook::low_level::raise(SIGTERM).context("could not raise SIGTERM")
}

/// The demo's client during the drain: not ready, still alive, and no new work taken.
fn demo_client_during_drain(
    addr: SocketAddr,
    service: &Arc<Service>,
    checks: &mut DemoChecks,
) -> anyhow::Result<()> {
    checks.readyz_during = http_get(addr, "/readyz")?.0;
    checks.healthz_during = http_get(addr, "/healthz")?.0;
    checks.late_job_refused = service.submit(BATCH).is_err();
    println!(
        "[main] demo client during the drain: /readyz {}, /healthz {}, a late job {}",
        checks.readyz_during,
        checks.healthz_during,
        if checks.late_job_refused {
            "refused"
        } else {
            "accepted"
        }
    );
    Ok(())
}

/// Says how the drain went, and picks the exit status: 0 only if nothing was left.
fn report(outcome: &Drain, m: &PoolMetrics, deadline: Duration) -> ExitCode {
    match outcome {
        Drain::Complete { waited } => {
            println!(
                "[main] drain complete: all {} accepted jobs finished ({} completed), {:.0}% of \
                 the deadline used",
                m.submitted,
                m.completed,
                100.0 * waited.as_secs_f64() / deadline.as_secs_f64()
            );
            ExitCode::SUCCESS
        }
        Drain::DeadlinePassed { queued, running } => {
            println!(
                "[main] drain FAILED: the deadline of {deadline:?} passed with {queued} queued \
                 and {running} running jobs left; exiting with status 1"
            );
            ExitCode::FAILURE
        }
    }
}

/// Runs the service; returns the process's exit code.
fn run(config: &Config) -> anyhow::Result<ExitCode> {
    let mode = if config.serve { "serve" } else { "demo" };
    println!(
        "[main] config: WORKER_THREADS={} DRAIN_DEADLINE_MS={} PORT={} ({}), mode {mode}",
        config.threads,
        config.drain_deadline.as_millis(),
        config.port,
        if config.port == 0 {
            "any free port"
        } else {
            "fixed"
        }
    );

    // Signals first: from here on, SIGTERM and SIGINT no longer end the process at once.
    let (signals, signals_handle, signal_thread) = watch_signals()?;
    let service = Arc::new(Service::new(config.threads)?);
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, config.port))
        .with_context(|| format!("could not listen on 127.0.0.1:{}", config.port))?;
    let addr = listener.local_addr()?;
    let stop_http = Arc::new(AtomicBool::new(false));
    let http = {
        let (service, stop) = (Arc::clone(&service), Arc::clone(&stop_http));
        thread::Builder::new()
            .name("http".into())
            .spawn(move || serve_http(listener, service, stop))
            .context("could not spawn the HTTP thread")?
    };
    println!("[main] listening on {addr}");

    // Traffic: a batch now; in serve mode, a trickle after it.
    for id in 0..BATCH {
        service.submit(id).map_err(|e| anyhow!("job {id}: {e}"))?;
    }
    println!("[main] submitted {BATCH} jobs");
    let stop_trickle = CancellationToken::new();
    let trickler = if config.serve {
        Some(trickle(Arc::clone(&service), stop_trickle.clone())?)
    } else {
        None
    };

    let mut checks = DemoChecks::default();
    if config.serve {
        println!("[main] serving until SIGTERM or SIGINT (Ctrl-C)");
    } else {
        demo_client_before_signal(addr, &mut checks)?;
    }

    // Wait for the first signal. In serve mode that is the whole point; the demo has just
    // raised one, so a long wait there means the handler is broken.
    let signal = if config.serve {
        signals
            .recv()
            .map_err(|_| anyhow!("the signal thread stopped"))?
    } else {
        signals
            .recv_timeout(TIMEOUT)
            .context("the raised SIGTERM never arrived")?
    };

    // The drain: not ready, no new jobs, then wait for the ones accepted.
    let drain_started = Instant::now();
    service.ready.store(false, Ordering::Release);
    stop_trickle.cancel();
    service.pool.close();
    let at_signal = service.pool.metrics();
    println!(
        "[main] {}: not ready any more, intake closed; draining {} queued and {} running jobs \
         (deadline {:?})",
        signal_hook::low_level::signal_name(signal).unwrap_or("signal"),
        at_signal.queued,
        at_signal.running,
        config.drain_deadline
    );
    if !config.serve {
        demo_client_during_drain(addr, &service, &mut checks)?;
    }
    let outcome = drain(
        &service.pool,
        drain_started,
        config.drain_deadline,
        &signals,
    )?;
    let trickled = match trickler {
        Some(t) => t
            .join()
            .map_err(|_| anyhow!("the trickle thread panicked"))?,
        None => 0,
    };
    let last = scrape(addr)?;
    let m = service.pool.metrics();
    let code = report(&outcome, &m, config.drain_deadline);

    // Stop the HTTP thread: set the flag, then wake its `accept` with a connection.
    stop_http.store(true, Ordering::Release);
    let _ = TcpStream::connect_timeout(&addr, TIMEOUT);
    http.join()
        .map_err(|_| anyhow!("the HTTP thread panicked"))?;
    signals_handle.close();
    signal_thread
        .join()
        .map_err(|_| anyhow!("the signal thread panicked"))?;
    println!("[main] final metrics:\n{m}");

    let drained = matches!(outcome, Drain::Complete { .. });
    if config.serve {
        if drained {
            assert_eq!(
                (m.submitted, m.completed),
                (BATCH + trickled, BATCH + trickled)
            );
            assert_eq!((m.queued, m.running), (0, 0));
        }
        println!(
            "result: served until {}, {} jobs ({trickled} trickled), drain {}: exit status {}",
            signal_hook::low_level::signal_name(signal).unwrap_or("a signal"),
            m.submitted,
            if drained { "complete" } else { "FAILED" },
            if drained { 0 } else { 1 }
        );
        return Ok(code);
    }

    // The demo's checks, before its result line.
    assert!(drained, "{outcome:?}");
    assert_eq!((checks.healthz, checks.readyz_before), (200, 200));
    assert_eq!((checks.readyz_during, checks.healthz_during), (503, 200));
    assert!(checks.late_job_refused);
    assert!(checks.first_scrape_count <= BATCH as f64);
    assert_eq!((m.submitted, m.completed, m.rejected), (BATCH, BATCH, 1));
    assert_eq!((m.queued, m.running, m.panicked, m.cancelled), (0, 0, 0, 0));
    // What the jobs found, against one sequential count of the same numbers.
    let expected_primes = count_primes(JOB_BASE..JOB_BASE + BATCH * JOB_SPAN);
    assert_eq!(
        service.primes_found.load(Ordering::Relaxed),
        expected_primes
    );
    assert_eq!(last.count, BATCH as f64);
    assert_eq!(last.get("app_jobs_completed_total")?, BATCH as f64);
    assert_eq!(last.get("app_jobs_rejected_total")?, 1.0);
    assert_eq!(last.get("app_jobs_stopped_total")?, 0.0);
    println!(
        "result: {BATCH} jobs drained after SIGTERM ({} queued, {} running when it came); \
         /healthz 200, /readyz 200 then 503, /metrics histogram cumulative with +Inf = count = \
         {}; 1 late job refused; exit status 0",
        at_signal.queued, at_signal.running, last.count
    );
    Ok(code)
}

/// The demo's configuration check: bad values give errors that name the variable.
fn show_config_errors() -> Vec<ConfigError> {
    let cases: [(&str, &str); 4] = [
        ("WORKER_THREADS", "0"),
        ("WORKER_THREADS", "four"),
        ("DRAIN_DEADLINE_MS", "-5"),
        ("PORT", "70000"),
    ];
    cases
        .iter()
        .filter_map(|&(name, value)| {
            let env = |key: &str| (key == name).then(|| OsString::from(value));
            let outcome = Config::from_env(env, []);
            match &outcome {
                Ok(config) => println!("[main]   {name}={value:?}: accepted?! {config:?}"),
                Err(e) => println!("[main]   refused: {e}"),
            }
            outcome.err()
        })
        .collect()
}

fn main() -> ExitCode {
    let config = match Config::from_env(|name| std::env::var_os(name), std::env::args().skip(1)) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("[main] configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    let outcome = (|| -> anyhow::Result<ExitCode> {
        if !config.serve {
            println!("[main] 1. configuration errors name the variable and the problem:");
            let errors = show_config_errors();
            assert_eq!(errors.len(), 4, "every bad value is refused");

            println!(
                "\n[main] 2. what goes wrong: a drain deadline of {SHORT_DEADLINE:?}, one job that \
                 needs longer"
            );
            let missed = missed_drain()?;
            println!("[main]   {missed:?}: a real service would exit with status 1 here");
            assert_eq!(
                missed,
                Drain::DeadlinePassed {
                    queued: 2,
                    running: 1
                }
            );
            println!("\n[main] 3. the service, drained after a real SIGTERM");
        }
        run(&config)
    })();
    match outcome {
        Ok(code) => code,
        Err(e) => {
            eprintln!("[main] error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
