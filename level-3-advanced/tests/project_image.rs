//! Tests of the image processor project (`l3-p1-image-processor`,
//! `level-3-advanced/src/projects/image/`).
//!
//! The central claim: filtering in tiles on a pool gives the same bytes as filtering the whole
//! image on one thread, for every filter, size, tile size and thread count. The rest: PNG in
//! every accepted format, and a typed error for every bad input. No test depends on timing;
//! the parallel work runs under `run_within`, so a deadlock fails instead of hanging.

use level_3_advanced::projects::image::{
    DecodeError, Filter, Image, ImageError, Layout, MAX_RADIUS, apply_tiled, decode_png,
    encode_png, first_difference, parse_filters, read_png, run_chain, tiles, write_png,
};
use shared::WorkerPool;
use shared::testing::{TIMEOUT, run_within};
use std::path::PathBuf;
use std::time::Duration;

/// Generous: the big equality sweep runs thousands of tiles in a debug build.
const SWEEP_TIMEOUT: Duration = Duration::from_secs(120);

/// Every filter, with blurs of several radii.
const FILTERS: [Filter; 6] = [
    Filter::Grayscale,
    Filter::Invert,
    Filter::Blur { radius: 0 },
    Filter::Blur { radius: 1 },
    Filter::Blur { radius: 3 },
    Filter::Edges,
];

/// A directory of this test's own under the system temp directory, emptied first.
fn scratch_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("l3-project-image-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create a scratch directory");
    dir
}

/// The test card in the given layout: RGB as made, the others derived from it.
fn card(width: usize, height: usize, layout: Layout) -> Image {
    let rgb = Image::test_card(width, height).unwrap();
    let channels = layout.channels();
    let pixels = rgb
        .pixels()
        .chunks_exact(3)
        .enumerate()
        .flat_map(|(i, p)| {
            let alpha = (i * 37 % 256) as u8;
            let gray = p[1];
            let bytes: Vec<u8> = match layout {
                Layout::Gray => vec![gray],
                Layout::GrayAlpha => vec![gray, alpha],
                Layout::Rgb => p.to_vec(),
                Layout::Rgba => vec![p[0], p[1], p[2], alpha],
            };
            assert_eq!(bytes.len(), channels);
            bytes
        })
        .collect();
    Image::new(width, height, layout, pixels).unwrap()
}

#[test]
fn tiled_output_equals_sequential_for_every_filter_size_tile_and_thread_count() {
    run_within(SWEEP_TIMEOUT, "the tiling sweep", || {
        // Odd sizes, single rows and columns, one pixel; tiles of one pixel, of odd sizes,
        // and larger than the image.
        let sizes = [(1, 1), (1, 9), (9, 1), (2, 3), (17, 13), (64, 64), (65, 33)];
        let tile_sizes = [1, 5, 16, 1000];
        let pools: Vec<WorkerPool> = (1..=8).map(|n| WorkerPool::new(n).unwrap()).collect();
        let mut checked = 0;
        for (width, height) in sizes {
            let image = card(width, height, Layout::Rgb);
            for filter in FILTERS {
                let expected = filter.apply(&image);
                for tile in tile_sizes {
                    if tile == 1 && width * height > 200 {
                        continue; // a tile per pixel is covered by the small sizes
                    }
                    for (threads, pool) in (1..=8).zip(&pools) {
                        let tiled = apply_tiled(&filter, &image, tile, pool).unwrap();
                        assert_eq!(
                            first_difference(&tiled.image, &expected),
                            None,
                            "{filter} on {width}x{height}, tiles of {tile}, {threads} threads"
                        );
                        assert_eq!(tiled.image, expected);
                        checked += 1;
                    }
                }
            }
        }
        assert_eq!(checked, 7 * 6 * 4 * 8 - 3 * 6 * 8);
    });
}

#[test]
fn tiled_output_equals_sequential_in_every_layout() {
    run_within(TIMEOUT, "every layout", || {
        let pool = WorkerPool::new(3).unwrap();
        for layout in [Layout::Gray, Layout::GrayAlpha, Layout::Rgb, Layout::Rgba] {
            let image = card(45, 31, layout);
            for filter in FILTERS {
                let tiled = apply_tiled(&filter, &image, 8, &pool).unwrap();
                assert_eq!(tiled.image, filter.apply(&image), "{filter} on {layout}");
                assert_eq!(tiled.image.layout(), filter.output_layout(layout));
            }
        }
    });
}

