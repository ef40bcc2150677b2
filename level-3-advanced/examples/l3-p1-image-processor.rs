//! # Project l3-p1: an image processor in parallel tiles
//!
//! The Node course names an image processor as a practice project and builds none (its
//! nearest material XORs bytes of a fake 50 MB buffer). In Node, each tile and the border its
//! filter needs would be copied to a `Worker` with `postMessage`, and the filtered tile posted
//! back for the main thread to stitch. Here the tiles are tasks in a `shared::WorkerPool`
//! scope: they *borrow* the image, cut out their tile plus its halo, run the filter on that
//! patch and write the result into their own slot; the scope returns when all are done.
//!
//! Shows: a chain of filters (grayscale, invert, box blur, Sobel edges), each run twice, on
//! the main thread and in tiles on the pool; the two outputs compared pixel for pixel (the
//! halo is what makes them equal), the per-filter time ratio sequential / parallel, the tiles
//! each pool thread took; then the PNG written and read back to check the file.
//!
//! Run: `cargo run --release --example l3-p1-image-processor` (a fraction of a second; it
//! makes its own 2400x1800 test card). Options: `--input PATH` (any PNG: 8-bit gray, gray+alpha,
//! RGB, RGBA as they are; 16-bit and palette images converted), `--filters
//! grayscale,blur,edges`, `--radius 2`, `--threads N`, `--tile 64`, `--output PATH`; `--help`.
//!
//! Expect: one line per filter (`sequential`, `parallel (N threads)`, `speedup`, tiles per
//! thread), the path written (under the system's temp directory by default), then `result:
//! 3 filters on 2400x1800 pixels in about 1,100 tiles on N threads: tiled output identical to
//! sequential; speedup S x`. On a 2-core machine the speedup tops out near 2x, and only the
//! blur comes near it: grayscale is a single pass bound by memory, not arithmetic, and the
//! edge filter is cheap per pixel, so their ratios stay lower (and may fall below 1).
//! The ratios vary from run to run, the more so on a busy machine.

use anyhow::{Context, bail};
use level_3_advanced::projects::image::{
    FILTER_NAMES, Image, MAX_RADIUS, TIMING_RUNS, parse_filters, read_png, run_chain, write_png,
};
use std::path::PathBuf;
use std::thread;

const HELP: &str = "\
l3-p1-image-processor: runs a chain of filters on a PNG in parallel tiles

USAGE: cargo run --release --example l3-p1-image-processor -- [OPTIONS]

