//! Image checks and thumbnails (the `image` crate, PNG/JPEG/GIF/WebP/BMP only). Decoding is
//! bounded: the declared size is checked against `files.max_image_pixels` before any pixel is
//! allocated, the allocation itself is capped, and every decode of the process runs through
//! one [`ImagePool`] (`files.image_decoders` at once, a bounded queue, a deadline), so a
//! request full of decompression bombs costs one decode's memory at a time.

use std::io::{BufWriter, Cursor};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};

/// Longest side of a thumbnail, pixels (reference: 100).
pub const THUMB_SIDE: u32 = 100;
/// Largest image side accepted.
const MAX_SIDE: u32 = 16_384;
/// JPEG quality of avatars and JPEG thumbnails.
const JPEG_QUALITY: u8 = 85;

/// Why an image was refused.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// Not an image of a supported format, or truncated.
    #[error("undecodable image: {0}")]
    Undecodable(String),
    /// Larger than `files.max_image_pixels` (or its decode would allocate more than allowed).
    #[error("image too large: {0}")]
    TooLarge(String),
    /// Every decoder is busy and the queue is full, or the wait ran out.
    #[error("image decoders busy")]
    Busy,
    /// Writing the result failed.
    #[error("cannot write image: {0}")]
    Io(String),
}

/// What one decode may cost.
#[derive(Debug, Clone, Copy)]
pub struct ImageLimits {
    /// Largest width × height decoded.
    pub max_pixels: u64,
    /// Longest side of a stored avatar (larger avatars are scaled down before encoding).
    pub avatar_side: u32,
}

impl ImageLimits {
    /// Bytes a decode may allocate: 4 bytes (RGBA8) per allowed pixel and some working room.
    fn max_alloc(&self) -> u64 {
        self.max_pixels.saturating_mul(4).saturating_add(16 << 20)
    }
}

/// The process's image decoders: at most `workers` decodes at once on the blocking pool,
/// `queue` more waiting at most `wait`; beyond that a decode is refused as busy.
pub struct ImagePool {
    permits: tokio::sync::Semaphore,
    waiting: AtomicUsize,
    queue: usize,
    wait: Duration,
    limits: ImageLimits,
}

impl ImagePool {
    /// A pool of `workers` decoders (at least one).
    pub fn new(workers: usize, queue: usize, wait: Duration, limits: ImageLimits) -> ImagePool {
        ImagePool {
            permits: tokio::sync::Semaphore::new(workers.max(1)),
            waiting: AtomicUsize::new(0),
            queue,
            wait,
            limits,
        }
    }

    /// The limits every decode of this pool keeps.
    pub fn limits(&self) -> ImageLimits {
        self.limits
    }

    /// Runs `work` (which decodes) when a decoder is free.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(ImageLimits) -> Result<T, ImageError> + Send + 'static,
    ) -> Result<T, ImageError> {
        if self.waiting.fetch_add(1, Ordering::AcqRel) > self.queue {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(ImageError::Busy);
        }
        let permit = tokio::time::timeout(self.wait, self.permits.acquire()).await;
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        let _permit = match permit {
            Ok(Ok(p)) => p,
            _ => return Err(ImageError::Busy),
        };
        let limits = self.limits;
        tokio::task::spawn_blocking(move || work(limits))
            .await
            .map_err(|e| ImageError::Io(e.to_string()))?
    }
}

