//! Thread timelines: which thread was busy with what, and when, drawn as a Gantt chart.
//!
//! A [`Timeline`] records *spans* (a label, a start and an end) from any number of threads;
//! [`Timeline::finish`] merges them into a [`Recording`] with one row per thread, which renders
//! as an SVG Gantt chart ([`Recording::to_svg`]), as Chrome trace-event JSON
//! ([`Recording::to_chrome_trace`]) and as one line of characters per thread
//! ([`Recording::to_terminal`]), and answers questions a lesson can assert on: how long a
//! thread was busy, idle, or idle in one stretch ([`ThreadRow`]).
//!
//! In Node.js the same picture comes from `node --cpu-prof`, or from `performance.mark` and
//! `performance.measure` in each worker, opened in the Chrome DevTools performance panel.
//! Here the program records its own spans, and the JSON opens in the same kind of viewer.
//!
//! ```
//! use shared::timeline::Timeline;
//! use std::thread;
//!
//! let timeline = Timeline::new("two workers");
//! let compute = timeline.label("compute"); // once, before the hot loop
//! thread::scope(|s| {
//!     for _ in 0..2 {
//!         s.spawn(|| {
//!             for i in 0..3 {
//!                 let _span = timeline.span(compute); // recorded when dropped
//!                 std::hint::black_box((0..10_000u64).map(|x| x * i).sum::<u64>());
//!             }
//!         });
//!     }
//! });
//! let recording = timeline.finish(); // after the recording threads are done
//! assert_eq!(recording.threads().len(), 2);
//! assert!(recording.threads().iter().all(|row| row.spans.len() == 3));
//! print!("{}", recording.to_terminal(60));
//! // A program would now call `recording.write("two-workers")?`: see `Recording::write`.
//! ```
//!
//! # Opening the pictures
//!
//! [`Recording::write`] puts `<name>.svg` and `<name>.json` in `target/timelines/`. The SVG
//! opens in any browser; hover over a bar for its label and times. For the JSON, open
//! <https://ui.perfetto.dev>, choose "Open trace file" (or drop the file on the page) and
//! expand the process named after the timeline's title: one track per thread, one slice per
//! span, to zoom with W/S and pan with A/D; click a slice for its exact start and duration.
//! The file stays on your machine: Perfetto's UI reads it in the browser. `chrome://tracing`
//! in a Chromium browser ("Load") shows the same file.
//!
//! # Cost
//!
//! No lock on the hot path: each thread appends to a buffer of its own, made of fixed-size
//! chunks of atomics whose length is published with a release store and read by
//! [`Timeline::finish`] with an acquire load. A thread takes a lock only when it records its
//! first span in a timeline (to register its buffer) and when a chunk of 512 spans fills (to
//! add one); any other span is two clock reads, a thread-local lookup and four stores. A
//! [`Timeline::disabled`] timeline records nothing, and each of its methods is one branch: no
//! clock read, no allocation, so spans can stay in code that is measured. The `timeline`
//! group of `benches/benches/costs.rs` measures both.

mod chrome;
mod svg;
mod terminal;

/// `text` made safe inside an XML (or SVG) element or a quoted attribute: `&`, `<`, `>`, `"`
/// and `'` escaped, and a control character XML 1.0 cannot hold even escaped (all but tab,
/// line feed and carriage return) replaced by `?`. The timelines' SVG uses it, and so do the
/// benches' speedup charts.
///
/// ```
/// use shared::timeline::escape_xml;
///
/// assert_eq!(escape_xml(r#"<a & "b" 'c'>"#), "&lt;a &amp; &quot;b&quot; &apos;c&apos;&gt;");
/// assert_eq!(escape_xml("bell\u{7}"), "bell?");
/// ```
pub fn escape_xml(text: &str) -> String {
    svg::escape(text)
}

use std::cell::RefCell;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

/// Spans per chunk of a thread's buffer: a thread takes a lock once per this many spans.
const CHUNK: usize = 512;

