//! Tests of the ray tracer project (`l3-p4-ray-tracer`,
//! `level-3-advanced/src/projects/raytracer/`).
//!
//! The central claim: the picture does not depend on the thread count or the tile size, byte
//! for byte. Then: progress is reported once per tile, on the calling thread; tiles are
//! shared among the render threads; the picture shows the scene; bad settings and an
//! unwritable output are typed errors. No test depends on timing; every render runs under
//! `run_within`, so a deadlock fails instead of hanging.

use level_3_advanced::projects::image::{ImageError, Layout, read_png};
use level_3_advanced::projects::raytracer::{
    MAX_SAMPLES, MAX_SIDE, Render, RenderError, RenderSettings, Scene, render, render_sequential,
    save,
};
use shared::testing::{TIMEOUT, run_within};
use std::thread;
use std::time::Duration;

/// Generous: the sweep renders two dozen small pictures in a debug build.
const SWEEP_TIMEOUT: Duration = Duration::from_secs(120);

fn settings(
    width: usize,
    height: usize,
    samples: usize,
    threads: usize,
    tile_size: usize,
) -> RenderSettings {
    RenderSettings {
        width,
        height,
        samples,
        threads,
        tile_size,
    }
}

/// Renders the demo scene without watching progress, failing the test on an error.
fn render_demo(settings: RenderSettings) -> Render {
    render(&Scene::demo(), &settings, |_| {}).unwrap_or_else(|e| panic!("{settings:?}: {e}"))
}

#[test]
fn the_picture_is_the_same_at_every_thread_count_and_tile_size() {
    run_within(SWEEP_TIMEOUT, "the render sweep", || {
        let scene = Scene::demo();
        let (width, height, samples) = (37, 23, 2);
        let reference = render_sequential(&scene, width, height, samples).unwrap();
        // Tiles of one pixel, of odd sizes, and larger than the picture.
        for tile_size in [1, 5, 16, 64] {
            for threads in [1, 2, 3, 4, 8] {
                let rendered = render_demo(settings(width, height, samples, threads, tile_size));
                assert_eq!(
                    rendered.image.pixels(),
                    reference.pixels(),
                    "{threads} threads, tiles of {tile_size}"
                );
            }
        }
    });
}

#[test]
fn one_pixel_and_one_row_pictures_render_like_the_reference() {
    run_within(TIMEOUT, "tiny pictures", || {
        let scene = Scene::demo();
        for (width, height) in [(1, 1), (9, 1), (1, 7)] {
            let reference = render_sequential(&scene, width, height, 3).unwrap();
            let rendered = render_demo(settings(width, height, 3, 4, 4));
            assert_eq!(rendered.image, reference, "{width}x{height}");
            assert_eq!(rendered.image.layout(), Layout::Rgb);
        }
    });
}

#[test]
fn progress_comes_once_per_tile_in_order_on_the_calling_thread() {
    let (tiles, seen, threads_seen) = run_within(TIMEOUT, "a render with progress", || {
        let caller = thread::current().id();
        let mut seen = Vec::new();
        let mut threads_seen = Vec::new();
        let rendered = render(&Scene::demo(), &settings(30, 20, 1, 3, 8), |progress| {
            assert_eq!(
                thread::current().id(),
                caller,
                "progress is reported on the caller"
            );
            seen.push((progress.done, progress.total));
            threads_seen.push(progress.thread.to_owned());
        })
        .unwrap();
        (rendered.tiles, seen, threads_seen)
    });
    // 30 / 8 -> 4 columns, 20 / 8 -> 3 rows.
    assert_eq!(tiles, 12);
    let expected: Vec<(usize, usize)> = (1..=12).map(|done| (done, 12)).collect();
    assert_eq!(seen, expected);
    assert!(
        threads_seen
            .iter()
            .all(|name| ["tracer-0", "tracer-1", "tracer-2"].contains(&name.as_str())),
        "{threads_seen:?}"
    );
}

#[test]
fn tiles_are_counted_per_render_thread_and_no_thread_is_started_without_a_tile() {
    run_within(TIMEOUT, "tile counting", || {
        let many = render_demo(settings(40, 30, 1, 4, 10));
        assert_eq!(many.tiles, 12);
        assert_eq!(many.tiles_per_thread.values().sum::<usize>(), 12);
        assert!(many.tiles_per_thread.len() <= 4);
        assert!(
            many.tiles_per_thread
                .keys()
                .all(|name| name.starts_with("tracer-"))
        );

        // One tile, eight threads allowed: one thread is started, and it does the tile.
        let one = render_demo(settings(10, 10, 1, 8, 100));
        assert_eq!(one.tiles, 1);
        assert_eq!(
            one.tiles_per_thread.into_iter().collect::<Vec<_>>(),
            [("tracer-0".to_owned(), 1)]
        );
    });
}