/// Decodes the file at `src`, its format guessed from the content (a PNG named `.jpg` is still
/// a PNG), within `limits`: the declared size is checked before anything is allocated.
pub fn decode(src: &Path, limits: ImageLimits) -> Result<(DynamicImage, ImageFormat), ImageError> {
    let bad = |e: &dyn std::fmt::Display| ImageError::Undecodable(e.to_string());
    let mut reader = ImageReader::open(src)
        .map_err(|e| bad(&e))?
        .with_guessed_format()
        .map_err(|e| bad(&e))?;
    let format = reader
        .format()
        .ok_or_else(|| ImageError::Undecodable("unknown format".into()))?;
    if !matches!(
        format,
        ImageFormat::Png
            | ImageFormat::Jpeg
            | ImageFormat::Gif
            | ImageFormat::WebP
            | ImageFormat::Bmp
    ) {
        return Err(ImageError::Undecodable(format!("{format:?} not accepted")));
    }
    // The reader hands these to the decoder, which checks them before allocating frames.
    reader.limits(caps_for(limits));
    let too_large = |e: &dyn std::fmt::Display| ImageError::TooLarge(e.to_string());
    let decoder = reader.into_decoder().map_err(|e| match e {
        image::ImageError::Limits(l) => too_large(&l),
        e => bad(&e),
    })?;
    let (w, h) = decoder.dimensions();
    if u64::from(w) * u64::from(h) > limits.max_pixels {
        return Err(too_large(&format_args!(
            "{w}x{h} is more than {} pixels",
            limits.max_pixels
        )));
    }
    let img = DynamicImage::from_decoder(decoder).map_err(|e| match e {
        image::ImageError::Limits(l) => too_large(&l),
        e => bad(&e),
    })?;
    Ok((img, format))
}

/// The `image` crate's limits for one decode.
fn caps_for(limits: ImageLimits) -> Limits {
    let mut caps = Limits::default();
    caps.max_image_width = Some(MAX_SIDE);
    caps.max_image_height = Some(MAX_SIDE);
    caps.max_alloc = Some(limits.max_alloc());
    caps
}

/// The thumbnail of `img`: longest side [`THUMB_SIDE`], aspect kept, never enlarged.
pub fn thumbnail(img: &DynamicImage) -> DynamicImage {
    let (w, h) = (img.width(), img.height());
    if w <= THUMB_SIDE && h <= THUMB_SIDE {
        return img.clone();
    }
    img.thumbnail(THUMB_SIDE, THUMB_SIDE)
}

/// Encodes `img` as `format` (JPEG without alpha, at [`JPEG_QUALITY`]).
pub fn encode(img: &DynamicImage, format: ImageFormat) -> Result<Vec<u8>, ImageError> {
    let mut out = Cursor::new(Vec::new());
    match format {
        ImageFormat::Jpeg => {
            let rgb = img.to_rgb8();
            let enc = image::codecs::jpeg::JpegEncoder::new_with_quality(
                BufWriter::new(&mut out),
                JPEG_QUALITY,
            );
            rgb.write_with_encoder(enc)
                .map_err(|e| ImageError::Io(e.to_string()))?;
        }
        ImageFormat::Gif | ImageFormat::Bmp => {
            // GIF and BMP encoders take 8-bit RGB(A); a thumbnail keeps only the first frame.
            img.to_rgba8()
                .write_to(&mut out, format)
                .map_err(|e| ImageError::Io(e.to_string()))?;
        }
        _ => {
            img.write_to(&mut out, format)
                .map_err(|e| ImageError::Io(e.to_string()))?;
        }
    }
    Ok(out.into_inner())
}

/// Checks the upload at `src` and writes its thumbnail (same format as the original) to
/// `dst`; returns the thumbnail's size.
pub fn make_thumbnail(
    src: &Path,
    dst: &Path,
    limits: ImageLimits,
) -> Result<(u32, u32), ImageError> {
    let (img, format) = decode(src, limits)?;
    let t = thumbnail(&img);
    let bytes = encode(&t, format)?;
    std::fs::write(dst, bytes).map_err(|e| ImageError::Io(e.to_string()))?;
    Ok((t.width(), t.height()))
}

