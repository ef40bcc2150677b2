//! A parser of Prometheus's text exposition format that checks each line's shape, shared by the
//! tests of l3-ex06 (which render metrics) and l3-ex07 (whose pool serves them).

use std::collections::{BTreeMap, HashSet};

/// One sample line of the text format.
#[derive(Debug)]
pub struct Sample {
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

fn is_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// Parses the labels between `{` and `}`: `key="value",key="value"`.
fn parse_labels(text: &str, line: &str) -> Vec<(String, String)> {
    let mut labels = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let (key, after) = rest
            .split_once("=\"")
            .unwrap_or_else(|| panic!("a label without =\"...\": {line}"));
        let (value, after) = after
            .split_once('"')
            .unwrap_or_else(|| panic!("an unterminated label value: {line}"));
        assert!(is_metric_name(key), "a bad label name {key:?}: {line}");
        labels.push((key.to_owned(), value.to_owned()));
        rest = after.strip_prefix(',').unwrap_or(after);
    }
    labels
}

/// Parses the text exposition format, checking each line's shape: `# HELP name text` and
/// `# TYPE name kind` (each once per name, both before its samples), or `name{labels} value` with a
/// number that is not NaN. Returns the samples and the declared types.
pub fn parse_exposition(text: &str) -> (Vec<Sample>, BTreeMap<String, String>) {
    let mut types = BTreeMap::new();
    let mut helped = HashSet::new();
    let mut samples = Vec::new();
    for line in text.lines() {
        if let Some(comment) = line.strip_prefix("# ") {
            let mut parts = comment.splitn(3, ' ');
            let (keyword, name) = (parts.next(), parts.next());
            let rest = parts.next().unwrap_or("");
            let name = name.unwrap_or_else(|| panic!("a comment without a metric name: {line}"));
            assert!(is_metric_name(name), "a bad metric name: {line}");
            match keyword {
                Some("HELP") => {
                    assert!(!rest.is_empty(), "an empty HELP: {line}");
                    assert!(helped.insert(name.to_owned()), "a second HELP: {line}");
                }
                Some("TYPE") => {
                    assert!(
                        ["counter", "gauge", "histogram", "summary", "untyped"].contains(&rest),
                        "an unknown type: {line}"
                    );
                    assert!(
                        types.insert(name.to_owned(), rest.to_owned()).is_none(),
                        "a second TYPE: {line}"
                    );
                }
                _ => panic!("a comment that is neither HELP nor TYPE: {line}"),
            }
            continue;
        }
        assert!(!line.trim().is_empty(), "an empty line in the output");
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("a sample without a value: {line}"));
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v
                .parse()
                .unwrap_or_else(|_| panic!("a value that is not a number: {line}")),
        };
        assert!(!value.is_nan(), "a NaN value: {line}");
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => {
                let inner = rest
                    .strip_suffix('}')
                    .unwrap_or_else(|| panic!("labels without a closing brace: {line}"));
                (name, parse_labels(inner, line))
            }
            None => (series, Vec::new()),
        };
        assert!(is_metric_name(name), "a bad metric name: {line}");
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| {
                name.strip_suffix(suffix)
                    .filter(|f| types.get(*f).is_some_and(|t| t == "histogram"))
            })
            .unwrap_or(name);
        assert!(
            types.contains_key(family),
            "a sample before its TYPE line: {line}"
        );
        assert!(
            helped.contains(family),
            "a sample before its HELP line: {line}"
        );
        samples.push(Sample {
            name: name.to_owned(),
            labels,
            value,
        });
    }
    (samples, types)
}

/// Checks every histogram in a parsed exposition: `le` ascending and ending at `+Inf`,
/// counts never going down, `+Inf` equal to `_count`, a `_sum`. Returns the `_count`s.
pub fn check_histograms(
    samples: &[Sample],
    types: &BTreeMap<String, String>,
) -> BTreeMap<String, f64> {
    let mut counts = BTreeMap::new();
    for (family, _) in types.iter().filter(|(_, t)| *t == "histogram") {
        let buckets: Vec<(f64, f64)> = samples
            .iter()
            .filter(|s| s.name == format!("{family}_bucket"))
            .map(|s| {
                let le = s
                    .labels
                    .iter()
                    .find(|(k, _)| k == "le")
                    .unwrap_or_else(|| panic!("a {family} bucket without le: {s:?}"));
                let bound = if le.1 == "+Inf" {
                    f64::INFINITY
                } else {
                    le.1.parse::<f64>()
                        .unwrap_or_else(|_| panic!("an le that is not a number: {s:?}"))
                };
                assert!(!bound.is_nan(), "a NaN le: {s:?}");
                (bound, s.value)
            })
            .collect();
        assert!(!buckets.is_empty(), "{family} has no buckets");
        for pair in buckets.windows(2) {
            assert!(
                pair[0].0 < pair[1].0,
                "{family}: le not ascending: {pair:?}"
            );
            assert!(pair[0].1 <= pair[1].1, "{family}: counts go down: {pair:?}");
        }
        let (last_bound, inf_count) = *buckets.last().expect("checked above");
        assert_eq!(last_bound, f64::INFINITY, "{family}: no +Inf bucket");
        let one = |suffix: &str| {
            let found: Vec<&Sample> = samples
                .iter()
                .filter(|s| s.name == format!("{family}{suffix}"))
                .collect();
            assert_eq!(found.len(), 1, "{family}{suffix} must appear once");
            found[0].value
        };
        let count = one("_count");
        assert_eq!(inf_count, count, "{family}: +Inf is not the count");
        assert!(one("_sum") >= 0.0);
        counts.insert(family.clone(), count);
    }
    counts
}

/// The value of the sample `name` with these labels.
pub fn value_of(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .find(|s| {
            s.name == name
                && s.labels.len() == labels.len()
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.iter().any(|(sk, sv)| sk == k && sv == v))
        })
        .unwrap_or_else(|| panic!("no sample {name} {labels:?}"))
        .value
}