#[test]
fn every_tile_is_run_once_and_counted_by_the_thread_that_ran_it() {
    run_within(TIMEOUT, "tile counting", || {
        let pool = WorkerPool::builder()
            .threads(4)
            .thread_name(|i| format!("tester-{i}"))
            .build()
            .unwrap();
        let image = card(50, 30, Layout::Rgb);
        let tiled = apply_tiled(&Filter::Edges, &image, 7, &pool).unwrap();
        // 50 / 7 -> 8 columns, 30 / 7 -> 5 rows.
        assert_eq!(tiled.tiles, 40);
        assert_eq!(tiled.tiles_per_thread.values().sum::<usize>(), 40);
        assert!(tiled.tiles_per_thread.len() <= 4);
        assert!(
            tiled
                .tiles_per_thread
                .keys()
                .all(|name| name.starts_with("tester-")),
            "tiles run on the pool's threads, not the caller: {:?}",
            tiled.tiles_per_thread
        );
    });
}

#[test]
fn tiles_cover_every_pixel_exactly_once() {
    for (width, height, tile) in [
        (1, 1, 1),
        (1, 1, 64),
        (10, 10, 3),
        (64, 64, 64),
        (65, 7, 16),
    ] {
        let mut covered = vec![0u8; width * height];
        for t in tiles(width, height, tile).unwrap() {
            assert!(t.width >= 1 && t.width <= tile && t.height >= 1 && t.height <= tile);
            for y in t.y..t.y + t.height {
                for x in t.x..t.x + t.width {
                    covered[y * width + x] += 1;
                }
            }
        }
        assert!(
            covered.iter().all(|&n| n == 1),
            "{width}x{height} in tiles of {tile}"
        );
    }
    assert_eq!(tiles(5, 5, 100).unwrap().len(), 1);
}

#[test]
fn the_chain_feeds_each_filter_the_previous_output_and_reports_each_stage() {
    let report = run_within(TIMEOUT, "run_chain", || {
        let image = card(70, 40, Layout::Rgb);
        let filters = parse_filters("grayscale,blur,edges,invert", 2).unwrap();
        let report = run_chain(&image, &filters, 3, 16).unwrap();
        let by_hand = filters.iter().fold(image, |img, f| f.apply(&img));
        assert_eq!(report.output, by_hand);
        report
    });
    assert!(report.identical());
    assert_eq!(report.threads, 3);
    let names: Vec<&str> = report.stages.iter().map(|s| s.filter.name()).collect();
    assert_eq!(names, ["grayscale", "blur", "edges", "invert"]);
    for stage in &report.stages {
        assert_eq!(stage.first_difference, None, "{}", stage.filter);
        assert_eq!(stage.tiles, 5 * 3);
        assert_eq!(stage.tiles_per_thread.values().sum::<usize>(), 15);
        assert!(stage.speedup() > 0.0);
    }
    assert_eq!(report.output.layout(), Layout::Gray);
}

#[test]
fn a_one_pixel_image_goes_through_every_filter() {
    let pixel = Image::new(1, 1, Layout::Rgba, vec![10, 200, 30, 128]).unwrap();
    let report = run_within(TIMEOUT, "1x1 chain", move || {
        run_chain(&pixel, &FILTERS, 8, 1).unwrap()
    });
    assert!(report.identical());
    // Gray (77*10 + 150*200 + 29*30 + 128) / 256 = 124, inverted to 131; the blur of one
    // pixel is itself; a flat image has no edge; alpha is kept throughout.
    assert_eq!(report.output.pixels(), [0, 128]);
}

#[test]
fn filters_parse_by_name_and_unknown_names_are_reported() {
    assert_eq!(
        parse_filters(" invert ,blur", 4).unwrap(),
        [Filter::Invert, Filter::Blur { radius: 4 }]
    );
    let error = parse_filters("grayscale,sharpen", 2).unwrap_err();
    assert!(matches!(&error, ImageError::UnknownFilter { name } if name == "sharpen"));
    let message = error.to_string();
    assert!(message.contains("\"sharpen\""), "{message}");
    assert!(
        message.contains("grayscale, invert, blur, edges"),
        "{message}"
    );
    assert!(matches!(
        parse_filters("blur,,edges", 2),
        Err(ImageError::UnknownFilter { name }) if name.is_empty()
    ));
    assert!(matches!(
        parse_filters("Blur", 2),
        Err(ImageError::UnknownFilter { .. })
    ));
    assert!(matches!(parse_filters("", 2), Err(ImageError::NoFilters)));
    assert!(matches!(parse_filters("  ", 2), Err(ImageError::NoFilters)));
    assert!(parse_filters("blur", MAX_RADIUS).is_ok());
    assert!(matches!(
        parse_filters("blur", MAX_RADIUS + 1),
        Err(ImageError::RadiusTooLarge { radius }) if radius == MAX_RADIUS + 1
    ));
}

