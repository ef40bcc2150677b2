//! Speedup charts as SVG, written by hand: for one workload, the speedup against the thread
//! count of every engine measured, next to the ideal line, Amdahl's law fitted to the
//! measurements, and the machine's core count.
//!
//! The speedup report writes one per workload with `--svg DIR` (`DIR/<workload>.svg`); the
//! speedup bench writes one per group next to criterion's report
//! (`target/criterion/<group>/speedup.svg`). Open them in any browser.
//!
//! What the picture holds, so that a reader can check it against the tables:
//!
//! - one coloured line with a marker per measured thread count for each engine (the
//!   Okabe-Ito palette, which stays distinct for the common kinds of colour blindness, and a
//!   different marker shape per engine, so that no line needs its colour to be told apart);
//! - the ideal speedup `y = x`, dashed;
//! - Amdahl's law `S(p) = 1 / (e + (1 - e) / p)`, dotted, with the serial fraction `e` fitted
//!   by [`amdahl_fit`], as the report's tables fit it (Karp-Flatt
//!   of the measurement on the most cores with the fewest threads); with several engines, the
//!   smallest such `e` among them, the one the best engine reached. The legend says which;
//! - a vertical line at the machine's core count, and a note that no speedup above about that
//!   many times is possible here.

use crate::report::{AmdahlFit, amdahl_fit};
use crate::stats::{amdahl_curve, speedup};
use shared::timeline::escape_xml;
use std::fmt::Write as _;
use std::time::Duration;

/// One engine's measurements: the speedup at each thread count.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// The engine's name, as the tables print it (`scoped`, `pool`, `rayon`).
    pub engine: String,
    /// `(threads, speedup)`, in the order measured; points whose speedup is not a finite
    /// number are left out of the drawing.
    pub points: Vec<(usize, f64)>,
}

impl Series {
    /// The series of `engine` from the sequential time and the median time at each thread
    /// count: speedup = `sequential / time`.
    pub fn from_times(engine: &str, sequential: Duration, times: &[(usize, Duration)]) -> Series {
        Series {
            engine: engine.to_owned(),
            points: times
                .iter()
                .map(|&(threads, time)| (threads, speedup(sequential, time)))
                .collect(),
        }
    }

    fn finite(&self) -> impl Iterator<Item = (usize, f64)> + '_ {
        self.points.iter().copied().filter(|(_, s)| s.is_finite())
    }
}

/// A speedup chart of one workload: what [`SpeedupChart::to_svg`] draws.
#[derive(Debug, Clone, PartialEq)]
pub struct SpeedupChart {
    /// The workload's name, in the title.
    pub workload: String,
    /// Its input, in the title (`Inputs::describe`).
    pub input: String,
    /// How the times were taken, under the title: `median of 7 warm runs per point`.
    pub method: String,
    /// The machine's cores (`available_parallelism`): the vertical marker, and the `p` of
    /// the Amdahl fit.
    pub cores: usize,
    /// One line per engine.
    pub series: Vec<Series>,
}

/// Line colours, one per engine in order: the Okabe-Ito palette (blue, vermillion, bluish
/// green, reddish purple, orange, sky blue), distinct under the common colour blindnesses.
pub const PALETTE: [&str; 6] = [
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9",
];

// The canvas and the plotting area inside it, in SVG user units (pixels).
const WIDTH: f64 = 760.0;
const PLOT_LEFT: f64 = 80.0;
const PLOT_RIGHT: f64 = 720.0;
const PLOT_TOP: f64 = 100.0;
const PLOT_BOTTOM: f64 = 420.0;
const LEGEND_TOP: f64 = 490.0;
const LEGEND_ROW: f64 = 20.0;

/// Where values land on the canvas.
#[derive(Debug, Clone, Copy)]
struct Scale {
    x_max: f64,
    y_max: f64,
}

impl Scale {
    fn x(&self, threads: f64) -> f64 {
        PLOT_LEFT + threads / self.x_max * (PLOT_RIGHT - PLOT_LEFT)
    }

