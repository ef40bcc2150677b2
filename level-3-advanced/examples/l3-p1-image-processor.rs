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
//! grayscale,blur,edges`, `--radius 2`, `--threads N` (1 to 256), `--tile 64` (8 to 4096),
//! `--output PATH`, `--verbose`; `--help`.
//!
//! Bad input is refused before any work, in one line on stderr, `error: <what> (<why>)`: exit
//! code 2 for bad usage (an unknown option, a bad or out-of-range number, an unknown filter),
//! 1 for a run that failed (an input that is not a readable PNG, an output that cannot be
//! written: checked before the input is even read).
//!
//! Expect: one line per filter (`sequential`, `parallel (N threads)`, `speedup`, tiles per
//! thread), the path written (under the system's temp directory by default), then `result:
//! 3 filters on 2400x1800 pixels in about 1,100 tiles on N threads: tiled output identical to
//! sequential; speedup S x`; on an image so small that a filter takes under a millisecond,
//! `not compared (under 1 ms)` instead of a ratio. On a 2-core machine the speedup tops out near 2x, and only the
//! blur comes near it: grayscale is a single pass bound by memory, not arithmetic, and the
//! edge filter is cheap per pixel, so their ratios stay lower (and may fall below 1).
//! The ratios vary from run to run, the more so on a busy machine.

use anyhow::Context;
use level_3_advanced::projects::cli::{
    self, Args, EXIT_CODES, MAX_THREADS, check_writable, unknown_flag, usage,
};
use level_3_advanced::projects::image::{
    FILTER_NAMES, Filter, Image, MAX_RADIUS, TIMING_RUNS, parse_filters, read_png, run_chain,
    write_png,
};
use shared::timing::{compare, compare_text};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// The longest filter chain accepted: each filter is run six times (three sequential, three
/// tiled), so a chain of thousands would run for hours.
const MAX_FILTERS: usize = 16;

/// The smallest and largest tile side accepted. A 1-pixel tile makes one task per pixel (4.3
/// million for the test card), each with its own buffer: the pool's overhead, not the filter.
const TILE_SIDES: (usize, usize) = (8, 4096);

const HELP: &str = "\
l3-p1-image-processor: runs a chain of filters on a PNG in parallel tiles

USAGE: cargo run --release --example l3-p1-image-processor -- [OPTIONS]

OPTIONS:
  --input PATH     the PNG to process (default: a generated 2400x1800 test card)
  --filters LIST   1 to 16 comma-separated, from grayscale, invert, blur, edges
                   (default grayscale,blur,edges)
  --radius N       the blur radius, 0 to 32 (default 2)
  --threads N      threads in the worker pool, 1 to 256 (default: the machine's logical cores)
  --tile N         side of a square tile in pixels, 8 to 4096 (default 64)
  --output PATH    the PNG to write (default: l3-p1-image-processor.png in the temp directory);
                   checked to be writable before any work
  --verbose        on an error, print every cause on its own line
  --help           print this help
";

/// The command line, parsed and checked.
#[derive(Debug)]
struct Options {
    input: Option<PathBuf>,
    filters: Vec<Filter>,
    threads: usize,
    tile: usize,
    output: PathBuf,
    verbose: bool,
}

/// Reads and checks the options; `None` means `--help` was asked for. Every error is a
/// usage error (exit code 2), found before any file is touched.
fn parse(mut args: Args) -> anyhow::Result<Option<Options>> {
    let mut input = None;
    let mut filters = "grayscale,blur,edges".to_owned();
    let mut radius = 2;
    let mut threads = cli::default_threads();
    let mut tile = 64;
    let mut output = std::env::temp_dir().join("l3-p1-image-processor.png");
    let mut verbose = false;
    while let Some(flag) = args.next_flag()? {
        match flag.as_str() {
            "--help" | "-h" => return Ok(None),
            "--verbose" => verbose = true,
            "--input" => input = Some(args.path(&flag)?),
            "--filters" => filters = args.text(&flag)?,
            "--radius" => radius = args.number(&flag, 0, MAX_RADIUS)?,
            "--threads" => threads = args.number(&flag, 1, MAX_THREADS)?,
            "--tile" => tile = args.number(&flag, TILE_SIDES.0, TILE_SIDES.1)?,
            "--output" => output = args.path(&flag)?,
            other => return Err(unknown_flag(other)),
        }
    }
    let count = filters.split(',').count();
    if count > MAX_FILTERS {
        return Err(usage(
            format!("--filters names {count} filters"),
            format!("at most {MAX_FILTERS}"),
        ));
    }
    let filters = parse_filters(&filters, radius)
        .map_err(|error| usage(format!("bad --filters {filters:?}"), error.to_string()))?;
    Ok(Some(Options {
        input,
        filters,
        threads,
        tile,
        output,
        verbose,
    }))
}

fn main() -> ExitCode {
    let options = match parse(Args::from_env()) {
        Ok(Some(options)) => options,
        Ok(None) => {
            println!("{HELP}\n{EXIT_CODES}");
            return ExitCode::SUCCESS;
        }
        Err(error) => return cli::fail(&error, false),
    };
    match run(&options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => cli::fail(&error, options.verbose),
    }
}

fn run(options: &Options) -> anyhow::Result<()> {
    // Everything that can fail without the work, before it: the output first (cheap), then the
    // input (possibly large).
    check_writable(&options.output, "the output file")?;
    let filters = &options.filters;
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

    let report = run_chain(&image, filters, options.threads, options.tile)?;
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
            "[main] {:<16} sequential {:>7.2} ms   {parallel_label} {:>7.2} ms   speedup {:>5}   \
             tiles: {}",
            stage.filter.to_string(),
            stage.sequential.as_secs_f64() * 1e3,
            stage.parallel.as_secs_f64() * 1e3,
            compare_text(stage.sequential, stage.parallel),
            spread.join(", ")
        );
    }
    // Below shared::timing::MIN_COMPARABLE on either side (a tiny image), no ratio is printed:
    // it would be noise, not the speed of the threads.
    let sequential: Duration = report.stages.iter().map(|s| s.sequential).sum();
    let parallel: Duration = report.stages.iter().map(|s| s.parallel).sum();
    let speedup = compare_text(sequential, parallel);
    if compare(sequential, parallel).is_some() {
        println!(
            "[main] whole chain: speedup {speedup} (best of {TIMING_RUNS} runs each way; on 2 \
             cores, at most about 2x{})",
            cli::debug_build_note()
        );
    } else {
        println!("[main] whole chain: speedup {speedup}: try a bigger image");
    }

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
         sequential; speedup {speedup}",
        report.stages.len(),
        image.width(),
        image.height(),
        report.stages[0].tiles,
        report.threads,
    );
    Ok(())
}