#[test]
fn zero_threads_zero_tiles_and_no_filters_are_refused() {
    let image = card(4, 4, Layout::Rgb);
    let error = run_chain(&image, &[Filter::Edges], 0, 8).unwrap_err();
    assert!(matches!(error, ImageError::ZeroThreads));
    assert_eq!(
        error.to_string(),
        "the thread count must be at least 1, got 0"
    );
    assert!(matches!(
        run_chain(&image, &[Filter::Edges], 2, 0),
        Err(ImageError::ZeroTileSize)
    ));
    assert!(matches!(
        run_chain(&image, &[], 2, 8),
        Err(ImageError::NoFilters)
    ));
    let pool = WorkerPool::new(1).unwrap();
    assert!(matches!(
        apply_tiled(&Filter::Edges, &image, 0, &pool),
        Err(ImageError::ZeroTileSize)
    ));
    assert!(matches!(tiles(3, 3, 0), Err(ImageError::ZeroTileSize)));
}

#[test]
fn images_must_have_pixels_and_a_matching_buffer() {
    assert!(matches!(
        Image::new(0, 0, Layout::Gray, vec![]),
        Err(ImageError::Empty { .. })
    ));
    assert!(matches!(
        Image::test_card(5, 0),
        Err(ImageError::Empty { .. })
    ));
    let error = Image::new(2, 2, Layout::Rgba, vec![0; 15]).unwrap_err();
    assert_eq!(
        error.to_string(),
        "a 2x2 RGBA image needs 16 bytes, but the buffer holds 15"
    );
    assert!(matches!(
        Image::new(usize::MAX, 2, Layout::Gray, vec![]),
        Err(ImageError::WrongLength { expected: None, .. })
    ));
}