#[test]
fn the_picture_shows_the_scene() {
    let image = run_within(TIMEOUT, "the demo picture", || {
        render_sequential(&Scene::demo(), 96, 54, 1).unwrap()
    });
    let pixels: Vec<&[u8]> = image.pixels().chunks_exact(3).collect();
    let count = |test: fn(&[u8]) -> bool| pixels.iter().filter(|p| test(p)).count();
    // Sky at the top: light and bluish.
    let top = &image.pixels()[..96 * 3];
    assert!(
        top.chunks_exact(3).all(|p| p[2] >= p[0] && p[2] > 180),
        "the top row is sky"
    );
    // The red matte sphere, and the floor's dark checker squares.
    let red = count(|p| p[0] > 150 && p[1] < 90 && p[2] < 90);
    assert!(red > 40, "{red} red pixels");
    let dark = count(|p| p[0] < 110 && p[1] < 110 && p[2] < 120);
    assert!(dark > 200, "{dark} dark pixels");
    // Not one flat colour: a picture, not a blank.
    let distinct: std::collections::HashSet<&[u8]> = pixels.iter().copied().collect();
    assert!(distinct.len() > 500, "{} distinct colours", distinct.len());
}

#[test]
fn more_samples_smooth_the_edges_but_stay_deterministic() {
    let (one, eight, eight_again) = run_within(TIMEOUT, "samples", || {
        let scene = Scene::demo();
        (
            render_sequential(&scene, 48, 27, 1).unwrap(),
            render_sequential(&scene, 48, 27, 8).unwrap(),
            render_demo(settings(48, 27, 8, 3, 5)).image,
        )
    });
    assert_ne!(one, eight, "anti-aliasing changes the edge pixels");
    assert_eq!(
        eight, eight_again,
        "the sample pattern is fixed, not random"
    );
}

#[test]
fn bad_settings_are_typed_errors_with_clear_messages() {
    let scene = Scene::demo();
    let check =
        |s: RenderSettings| render(&scene, &s, |_| panic!("no tile may be rendered")).unwrap_err();

    let error = check(settings(0, 10, 1, 1, 8));
    assert!(matches!(
        error,
        RenderError::BadSize {
            width: 0,
            height: 10
        }
    ));
    assert_eq!(
        error.to_string(),
        format!("the picture must be 1 to {MAX_SIDE} pixels on each side, got 0x10")
    );
    assert!(matches!(
        check(settings(10, MAX_SIDE + 1, 1, 1, 8)),
        RenderError::BadSize { .. }
    ));
    assert!(matches!(
        check(settings(10, 10, 0, 1, 8)),
        RenderError::BadSamples { samples: 0 }
    ));
    assert!(matches!(
        check(settings(10, 10, MAX_SAMPLES + 1, 1, 8)),
        RenderError::BadSamples { .. }
    ));
    let error = check(settings(10, 10, 1, 0, 8));
    assert!(matches!(error, RenderError::ZeroThreads));
    assert_eq!(
        error.to_string(),
        "the thread count must be at least 1, got 0"
    );
    assert!(matches!(
        check(settings(10, 10, 1, 2, 0)),
        RenderError::ZeroTileSize
    ));
    assert!(matches!(
        render_sequential(&scene, 5, 5, 0),
        Err(RenderError::BadSamples { .. })
    ));
}

#[test]
fn a_render_saves_as_a_png_and_an_unwritable_path_is_an_error() {
    let dir = std::env::temp_dir().join(format!("l3-project-raytracer-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let image = run_within(TIMEOUT, "a small render", || {
        render_demo(settings(20, 12, 1, 2, 8)).image
    });

    let path = dir.join("scene.png");
    save(&image, &path).unwrap();
    assert_eq!(read_png(&path).unwrap(), image);

    let nowhere = dir.join("no-such-dir").join("scene.png");
    let error = save(&image, &nowhere).unwrap_err();
    match &error {
        RenderError::Save(ImageError::Write { path, .. }) => assert_eq!(path, &nowhere),
        other => panic!("expected Save(Write), got {other:?}"),
    }
    std::fs::remove_dir_all(dir).unwrap();
}