/// Records spans from any thread; cheap to clone (an `Arc` inside), `Send` and `Sync`.
///
/// See the [module documentation](self) for an example.
#[derive(Clone)]
pub struct Timeline {
    inner: Option<Arc<Inner>>,
}

struct Inner {
    /// Tells this timeline's entry apart in a thread's list of buffers.
    id: u64,
    title: String,
    epoch: Instant,
    labels: Mutex<Vec<String>>,
    threads: Mutex<Vec<Arc<ThreadBuf>>>,
}

/// One thread's buffer: its chunks, of which only the last one is still being filled.
struct ThreadBuf {
    name: String,
    index: usize,
    chunks: Mutex<Vec<Arc<Chunk>>>,
}

/// A fixed-size block of spans. Only its owning thread writes; `len` is stored with
/// `Release` after a span's fields, so whoever loads it with `Acquire` sees them whole.
struct Chunk {
    len: AtomicUsize,
    slots: Box<[Slot]>,
}

#[derive(Default)]
struct Slot {
    label: AtomicU32,
    /// Nanoseconds since the timeline's epoch.
    start: AtomicU64,
    end: AtomicU64,
}

impl Chunk {
    fn new() -> Arc<Self> {
        Arc::new(Chunk {
            len: AtomicUsize::new(0),
            slots: (0..CHUNK).map(|_| Slot::default()).collect(),
        })
    }
}

/// What a thread keeps for each timeline it has recorded into. The entries of dropped
/// timelines (and their chunks) are freed when the thread registers with another timeline,
/// or exits.
struct Local {
    id: u64,
    owner: Weak<Inner>,
    buf: Arc<ThreadBuf>,
    chunk: Arc<Chunk>,
}

thread_local! {
    static LOCAL: RefCell<Vec<Local>> = const { RefCell::new(Vec::new()) };
}

static NEXT_ID: AtomicU64 = AtomicU64::new(0);

/// A span as stored: label, start and end in nanoseconds since the timeline's epoch.
type RawSpan = (u32, u64, u64);

/// An interned label ("compute", "wait", ...): made once by [`Timeline::label`], before the
/// hot loop, then copied into every span. A label belongs to the timeline that made it: used
/// on another, its spans show under that timeline's label of the same number, or `label N`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Label(u32);

/// Records the time from its creation to its drop as one span on the current thread's row.
/// Made by [`Timeline::span`]; keep it in a named binding (`let _span = ...`), since `let _ =`
/// drops it at once.
#[must_use = "a span ends when its guard is dropped: bind it with `let _span = ...`"]
#[derive(Debug)]
pub struct SpanGuard<'a> {
    running: Option<(&'a Arc<Inner>, Instant)>,
    label: Label,
}

impl Timeline {
    /// A timeline that records; its clock starts now. `title` heads the pictures.
    pub fn new(title: &str) -> Self {
        Timeline {
            inner: Some(Arc::new(Inner {
                id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
                title: title.to_owned(),
                epoch: Instant::now(),
                labels: Mutex::new(Vec::new()),
                threads: Mutex::new(Vec::new()),
            })),
        }
    }

    /// A timeline that records nothing: every method is one branch, with no clock read and no
    /// allocation, and [`finish`](Self::finish) returns an empty recording.
    ///
    /// ```
    /// use shared::timeline::Timeline;
    ///
    /// let timeline = Timeline::disabled();
    /// let work = timeline.label("work");
    /// drop(timeline.span(work));
    /// assert!(timeline.finish().threads().is_empty());
    /// ```
    #[inline]
    pub fn disabled() -> Self {
        Timeline { inner: None }
    }

    /// Whether this timeline records (made by [`new`](Self::new)).
    #[inline]
    pub fn is_enabled(&self) -> bool {
        self.inner.is_some()
    }

