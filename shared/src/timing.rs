//! Timing helpers for the lessons' speed demos: time one call, compare two times as a ratio
//! (only when both are long enough to measure), and say how busy the rest of the machine was
//! while a measurement ran. Lessons print ratios measured in the same run, never absolute
//! times as facts: a 2-core virtual machine's speed moves by several times within minutes,
//! while the ratio of two interleaved measurements moves far less.

use std::time::{Duration, Instant};

/// Runs `f` and returns its result with the wall time it took.
///
/// ```
/// use shared::timing::timed;
///
/// let (sum, took) = timed(|| (1..=100u64).sum::<u64>());
/// assert_eq!(sum, 5_050);
/// assert!(took.as_secs() < 60);
/// ```
pub fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let value = f();
    (value, start.elapsed())
}

/// How many times `a` is `b`: `sequential / parallel` is the speedup. Safe when `b`
/// measured as 0 ns (a call too quick for the clock): it counts as 1 ns, never a division by
/// zero.
///
/// ```
/// use shared::timing::ratio;
/// use std::time::Duration;
///
/// assert_eq!(ratio(Duration::from_millis(30), Duration::from_millis(15)), 2.0);
/// assert!(ratio(Duration::from_millis(1), Duration::ZERO).is_finite());
/// ```
pub fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64().max(1e-9)
}

/// The shortest wall time [`compare`] accepts on either side. Below about a millisecond a
/// measurement is mostly the clock's resolution, one page fault or one context switch, so a
/// ratio of two such times says nothing about the work.
pub const MIN_COMPARABLE: Duration = Duration::from_millis(1);

/// `a / b` like [`ratio`], but only when both times are at least [`MIN_COMPARABLE`]:
/// `None` means "too short to compare", which a lesson prints instead of a meaningless ratio
/// (a thread spawn against a call the optimiser reduced to nothing is not "400,000x").
///
/// ```
/// use shared::timing::compare;
/// use std::time::Duration;
///
/// let ms = Duration::from_millis;
/// assert_eq!(compare(ms(30), ms(15)), Some(2.0));
/// assert_eq!(compare(ms(30), Duration::from_nanos(1)), None);
/// ```
pub fn compare(a: Duration, b: Duration) -> Option<f64> {
    (a >= MIN_COMPARABLE && b >= MIN_COMPARABLE).then(|| ratio(a, b))
}

/// [`compare`] as text for a lesson's output: `"2.01x"`, or `"not compared (under 1 ms)"`.
///
/// ```
/// use shared::timing::compare_text;
/// use std::time::Duration;
///
/// let ms = Duration::from_millis;
/// assert_eq!(compare_text(ms(30), ms(15)), "2.00x");
/// assert_eq!(compare_text(ms(30), Duration::ZERO), "not compared (under 1 ms)");
/// ```
pub fn compare_text(a: Duration, b: Duration) -> String {
    match compare(a, b) {
        Some(r) => format!("{r:.2}x"),
        None => format!("not compared (under {} ms)", MIN_COMPARABLE.as_millis()),
    }
}

/// Watches how much CPU the rest of the machine uses while a measurement runs, so that a
/// lesson whose measured speedup contradicts what it teaches can say why ("other processes
/// kept 1.0 of 2 cores busy") instead of leaving the learner to doubt the lesson.
///
/// It reads the kernel's CPU counters (`/proc/stat` for the machine, `/proc/self/stat` for
/// this process) at [`CpuWatch::start`] and again at [`CpuWatch::contention`]; elsewhere than
/// Linux it knows nothing and says so.
#[derive(Debug, Clone)]
pub struct CpuWatch {
    start: Option<CpuTicks>,
}

/// The counters one reading takes, in the kernel's clock ticks.
#[derive(Debug, Clone, Copy)]
struct CpuTicks {
    /// Every CPU's time, busy or idle, summed over the CPUs.
    total: u64,
    /// Every CPU's busy time (user, system, interrupts, time stolen by the hypervisor).
    busy: u64,
    /// This process's user and system time.
    own: u64,
}

