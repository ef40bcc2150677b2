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
//! `--width 640 --height 360 --samples 8 --threads N --tile 32 --output PATH`; `--help`.
//!
//! Expect: in a terminal, a progress bar per render (`tiles done / total`; hidden when stderr
//! is not a terminal); a summary line per render with the tiles each thread took; the path
//! written (under the system's temp directory by default); then
//! `result: 640x360 pixels, 8 samples, 240 tiles: the same bytes on 1 and N threads;
//! speedup S x`. On a 2-core machine the speedup tops out near 2x.

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use level_3_advanced::projects::image::read_png;
use level_3_advanced::projects::raytracer::{Render, RenderSettings, Scene, render, save};
use shared::timing::ratio;
use std::path::PathBuf;
use std::thread;

const HELP: &str = "\
l3-p4-ray-tracer: renders a scene in parallel tiles and writes a PNG

USAGE: cargo run --release --example l3-p4-ray-tracer -- [OPTIONS]

OPTIONS:
  --width N      picture width in pixels (default 640)
  --height N     picture height in pixels (default 360)
  --samples N    rays per pixel, for anti-aliasing (default 8)
  --threads N    threads for the parallel render (default: the machine's logical cores)
  --tile N       side of a square tile in pixels (default 32)
  --output PATH  the PNG to write (default: l3-p4-ray-tracer.png in the temp directory)
  --help         print this help";

/// The command line, parsed.
#[derive(Debug)]
struct Options {
    settings: RenderSettings,
    output: PathBuf,
}

/// Reads the options; `None` means `--help` was asked for.
fn parse(args: impl IntoIterator<Item = String>) -> anyhow::Result<Option<Options>> {
    let cores = thread::available_parallelism().map_or(2, |n| n.get());
    let mut settings = RenderSettings {
        width: 640,
        height: 360,
        samples: 8,
        threads: cores,
        tile_size: 32,
    };
    let mut output = std::env::temp_dir().join("l3-p4-ray-tracer.png");
    let mut args = args.into_iter();
    while let Some(flag) = args.next() {
        if flag == "--help" || flag == "-h" {
            return Ok(None);
        }
        let target = match flag.as_str() {
            "--width" => &mut settings.width,
            "--height" => &mut settings.height,
            "--samples" => &mut settings.samples,
            "--threads" => &mut settings.threads,
            "--tile" => &mut settings.tile_size,
            "--output" => {
                let value = args.next().context("--output needs a path")?;
                output = PathBuf::from(value);
                continue;
            }
            other => bail!("unknown option {other:?} (see --help)"),
        };
        let value = args
            .next()
            .with_context(|| format!("{flag} needs a number"))?;
        *target = value
            .parse()
            .with_context(|| format!("{flag} expects a whole number, got {value:?}"))?;
    }
    settings.validate()?;
    Ok(Some(Options { settings, output }))
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

fn main() -> anyhow::Result<()> {
    let Some(Options { settings, output }) = parse(std::env::args().skip(1))? else {
        println!("{HELP}");
        return Ok(());
    };
    let scene = Scene::demo();
    println!(
        "[main] rendering {}x{} pixels, {} samples per pixel, in {}x{} tiles; use --release",
        settings.width, settings.height, settings.samples, settings.tile_size, settings.tile_size
    );

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
    let speedup = ratio(one.elapsed, many.elapsed);
    println!(
        "[main] sequential (1 thread)     {:>8.1} ms",
        one.elapsed.as_secs_f64() * 1e3
    );
    println!(
        "[main] parallel ({} threads)     {:>8.1} ms",
        settings.threads,
        many.elapsed.as_secs_f64() * 1e3
    );
    println!("[main] speedup                  {speedup:>8.2}x (on 2 cores, at most about 2x)");

    save(&many.image, &output)?;
    let written = read_png(&output).context("reading back the picture just written")?;
    assert_eq!(
        written, many.image,
        "the PNG file holds the rendered picture"
    );
    println!("[main] wrote {}", output.display());
    println!(
        "result: {}x{} pixels, {} samples, {} tiles: the same bytes on 1 and {} threads; \
         speedup {speedup:.2}x",
        settings.width, settings.height, settings.samples, many.tiles, settings.threads
    );
    Ok(())
}