    /// The label called `name`, made the first time it is asked for. Takes a lock: call it
    /// once, before the hot loop, and copy the [`Label`].
    pub fn label(&self, name: &str) -> Label {
        let Some(inner) = &self.inner else {
            return Label(0);
        };
        let mut labels = inner.labels.lock().unwrap_or_else(PoisonError::into_inner);
        let index = match labels.iter().position(|l| l == name) {
            Some(index) => index,
            None => {
                labels.push(name.to_owned());
                labels.len() - 1
            }
        };
        Label(u32::try_from(index).unwrap_or(u32::MAX))
    }

    /// Starts a span on the current thread; it ends, and is recorded, when the guard drops.
    #[inline]
    pub fn span(&self, label: Label) -> SpanGuard<'_> {
        SpanGuard {
            running: self.inner.as_ref().map(|inner| (inner, Instant::now())),
            label,
        }
    }

    /// Records a span with explicit instants on the current thread's row: for work timed
    /// elsewhere (a task's queue wait, from when it was submitted), and for tests. An `end`
    /// before `start` counts as `start`; instants before the timeline began count as its start.
    #[inline]
    pub fn record(&self, label: Label, start: Instant, end: Instant) {
        if let Some(inner) = &self.inner {
            inner.push(label, start, end);
        }
    }

    /// Merges every thread's buffer into a [`Recording`]. Call it once the recording threads
    /// are done (joined, or the pool's tasks awaited): a span still open, or recorded after
    /// this call, is not in the result. It may be called again; each call returns everything
    /// recorded so far.
    pub fn finish(&self) -> Recording {
        let Some(inner) = &self.inner else {
            return Recording {
                title: String::new(),
                labels: Vec::new(),
                wall: Duration::ZERO,
                threads: Vec::new(),
            };
        };
        inner.finish()
    }
}

impl fmt::Debug for Timeline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.inner {
            Some(inner) => f
                .debug_struct("Timeline")
                .field("title", &inner.title)
                .finish(),
            None => f.write_str("Timeline(disabled)"),
        }
    }
}

impl fmt::Debug for Inner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timeline")
            .field("title", &self.title)
            .finish()
    }
}