/// What a [`CpuWatch`] saw between its start and now.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Contention {
    /// Cores' worth of CPU that other processes (and the hypervisor) used meanwhile: 0.0 on an
    /// idle machine, 1.0 when something else kept one core busy.
    pub others_cores: f64,
    /// The cores the kernel counted.
    pub cores: usize,
}

impl Contention {
    /// True when other processes used at least a quarter of a core: enough to bend a speedup
    /// measured on a machine of a few cores.
    pub fn is_busy(&self) -> bool {
        self.others_cores >= 0.25
    }
}

impl std::fmt::Display for Contention {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "other processes used {:.1} of this machine's {} cores while it ran",
            self.others_cores, self.cores
        )
    }
}

impl CpuWatch {
    /// Takes the first reading.
    pub fn start() -> Self {
        Self {
            start: read_ticks(),
        }
    }

    /// What the rest of the machine used since [`CpuWatch::start`], or `None` where the
    /// counters cannot be read or less than about 50 ms of CPU time passed (the kernel counts
    /// in 10 ms ticks).
    pub fn contention(&self) -> Option<Contention> {
        let (start, now) = (self.start?, read_ticks()?);
        contention_between(start, now)
    }

    /// The note a lesson (or a project) prints when its measured speedup is below what it
    /// teaches:
    /// `None` when `measured >= expected`; otherwise why, as far as the machine can tell.
    ///
    /// ```
    /// use shared::timing::CpuWatch;
    ///
    /// let watch = CpuWatch::start();
    /// assert_eq!(watch.shortfall_note(1.9, 1.5), None);
    /// let note = watch.shortfall_note(0.9, 1.5).unwrap();
    /// assert!(note.starts_with("note: measured 0.90x, below the 1.50x"));
    /// ```
    pub fn shortfall_note(&self, measured: f64, expected: f64) -> Option<String> {
        if measured >= expected {
            return None;
        }
        let why = match self.contention() {
            Some(c) if c.is_busy() => {
                format!("{c}, so the threads did not have the cores to themselves")
            }
            Some(c) => format!(
                "{c}; a short run, a CPU quota or a virtual machine's noisy neighbours can \
                 also bend a timing: run it again"
            ),
            None => "this machine's CPU counters are not readable here, so the cause is \
                     unknown: run it again on an idle machine"
                .to_string(),
        };
        Some(format!(
            "note: measured {measured:.2}x, below the {expected:.2}x expected here: {why}"
        ))
    }
}

fn contention_between(start: CpuTicks, now: CpuTicks) -> Option<Contention> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let total = now.total.checked_sub(start.total)?;
    // Under about 5 ticks per core the counts are mostly rounding.
    if total < 5 * cores as u64 {
        return None;
    }
    let busy = now.busy.saturating_sub(start.busy);
    let own = now.own.saturating_sub(start.own);
    let others = busy.saturating_sub(own) as f64 / total as f64 * cores as f64;
    Some(Contention {
        others_cores: others,
        cores,
    })
}

fn read_ticks() -> Option<CpuTicks> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let own = std::fs::read_to_string("/proc/self/stat").ok()?;
    parse_ticks(&stat, &own)
}

