//! `shared::timeline`: spans from many threads are all kept, in order, on the right rows; the
//! three renderers produce what they promise (XML with a row per thread and a bar per span,
//! trace-event JSON, a line per thread); the analysis is exact on spans with explicit instants.

use shared::alloc::{AllocStats, CountingAllocator, allocated_by};
use shared::testing::{TIMEOUT, join_within};
use shared::timeline::{Recording, Timeline};
use std::collections::HashSet;
use std::thread;
use std::time::{Duration, Instant};

// Counts allocations, to show that a disabled timeline, and the hot path of an enabled one,
// allocate nothing.
#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator::new();

const THREADS: usize = 8;
const SPANS: usize = 1_000; // several chunks per thread

/// `THREADS` named threads, each recording `SPANS` spans whose start encodes (thread, i),
/// plus one span on the calling thread first.
fn many_threads() -> Recording {
    let timeline = Timeline::new("many threads");
    let work = timeline.label("work");
    let t0 = Instant::now();
    let us = Duration::from_micros;
    timeline.record(timeline.label("setup"), t0, t0 + us(1));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let timeline = timeline.clone();
            thread::Builder::new()
                .name(format!("worker-{t}"))
                .spawn(move || {
                    for i in 0..SPANS {
                        let start = t0 + us((t * SPANS + i) as u64 * 10);
                        timeline.record(work, start, start + us(5));
                    }
                })
                .expect("spawn a recording thread")
        })
        .collect();
    for handle in handles {
        join_within(handle, TIMEOUT, "a recording thread").expect("it does not panic");
    }
    timeline.finish()
}

#[test]
fn spans_from_many_threads_are_all_kept_in_order_on_their_rows() {
    let recording = many_threads();
    let rows = recording.threads();
    assert_eq!(
        rows.len(),
        THREADS + 1,
        "the caller's row and one per worker"
    );
    assert_eq!(rows[0].spans.len(), 1);
    assert_eq!(rows[0].spans[0].label, "setup");
    let names: HashSet<&str> = rows[1..].iter().map(|r| r.name.as_str()).collect();
    let expected: HashSet<String> = (0..THREADS).map(|t| format!("worker-{t}")).collect();
    assert_eq!(names, expected.iter().map(String::as_str).collect());
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row.index, i, "rows come in order of index");
    }
    for row in &rows[1..] {
        let t: u64 = row.name["worker-".len()..]
            .parse()
            .expect("a worker's number");
        assert_eq!(row.spans.len(), SPANS, "{}: every span kept", row.name);
        for (i, span) in row.spans.iter().enumerate() {
            // The recording starts at the setup span's start, t0.
            let start = Duration::from_micros((t * SPANS as u64 + i as u64) * 10);
            assert_eq!(span.start, start, "{}: span {i} in order", row.name);
            assert_eq!(span.end, start + Duration::from_micros(5));
            assert_eq!(span.label, "work");
        }
    }
    let last = Duration::from_micros(((THREADS * SPANS - 1) * 10 + 5) as u64);
    assert_eq!(recording.wall(), last);
}

#[test]
fn span_guards_record_on_the_current_thread_and_finish_can_be_repeated() {
    let timeline = Timeline::new("guards");
    let outer = timeline.label("outer");
    let inner = timeline.label("inner");
    assert_eq!(timeline.label("outer"), outer, "a label is interned once");
    {
        let _outer = timeline.span(outer);
        let _inner = timeline.span(inner);
    }
    let first = timeline.finish();
    assert_eq!(first.title(), "guards");
    assert_eq!(first.threads().len(), 1);
    let spans = &first.threads()[0].spans;
    assert_eq!(spans.len(), 2);
    // Sorted by start: the outer guard was made first and ended last.
    assert_eq!(spans[0].label, "outer");
    assert!(spans[0].start <= spans[1].start && spans[1].end <= spans[0].end);
    assert_eq!(
        first.threads()[0].busy(),
        spans[0].duration(),
        "nested spans count once"
    );

    drop(timeline.span(inner));
    let second = timeline.finish();
    assert_eq!(
        second.threads()[0].spans.len(),
        3,
        "a later finish sees the later span"
    );
    assert_eq!(
        first.threads()[0].spans.len(),
        2,
        "an earlier recording is unchanged"
    );
}

#[test]
fn a_disabled_timeline_records_nothing() {
    let timeline = Timeline::disabled();
    assert!(!timeline.is_enabled());
    let label = timeline.label("work");
    drop(timeline.span(label));
    let now = Instant::now();
    timeline.record(label, now, now + Duration::from_millis(1));
    let recording = timeline.finish();
    assert!(recording.threads().is_empty());
    assert_eq!(recording.wall(), Duration::ZERO);
    assert!(Timeline::new("on").is_enabled());
}