impl Drop for SpanGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        if let Some((inner, start)) = self.running {
            inner.push(self.label, start, Instant::now());
        }
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl Inner {
    fn push(self: &Arc<Self>, label: Label, start: Instant, end: Instant) {
        let start = nanos(start.saturating_duration_since(self.epoch));
        let end = nanos(end.saturating_duration_since(self.epoch)).max(start);
        // `try_with`: a span dropped while the thread's locals are torn down is lost, not a panic.
        let _ = LOCAL.try_with(|local| {
            let mut local = local.borrow_mut();
            let entry = match local.iter().position(|l| l.id == self.id) {
                Some(i) => &mut local[i],
                None => self.register(&mut local),
            };
            let mut len = entry.chunk.len.load(Ordering::Relaxed);
            if len == CHUNK {
                let chunk = Chunk::new();
                lock(&entry.buf.chunks).push(Arc::clone(&chunk));
                entry.chunk = chunk;
                len = 0;
            }
            let slot = &entry.chunk.slots[len];
            slot.label.store(label.0, Ordering::Relaxed);
            slot.start.store(start, Ordering::Relaxed);
            slot.end.store(end, Ordering::Relaxed);
            entry.chunk.len.store(len + 1, Ordering::Release);
        });
    }

    /// Adds the current thread's buffer to this timeline; forgets those of dropped timelines.
    #[cold]
    fn register<'l>(self: &Arc<Self>, local: &'l mut Vec<Local>) -> &'l mut Local {
        local.retain(|l| l.owner.strong_count() > 0);
        let chunk = Chunk::new();
        let mut threads = lock(&self.threads);
        let index = threads.len();
        let name = std::thread::current()
            .name()
            .map_or_else(|| format!("thread {index}"), str::to_owned);
        let buf = Arc::new(ThreadBuf {
            name,
            index,
            chunks: Mutex::new(vec![Arc::clone(&chunk)]),
        });
        threads.push(Arc::clone(&buf));
        drop(threads);
        local.push(Local {
            id: self.id,
            owner: Arc::downgrade(self),
            buf,
            chunk,
        });
        local.last_mut().expect("just pushed")
    }

    fn finish(&self) -> Recording {
        let labels = lock(&self.labels).clone();
        let label_name = |l: u32| {
            labels
                .get(l as usize)
                .cloned()
                .unwrap_or_else(|| format!("label {l}"))
        };
        let threads = lock(&self.threads).clone();
        let mut raw: Vec<(String, usize, Vec<RawSpan>)> = Vec::new();
        for buf in &threads {
            let mut spans = Vec::new();
            for chunk in lock(&buf.chunks).iter() {
                let len = chunk.len.load(Ordering::Acquire);
                spans.extend(chunk.slots[..len].iter().map(|s| {
                    (
                        s.label.load(Ordering::Relaxed),
                        s.start.load(Ordering::Relaxed),
                        s.end.load(Ordering::Relaxed),
                    )
                }));
            }
            raw.push((buf.name.clone(), buf.index, spans));
        }
        let origin = raw
            .iter()
            .flat_map(|(_, _, spans)| spans.iter().map(|s| s.1))
            .min()
            .unwrap_or(0);
        let last = raw
            .iter()
            .flat_map(|(_, _, spans)| spans.iter().map(|s| s.2))
            .max()
            .unwrap_or(0);
        let wall = Duration::from_nanos(last.saturating_sub(origin));
        let rows = raw
            .into_iter()
            .map(|(name, index, mut spans)| {
                spans.sort_by_key(|&(_, start, end)| (start, end));
                ThreadRow {
                    name,
                    index,
                    spans: spans
                        .into_iter()
                        .map(|(label, start, end)| Span {
                            label: label_name(label),
                            start: Duration::from_nanos(start - origin),
                            end: Duration::from_nanos(end - origin),
                        })
                        .collect(),
                    wall,
                }
            })
            .collect();
        Recording {
            title: self.title.clone(),
            labels,
            wall,
            threads: rows,
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The merged result of a [`Timeline`]: one row per thread that recorded.
///
/// Every time in it is measured from the recording's start, the start of its earliest span.
#[derive(Clone, Debug)]
pub struct Recording {
    title: String,
    /// Every label made on the timeline, in the order made.
    labels: Vec<String>,
    wall: Duration,
    threads: Vec<ThreadRow>,
}

/// One thread's spans, sorted by start (then end), and what a lesson asserts on: how long the
/// thread was busy, idle, and idle in one stretch.
///
/// ```
/// use shared::timeline::Timeline;
/// use std::time::{Duration, Instant};
///
/// let timeline = Timeline::new("analysis");
/// let work = timeline.label("work");
/// let t0 = Instant::now();
/// let ms = |n| t0 + Duration::from_millis(n);
/// timeline.record(work, ms(0), ms(10));
/// timeline.record(work, ms(30), ms(40)); // idle from 10 to 30
/// let recording = timeline.finish();
/// let row = &recording.threads()[0];
/// assert_eq!(recording.wall(), Duration::from_millis(40));
/// assert_eq!(row.busy(), Duration::from_millis(20));
/// assert_eq!(row.idle_within(recording.wall()), Duration::from_millis(20));
/// assert_eq!(row.longest_gap(), Duration::from_millis(20));
/// ```
#[derive(Clone, Debug)]
pub struct ThreadRow {
    /// The thread's name (`std::thread::current().name()`), or `thread N` for an unnamed one.
    pub name: String,
    /// The order in which the thread recorded its first span: 0 for the first.
    pub index: usize,
    /// The thread's spans, sorted by start, then end.
    pub spans: Vec<Span>,
    /// The recording's wall time, the window [`longest_gap`](Self::longest_gap) looks in.
    wall: Duration,
}

/// One recorded span; its times are measured from the recording's start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Span {
    /// The label's name.
    pub label: String,
    /// When the span began.
    pub start: Duration,
    /// When it ended (never before `start`).
    pub end: Duration,
}

impl Span {
    /// `end - start`.
    pub fn duration(&self) -> Duration {
        self.end - self.start
    }
}

/// The two files [`Recording::write`] wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Written {
    /// The SVG Gantt chart.
    pub svg: PathBuf,
    /// The Chrome trace-event JSON.
    pub json: PathBuf,
}

