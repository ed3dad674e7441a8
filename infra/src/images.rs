//! Image checks and variants, shared by the vertical (checks an upload before accepting it) and
//! the engines worker (makes the WebP variants from it).
//!
//! An upload is an image only if its first bytes are a JPEG, PNG or WebP signature *and* it
//! decodes completely within limits: at most [`MAX_SIDE`] pixels a side and [`MAX_ALLOC`]
//! bytes of decoder memory, so a small file that claims a huge canvas (a decompression bomb)
//! is refused before its pixels are allocated. File names and the client's Content-Type are
//! never consulted. Variants are re-encoded from decoded pixels, so no metadata (EXIF, GPS,
//! ICC, comments) survives.

use std::io::Cursor;

use image::{DynamicImage, ImageFormat, ImageReader, Limits};

use crate::files::Variant;

/// Largest accepted width or height.
pub const MAX_SIDE: u32 = 10_000;
/// Largest decoder allocation.
pub const MAX_ALLOC: u64 = 256 * 1024 * 1024;

/// Why bytes are not an acceptable image.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("the file is not a JPEG, PNG or WebP image")]
    NotAnImage,
    #[error("the image is larger than {MAX_SIDE}×{MAX_SIDE} pixels or needs too much memory to decode")]
    TooLarge,
    #[error("the image is damaged or incomplete: {0}")]
    Damaged(String),
    #[error("could not encode the variant: {0}")]
    Encode(String),
}

/// The format the content's signature says, if any.
pub fn sniff(bytes: &[u8]) -> Option<ImageFormat> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(ImageFormat::Jpeg)
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(ImageFormat::Png)
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some(ImageFormat::WebP)
    } else {
        None
    }
}

/// Decodes fully, within the limits.
pub fn decode(bytes: &[u8]) -> Result<DynamicImage, ImageError> {
    let format = sniff(bytes).ok_or(ImageError::NotAnImage)?;
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_ALLOC);
    reader.limits(limits);
    reader.decode().map_err(|e| match e {
        image::ImageError::Limits(_) => ImageError::TooLarge,
        other => ImageError::Damaged(other.to_string()),
    })
}

/// Checks an upload; returns its width and height.
pub fn check(bytes: &[u8]) -> Result<(u32, u32), ImageError> {
    let img = decode(bytes)?;
    Ok((img.width(), img.height()))
}

/// One WebP variant (lossless; never enlarged; aspect ratio kept).
pub fn variant(img: &DynamicImage, variant: Variant) -> Result<Vec<u8>, ImageError> {
    let max = variant.max_side();
    let sized = if img.width() > max || img.height() > max { img.resize(max, max, image::imageops::FilterType::Lanczos3) } else { img.clone() };
    let rgba = DynamicImage::ImageRgba8(sized.to_rgba8());
    let mut out = Vec::new();
    rgba.write_with_encoder(image::codecs::webp::WebPEncoder::new_lossless(&mut out)).map_err(|e| ImageError::Encode(e.to_string()))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(w: u32, h: u32) -> Vec<u8> {
        let img = DynamicImage::ImageRgb8(image::RgbImage::from_pixel(w, h, image::Rgb([200, 40, 40])));
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, ImageFormat::Png).unwrap();
        out.into_inner()
    }

    #[test]
    fn content_decides_not_names() {
        assert_eq!(check(&png(40, 30)).unwrap(), (40, 30));
        assert!(matches!(check(b"#!/bin/sh\nrm -rf /\n"), Err(ImageError::NotAnImage)));
        let mut truncated = png(40, 30);
        truncated.truncate(60);
        assert!(matches!(check(&truncated), Err(ImageError::Damaged(_))));
    }

    #[test]
    fn variants_are_webp_within_their_size() {
        let img = decode(&png(2000, 1000)).unwrap();
        let card = variant(&img, Variant::Card).unwrap();
        assert_eq!(sniff(&card), Some(ImageFormat::WebP));
        let back = decode(&card).unwrap();
        assert_eq!((back.width(), back.height()), (480, 240));
        let small = decode(&variant(&decode(&png(100, 50)).unwrap(), Variant::Full).unwrap()).unwrap();
        assert_eq!((small.width(), small.height()), (100, 50), "never enlarged");
    }
}
