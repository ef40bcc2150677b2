//! # Project l3-p4: a ray tracer in parallel tiles
//!
//! The Node course names a ray tracer as a practice project and builds none. In Node, the
//! tiles would be posted to a pool of `Worker`s, each with its own copy of the scene, and come
//! back as transferred `ArrayBuffer`s for the main thread to stitch and count on a progress
//! bar. Here scoped threads *borrow* the one scene, take tile numbers from a shared
//! `AtomicUsize` (so a thread that drew cheap sky tiles simply takes more), and send each
//! finished tile back over a channel; only the main thread pastes tiles and draws the bar.
//!
//! Shows: spheres and a checkered floor, matte and mirror materials, hard shadows, and
//! anti-aliasing with a fixed sample pattern (no random numbers, so no thread can change the
//! picture). The picture is rendered twice, on 1 thread and on N, the two compared byte for
//! byte before the speedup is printed, then saved as a PNG and read back to check the file.
//!
//! Run: `cargo run --release --example l3-p4-ray-tracer` (about a second). Options:
//! `--width 640 --height 360 --samples 8 --threads N --tile 32 --output PATH --verbose`;
//! `--help` gives their limits.
//!
//! Bad input is refused before any work, in one line on stderr, `error: <what> (<why>)`: exit
//! code 2 for bad usage (an unknown option, a bad or out-of-range number, more than 2^28 rays
//! in all), 1 for a run that failed (an output that cannot be written, checked before the
//! first ray).
//!
//! Expect: in a terminal, a progress bar per render (`tiles done / total`; hidden when stderr
//! is not a terminal); a summary line per render with the tiles each thread took; the path
//! written (under the system's temp directory by default); then
//! `result: 640x360 pixels, 8 samples, 240 tiles: the same bytes on 1 and N threads;
//! speedup S x`. On a 2-core machine the speedup tops out near 2x; below 1.5x on 2 or more
//! threads and cores, a `note:` line says how busy the rest of the machine was meanwhile
//! (`shared::timing::CpuWatch`). A picture so small that a render takes under a millisecond
//! prints `not compared (under 1 ms)` instead of a ratio.

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use level_3_advanced::projects::cli::{
    self, Args, EXIT_CODES, MAX_THREADS, check_writable, unknown_flag, usage,
};
use level_3_advanced::projects::image::read_png;
use level_3_advanced::projects::raytracer::{
    MAX_SAMPLES, MAX_SIDE, Render, RenderSettings, Scene, render, save,
};
use shared::timing::{CpuWatch, compare, compare_text};
use std::path::PathBuf;
use std::process::ExitCode;

/// The most rays one render may trace (width x height x samples): 2^28, about 145 times the
/// default picture's 1,843,200. Each side and the samples have their own limits, but together
/// they would allow 17 billion rays per render, hours of work.
const MAX_RAYS: u64 = 1 << 28;

/// The smallest and largest tile side accepted: a tile of 1 pixel is one channel message per
/// pixel, the overhead measured instead of the rendering.
const TILE_SIDES: (usize, usize) = (4, 4096);

const HELP: &str = "\
l3-p4-ray-tracer: renders a scene in parallel tiles and writes a PNG

USAGE: cargo run --release --example l3-p4-ray-tracer -- [OPTIONS]