impl Recording {
    /// The title given to [`Timeline::new`] (empty for a disabled timeline).
    pub fn title(&self) -> &str {
        &self.title
    }

    /// The wall time: from the start of the earliest span to the end of the latest one, over
    /// all threads. Zero when nothing was recorded.
    pub fn wall(&self) -> Duration {
        self.wall
    }

    /// One row per thread that recorded, in the order the threads recorded their first span
    /// (so the main thread comes first if it recorded first).
    pub fn threads(&self) -> &[ThreadRow] {
        &self.threads
    }

    /// The SVG Gantt chart: one row per thread, one bar per span coloured by label, a time
    /// axis in milliseconds, a legend, the title and the wall time. Hover over a bar for its
    /// label and times. The colours come from a colour-blind-safe palette of eight (Okabe and
    /// Ito's), given to the labels the spans use in the order the labels were made, so two
    /// recordings that make the same labels in the same order colour them alike.
    pub fn to_svg(&self) -> String {
        svg::render(self)
    }

    /// The recording in Chrome's trace-event format: a complete (`"ph":"X"`) event per span, in
    /// microseconds, and a `thread_name` metadata event per row. Opens in
    /// <https://ui.perfetto.dev> and `chrome://tracing`.
    pub fn to_chrome_trace(&self) -> String {
        chrome::render(self)
    }

    /// One line per thread (its name, then `width` cells, each the first letter of the label
    /// busiest in that slice of the wall time, or `.` when the thread was idle), then a legend
    /// line. Two labels with the same first letter get distinct letters.
    pub fn to_terminal(&self, width: usize) -> String {
        terminal::render(self, width)
    }

    /// Writes `<target>/timelines/<name>.svg` and `<name>.json`, creating the folder, and
    /// returns both paths. `<target>` is the Cargo target directory of the running program
    /// (found from `std::env::current_exe()`, so `CARGO_TARGET_DIR` is honoured), or
    /// `./target` when the program does not run from one.
    ///
    /// `name` must be a plain file name: not empty, no `/` or `\`, not `.` or `..`; anything
    /// else is an `InvalidInput` error.
    ///
    /// ```no_run
    /// # fn main() -> std::io::Result<()> {
    /// use shared::timeline::Timeline;
    ///
    /// let timeline = Timeline::new("one span");
    /// drop(timeline.span(timeline.label("work")));
    /// let written = timeline.finish().write("one-span")?;
    /// println!("open {} in a browser, or {} in ui.perfetto.dev", written.svg.display(), written.json.display());
    /// assert!(timeline.finish().write("../elsewhere").is_err());
    /// # Ok(())
    /// # }
    /// ```
    pub fn write(&self, name: &str) -> io::Result<Written> {
        self.write_to(&target_dir().join("timelines"), name)
    }