    fn y(&self, speedup: f64) -> f64 {
        PLOT_BOTTOM - speedup / self.y_max * (PLOT_BOTTOM - PLOT_TOP)
    }
}

/// The step between ticks on an axis from 0 to `max`: 1, 2 or 5 times a power of ten, the
/// smallest that makes at most ten steps.
fn tick_step(max: f64) -> f64 {
    let mut power = 1.0;
    loop {
        for step in [1.0, 2.0, 5.0] {
            if max / (step * power) <= 10.0 {
                return step * power;
            }
        }
        power *= 10.0;
    }
}

fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("{n} {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

impl SpeedupChart {
    /// The Amdahl fit the chart draws, and the engine it came from: among the engines whose
    /// measurements give a serial fraction strictly between 0 and 1, the smallest; if none
    /// does, the first engine's fit (which the legend then explains), if any.
    pub fn fit(&self) -> Option<(&str, AmdahlFit)> {
        let fits: Vec<(&str, AmdahlFit)> = self
            .series
            .iter()
            .filter_map(|s| amdahl_fit(s.finite(), self.cores).map(|f| (s.engine.as_str(), f)))
            .collect();
        fits.iter()
            .filter_map(|&(engine, fit)| fit.fraction().map(|e| (e, engine, fit)))
            .min_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, engine, fit)| (engine, fit))
            .or_else(|| fits.first().copied())
    }

    /// The chart as a standalone SVG document.
    pub fn to_svg(&self) -> String {
        let cores = self.cores.max(1);
        let most_threads = self
            .series
            .iter()
            .flat_map(|s| s.finite().map(|(t, _)| t))
            .max()
            .unwrap_or(1);
        let x_max = most_threads.max(cores) as f64;
        let best = self
            .series
            .iter()
            .flat_map(|s| s.finite().map(|(_, s)| s))
            .fold(0.0, f64::max);
        let y_max = x_max.max(best.ceil());
        let scale = Scale { x_max, y_max };
        let fit = self.fit();
        let legend_rows = self.series.len() + 3;
        let height = LEGEND_TOP + legend_rows as f64 * LEGEND_ROW + 40.0;

        let mut svg = String::new();
        let _ = writeln!(
            svg,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="13">"#
        );
        let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
        let _ = writeln!(
            svg,
            r#"<text class="title" x="{}" y="28" text-anchor="middle" font-size="17" font-weight="bold">{}: speedup against threads</text>"#,
            WIDTH / 2.0,
            escape_xml(&self.workload)
        );
        let _ = writeln!(
            svg,
            r#"<text class="input" x="{}" y="50" text-anchor="middle">{}</text>"#,
            WIDTH / 2.0,
            escape_xml(&self.input)
        );
        let _ = writeln!(
            svg,
            r##"<text class="method" x="{}" y="68" text-anchor="middle" font-size="12" fill="#444444">{}</text>"##,
            WIDTH / 2.0,
            escape_xml(&self.method)
        );
        self.axes(&mut svg, scale);
        self.core_marker(&mut svg, scale, cores);

        // The ideal speedup, y = x, from 0 to the right edge.
        let _ = writeln!(
            svg,
            r##"<line class="ideal" x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#555555" stroke-width="1.5" stroke-dasharray="8 5"/>"##,
            scale.x(0.0),
            scale.y(0.0),
            scale.x(x_max),
            scale.y(x_max)
        );
        // Amdahl's law with the fitted serial fraction, from 1 to the right edge.
        if let Some(e) = fit.and_then(|(_, f)| f.fraction()) {
            let steps = 100;
            let points: Vec<String> = (0..=steps)
                .map(|i| {
                    let p = 1.0 + (x_max - 1.0) * i as f64 / steps as f64;
                    format!("{:.1},{:.1}", scale.x(p), scale.y(amdahl_curve(e, p)))
                })
                .collect();
            let _ = writeln!(
                svg,
                r##"<polyline class="amdahl" data-serial-fraction="{e:.4}" points="{}" fill="none" stroke="#000000" stroke-width="1.5" stroke-dasharray="2 4" stroke-linecap="round"/>"##,
                points.join(" ")
            );
        }
        for (i, series) in self.series.iter().enumerate() {
            series_svg(&mut svg, series, i, scale);
        }
        self.legend(&mut svg, fit, height);
        svg.push_str("</svg>\n");
        svg
    }

    fn axes(&self, svg: &mut String, scale: Scale) {
        svg.push_str("<g class=\"axes\" stroke=\"#000000\">\n");
        let _ = writeln!(
            svg,
            r#"<line x1="{PLOT_LEFT}" y1="{PLOT_BOTTOM}" x2="{PLOT_RIGHT}" y2="{PLOT_BOTTOM}"/>"#
        );
        let _ = writeln!(
            svg,
            r#"<line x1="{PLOT_LEFT}" y1="{PLOT_BOTTOM}" x2="{PLOT_LEFT}" y2="{PLOT_TOP}"/>"#
        );
        svg.push_str("</g>\n");
        let _ = writeln!(svg, r#"<g class="x-ticks" text-anchor="middle">"#);
        let step = tick_step(scale.x_max);
        for i in 0..=(scale.x_max / step + 1e-9) as usize {
            let tick = i as f64 * step;
            let x = scale.x(tick);
            let _ = writeln!(
                svg,
                r##"<line x1="{x:.1}" y1="{PLOT_BOTTOM}" x2="{x:.1}" y2="{}" stroke="#000000"/><text x="{x:.1}" y="{}">{tick}</text>"##,
                PLOT_BOTTOM + 6.0,
                PLOT_BOTTOM + 22.0
            );
        }
        svg.push_str("</g>\n");
        let _ = writeln!(svg, r#"<g class="y-ticks" text-anchor="end">"#);
        let step = tick_step(scale.y_max);
        for i in 0..=(scale.y_max / step + 1e-9) as usize {
            let tick = i as f64 * step;
            let y = scale.y(tick);
            let _ = writeln!(
                svg,
                r##"<line x1="{PLOT_LEFT}" y1="{y:.1}" x2="{PLOT_RIGHT}" y2="{y:.1}" stroke="#e4e4e4"/><line x1="{}" y1="{y:.1}" x2="{PLOT_LEFT}" y2="{y:.1}" stroke="#000000"/><text x="{}" y="{:.1}">{tick}x</text>"##,
                PLOT_LEFT - 6.0,
                PLOT_LEFT - 10.0,
                y + 4.0
            );
        }
        svg.push_str("</g>\n");
        let _ = writeln!(
            svg,
            r#"<text class="x-label" x="{}" y="{}" text-anchor="middle">threads</text>"#,
            (PLOT_LEFT + PLOT_RIGHT) / 2.0,
            PLOT_BOTTOM + 44.0
        );
        let (x, y) = (24.0, (PLOT_TOP + PLOT_BOTTOM) / 2.0);
        let _ = writeln!(
            svg,
            r#"<text class="y-label" x="{x}" y="{y}" text-anchor="middle" transform="rotate(-90 {x} {y})">speedup (sequential time / parallel time)</text>"#
        );
    }

    fn core_marker(&self, svg: &mut String, scale: Scale, cores: usize) {
        let x = scale.x(cores as f64);
        let _ = writeln!(
            svg,
            r##"<line class="cores" data-cores="{cores}" x1="{x:.1}" y1="{PLOT_BOTTOM}" x2="{x:.1}" y2="{}" stroke="#999999" stroke-width="2"/>"##,
            PLOT_TOP
        );
        let _ = writeln!(
            svg,
            r#"<text class="cores-label" x="{:.1}" y="{}" text-anchor="start">{}</text>"#,
            x + 6.0,
            PLOT_TOP + 10.0,
            plural(cores, "core")
        );
    }

    fn legend(&self, svg: &mut String, fit: Option<(&str, AmdahlFit)>, height: f64) {
        let (x, text_x) = (PLOT_LEFT, PLOT_LEFT + 44.0);
        let mut y = LEGEND_TOP;
        let _ = writeln!(svg, r#"<g class="legend">"#);
        for (i, series) in self.series.iter().enumerate() {
            let colour = PALETTE[i % PALETTE.len()];
            let _ = writeln!(
                svg,
                r#"<line x1="{x}" y1="{y}" x2="{}" y2="{y}" stroke="{colour}" stroke-width="2.5"/>{}<text x="{text_x}" y="{}">{}: measured speedup</text>"#,
                x + 32.0,
                marker(i, x + 16.0, y, colour, None),
                y + 4.0,
                escape_xml(&series.engine)
            );
            y += LEGEND_ROW;
        }
        let _ = writeln!(
            svg,
            r##"<line x1="{x}" y1="{y}" x2="{}" y2="{y}" stroke="#555555" stroke-width="1.5" stroke-dasharray="8 5"/><text x="{text_x}" y="{}">ideal: n threads, n times as fast (y = x)</text>"##,
            x + 32.0,
            y + 4.0
        );
        y += LEGEND_ROW;
        let _ = writeln!(
            svg,
            r##"<line x1="{x}" y1="{y}" x2="{}" y2="{y}" stroke="#000000" stroke-width="1.5" stroke-dasharray="2 4" stroke-linecap="round"/><text class="amdahl-legend" x="{text_x}" y="{}">{}</text>"##,
            x + 32.0,
            y + 4.0,
            escape_xml(&amdahl_legend(fit))
        );
        y += LEGEND_ROW;
        let _ = writeln!(
            svg,
            r##"<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#999999" stroke-width="2"/><text x="{text_x}" y="{}">the machine&apos;s core count</text>"##,
            x + 16.0,
            y - 8.0,
            x + 16.0,
            y + 8.0,
            y + 4.0
        );
        svg.push_str("</g>\n");
        let cores = self.cores.max(1);
        let note = if cores == 1 {
            "This machine has 1 core: threads only take turns, so nothing above about 1x is \
             possible."
                .to_owned()
        } else {
            format!(
                "This machine has {cores} cores: nothing above about {cores}x is possible here, \
                 however many threads."
            )
        };
        let _ = writeln!(
            svg,
            r#"<text class="note" x="{x}" y="{}" font-style="italic">{}</text>"#,
            height - 16.0,
            escape_xml(&note)
        );
    }
}

/// The legend's words for the Amdahl curve: which serial fraction, from which measurement.
fn amdahl_legend(fit: Option<(&str, AmdahlFit)>) -> String {
    let Some((engine, fit)) = fit else {
        return "Amdahl: nothing measured to fit".to_owned();
    };
    let from = format!(
        "{engine}'s {:.2}x on {} (p = {})",
        fit.speedup,
        plural(fit.threads, "thread"),
        fit.processors
    );
    match (fit.fraction(), fit.serial) {
        (Some(e), _) => {
            format!("Amdahl on p cores, serial fraction e = {e:.3}: Karp-Flatt of {from}")
        }
        (None, None) => "Amdahl: not drawn, one core measures no serial fraction".to_owned(),
        (None, Some(e)) if e <= 0.0 => {
            format!("Amdahl: not drawn, {from} is at or above p-fold: no serial fraction")
        }
        (None, Some(_)) => format!("Amdahl: not drawn, {from} is no speedup at all"),
    }
}

/// An engine's marker: a circle, a square or a triangle, by the engine's place.
fn marker(index: usize, x: f64, y: f64, colour: &str, threads: Option<usize>) -> String {
    let data = threads.map_or(String::new(), |t| {
        format!(r#" class="point" data-threads="{t}""#)
    });
    match index % 3 {
        0 => format!(r#"<circle{data} cx="{x:.1}" cy="{y:.1}" r="5" fill="{colour}"/>"#),
        1 => format!(
            r#"<rect{data} x="{:.1}" y="{:.1}" width="9" height="9" fill="{colour}"/>"#,
            x - 4.5,
            y - 4.5
        ),
        _ => format!(
            r#"<polygon{data} points="{x:.1},{:.1} {:.1},{:.1} {:.1},{:.1}" fill="{colour}"/>"#,
            y - 6.0,
            x - 5.5,
            y + 4.0,
            x + 5.5,
            y + 4.0
        ),
    }
}

fn series_svg(svg: &mut String, series: &Series, index: usize, scale: Scale) {
    let colour = PALETTE[index % PALETTE.len()];
    let points: Vec<(f64, f64)> = series
        .finite()
        .map(|(t, s)| (scale.x(t as f64), scale.y(s)))
        .collect();
    let _ = writeln!(
        svg,
        r#"<g class="series" data-engine="{}">"#,
        escape_xml(&series.engine)
    );
    let _ = writeln!(
        svg,
        r#"<polyline class="speedup" points="{}" fill="none" stroke="{colour}" stroke-width="2.5"/>"#,
        points
            .iter()
            .map(|(x, y)| format!("{x:.1},{y:.1}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    for ((threads, speedup), (x, y)) in series.finite().zip(&points) {
        let _ = writeln!(
            svg,
            "{}",
            marker(index, *x, *y, colour, Some(threads)).replacen(
                "/>",
                &format!(
                    "><title>{}: {speedup:.2}x on {}</title></{}>",
                    escape_xml(&series.engine),
                    plural(threads, "thread"),
                    ["circle", "rect", "polygon"][index % 3]
                ),
                1
            )
        );
    }
    svg.push_str("</g>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Three engines on a 2-core machine at 1, 2 and 4 threads; the pool's 2-thread run gives
    /// the smallest serial fraction: 100 / 52 = 1.923x, e = (0.52 - 0.5) / 0.5 = 0.04.
    fn three_engines() -> SpeedupChart {
        let times = |t1, t2, t4| [(1, ms(t1)), (2, ms(t2)), (4, ms(t4))];
        SpeedupChart {
            workload: "primes".to_owned(),
            input: "primes below 2,000,000 <&> \"quoted\"".to_owned(),
            method: "median of 7 warm runs per point".to_owned(),
            cores: 2,
            series: vec![
                Series::from_times("scoped", ms(100), &times(102, 55, 54)),
                Series::from_times("pool", ms(100), &times(100, 52, 53)),
                Series::from_times("rayon", ms(100), &times(101, 60, 58)),
            ],
        }
    }

    fn class<'a, 'i>(doc: &'a roxmltree::Document<'i>, name: &str) -> Vec<roxmltree::Node<'a, 'i>> {
        doc.descendants()
            .filter(|n| n.attribute("class") == Some(name))
            .collect()
    }

    fn number(node: roxmltree::Node<'_, '_>, attribute: &str) -> f64 {
        node.attribute(attribute)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("a number in {attribute} of {node:?}"))
    }

    fn points(node: roxmltree::Node<'_, '_>) -> Vec<(f64, f64)> {
        node.attribute("points")
            .expect("points")
            .split_whitespace()
            .map(|pair| {
                let (x, y) = pair.split_once(',').expect("x,y");
                (x.parse().expect("x"), y.parse().expect("y"))
            })
            .collect()
    }

    #[test]
    fn the_svg_parses_and_has_a_line_per_engine_with_a_point_per_thread_count() {
        let svg = three_engines().to_svg();
        let doc = roxmltree::Document::parse(&svg).expect("well-formed XML");
        assert_eq!(doc.root_element().tag_name().name(), "svg");
        let series = class(&doc, "series");
        let engines: Vec<&str> = series
            .iter()
            .filter_map(|g| g.attribute("data-engine"))
            .collect();
        assert_eq!(engines, ["scoped", "pool", "rayon"]);
        let mut colours = Vec::new();
        for g in &series {
            let lines: Vec<_> = g
                .children()
                .filter(|n| n.attribute("class") == Some("speedup"))
                .collect();
            assert_eq!(lines.len(), 1, "one polyline per engine");
            assert_eq!(lines[0].tag_name().name(), "polyline");
            assert_eq!(points(lines[0]).len(), 3, "one vertex per thread count");
            colours.push(lines[0].attribute("stroke").expect("a colour"));
            let threads: Vec<&str> = g
                .children()
                .filter(|n| n.attribute("class") == Some("point"))
                .filter_map(|n| n.attribute("data-threads"))
                .collect();
            assert_eq!(threads, ["1", "2", "4"], "one marker per thread count");
        }
        colours.dedup();
        assert_eq!(colours, &PALETTE[..3], "a distinct colour per engine");
    }

    #[test]
    fn the_text_is_escaped() {
        let svg = three_engines().to_svg();
        assert!(svg.contains("&lt;&amp;&gt; &quot;quoted&quot;"), "{svg}");
        let doc = roxmltree::Document::parse(&svg).expect("well-formed XML");
        let input = class(&doc, "input")[0].text().expect("the input");
        assert_eq!(input, "primes below 2,000,000 <&> \"quoted\"");
        let method = class(&doc, "method")[0].text().expect("the method");
        assert_eq!(method, "median of 7 warm runs per point");
        let mut odd = three_engines();
        odd.series[0].engine = "a<b & 'c'".to_owned();
        roxmltree::Document::parse(&odd.to_svg()).expect("well-formed XML");
    }

    #[test]
    fn the_ideal_line_is_y_equals_x() {
        let svg = three_engines().to_svg();
        let doc = roxmltree::Document::parse(&svg).expect("well-formed XML");
        let ideal = class(&doc, "ideal");
        assert_eq!(ideal.len(), 1);
        // Through (0, 0) and (4, 4): the 1-thread marker of a 1.00x engine lies on it.
        let pool = class(&doc, "series")[1];
        let one_thread = pool
            .children()
            .find(|n| n.attribute("data-threads") == Some("1"))
            .expect("the pool's 1-thread marker");
        let (x, y) = (number(one_thread, "x") + 4.5, number(one_thread, "y") + 4.5);
        let (x1, y1, x2, y2) = (
            number(ideal[0], "x1"),
            number(ideal[0], "y1"),
            number(ideal[0], "x2"),
            number(ideal[0], "y2"),
        );
        // Its distance from the line, in pixels: within the rounding to 0.1 px.
        let distance =
            ((x - x1) * (y2 - y1) - (y - y1) * (x2 - x1)).abs() / (x2 - x1).hypot(y2 - y1);
        assert!(
            distance < 0.5,
            "({x}, {y}) is {distance} px off the ideal line"
        );
        assert!(y2 < y1, "rising");
    }

    #[test]
    fn the_amdahl_curve_uses_the_smallest_serial_fraction_and_says_so() {
        let chart = three_engines();
        let (engine, fit) = chart.fit().expect("a fit");
        assert_eq!((engine, fit.threads, fit.processors), ("pool", 2, 2));
        let e = fit.fraction().expect("a serial fraction");
        assert!((e - 0.04).abs() < 1e-9, "{e}");
        let svg = chart.to_svg();
        let doc = roxmltree::Document::parse(&svg).expect("well-formed XML");
        let amdahl = class(&doc, "amdahl");
        assert_eq!(amdahl.len(), 1);
        assert_eq!(amdahl[0].attribute("data-serial-fraction"), Some("0.0400"));
        assert!(amdahl[0].attribute("stroke-dasharray").is_some(), "dotted");
        // A curve: from 1x at one thread, rising ever more slowly, below the ideal line.
        let curve = points(amdahl[0]);
        assert!(curve.len() > 10);
        let legend = class(&doc, "amdahl-legend")[0].text().expect("words");
        assert!(
            legend.contains("e = 0.040") && legend.contains("pool's 1.92x on 2 threads (p = 2)"),
            "{legend}"
        );
        assert!(legend.contains("Karp-Flatt"), "{legend}");
        let rises: Vec<f64> = curve.windows(2).map(|w| w[0].1 - w[1].1).collect();
        assert!(
            rises.iter().all(|&r| r >= 0.0),
            "rising (y grows downwards)"
        );
        assert!(rises[0] > rises[rises.len() - 1], "flattening");
    }

    #[test]
    fn no_curve_where_no_serial_fraction_is_measurable() {
        let mut chart = three_engines();
        chart.series = vec![Series::from_times(
            "scoped",
            ms(100),
            &[(1, ms(100)), (2, ms(49))],
        )];
        let svg = chart.to_svg();
        let doc = roxmltree::Document::parse(&svg).expect("well-formed XML");
        assert!(class(&doc, "amdahl").is_empty());
        let legend = class(&doc, "amdahl-legend")[0].text().expect("words");
        assert!(
            legend.contains("not drawn") && legend.contains("at or above"),
            "{legend}"
        );
    }

    #[test]
    fn the_core_marker_stands_at_the_core_count() {
        let svg = three_engines().to_svg();
        let doc = roxmltree::Document::parse(&svg).expect("well-formed XML");
        let cores = class(&doc, "cores");
        assert_eq!(cores.len(), 1);
        let x = number(cores[0], "x1");
        assert_eq!(x, number(cores[0], "x2"), "vertical");
        // At the same x as every engine's 2-thread point, and at no other thread count's.
        let scoped = class(&doc, "series")[0];
        let at = |threads: &str| {
            let point = scoped
                .children()
                .find(|n| n.attribute("data-threads") == Some(threads))
                .expect("a marker");
            number(point, "cx")
        };
        assert_eq!(at("2"), x);
        assert!(at("1") < x && x < at("4"));
        let label = class(&doc, "cores-label")[0].text();
        assert_eq!(label, Some("2 cores"));
        let note = class(&doc, "note")[0].text().expect("a note");
        assert!(
            note.contains("2 cores") && note.contains("about 2x"),
            "{note}"
        );
    }

    #[test]
    fn the_axes_have_ticks_up_to_the_largest_value() {
        let mut chart = three_engines();
        chart.cores = 16;
        chart.series[0].points.extend([(16, 12.5), (3, f64::NAN)]);
        let svg = chart.to_svg();
        let doc = roxmltree::Document::parse(&svg).expect("well-formed XML");
        let labels = |name: &str| -> Vec<String> {
            class(&doc, name)[0]
                .descendants()
                .filter(|n| n.has_tag_name("text"))
                .filter_map(|n| n.text().map(str::to_owned))
                .collect()
        };
        assert_eq!(
            labels("x-ticks"),
            ["0", "2", "4", "6", "8", "10", "12", "14", "16"]
        );
        assert_eq!(labels("y-ticks").last().map(String::as_str), Some("16x"));
        // The NaN point is left out; the 16-thread one is drawn.
        let scoped = class(&doc, "series")[0];
        let threads: Vec<&str> = scoped
            .children()
            .filter_map(|n| n.attribute("data-threads"))
            .collect();
        assert_eq!(threads, ["1", "2", "4", "16"]);
        assert_eq!(class(&doc, "cores-label")[0].text(), Some("16 cores"));
    }

    #[test]
    fn tick_steps_are_round() {
        assert_eq!(tick_step(4.0), 1.0);
        assert_eq!(tick_step(10.0), 1.0);
        assert_eq!(tick_step(16.0), 2.0);
        assert_eq!(tick_step(64.0), 10.0);
        assert_eq!(tick_step(256.0), 50.0);
    }
}