#[test]
fn png_files_round_trip_in_every_layout() {
    let dir = scratch_dir("round-trip");
    for layout in [Layout::Gray, Layout::GrayAlpha, Layout::Rgb, Layout::Rgba] {
        let image = card(23, 11, layout);
        let path = dir.join(format!("{layout}.png"));
        write_png(&image, &path).unwrap();
        assert_eq!(read_png(&path).unwrap(), image, "{layout}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// A PNG made with the `png` crate directly, in a format the processor does not write.
fn raw_png(
    width: u32,
    height: u32,
    colour: png::ColorType,
    depth: png::BitDepth,
    setup: impl FnOnce(&mut png::Encoder<'_, &mut Vec<u8>>),
    data: &[u8],
) -> Vec<u8> {
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, width, height);
    encoder.set_color(colour);
    encoder.set_depth(depth);
    setup(&mut encoder);
    let mut writer = encoder.write_header().unwrap();
    writer.write_image_data(data).unwrap();
    writer.finish().unwrap();
    bytes
}

#[test]
fn sixteen_bit_images_are_cut_to_eight_bits() {
    // Two RGB pixels, big-endian 16-bit samples: the high bytes are kept.
    let data = [
        0x12, 0x34, 0xAB, 0xCD, 0xFF, 0xFF, 0x00, 0x01, 0x80, 0x00, 0x7F, 0xFF,
    ];
    let bytes = raw_png(
        2,
        1,
        png::ColorType::Rgb,
        png::BitDepth::Sixteen,
        |_| {},
        &data,
    );
    let image = decode_png(&bytes).unwrap();
    assert_eq!(image.layout(), Layout::Rgb);
    assert_eq!(image.pixels(), [0x12, 0xAB, 0xFF, 0x00, 0x80, 0x7F]);
}

#[test]
fn palette_images_are_expanded_to_rgb_or_rgba() {
    let palette = [255, 0, 0, 0, 255, 0, 0, 0, 255];
    let plain = raw_png(
        3,
        1,
        png::ColorType::Indexed,
        png::BitDepth::Eight,
        |e| e.set_palette(palette.to_vec()),
        &[2, 0, 1],
    );
    let image = decode_png(&plain).unwrap();
    assert_eq!(image.layout(), Layout::Rgb);
    assert_eq!(image.pixels(), [0, 0, 255, 255, 0, 0, 0, 255, 0]);

    let transparent = raw_png(
        2,
        1,
        png::ColorType::Indexed,
        png::BitDepth::Eight,
        |e| {
            e.set_palette(palette.to_vec());
            e.set_trns(vec![0, 128]);
        },
        &[0, 1],
    );
    let image = decode_png(&transparent).unwrap();
    assert_eq!(image.layout(), Layout::Rgba);
    assert_eq!(image.pixels(), [255, 0, 0, 0, 0, 255, 0, 128]);
}

#[test]
fn one_bit_gray_images_are_expanded_to_black_and_white() {
    // 0b1010_0000: four pixels white, black, white, black (the low bits are padding).
    let bytes = raw_png(
        4,
        1,
        png::ColorType::Grayscale,
        png::BitDepth::One,
        |_| {},
        &[0b1010_0000],
    );
    let image = decode_png(&bytes).unwrap();
    assert_eq!(image.layout(), Layout::Gray);
    assert_eq!(image.pixels(), [255, 0, 255, 0]);
}

#[test]
fn a_missing_file_is_an_open_error_naming_the_path() {
    let path = scratch_dir("missing").join("no-such-image.png");
    let error = read_png(&path).unwrap_err();
    match &error {
        ImageError::Open { path: p, source } => {
            assert_eq!(p, &path);
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
        }
        other => panic!("expected Open, got {other:?}"),
    }
    assert!(error.to_string().contains("no-such-image.png"), "{error}");
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

#[test]
fn a_file_that_is_not_a_png_is_reported_as_such() {
    let dir = scratch_dir("not-png");
    for (name, contents) in [
        ("notes.png", &b"just some text, not an image\n"[..]),
        ("empty.png", b""),
        ("picture.gif", b"GIF89a\x01\x00\x01\x00"),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, contents).unwrap();
        let error = read_png(&path).unwrap_err();
        assert!(
            matches!(
                &error,
                ImageError::Decode {
                    source: DecodeError::NotPng,
                    ..
                }
            ),
            "{name}: {error:?}"
        );
        let cause = std::error::Error::source(&error).unwrap().to_string();
        assert!(cause.contains("not a PNG"), "{cause}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_truncated_png_is_reported_as_truncated_at_any_cut() {
    let bytes = encode_png(&card(40, 30, Layout::Rgb)).unwrap();
    // Cut anywhere after the signature and before the last chunk (IEND, 12 bytes).
    for cut in [8, 9, 20, 33, 40, bytes.len() / 2, bytes.len() - 13] {
        assert_eq!(
            decode_png(&bytes[..cut]),
            Err(DecodeError::Truncated),
            "cut at {cut} of {}",
            bytes.len()
        );
    }
    let dir = scratch_dir("truncated");
    let path = dir.join("cut.png");
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    assert!(matches!(
        read_png(&path),
        Err(ImageError::Decode {
            source: DecodeError::Truncated,
            ..
        })
    ));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn damaged_png_data_is_reported_as_corrupt() {
    let mut bytes = encode_png(&card(40, 30, Layout::Rgb)).unwrap();
    // Byte 16 is in the header's width: its checksum no longer matches.
    bytes[16] ^= 0x01;
    assert!(matches!(decode_png(&bytes), Err(DecodeError::Corrupt(_))));
}

#[test]
fn a_header_claiming_a_huge_image_is_refused_without_allocating_it() {
    // A 1x1 RGBA PNG whose header (with a correct checksum) claims 60000 x 60000 pixels:
    // 14.4 GB once decoded, from a file of 70 bytes.
    let bytes = raw_png(
        1,
        1,
        png::ColorType::Rgba,
        png::BitDepth::Eight,
        |_| {},
        &[0; 4],
    );
    let mut huge = bytes.clone();
    huge[16..20].copy_from_slice(&60_000u32.to_be_bytes());
    huge[20..24].copy_from_slice(&60_000u32.to_be_bytes());
    let crc = crc32(&huge[12..29]);
    huge[29..33].copy_from_slice(&crc.to_be_bytes());
    assert!(matches!(
        decode_png(&huge),
        Err(DecodeError::TooLarge { .. })
    ));
}

/// The CRC-32 of PNG chunks (ISO 3309), bit by bit: small, slow, enough for one header.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn an_unwritable_output_is_a_write_error_naming_the_path() {
    let dir = scratch_dir("unwritable");
    let image = card(3, 3, Layout::Rgb);
    // A directory that does not exist, and a path that is a directory.
    for path in [dir.join("no-such-dir").join("out.png"), dir.clone()] {
        let error = write_png(&image, &path).unwrap_err();
        match &error {
            ImageError::Write { path: p, .. } => assert_eq!(p, &path),
            other => panic!("expected Write for {}, got {other:?}", path.display()),
        }
        assert!(
            error.to_string().contains(&*path.to_string_lossy()),
            "{error}"
        );
    }
    std::fs::remove_dir_all(dir).unwrap();
}