#[test]
fn a_disabled_timeline_allocates_nothing_and_a_recorded_span_only_per_chunk() {
    assert!(shared::alloc::is_installed());
    let ((), stats) = allocated_by(|| {
        let timeline = Timeline::disabled();
        let label = timeline.label("work");
        for _ in 0..1_000 {
            drop(timeline.span(label));
        }
        let now = Instant::now();
        timeline.record(label, now, now);
        assert!(timeline.finish().threads().is_empty());
    });
    assert_eq!(
        stats,
        AllocStats::default(),
        "a disabled timeline allocated"
    );

    let timeline = Timeline::new("chunks");
    let label = timeline.label("work");
    drop(timeline.span(label)); // registers this thread's buffer: allocates
    // The rest of the first chunk of 512 spans: stores only.
    let ((), stats) = allocated_by(|| {
        for _ in 1..512 {
            drop(timeline.span(label));
        }
    });
    assert_eq!(stats.allocations, 0, "spans within a chunk allocated");
    let ((), stats) = allocated_by(|| drop(timeline.span(label)));
    assert!(stats.allocations > 0, "the 513th span starts a new chunk");
    assert_eq!(timeline.finish().threads()[0].spans.len(), 513);
}

/// Two threads with spans at known instants (ms from t0):
/// main: a [0, 10), b [30, 40); other: a [5, 25), a [20, 28) overlapping.
fn known() -> Recording {
    let timeline = Timeline::new("known <&> \"times\"");
    let (a, b) = (timeline.label("alpha"), timeline.label("beta"));
    let t0 = Instant::now();
    let ms = move |n| t0 + Duration::from_millis(n);
    timeline.record(a, ms(0), ms(10));
    timeline.record(b, ms(30), ms(40));
    let other = timeline.clone();
    let handle = thread::spawn(move || {
        other.record(a, ms(5), ms(25));
        other.record(a, ms(20), ms(28));
    });
    join_within(handle, TIMEOUT, "the second thread").expect("it does not panic");
    timeline.finish()
}

#[test]
fn analysis_is_exact_on_known_spans() {
    let recording = known();
    let ms = Duration::from_millis;
    assert_eq!(recording.wall(), ms(40));
    let [main, other] = recording.threads() else {
        panic!("two rows expected");
    };
    assert_eq!(
        other.name, "thread 1",
        "an unnamed thread is named by its index"
    );
    assert_eq!(main.busy(), ms(20));
    assert_eq!(main.idle_within(recording.wall()), ms(20));
    assert_eq!(main.longest_gap(), ms(20), "between 10 and 30");
    assert_eq!(other.busy(), ms(23), "[5, 28): the overlap counts once");
    assert_eq!(other.idle_within(recording.wall()), ms(17));
    assert_eq!(
        other.longest_gap(),
        ms(12),
        "after 28, to the wall's end at 40"
    );
    assert_eq!(other.spans[1].duration(), ms(8));
}

#[test]
fn the_svg_is_xml_with_a_row_per_thread_and_a_bar_per_span() {
    for recording in [known(), many_threads()] {
        let svg = recording.to_svg();
        let doc = roxmltree::Document::parse(&svg).expect("the SVG parses as XML");
        let class =
            |node: &roxmltree::Node<'_, '_>, name: &str| node.attribute("class") == Some(name);
        let rows: Vec<_> = doc
            .descendants()
            .filter(|n| n.has_tag_name("g") && class(n, "row"))
            .collect();
        assert_eq!(rows.len(), recording.threads().len());
        for (row, thread) in rows.iter().zip(recording.threads()) {
            assert_eq!(row.attribute("data-thread"), Some(thread.name.as_str()));
            let bars: Vec<_> = row
                .children()
                .filter(|n| n.has_tag_name("rect") && class(n, "span"))
                .collect();
            assert_eq!(
                bars.len(),
                thread.spans.len(),
                "{}: a bar per span",
                thread.name
            );
            let tooltip = bars[0]
                .children()
                .find(|n| n.has_tag_name("title"))
                .and_then(|n| n.text())
                .expect("each bar has a tooltip");
            assert!(tooltip.starts_with(&thread.spans[0].label), "{tooltip}");
        }
        let text: String = doc.descendants().filter_map(|n| n.text()).collect();
        assert!(
            text.contains(recording.title()),
            "the title, unescaped by the parser"
        );
        assert!(text.contains("wall time") && text.contains("time (ms)"));
    }
}

#[test]
fn the_chrome_trace_has_an_event_per_span_and_the_thread_names() {
    let recording = known();
    let json: serde_json::Value =
        serde_json::from_str(&recording.to_chrome_trace()).expect("the trace parses as JSON");
    assert_eq!(json["displayTimeUnit"], "ms");
    let events = json["traceEvents"].as_array().expect("an array of events");
    let complete: Vec<_> = events.iter().filter(|e| e["ph"] == "X").collect();
    assert_eq!(complete.len(), 4);
    for row in recording.threads() {
        let named = events.iter().any(|e| {
            e["ph"] == "M"
                && e["name"] == "thread_name"
                && e["tid"] == row.index
                && e["args"]["name"] == row.name.as_str()
        });
        assert!(named, "thread_name metadata for {}", row.name);
        for span in &row.spans {
            let found = complete.iter().any(|e| {
                e["name"] == span.label.as_str()
                    && e["tid"] == row.index
                    && e["pid"] == 1
                    && e["ts"].as_f64() == Some(span.start.as_micros() as f64)
                    && e["dur"].as_f64() == Some(span.duration().as_micros() as f64)
            });
            assert!(found, "an X event for {span:?} on row {}", row.index);
        }
    }
}

