//! Image checks and thumbnails (the `image` crate, PNG/JPEG/GIF/WebP/BMP only). Decoding is
//! bounded (dimensions and memory) so a decompression bomb is refused, not allocated; callers
//! run these on the blocking pool.

use std::io::{BufWriter, Cursor};
use std::path::Path;

use image::{DynamicImage, ImageFormat, ImageReader, Limits};

/// Longest side of a thumbnail, pixels (reference: 100).
pub const THUMB_SIDE: u32 = 100;
/// Largest image side accepted.
const MAX_SIDE: u32 = 16_384;
/// Largest decoding allocation, bytes.
const MAX_ALLOC: u64 = 512 * 1024 * 1024;
/// JPEG quality of avatars and JPEG thumbnails.
const JPEG_QUALITY: u8 = 85;

/// Why an image was refused.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// Not an image of a supported format, truncated, or too large to decode.
    #[error("undecodable image: {0}")]
    Undecodable(String),
    /// Writing the result failed.
    #[error("cannot write image: {0}")]
    Io(String),
}

/// Decodes the file at `src`, its format guessed from the content (a PNG named `.jpg` is still
/// a PNG), within the limits.
pub fn decode(src: &Path) -> Result<(DynamicImage, ImageFormat), ImageError> {
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
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_ALLOC);
    reader.limits(limits);
    let img = reader.decode().map_err(|e| bad(&e))?;
    Ok((img, format))
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
pub fn make_thumbnail(src: &Path, dst: &Path) -> Result<(u32, u32), ImageError> {
    let (img, format) = decode(src)?;
    let t = thumbnail(&img);
    let bytes = encode(&t, format)?;
    std::fs::write(dst, bytes).map_err(|e| ImageError::Io(e.to_string()))?;
    Ok((t.width(), t.height()))
}

/// An avatar: the upload re-encoded as JPEG to `orig` and its thumbnail to `thumb`.
pub fn make_avatar(src: &Path, orig: &Path, thumb: &Path) -> Result<(), ImageError> {
    let (img, _) = decode(src)?;
    let o = encode(&img, ImageFormat::Jpeg)?;
    let t = encode(&thumbnail(&img), ImageFormat::Jpeg)?;
    std::fs::write(orig, o).map_err(|e| ImageError::Io(e.to_string()))?;
    std::fs::write(thumb, t).map_err(|e| ImageError::Io(e.to_string()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(make_thumbnail(&src, &dst).unwrap(), (100, 50));
        let (t, f) = decode(&dst).unwrap();
        assert_eq!((t.width(), t.height(), f), (100, 50, ImageFormat::Png));
        // Small images are not enlarged.
        let small = dir.path().join("s.png");
        DynamicImage::ImageRgb8(image::RgbImage::new(30, 60))
            .save_with_format(&small, ImageFormat::Png)
            .unwrap();
        assert_eq!(make_thumbnail(&small, &dst).unwrap(), (30, 60));
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
            assert_eq!(make_thumbnail(&p, &out).unwrap(), (100, 50), "{name}");
            assert_eq!(decode(&out).unwrap().1, format, "{name}");
        }
        // Garbage is refused.
        let junk = dir.path().join("j.png");
        std::fs::write(&junk, b"\x89PNG\r\n\x1a\nnot really").unwrap();
        assert!(matches!(
            make_thumbnail(&junk, &dst),
            Err(ImageError::Undecodable(_))
        ));
    }
}
