//! Reading and writing PNG. [`decode_png`] accepts every PNG and converts it to 8 bits per
//! channel; what is wrong with a bad file is sorted into a [`DecodeError`] a user can act on.
//! [`encode_png`] writes 8-bit PNG. [`read_png`] and [`write_png`] add the file around them.

use super::error::{DecodeError, ImageError};
use super::pixels::{Image, Layout};
use std::fmt;
use std::io::{self, Cursor};
use std::path::Path;

/// The most bytes a decoded image may take (256 MiB, a 8192 × 8192 RGBA image): a PNG header
/// can claim any size, and a file of a few bytes must not make the program allocate gigabytes.
pub const MAX_DECODED_BYTES: usize = 256 * 1024 * 1024;

/// The first eight bytes of every PNG file.
const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];

/// Reads and decodes the PNG file at `path`.
///
/// # Errors
///
/// [`ImageError::Open`] if the file cannot be read, [`ImageError::Decode`] if it is not a
/// PNG, is truncated, damaged or too large.
pub fn read_png(path: &Path) -> Result<Image, ImageError> {
    let bytes = std::fs::read(path).map_err(|source| ImageError::Open {
        path: path.to_owned(),
        source,
    })?;
    decode_png(&bytes).map_err(|source| ImageError::Decode {
        path: path.to_owned(),
        source,
    })
}

/// Decodes a PNG held in memory, converting 16-bit, palette and low-bit-depth images to 8 bits
/// per channel.
///
/// ```
/// use level_3_advanced::projects::image::{DecodeError, Image, decode_png, encode_png};
///
/// let card = Image::test_card(20, 10)?;
/// let bytes = encode_png(&card)?;
/// assert_eq!(decode_png(&bytes), Ok(card));
/// assert_eq!(decode_png(b"GIF89a..."), Err(DecodeError::NotPng));
/// assert_eq!(decode_png(&bytes[..bytes.len() / 2]), Err(DecodeError::Truncated));
/// # Ok::<(), level_3_advanced::projects::image::ImageError>(())
/// ```
///
/// # Errors
///
/// A [`DecodeError`] saying what is wrong with the data.
pub fn decode_png(bytes: &[u8]) -> Result<Image, DecodeError> {
    if !bytes.starts_with(&PNG_SIGNATURE) {
        return Err(DecodeError::NotPng);
    }
    let limits = png::Limits {
        bytes: MAX_DECODED_BYTES,
    };
    let mut decoder = png::Decoder::new_with_limits(Cursor::new(bytes), limits);
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().map_err(classify)?;
    let size = reader
        .output_buffer_size()
        .filter(|&size| size <= MAX_DECODED_BYTES)
        .ok_or(DecodeError::TooLarge {
            limit: MAX_DECODED_BYTES,
        })?;
    let mut buffer = vec![0; size];
    let frame = reader.next_frame(&mut buffer).map_err(classify)?;
    let layout = match (frame.color_type, frame.bit_depth) {
        (png::ColorType::Grayscale, png::BitDepth::Eight) => Layout::Gray,
        (png::ColorType::GrayscaleAlpha, png::BitDepth::Eight) => Layout::GrayAlpha,
        (png::ColorType::Rgb, png::BitDepth::Eight) => Layout::Rgb,
        (png::ColorType::Rgba, png::BitDepth::Eight) => Layout::Rgba,
        (colour, depth) => {
            return Err(DecodeError::Unsupported(format!(
                "{colour:?} at {} bits after conversion",
                depth as u8
            )));
        }
    };
    let (width, height) = (frame.width as usize, frame.height as usize);
    if frame.line_size != width * layout.channels() {
        return Err(DecodeError::Unsupported(format!(
            "rows of {} bytes for {width} {layout} pixels",
            frame.line_size
        )));
    }
    buffer.truncate(frame.buffer_size());
    Image::new(width, height, layout, buffer).map_err(|e| DecodeError::Corrupt(e.to_string()))
}

/// Sorts the `png` crate's errors into the cases a user can act on.
fn classify(error: png::DecodingError) -> DecodeError {
    match error {
        png::DecodingError::IoError(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
            DecodeError::Truncated
        }
        png::DecodingError::LimitsExceeded => DecodeError::TooLarge {
            limit: MAX_DECODED_BYTES,
        },
        other => DecodeError::Corrupt(other.to_string()),
    }
}

/// The image encoded as an 8-bit PNG, in memory.
///
/// # Errors
///
/// [`ImageError::Encode`] if the image is wider or taller than a PNG can be.
pub fn encode_png(image: &Image) -> Result<Vec<u8>, ImageError> {
    let encode_error = |e: &dyn fmt::Display| ImageError::Encode {
        reason: e.to_string(),
    };
    let side = |n: usize| u32::try_from(n).map_err(|e| encode_error(&e));
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, side(image.width)?, side(image.height)?);
    encoder.set_color(png_colour(image.layout));
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(|e| encode_error(&e))?;
    writer
        .write_image_data(&image.pixels)
        .map_err(|e| encode_error(&e))?;
    writer.finish().map_err(|e| encode_error(&e))?;
    Ok(bytes)
}

/// Encodes the image as a PNG and writes it to `path`, replacing any file there.
///
/// The image is encoded in memory first, so a failure to write is reported as such
/// ([`ImageError::Write`]), not lost in a buffered writer's `Drop`.
///
/// # Errors
///
/// [`ImageError::Write`] if the file cannot be written, [`ImageError::Encode`] as for
/// [`encode_png`].
pub fn write_png(image: &Image, path: &Path) -> Result<(), ImageError> {
    let bytes = encode_png(image)?;
    std::fs::write(path, bytes).map_err(|source| ImageError::Write {
        path: path.to_owned(),
        source,
    })
}

/// The `png` crate's colour type for `layout`.
fn png_colour(layout: Layout) -> png::ColorType {
    match layout {
        Layout::Gray => png::ColorType::Grayscale,
        Layout::GrayAlpha => png::ColorType::GrayscaleAlpha,
        Layout::Rgb => png::ColorType::Rgb,
        Layout::Rgba => png::ColorType::Rgba,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_errors_are_sorted_into_what_a_user_can_act_on() {
        let bytes = encode_png(&Image::test_card(30, 20).unwrap()).unwrap();
        assert_eq!(decode_png(b""), Err(DecodeError::NotPng));
        assert_eq!(decode_png(&PNG_SIGNATURE[..4]), Err(DecodeError::NotPng));
        assert_eq!(decode_png(&bytes[..8]), Err(DecodeError::Truncated));
        assert_eq!(decode_png(&bytes[..40]), Err(DecodeError::Truncated));
        assert_eq!(
            decode_png(&bytes[..bytes.len() - 13]),
            Err(DecodeError::Truncated)
        );
        // Flip one byte of the header's width: its checksum no longer matches.
        let mut damaged = bytes.clone();
        damaged[18] ^= 0x40;
        assert!(matches!(decode_png(&damaged), Err(DecodeError::Corrupt(_))));
    }
}