#[test]
fn the_terminal_version_has_a_line_per_thread_and_a_legend() {
    let recording = known();
    let text = recording.to_terminal(40);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    // 40 cells of 1 ms each: main is alpha for [0, 10), idle, beta for [30, 40).
    let cells = |line: &str| {
        line.split('|')
            .nth(1)
            .expect("cells between bars")
            .to_owned()
    };
    let a10 = "a".repeat(10);
    assert_eq!(
        cells(lines[0]),
        format!("{a10}{}{}", ".".repeat(20), "b".repeat(10))
    );
    assert_eq!(
        cells(lines[1]),
        format!("{}{}{}", ".".repeat(5), "a".repeat(23), ".".repeat(12))
    );
    assert!(
        lines[2].starts_with("legend: a alpha, b beta"),
        "{}",
        lines[2]
    );
}

#[test]
fn write_creates_both_files_and_refuses_a_bad_name() {
    let recording = known();
    let name = format!("shared-test-{}", std::process::id());
    let written = recording.write(&name).expect("write the timeline");
    // This test runs as target/<profile>/deps/<binary>: the files land in target/timelines.
    let exe = std::env::current_exe().expect("the test binary's path");
    let target = exe.ancestors().nth(3).expect("the target folder");
    assert_eq!(written.svg, target.join(format!("timelines/{name}.svg")));
    assert_eq!(written.json, target.join(format!("timelines/{name}.json")));
    assert_eq!(
        std::fs::read_to_string(&written.svg).expect("read"),
        recording.to_svg()
    );
    assert_eq!(
        std::fs::read_to_string(&written.json).expect("read"),
        recording.to_chrome_trace()
    );
    let _ = std::fs::remove_file(&written.svg);
    let _ = std::fs::remove_file(&written.json);
    for bad in ["", ".", "..", "a/b", "a\\b", "../up"] {
        let error = recording.write(bad).expect_err("a bad name is refused");
        assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput, "{bad:?}");
        assert!(error.to_string().contains("plain file name"), "{error}");
    }
}

#[test]
fn write_and_show_names_both_files_then_draws_the_terminal_picture() {
    let recording = known();
    let name = format!("shared-show-{}", std::process::id());
    let shown = recording
        .write_and_show(&name, 40)
        .expect("write the timeline");
    let exe = std::env::current_exe().expect("the test binary's path");
    let dir = exe
        .ancestors()
        .nth(3)
        .expect("the target folder")
        .join("timelines");
    let cwd = std::env::current_dir().expect("the current folder");
    let relative = |file: String| {
        let path = dir.join(file);
        path.strip_prefix(&cwd)
            .unwrap_or(&path)
            .display()
            .to_string()
    };
    let lines: Vec<&str> = shown.lines().collect();
    assert_eq!(
        lines[0],
        format!("wrote {}", relative(format!("{name}.svg")))
    );
    assert_eq!(
        lines[1],
        format!("wrote {}", relative(format!("{name}.json")))
    );
    assert_eq!(lines[2..].join("\n") + "\n", recording.to_terminal(40));
    assert!(dir.join(format!("{name}.svg")).is_file());
    let _ = std::fs::remove_file(dir.join(format!("{name}.svg")));
    let _ = std::fs::remove_file(dir.join(format!("{name}.json")));
    assert!(recording.write_and_show("a/b", 40).is_err());
}

#[test]
fn legends_follow_the_order_labels_were_made_and_skip_unused_ones() {
    let timeline = Timeline::new("order");
    let (wait, _unused, compute) = (
        timeline.label("wait"),
        timeline.label("never-used"),
        timeline.label("compute"),
    );
    let t0 = Instant::now();
    timeline.record(compute, t0, t0 + Duration::from_millis(1));
    timeline.record(
        wait,
        t0 + Duration::from_millis(1),
        t0 + Duration::from_millis(2),
    );
    let recording = timeline.finish();
    let text = recording.to_terminal(2);
    assert_eq!(
        text.lines().next(),
        Some(format!("{} |cw|", recording.threads()[0].name).as_str())
    );
    assert!(text.contains("legend: w wait, c compute, . idle"), "{text}");
    let svg = recording.to_svg();
    let legend = svg.find(">wait</text>").expect("wait in the legend");
    assert!(legend < svg.find(">compute</text>").expect("compute in the legend"));
    assert!(!svg.contains("never-used"));
}
