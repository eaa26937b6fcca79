//! The image code of `/getImgCode`: digits drawn on noise as a PNG (the `image` crate encodes
//! it). A speed bump against scripted SMS sending, not a strong captcha.

use rand::Rng;

/// 5×7 glyphs of the digits, one row per byte (the low 5 bits, left to right).
const DIGITS: [[u8; 7]; 10] = [
    [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E],
    [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E],
    [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F],
    [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E],
    [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02],
    [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E],
    [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E],
    [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
    [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E],
    [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C],
];

const SCALE: u32 = 4;
const WIDTH: u32 = 120;
const HEIGHT: u32 = 40;

/// A random code of `len` digits.
pub fn new_code(len: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| char::from(b'0' + rng.gen_range(0..10u8)))
        .collect()
}

/// `code` (digits) drawn as a PNG, each digit shifted and coloured at random over noise.
pub fn png(code: &str) -> Vec<u8> {
    let mut rng = rand::thread_rng();
    let mut img = image::RgbImage::from_fn(WIDTH, HEIGHT, |_, _| {
        let v = rng.gen_range(215..=255u8);
        image::Rgb([v, v, rng.gen_range(215..=255u8)])
    });
    let digits: Vec<usize> = code
        .bytes()
        .filter(u8::is_ascii_digit)
        .map(|b| usize::from(b - b'0'))
        .collect();
    let step = WIDTH / (digits.len().max(1) as u32 + 1);
    for (i, d) in digits.iter().enumerate() {
        let colour = image::Rgb([
            rng.gen_range(0..120u8),
            rng.gen_range(0..120u8),
            rng.gen_range(0..120u8),
        ]);
        let x0 = step / 2 + i as u32 * step + rng.gen_range(0..4);
        let y0 = rng.gen_range(2..(HEIGHT - 7 * SCALE).max(3));
        for (row, bits) in DIGITS[*d].iter().enumerate() {
            for col in 0..5u32 {
                if bits & (0x10 >> col) == 0 {
                    continue;
                }
                for dy in 0..SCALE {
                    for dx in 0..SCALE {
                        let (x, y) = (x0 + col * SCALE + dx, y0 + row as u32 * SCALE + dy);
                        if x < WIDTH && y < HEIGHT {
                            img.put_pixel(x, y, colour);
                        }
                    }
                }
            }
        }
    }
    // A few random lines across the digits.
    for _ in 0..4 {
        let (mut x, mut y) = (0f32, rng.gen_range(0..HEIGHT) as f32);
        let slope = rng.gen_range(-0.3f32..0.3);
        let colour = image::Rgb([rng.gen_range(60..160u8), rng.gen_range(60..160u8), 90]);
        while x < WIDTH as f32 {
            if (0.0..HEIGHT as f32).contains(&y) {
                img.put_pixel(x as u32, y as u32, colour);
            }
            x += 1.0;
            y += slope;
        }
    }
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .expect("a PNG encodes into memory");
    out.into_inner()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_digits_and_images_are_pngs() {
        let code = new_code(4);
        assert_eq!(code.len(), 4);
        assert!(code.bytes().all(|b| b.is_ascii_digit()));
        let bytes = png(&code);
        let img = image::load_from_memory(&bytes).unwrap();
        assert_eq!((img.width(), img.height()), (WIDTH, HEIGHT));
    }
}