OPTIONS:
  --input PATH     the PNG to process (default: a generated 2400x1800 test card)
  --filters LIST   comma-separated, from grayscale, invert, blur, edges
                   (default grayscale,blur,edges)
  --radius N       the blur radius, 0 to 32 (default 2)
  --threads N      threads in the worker pool (default: the machine's logical cores)
  --tile N         side of a square tile in pixels (default 64)
  --output PATH    the PNG to write (default: l3-p1-image-processor.png in the temp directory)
  --help           print this help";

/// The command line, parsed.
#[derive(Debug)]
struct Options {
    input: Option<PathBuf>,
    filters: String,
    radius: u16,
    threads: usize,
    tile: usize,
    output: PathBuf,
}

/// Reads the options; `None` means `--help` was asked for.
fn parse(args: impl IntoIterator<Item = String>) -> anyhow::Result<Option<Options>> {
    let mut options = Options {
        input: None,
        filters: "grayscale,blur,edges".to_owned(),
        radius: 2,
        threads: thread::available_parallelism().map_or(2, |n| n.get()),
        tile: 64,
        output: std::env::temp_dir().join("l3-p1-image-processor.png"),
    };
    let mut args = args.into_iter();
    while let Some(flag) = args.next() {
        if flag == "--help" || flag == "-h" {
            return Ok(None);
        }
        if !matches!(
            flag.as_str(),
            "--input" | "--filters" | "--radius" | "--threads" | "--tile" | "--output"
        ) {
            bail!("unknown option {flag:?} (see --help)");
        }
        let value = args
            .next()
            .with_context(|| format!("{flag} needs a value"))?;
        let number = || {
            value
                .parse::<usize>()
                .with_context(|| format!("{flag} expects a whole number, got {value:?}"))
        };
        match flag.as_str() {
            "--input" => options.input = Some(PathBuf::from(&value)),
            "--filters" => options.filters = value.clone(),
            "--radius" => {
                // Above MAX_RADIUS is refused by `parse_filters`, with the limit in the message.
                options.radius = value.parse().with_context(|| {
                    format!("--radius expects a whole number from 0 to {MAX_RADIUS}, got {value:?}")
                })?;
            }
            "--threads" => options.threads = number()?,
            "--tile" => options.tile = number()?,
            _ => options.output = PathBuf::from(&value),
        }
    }
    Ok(Some(options))
}

fn main() -> anyhow::Result<()> {
    let Some(options) = parse(std::env::args().skip(1))? else {
        println!("{HELP}");
        return Ok(());
    };
    // Check the cheap things before reading a possibly large file.
    let filters = parse_filters(&options.filters, options.radius)?;
    let image = match &options.input {
        Some(path) => read_png(path)?,
        None => Image::test_card(2400, 1800)?,
    };
    let source = match &options.input {
        Some(path) => path.display().to_string(),
        None => "a generated test card".to_owned(),
    };
    let chain: Vec<String> = filters.iter().map(ToString::to_string).collect();
    println!(
        "[main] input: {source}, {}x{} {}",
        image.width(),
        image.height(),
        image.layout()
    );
    println!(
        "[main] filters: {}; {}x{} tiles on a pool of {} threads (known filters: {})",
        chain.join(" -> "),
        options.tile,
        options.tile,
        options.threads,
        FILTER_NAMES.join(", ")
    );

    let report = run_chain(&image, &filters, options.threads, options.tile)?;
    for stage in &report.stages {
        assert_eq!(
            stage.first_difference, None,
            "{}: the tiled output differs from the sequential one",
            stage.filter
        );
        assert_eq!(stage.tiles_per_thread.values().sum::<usize>(), stage.tiles);
    }
    assert!(report.identical());
    let output = &report.output;
    assert_eq!(
        (output.width(), output.height()),
        (image.width(), image.height())
    );
    println!("[main] every filter: tiled output identical to sequential, pixel for pixel");
    let parallel_label = format!("parallel ({} threads)", report.threads);
    for stage in &report.stages {
        let spread: Vec<String> = stage
            .tiles_per_thread
            .iter()
            .map(|(thread, tiles)| format!("{thread} {tiles}"))
            .collect();
        println!(
            "[main] {:<16} sequential {:>7.2} ms   {parallel_label} {:>7.2} ms   speedup {:>5.2}x   \
             tiles: {}",
            stage.filter.to_string(),
            stage.sequential.as_secs_f64() * 1e3,
            stage.parallel.as_secs_f64() * 1e3,
            stage.speedup(),
            spread.join(", ")
        );
    }
    println!(
        "[main] whole chain: speedup {:.2}x (best of {TIMING_RUNS} runs each way; on 2 cores, at \
         most about 2x)",
        report.speedup()
    );

    write_png(output, &options.output)?;
    let written = read_png(&options.output).context("reading back the image just written")?;
    assert_eq!(&written, output, "the PNG file holds the processed image");
    println!(
        "[main] wrote {} ({}x{} {})",
        options.output.display(),
        output.width(),
        output.height(),
        output.layout()
    );
    println!(
        "result: {} filters on {}x{} pixels in {} tiles on {} threads: tiled output identical to \
         sequential; speedup {:.2}x",
        report.stages.len(),
        image.width(),
        image.height(),
        report.stages[0].tiles,
        report.threads,
        report.speedup()
    );
    Ok(())
}