/// Parses the `cpu` line of `/proc/stat` (user nice system idle iowait irq softirq steal ...)
/// and fields 14 and 15 (utime, stime) of `/proc/self/stat`.
fn parse_ticks(stat: &str, own: &str) -> Option<CpuTicks> {
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let fields: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .take(8)
        .map(|f| f.parse().ok())
        .collect::<Option<_>>()?;
    let [user, nice, system, idle, iowait, irq, softirq, steal] = fields[..] else {
        return None;
    };
    // The command name (field 2) may hold spaces; the fields after its ')' are unambiguous.
    let after_name = &own[own.rfind(')')? + 1..];
    let mut rest = after_name.split_whitespace().skip(11);
    let utime: u64 = rest.next()?.parse().ok()?;
    let stime: u64 = rest.next()?.parse().ok()?;
    let busy = user + nice + system + irq + softirq + steal;
    Some(CpuTicks {
        total: busy + idle + iowait,
        busy,
        own: utime + stime,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timed_returns_the_value_and_a_time_at_least_as_long_as_the_call() {
        let (value, took) = timed(|| {
            let start = Instant::now();
            while start.elapsed() < Duration::from_millis(2) {}
            7
        });
        assert_eq!(value, 7);
        assert!(took >= Duration::from_millis(2));
    }

    #[test]
    fn ratio_divides_and_survives_a_zero_denominator() {
        assert_eq!(ratio(Duration::from_secs(3), Duration::from_secs(2)), 1.5);
        assert_eq!(ratio(Duration::ZERO, Duration::from_secs(1)), 0.0);
        assert_eq!(ratio(Duration::from_nanos(5), Duration::ZERO), 5.0);
    }
    #[test]
    fn compare_refuses_a_side_below_the_measurable_minimum() {
        let ms = Duration::from_millis;
        assert_eq!(compare(ms(4), ms(2)), Some(2.0));
        assert_eq!(compare(MIN_COMPARABLE, MIN_COMPARABLE), Some(1.0));
        assert_eq!(
            compare(ms(4), MIN_COMPARABLE - Duration::from_nanos(1)),
            None
        );
        assert_eq!(compare(Duration::from_nanos(900), ms(4)), None);
    }

    const STAT: &str = "cpu  100 5 20 800 10 1 2 3 0 0\ncpu0 50 2 10 400 5 0 1 1 0 0\n";
    const OWN: &str = "4242 (a (b) c) R 1 2 3 4 5 6 7 8 9 10 40 7 0 0 20 0 1 0\n";

    #[test]
    fn parses_the_machine_counters_and_this_process_after_a_name_with_parentheses() {
        let t = parse_ticks(STAT, OWN).unwrap();
        assert_eq!(t.busy, 100 + 5 + 20 + 1 + 2 + 3);
        assert_eq!(t.total, t.busy + 800 + 10);
        assert_eq!(t.own, 40 + 7);
        assert!(parse_ticks("intr 1 2 3\n", OWN).is_none());
        assert!(parse_ticks(STAT, "4242 (x").is_none());
    }

    #[test]
    fn contention_is_the_busy_time_this_process_did_not_use() {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
        let start = CpuTicks {
            total: 0,
            busy: 0,
            own: 0,
        };
        // Over 100 ticks per core, the machine was busy for half, this process for a quarter.
        let now = CpuTicks {
            total: 100 * cores,
            busy: 50 * cores,
            own: 25 * cores,
        };
        let c = contention_between(start, now).unwrap();
        assert!((c.others_cores - 0.25 * cores as f64).abs() < 1e-9);
        assert_eq!(c.cores as u64, cores);
        let idle = CpuTicks {
            total: 100 * cores,
            busy: 25 * cores,
            own: 25 * cores,
        };
        assert_eq!(contention_between(start, idle).unwrap().others_cores, 0.0);
        let too_short = CpuTicks {
            total: 1,
            busy: 1,
            own: 0,
        };
        assert!(contention_between(start, too_short).is_none());
    }

    #[test]
    fn a_shortfall_note_is_given_only_below_the_expectation_and_says_why() {
        let watch = CpuWatch { start: None };
        assert_eq!(watch.shortfall_note(2.0, 2.0), None);
        let note = watch.shortfall_note(0.87, 1.5).unwrap();
        assert!(note.contains("0.87x") && note.contains("1.50x"), "{note}");
        assert!(note.contains("unknown"), "{note}");
    }
}
