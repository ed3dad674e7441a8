//! Image checks and variants, shared by the vertical (checks an upload before accepting it) and
//! the engines worker (makes the WebP variants from it).
//!
//! An upload is an image only if its first bytes are a JPEG, PNG or WebP signature *and* it
//! decodes completely within limits: its header, read before any pixel, declares at most
//! [`MAX_SIDE`] pixels a side and [`MAX_PIXELS`] in all, and decoding needs at most
//! [`MAX_ALLOC`] bytes — so a small file that claims a huge canvas (a decompression bomb) is
//! refused before its pixels are allocated. At most [`MAX_CONCURRENT_DECODES`] run at once per
//! process ([`off_thread`]), so ten bombs at once cost what two do. File names and the
//! client's Content-Type are never consulted. Variants are re-encoded from decoded pixels, so no metadata (EXIF, GPS,
//! ICC, comments) survives.

use std::io::Cursor;

use image::{DynamicImage, ImageFormat, ImageReader, Limits};
use tokio::sync::Semaphore;

use crate::files::Variant;

/// Largest accepted width or height.
pub const MAX_SIDE: u32 = 10_000;
/// Largest accepted canvas: 25 megapixels (a 6000×4000 camera photo fits).
pub const MAX_PIXELS: u64 = 25_000_000;
/// Largest decoder allocation (a 12 MP RGB photo needs 36 MB).
pub const MAX_ALLOC: u64 = 64 * 1024 * 1024;
/// Decodes running at once in one process: with [`MAX_ALLOC`] each, images can hold at most
/// this many times that, however many uploads or events arrive together.
pub const MAX_CONCURRENT_DECODES: usize = 2;

static DECODES: Semaphore = Semaphore::const_new(MAX_CONCURRENT_DECODES);

/// Why bytes are not an acceptable image.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("the file is not a JPEG, PNG or WebP image")]
    NotAnImage,
    #[error("the image is larger than 25 megapixels ({MAX_SIDE} pixels a side) or needs too much memory to decode")]
    TooLarge,
    #[error("the image is damaged or incomplete: {0}")]
    Damaged(String),
    #[error("could not encode the variant: {0}")]
    Encode(String),
    /// The decoding task itself failed (panicked or was cancelled): not the image's fault.
    #[error("image task failed: {0}")]
    Task(String),
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

/// The canvas the header declares, refused when over the limits. Reads no pixels.
pub fn dimensions(bytes: &[u8]) -> Result<(u32, u32), ImageError> {
    let format = sniff(bytes).ok_or(ImageError::NotAnImage)?;
    let (w, h) = ImageReader::with_format(Cursor::new(bytes), format).into_dimensions().map_err(classify)?;
    if w > MAX_SIDE || h > MAX_SIDE || u64::from(w) * u64::from(h) > MAX_PIXELS {
        return Err(ImageError::TooLarge);
    }
    Ok((w, h))
}

/// Decodes fully, within the limits (the declared canvas is checked first).
pub fn decode(bytes: &[u8]) -> Result<DynamicImage, ImageError> {
    dimensions(bytes)?;
    let format = sniff(bytes).ok_or(ImageError::NotAnImage)?;
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_ALLOC);
    reader.limits(limits);
    reader.decode().map_err(classify)
}

fn classify(e: image::ImageError) -> ImageError {
    match e {
        image::ImageError::Limits(_) => ImageError::TooLarge,
        other => ImageError::Damaged(other.to_string()),
    }
}

/// Checks an upload; returns its width and height.
pub fn check(bytes: &[u8]) -> Result<(u32, u32), ImageError> {
    let img = decode(bytes)?;
    Ok((img.width(), img.height()))
}

/// Runs image work on the blocking pool once one of the [`MAX_CONCURRENT_DECODES`] slots is
/// free (decoding is CPU work, and its memory is what the slots bound).
pub async fn off_thread<T: Send + 'static>(work: impl FnOnce() -> Result<T, ImageError> + Send + 'static) -> Result<T, ImageError> {
    let _slot = DECODES.acquire().await.map_err(|e| ImageError::Task(e.to_string()))?;
    tokio::task::spawn_blocking(work).await.map_err(|e| ImageError::Task(e.to_string()))?
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

    /// A valid PNG of `w`×`h` black grey pixels: a few hundred bytes per megapixel.
    fn grey_png(w: u32, h: u32) -> Vec<u8> {
        use image::codecs::png::{CompressionType, FilterType, PngEncoder};
        let mut out = Vec::new();
        let img = image::GrayImage::new(w, h);
        img.write_with_encoder(PngEncoder::new_with_quality(&mut out, CompressionType::Fast, FilterType::NoFilter)).unwrap();
        out
    }

    #[test]
    fn canvases_over_the_pixel_budget_are_refused_from_the_header() {
        // 5000×5000 (25 MP) is allowed; 8000×8000 (64 MP, each side allowed, 64 MB as grey
        // pixels: under the old 256 MiB budget) is not, and is refused without decoding.
        assert_eq!(dimensions(&grey_png(5000, 5000)).unwrap(), (5000, 5000));
        let big = grey_png(8000, 8000);
        assert!(big.len() < 512 * 1024, "{} bytes", big.len());
        assert!(matches!(dimensions(&big), Err(ImageError::TooLarge)));
        assert!(matches!(check(&big), Err(ImageError::TooLarge)));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn at_most_the_allowed_decodes_run_at_once() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static RUNNING: AtomicUsize = AtomicUsize::new(0);
        static PEAK: AtomicUsize = AtomicUsize::new(0);
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                tokio::spawn(off_thread(|| {
                    let now = RUNNING.fetch_add(1, Ordering::SeqCst) + 1;
                    PEAK.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(50));
                    RUNNING.fetch_sub(1, Ordering::SeqCst);
                    Ok(())
                }))
            })
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        assert_eq!(PEAK.load(Ordering::SeqCst), MAX_CONCURRENT_DECODES);
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
