//! The Chrome trace-event format: <https://docs.google.com/document/d/1CvAClvFfyA5R-PhYUmn5OOQtYMH4h6I0nSsKchNAySU>.

use super::Recording;
use std::fmt::Write;
use std::time::Duration;

/// A JSON string literal, quotes included.
fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Microseconds with nanosecond precision, as the format's `ts` and `dur` want.
fn micros(d: Duration) -> String {
    format!("{}.{:03}", d.as_nanos() / 1_000, d.as_nanos() % 1_000)
}

pub(super) fn render(recording: &Recording) -> String {
    let mut events = vec![format!(
        r#"{{"name":"process_name","ph":"M","pid":1,"tid":0,"args":{{"name":{}}}}}"#,
        json_string(recording.title())
    )];
    for row in recording.threads() {
        events.push(format!(
            r#"{{"name":"thread_name","ph":"M","pid":1,"tid":{},"args":{{"name":{}}}}}"#,
            row.index,
            json_string(&row.name)
        ));
        events.push(format!(
            r#"{{"name":"thread_sort_index","ph":"M","pid":1,"tid":{0},"args":{{"sort_index":{0}}}}}"#,
            row.index
        ));
    }
    for row in recording.threads() {
        for span in &row.spans {
            events.push(format!(
                r#"{{"name":{},"cat":"span","ph":"X","ts":{},"dur":{},"pid":1,"tid":{}}}"#,
                json_string(&span.label),
                micros(span.start),
                micros(span.duration()),
                row.index
            ));
        }
    }
    format!(
        "{{\"traceEvents\":[\n{}\n],\n\"displayTimeUnit\":\"ms\"}}\n",
        events.join(",\n")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_and_times_are_escaped_and_exact() {
        assert_eq!(json_string("a\"b\\c\n\u{1}é"), r#""a\"b\\c\n\u0001é""#);
        assert_eq!(micros(Duration::from_nanos(1_234_567)), "1234.567");
        assert_eq!(micros(Duration::from_nanos(5)), "0.005");
    }
}