OPTIONS:
  --width N      picture width in pixels, 1 to 8192 (default 640)
  --height N     picture height in pixels, 1 to 8192 (default 360)
  --samples N    rays per pixel, for anti-aliasing, 1 to 256 (default 8); width x height x
                 samples at most 268435456
  --threads N    threads for the parallel render, 1 to 256 (default: the machine's logical cores)
  --tile N       side of a square tile in pixels, 4 to 4096 (default 32)
  --output PATH  the PNG to write (default: l3-p4-ray-tracer.png in the temp directory); checked
                 to be writable before any work
  --verbose      on an error, print every cause on its own line
  --help         print this help
";

/// The command line, parsed.
#[derive(Debug)]
struct Options {
    settings: RenderSettings,
    output: PathBuf,
    verbose: bool,
}

/// Reads and checks the options; `None` means `--help` was asked for. Every error is a usage
/// error (exit code 2).
fn parse(mut args: Args) -> anyhow::Result<Option<Options>> {
    let mut settings = RenderSettings {
        width: 640,
        height: 360,
        samples: 8,
        threads: cli::default_threads(),
        tile_size: 32,
    };
    let mut output = std::env::temp_dir().join("l3-p4-ray-tracer.png");
    let mut verbose = false;
    while let Some(flag) = args.next_flag()? {
        match flag.as_str() {
            "--help" | "-h" => return Ok(None),
            "--verbose" => verbose = true,
            "--width" => settings.width = args.number(&flag, 1, MAX_SIDE)?,
            "--height" => settings.height = args.number(&flag, 1, MAX_SIDE)?,
            "--samples" => settings.samples = args.number(&flag, 1, MAX_SAMPLES)?,
            "--threads" => settings.threads = args.number(&flag, 1, MAX_THREADS)?,
            "--tile" => settings.tile_size = args.number(&flag, TILE_SIDES.0, TILE_SIDES.1)?,
            "--output" => output = args.path(&flag)?,
            other => return Err(unknown_flag(other)),
        }
    }
    let rays = [settings.width, settings.height, settings.samples]
        .into_iter()
        .map(|n| n as u64)
        .product::<u64>();
    if rays > MAX_RAYS {
        return Err(usage(
            format!(
                "{}x{} pixels x {} samples is {rays} rays",
                settings.width, settings.height, settings.samples
            ),
            format!("at most {MAX_RAYS}: a smaller picture or fewer samples"),
        ));
    }
    settings
        .validate()
        .map_err(|error| usage("bad render settings", error.to_string()))?;
    Ok(Some(Options {
        settings,
        output,
        verbose,
    }))
}

fn label(threads: usize) -> String {
    match threads {
        1 => "1 thread".to_owned(),
        n => format!("{n} threads"),
    }
}

/// One render with a progress bar, drawn by this thread only: the render threads never touch
/// it, they only send their tiles.
fn render_with_bar(scene: &Scene, settings: &RenderSettings) -> anyhow::Result<Render> {
    let label = label(settings.threads);
    let bar = ProgressBar::new(0)
        .with_style(
            ProgressStyle::with_template("{prefix:>10} [{bar:40.cyan/blue}] {pos}/{len} tiles")
                .context("bad progress bar template")?
                .progress_chars("=> "),
        )
        .with_prefix(label);
    let rendered = render(scene, settings, |progress| {
        bar.set_length(progress.total as u64);
        bar.set_position(progress.done as u64);
    })?;
    bar.finish();
    if !bar.is_hidden() {
        eprintln!(); // leave the finished bar on its own line
    }
    Ok(rendered)
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
    let Options {
        settings, output, ..
    } = options;
    let settings = *settings;
    // The one thing the arguments cannot say: whether the output can be written. Checked
    // before the renders, not after them.
    check_writable(output, "the output file")?;
    let scene = Scene::demo();
    println!(
        "[main] rendering {}x{} pixels, {} samples per pixel, in {}x{} tiles{}",
        settings.width,
        settings.height,
        settings.samples,
        settings.tile_size,
        settings.tile_size,
        cli::debug_build_note()
    );

    let watch = CpuWatch::start();
    let one = render_with_bar(
        &scene,
        &RenderSettings {
            threads: 1,
            ..settings
        },
    )?;
    let many = render_with_bar(&scene, &settings)?;
    assert_eq!(
        one.image.pixels(),
        many.image.pixels(),
        "the picture must not depend on the thread count"
    );
    assert_eq!(one.tiles_per_thread.values().sum::<usize>(), one.tiles);
    assert_eq!(many.tiles_per_thread.values().sum::<usize>(), many.tiles);
    assert!(many.tiles_per_thread.len() <= settings.threads);

    println!(
        "[main] 1 thread and {} threads gave the same {} bytes",
        settings.threads,
        many.image.pixels().len()
    );
    for (threads, rendered) in [(1, &one), (settings.threads, &many)] {
        let spread: Vec<String> = rendered
            .tiles_per_thread
            .iter()
            .map(|(thread, tiles)| format!("{thread} {tiles}"))
            .collect();
        println!(
            "[main] {:>10}: {} tiles (tiles per thread: {})",
            label(threads),
            rendered.tiles,
            spread.join(", ")
        );
    }
    // A render under shared::timing::MIN_COMPARABLE (a tiny picture) gets no ratio: a 1x1
    // render once printed "speedup 9.94x" on 2 cores, the noise of starting threads.
    let speedup = compare_text(one.elapsed, many.elapsed);
    println!(
        "[main] sequential (1 thread)     {:>8.1} ms",
        one.elapsed.as_secs_f64() * 1e3
    );
    println!(
        "[main] parallel ({} threads)     {:>8.1} ms",
        settings.threads,
        many.elapsed.as_secs_f64() * 1e3
    );
    match compare(one.elapsed, many.elapsed) {
        Some(ratio) => {
            println!(
                "[main] speedup                  {ratio:>8.2}x (on 2 cores, at most about 2x)"
            );
            if let Some(note) = cli::shortfall_note(&watch, Some(ratio), settings.threads) {
                println!("[main] {note}");
            }
        }
        None => println!("[main] speedup                  {speedup}: try a bigger picture"),
    }

    save(&many.image, output)?;
    let written = read_png(output).context("reading back the picture just written")?;
    assert_eq!(
        written, many.image,
        "the PNG file holds the rendered picture"
    );
    println!("[main] wrote {}", output.display());
    println!(
        "result: {}x{} pixels, {} samples, {} tiles: the same bytes on 1 and {} threads; \
         speedup {speedup}",
        settings.width, settings.height, settings.samples, many.tiles, settings.threads
    );
    Ok(())
}