/// An avatar: the upload scaled down to `limits.avatar_side` (before anything is encoded at
/// full size) and re-encoded as JPEG to `orig`, its thumbnail to `thumb`.
pub fn make_avatar(
    src: &Path,
    orig: &Path,
    thumb: &Path,
    limits: ImageLimits,
) -> Result<(), ImageError> {
    let (mut img, _) = decode(src, limits)?;
    let side = limits.avatar_side.max(THUMB_SIDE);
    if img.width() > side || img.height() > side {
        img = img.thumbnail(side, side);
    }
    let o = encode(&img, ImageFormat::Jpeg)?;
    let t = encode(&thumbnail(&img), ImageFormat::Jpeg)?;
    std::fs::write(orig, o).map_err(|e| ImageError::Io(e.to_string()))?;
    std::fs::write(thumb, t).map_err(|e| ImageError::Io(e.to_string()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: ImageLimits = ImageLimits {
        max_pixels: 1_000_000,
        avatar_side: 200,
    };

    #[test]
    fn declared_size_is_checked_before_decoding() {
        let dir = tempfile::tempdir().unwrap();
        // 2000 x 1000 = 2 MP of one colour: a few KB as PNG, over the 1 MP cap.
        let big = dir.path().join("big.png");
        DynamicImage::ImageLuma8(image::GrayImage::new(2000, 1000))
            .save_with_format(&big, ImageFormat::Png)
            .unwrap();
        assert!(std::fs::metadata(&big).unwrap().len() < 64 * 1024);
        let dst = dir.path().join("t.png");
        assert!(matches!(
            make_thumbnail(&big, &dst, LIMITS),
            Err(ImageError::TooLarge(_))
        ));
        // Avatars are scaled down to their side before encoding.
        let ok = dir.path().join("ok.png");
        DynamicImage::ImageRgb8(image::RgbImage::new(900, 450))
            .save_with_format(&ok, ImageFormat::Png)
            .unwrap();
        let (o, t) = (dir.path().join("o.jpg"), dir.path().join("t.jpg"));
        make_avatar(&ok, &o, &t, LIMITS).unwrap();
        let (img, f) = decode(&o, LIMITS).unwrap();
        assert_eq!(
            (img.width(), img.height(), f),
            (200, 100, ImageFormat::Jpeg)
        );
    }

    #[test]
    fn thumbnails_keep_aspect_and_format() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("a.png");
        let img = DynamicImage::ImageRgb8(image::RgbImage::from_pixel(
            400,
            200,
            image::Rgb([200, 10, 10]),
        ));
        img.save_with_format(&src, ImageFormat::Png).unwrap();
        let dst = dir.path().join("t.png");
        assert_eq!(make_thumbnail(&src, &dst, LIMITS).unwrap(), (100, 50));
        let (t, f) = decode(&dst, LIMITS).unwrap();
        assert_eq!((t.width(), t.height(), f), (100, 50, ImageFormat::Png));
        // Small images are not enlarged.
        let small = dir.path().join("s.png");
        DynamicImage::ImageRgb8(image::RgbImage::new(30, 60))
            .save_with_format(&small, ImageFormat::Png)
            .unwrap();
        assert_eq!(make_thumbnail(&small, &dst, LIMITS).unwrap(), (30, 60));
        // Every accepted codec round-trips in its own format.
        for (name, format) in [
            ("x.jpg", ImageFormat::Jpeg),
            ("x.gif", ImageFormat::Gif),
            ("x.bmp", ImageFormat::Bmp),
            ("x.webp", ImageFormat::WebP),
        ] {
            let p = dir.path().join(name);
            std::fs::write(&p, encode(&img, format).unwrap()).unwrap();
            let out = dir.path().join(format!("t-{name}"));
            assert_eq!(
                make_thumbnail(&p, &out, LIMITS).unwrap(),
                (100, 50),
                "{name}"
            );
            assert_eq!(decode(&out, LIMITS).unwrap().1, format, "{name}");
        }
        // Garbage is refused.
        let junk = dir.path().join("j.png");
        std::fs::write(&junk, b"\x89PNG\r\n\x1a\nnot really").unwrap();
        assert!(matches!(
            make_thumbnail(&junk, &dst, LIMITS),
            Err(ImageError::Undecodable(_))
        ));
    }
}