    /// [`write`](Self::write), then what a program shows about it: a line `wrote PATH` per
    /// file (relative to the current folder when inside it), then
    /// [`to_terminal(width)`](Self::to_terminal). The lessons print it as it is.
    ///
    /// ```no_run
    /// # fn main() -> std::io::Result<()> {
    /// use shared::timeline::Timeline;
    ///
    /// let timeline = Timeline::new("one span");
    /// drop(timeline.span(timeline.label("work")));
    /// print!("{}", timeline.finish().write_and_show("one-span", 60)?);
    /// // wrote target/timelines/one-span.svg
    /// // wrote target/timelines/one-span.json
    /// // main |wwwwww...|
    /// // legend: w work, . idle; 60 cells over 0.000 ms
    /// # Ok(())
    /// # }
    /// ```
    pub fn write_and_show(&self, name: &str, width: usize) -> io::Result<String> {
        let written = self.write(name)?;
        let cwd = std::env::current_dir().unwrap_or_default();
        let mut shown = String::new();
        for path in [&written.svg, &written.json] {
            let path = path.strip_prefix(&cwd).unwrap_or(path);
            shown.push_str(&format!("wrote {}\n", path.display()));
        }
        shown.push_str(&self.to_terminal(width));
        Ok(shown)
    }

    /// [`write`](Self::write) into the folder `dir` (created if missing) instead.
    pub fn write_to(&self, dir: &Path, name: &str) -> io::Result<Written> {
        if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\\', '\0']) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "timeline name {name:?} is not a plain file name (no path separators, not empty, not . or ..)"
                ),
            ));
        }
        std::fs::create_dir_all(dir)?;
        let written = Written {
            svg: dir.join(format!("{name}.svg")),
            json: dir.join(format!("{name}.json")),
        };
        std::fs::write(&written.svg, self.to_svg())?;
        std::fs::write(&written.json, self.to_chrome_trace())?;
        Ok(written)
    }

    /// The labels that some span uses, in the order they were made with [`Timeline::label`]
    /// (then any foreign `label N`): the order of the legends and of the palette, so a label
    /// keeps its colour across recordings that make the same labels in the same order.
    fn labels(&self) -> Vec<&str> {
        let spans = || self.threads.iter().flat_map(|row| &row.spans);
        let mut labels: Vec<&str> = self
            .labels
            .iter()
            .map(String::as_str)
            .filter(|label| spans().any(|span| span.label == *label))
            .collect();
        for span in spans() {
            if !labels.contains(&span.label.as_str()) {
                labels.push(&span.label);
            }
        }
        labels
    }
}

/// The Cargo target directory of the running program: the parent of the first folder above
/// the executable that holds a `.fingerprint` folder (a profile folder: `target/debug`,
/// `target/release`), looking at most three levels up; `./target` otherwise.
fn target_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| {
            exe.ancestors()
                .skip(1)
                .take(3)
                .find(|dir| dir.join(".fingerprint").is_dir())
                .and_then(Path::parent)
                .map(Path::to_path_buf)
        })
        .unwrap_or_else(|| PathBuf::from("target"))
}

impl ThreadRow {
    /// The time this thread spent inside at least one span. Nested or overlapping spans on the
    /// row count once, so `busy` never exceeds the recording's wall time.
    pub fn busy(&self) -> Duration {
        let mut busy = Duration::ZERO;
        let mut covered_to = Duration::ZERO;
        for span in &self.spans {
            let from = span.start.max(covered_to);
            if span.end > from {
                busy += span.end - from;
                covered_to = span.end;
            }
        }
        busy
    }

    /// `wall - busy`: the time within `wall` (usually [`Recording::wall`]) this thread spent
    /// in no span, including before its first span and after its last. Zero if `wall` is
    /// shorter than [`busy`](Self::busy).
    pub fn idle_within(&self, wall: Duration) -> Duration {
        wall.saturating_sub(self.busy())
    }

    /// The longest stretch of the recording's wall time in which this thread was in no span:
    /// between two spans, before its first span (from the recording's start) or after its
    /// last (to the recording's end). The whole wall time for a row without spans.
    pub fn longest_gap(&self) -> Duration {
        let mut longest = Duration::ZERO;
        let mut covered_to = Duration::ZERO;
        for span in &self.spans {
            longest = longest.max(span.start.saturating_sub(covered_to));
            covered_to = covered_to.max(span.end);
        }
        longest.max(self.wall.saturating_sub(covered_to))
    }
}
