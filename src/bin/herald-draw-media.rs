//! Draws the pictures of the checked-in draft library (`content-plan/media/`): simple geometric
//! illustrations made of shapes and gradients, with the `image` crate only. Deterministic: the
//! same program always writes the same pixels, so the pictures can be redrawn and reviewed.
//!
//! ```sh
//! cargo run --bin herald-draw-media            # writes into content-plan/media/
//! cargo run --bin herald-draw-media -- OUTDIR  # or into OUTDIR
//! cargo run --bin herald-draw-media -- --png OUTDIR  # every picture as PNG, for review
//! ```
//!
//! It draws, never copies: nothing here comes from a photograph or another work, which is what
//! lets the pictures be given away under CC0 (see `content-plan/media/LICENSE.md`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use image::codecs::jpeg::JpegEncoder;
use image::{Rgb, RgbImage};

/// A colour as RGB.
type C = [u8; 3];

/// A canvas with the few drawing operations the pictures need.
struct Canvas {
    img: RgbImage,
}

impl Canvas {
    fn new(w: u32, h: u32) -> Self {
        Self {
            img: RgbImage::new(w, h),
        }
    }

    fn h(&self) -> f32 {
        self.img.height() as f32
    }

    /// Blends `c` over the pixel at (x, y) with opacity `a` (0..=1); outside is ignored.
    fn blend(&mut self, x: i64, y: i64, c: C, a: f32) {
        if x < 0 || y < 0 || x >= i64::from(self.img.width()) || y >= i64::from(self.img.height()) {
            return;
        }
        let p = self.img.get_pixel_mut(x as u32, y as u32);
        for (old, new) in p.0.iter_mut().zip(c) {
            let v = f32::from(*old) * (1.0 - a) + f32::from(new) * a;
            *old = v.round().clamp(0.0, 255.0) as u8;
        }
    }

    /// A vertical gradient from `top` to `bottom` over rows `y0..y1`.
    fn vgradient(&mut self, y0: f32, y1: f32, top: C, bottom: C) {
        let (a, b) = (y0.max(0.0) as u32, (y1.min(self.h())) as u32);
        for y in a..b {
            let t = (y as f32 - y0) / (y1 - y0).max(1.0);
            let c = mix(top, bottom, t);
            for x in 0..self.img.width() {
                self.img.put_pixel(x, y, Rgb(c));
            }
        }
    }

    fn rect(&mut self, x0: f32, y0: f32, x1: f32, y1: f32, c: C) {
        for y in y0.round() as i64..y1.round() as i64 {
            for x in x0.round() as i64..x1.round() as i64 {
                self.blend(x, y, c, 1.0);
            }
        }
    }

    /// A filled circle, its edge softened over one pixel.
    fn circle(&mut self, cx: f32, cy: f32, r: f32, c: C) {
        self.ellipse(cx, cy, r, r, c, 1.0);
    }

    fn ellipse(&mut self, cx: f32, cy: f32, rx: f32, ry: f32, c: C, alpha: f32) {
        let (x0, x1) = ((cx - rx - 1.0) as i64, (cx + rx + 1.0) as i64);
        let (y0, y1) = ((cy - ry - 1.0) as i64, (cy + ry + 1.0) as i64);
        for y in y0..=y1 {
            for x in x0..=x1 {
                let dx = (x as f32 + 0.5 - cx) / rx;
                let dy = (y as f32 + 0.5 - cy) / ry;
                let d = (dx * dx + dy * dy).sqrt();
                let edge = ((1.0 - d) * rx.min(ry)).clamp(0.0, 1.0);
                if edge > 0.0 {
                    self.blend(x, y, c, edge * alpha);
                }
            }
        }
    }

    /// A filled polygon (even-odd rule), sampled at pixel centres.
    fn polygon(&mut self, pts: &[(f32, f32)], c: C) {
        let ymin = pts.iter().map(|p| p.1).fold(f32::MAX, f32::min).max(0.0) as i64;
        let ymax = pts
            .iter()
            .map(|p| p.1)
            .fold(f32::MIN, f32::max)
            .min(self.h()) as i64;
        for y in ymin..=ymax {
            let fy = y as f32 + 0.5;
            let mut xs = Vec::new();
            for i in 0..pts.len() {
                let (a, b) = (pts[i], pts[(i + 1) % pts.len()]);
                if (a.1 <= fy && b.1 > fy) || (b.1 <= fy && a.1 > fy) {
                    xs.push(a.0 + (fy - a.1) / (b.1 - a.1) * (b.0 - a.0));
                }
            }
            xs.sort_by(f32::total_cmp);
            for pair in xs.chunks(2) {
                if let [a, b] = pair {
                    for x in a.round() as i64..b.round() as i64 {
                        self.blend(x, y, c, 1.0);
                    }
                }
            }
        }
    }

    /// A thick line with round ends.
    fn line(&mut self, a: (f32, f32), b: (f32, f32), width: f32, c: C) {
        let len = ((b.0 - a.0).powi(2) + (b.1 - a.1).powi(2)).sqrt();
        let steps = (len / (width / 4.0).max(0.5)).ceil().max(1.0) as usize;
        for i in 0..=steps {
            let t = i as f32 / steps as f32;
            self.circle(a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t, width / 2.0, c);
        }
    }

    /// A ring (circle outline).
    fn ring(&mut self, cx: f32, cy: f32, r: f32, width: f32, c: C) {
        let steps = (r * 0.8).max(24.0) as usize;
        for i in 0..steps {
            let (t0, t1) = (
                i as f32 / steps as f32 * std::f32::consts::TAU,
                (i + 1) as f32 / steps as f32 * std::f32::consts::TAU,
            );
            self.line(
                (cx + r * t0.cos(), cy + r * t0.sin()),
                (cx + r * t1.cos(), cy + r * t1.sin()),
                width,
                c,
            );
        }
    }
}

fn mix(a: C, b: C, t: f32) -> C {
    let t = t.clamp(0.0, 1.0);
    [0, 1, 2].map(|i| (f32::from(a[i]) * (1.0 - t) + f32::from(b[i]) * t).round() as u8)
}

/// A small deterministic generator (xorshift), so "random" details are the same every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 40) as f32 / (1u64 << 24) as f32
    }
}

/// A car seen from the side, its wheels' centre line at `ground`, `len` long, facing right.
fn car(cv: &mut Canvas, x: f32, ground: f32, len: f32, body: C, glass: C) {
    let u = len / 100.0;
    let y = |v: f32| ground - v * u;
    let xx = |v: f32| x + v * u;
    // Body: a crossover's profile.
    cv.polygon(
        &[
            (xx(0.0), y(8.0)),
            (xx(2.0), y(26.0)),
            (xx(18.0), y(30.0)),
            (xx(30.0), y(46.0)),
            (xx(70.0), y(47.0)),
            (xx(84.0), y(32.0)),
            (xx(98.0), y(28.0)),
            (xx(100.0), y(10.0)),
            (xx(97.0), y(6.0)),
            (xx(3.0), y(6.0)),
        ],
        body,
    );
    // Windows.
    cv.polygon(
        &[
            (xx(22.0), y(31.0)),
            (xx(32.0), y(43.0)),
            (xx(49.0), y(43.5)),
            (xx(49.0), y(31.0)),
        ],
        glass,
    );
    cv.polygon(
        &[
            (xx(52.0), y(31.0)),
            (xx(52.0), y(43.5)),
            (xx(68.0), y(43.5)),
            (xx(79.0), y(31.5)),
        ],
        glass,
    );
    // Lights.
    cv.rect(xx(95.0), y(24.0), xx(99.5), y(20.0), [250, 240, 200]);
    cv.rect(xx(0.5), y(24.0), xx(3.0), y(19.0), [200, 40, 40]);
    // Wheels.
    for wx in [20.0, 80.0] {
        cv.circle(xx(wx), y(6.0), 11.0 * u, [30, 30, 34]);
        cv.circle(xx(wx), y(6.0), 6.0 * u, [170, 172, 178]);
        cv.circle(xx(wx), y(6.0), 2.0 * u, [90, 92, 98]);
    }
}

/// A white crossover parked on snow under a pale winter sky, flakes falling.
fn x_trail_snow() -> Canvas {
    let mut cv = Canvas::new(1200, 800);
    cv.vgradient(0.0, 520.0, [150, 180, 215], [225, 235, 245]);
    // Distant snowy hills.
    cv.polygon(
        &[
            (0.0, 520.0),
            (0.0, 430.0),
            (260.0, 360.0),
            (520.0, 440.0),
            (800.0, 350.0),
            (1200.0, 450.0),
            (1200.0, 520.0),
        ],
        [200, 212, 228],
    );
    // Pine trees.
    let mut rng = Rng(7);
    for i in 0..14 {
        let tx = 40.0 + i as f32 * 85.0 + rng.next() * 30.0;
        let th = 70.0 + rng.next() * 50.0;
        cv.polygon(
            &[(tx, 520.0 - th), (tx - 22.0, 520.0), (tx + 22.0, 520.0)],
            [60, 95, 85],
        );
        cv.polygon(
            &[
                (tx, 520.0 - th),
                (tx - 9.0, 520.0 - th * 0.55),
                (tx + 9.0, 520.0 - th * 0.55),
            ],
            [240, 244, 250],
        );
    }
    cv.vgradient(520.0, 800.0, [240, 244, 250], [215, 225, 238]);
    // Shadow, car.
    cv.ellipse(600.0, 650.0, 330.0, 26.0, [170, 182, 200], 0.8);
    car(&mut cv, 290.0, 650.0, 620.0, [244, 245, 247], [70, 90, 115]);
    // Snow on the roof.
    cv.ellipse(600.0, 650.0 - 47.0 * 6.2, 120.0, 8.0, [255, 255, 255], 1.0);
    // Flakes.
    for _ in 0..260 {
        let (x, y, r) = (
            rng.next() * 1200.0,
            rng.next() * 800.0,
            1.5 + rng.next() * 3.0,
        );
        cv.ellipse(x, y, r, r, [255, 255, 255], 0.85);
    }
    cv
}

/// A road winding between mountains toward a snowy peak.
fn mountain_road() -> Canvas {
    let mut cv = Canvas::new(1200, 800);
    cv.vgradient(0.0, 800.0, [120, 170, 220], [235, 225, 200]);
    cv.circle(950.0, 150.0, 60.0, [255, 240, 200]);
    // Far range with a snowy peak.
    cv.polygon(
        &[
            (0.0, 520.0),
            (300.0, 260.0),
            (480.0, 380.0),
            (700.0, 180.0),
            (950.0, 400.0),
            (1200.0, 300.0),
            (1200.0, 520.0),
        ],
        [110, 130, 160],
    );
    cv.polygon(
        &[
            (700.0, 180.0),
            (640.0, 235.0),
            (680.0, 228.0),
            (705.0, 250.0),
            (735.0, 225.0),
            (765.0, 238.0),
        ],
        [245, 248, 252],
    );
    // Near hills.
    cv.polygon(
        &[
            (0.0, 800.0),
            (0.0, 500.0),
            (350.0, 430.0),
            (700.0, 520.0),
            (1200.0, 440.0),
            (1200.0, 800.0),
        ],
        [80, 140, 90],
    );
    cv.polygon(
        &[
            (0.0, 800.0),
            (0.0, 620.0),
            (500.0, 560.0),
            (1200.0, 640.0),
            (1200.0, 800.0),
        ],
        [60, 115, 70],
    );
    // The road: a band narrowing into the distance along an S curve.
    let path: Vec<(f32, f32)> = (0..=60)
        .map(|i| {
            let t = i as f32 / 60.0;
            let y = 800.0 - t * 330.0;
            let x = 600.0 + (t * 7.0).sin() * 220.0 * (1.0 - t) + t * 80.0;
            (x, y)
        })
        .collect();
    for w in path.windows(2) {
        let t = (800.0 - w[0].1) / 330.0;
        let width = 230.0 * (1.0 - t) + 14.0;
        cv.line(w[0], w[1], width, [70, 72, 78]);
    }
    for (i, w) in path.windows(2).enumerate() {
        if i % 4 < 2 {
            let t = (800.0 - w[0].1) / 330.0;
            cv.line(w[0], w[1], 8.0 * (1.0 - t) + 1.5, [245, 225, 120]);
        }
    }
    cv
}

/// A bowl of noodles in red chili oil with spring onion, seen from above.
fn chengdu_noodles() -> Canvas {
    let mut cv = Canvas::new(1080, 1080);
    cv.vgradient(0.0, 1080.0, [120, 80, 55], [90, 58, 40]);
    // Table grain.
    for i in 0..9 {
        let y = 60.0 + i as f32 * 120.0;
        cv.line((0.0, y), (1080.0, y + 12.0), 3.0, [105, 70, 48]);
    }
    // Chopsticks.
    cv.line((760.0, 120.0), (1040.0, 620.0), 22.0, [205, 170, 120]);
    cv.line((800.0, 100.0), (1060.0, 580.0), 22.0, [195, 160, 112]);
    // Bowl rim, broth.
    cv.circle(520.0, 560.0, 400.0, [235, 235, 228]);
    cv.ring(520.0, 560.0, 372.0, 14.0, [40, 80, 150]);
    cv.circle(520.0, 560.0, 350.0, [185, 45, 25]);
    // Noodles: wavy pale strands.
    let mut rng = Rng(42);
    for k in 0..15 {
        let y0 = 310.0 + k as f32 * 34.0;
        let phase = rng.next() * 6.0;
        let mut prev: Option<(f32, f32)> = None;
        for i in 0..=40 {
            let x = 250.0 + i as f32 * 13.5;
            let y = y0 + (i as f32 * 0.5 + phase).sin() * 14.0;
            let inside = ((x - 520.0).powi(2) + (y - 560.0).powi(2)).sqrt() < 300.0;
            if let (Some(p), true) = (prev, inside) {
                cv.line(p, (x, y), 16.0, [240, 215, 150]);
            }
            prev = inside.then_some((x, y));
        }
    }
    // Chili flakes and oil, spring onion rings.
    for _ in 0..120 {
        let a = rng.next() * std::f32::consts::TAU;
        let r = rng.next().sqrt() * 320.0;
        let (x, y) = (520.0 + r * a.cos(), 560.0 + r * a.sin());
        cv.ellipse(
            x,
            y,
            4.0 + rng.next() * 5.0,
            3.0 + rng.next() * 3.0,
            [200, 30, 20],
            0.9,
        );
    }
    for _ in 0..34 {
        let a = rng.next() * std::f32::consts::TAU;
        let r = rng.next().sqrt() * 290.0;
        let (x, y) = (520.0 + r * a.cos(), 560.0 + r * a.sin());
        cv.ring(x, y, 9.0, 4.0, [90, 170, 60]);
    }
    // Whole dried chilies.
    for (x, y, ang) in [
        (420.0, 470.0, 0.5f32),
        (640.0, 620.0, -0.8),
        (560.0, 420.0, 2.2),
    ] {
        let (dx, dy) = (ang.cos() * 38.0, ang.sin() * 38.0);
        cv.line((x - dx, y - dy), (x + dx, y + dy), 22.0, [150, 15, 10]);
        cv.line(
            (x + dx, y + dy),
            (x + dx * 1.35, y + dy * 1.35),
            7.0,
            [70, 110, 40],
        );
    }
    // Drawn large and scaled down: smoother edges, and a file well under 150 KB.
    cv.img = image::imageops::resize(&cv.img, 800, 800, image::imageops::FilterType::Triangle);
    cv
}

/// Six maintenance icons on cards, each with a check mark: oil, tyre, battery, wiper, brake
/// disc, filter.
fn maintenance_icons() -> Canvas {
    let mut cv = Canvas::new(1200, 800);
    cv.vgradient(0.0, 800.0, [238, 242, 246], [222, 230, 238]);
    let ink = [40, 60, 90];
    let accent = [200, 40, 50];
    for i in 0..6 {
        let (col, row) = ((i % 3) as f32, (i / 3) as f32);
        let (x0, y0) = (90.0 + col * 360.0, 80.0 + row * 340.0);
        cv.rect(x0 + 8.0, y0 + 8.0, x0 + 308.0, y0 + 298.0, [205, 212, 222]);
        cv.rect(x0, y0, x0 + 300.0, y0 + 290.0, [255, 255, 255]);
        let (cx, cy) = (x0 + 150.0, y0 + 130.0);
        match i {
            0 => {
                // Oil can drop.
                cv.polygon(
                    &[
                        (cx, cy - 80.0),
                        (cx - 50.0, cy + 10.0),
                        (cx + 50.0, cy + 10.0),
                    ],
                    ink,
                );
                cv.circle(cx, cy + 20.0, 52.0, ink);
                cv.circle(cx - 15.0, cy + 20.0, 14.0, [255, 255, 255]);
            }
            1 => {
                // Tyre.
                cv.circle(cx, cy, 85.0, ink);
                cv.circle(cx, cy, 45.0, [255, 255, 255]);
                cv.circle(cx, cy, 20.0, ink);
                for k in 0..12 {
                    let a = k as f32 / 12.0 * std::f32::consts::TAU;
                    cv.circle(
                        cx + a.cos() * 72.0,
                        cy + a.sin() * 72.0,
                        6.0,
                        [255, 255, 255],
                    );
                }
            }
            2 => {
                // Battery.
                cv.rect(cx - 90.0, cy - 50.0, cx + 90.0, cy + 70.0, ink);
                cv.rect(cx - 65.0, cy - 70.0, cx - 35.0, cy - 50.0, ink);
                cv.rect(cx + 35.0, cy - 70.0, cx + 65.0, cy - 50.0, ink);
                cv.rect(cx - 65.0, cy - 2.0, cx - 25.0, cy + 8.0, [255, 255, 255]);
                cv.rect(cx - 50.0, cy - 17.0, cx - 40.0, cy + 23.0, [255, 255, 255]);
                cv.rect(cx + 25.0, cy - 2.0, cx + 65.0, cy + 8.0, [255, 255, 255]);
            }
            3 => {
                // Wiper over a windscreen arc.
                cv.polygon(
                    &[
                        (cx - 100.0, cy + 60.0),
                        (cx - 70.0, cy - 60.0),
                        (cx + 70.0, cy - 60.0),
                        (cx + 100.0, cy + 60.0),
                    ],
                    [170, 200, 230],
                );
                cv.line((cx, cy + 60.0), (cx - 55.0, cy - 45.0), 10.0, ink);
                cv.circle(cx, cy + 60.0, 12.0, ink);
            }
            4 => {
                // Brake disc and calliper.
                cv.circle(cx, cy, 85.0, ink);
                cv.circle(cx, cy, 30.0, [255, 255, 255]);
                for k in 0..5 {
                    let a = k as f32 / 5.0 * std::f32::consts::TAU;
                    cv.circle(
                        cx + a.cos() * 55.0,
                        cy + a.sin() * 55.0,
                        8.0,
                        [255, 255, 255],
                    );
                }
                cv.polygon(
                    &[
                        (cx + 50.0, cy - 75.0),
                        (cx + 100.0, cy - 40.0),
                        (cx + 100.0, cy + 40.0),
                        (cx + 50.0, cy + 75.0),
                        (cx + 70.0, cy),
                    ],
                    accent,
                );
            }
            _ => {
                // Air filter: pleats.
                cv.rect(cx - 90.0, cy - 70.0, cx + 90.0, cy + 70.0, ink);
                for k in 0..9 {
                    let x = cx - 80.0 + k as f32 * 20.0;
                    cv.line((x, cy - 60.0), (x + 10.0, cy + 60.0), 5.0, [255, 255, 255]);
                }
            }
        }
        // Check mark in a green disc.
        let (kx, ky) = (x0 + 150.0, y0 + 245.0);
        cv.circle(kx, ky, 28.0, [40, 150, 80]);
        cv.line((kx - 13.0, ky), (kx - 3.0, ky + 11.0), 7.0, [255, 255, 255]);
        cv.line(
            (kx - 3.0, ky + 11.0),
            (kx + 15.0, ky - 12.0),
            7.0,
            [255, 255, 255],
        );
    }
    cv
}

/// A charging post with its cable plugged into a car, under a canopy at dusk.
fn charging_station() -> Canvas {
    let mut cv = Canvas::new(1200, 800);
    cv.vgradient(0.0, 560.0, [40, 60, 110], [230, 150, 110]);
    cv.vgradient(560.0, 800.0, [90, 92, 100], [60, 62, 70]);
    // Canopy and its light.
    cv.rect(80.0, 120.0, 1120.0, 160.0, [235, 238, 242]);
    cv.rect(150.0, 160.0, 175.0, 560.0, [200, 205, 212]);
    cv.rect(1025.0, 160.0, 1050.0, 560.0, [200, 205, 212]);
    for k in 0..6 {
        let x = 200.0 + k as f32 * 160.0;
        cv.ellipse(x, 170.0, 50.0, 6.0, [255, 250, 220], 1.0);
    }
    // Parking lines.
    for k in 0..4 {
        let x = 250.0 + k as f32 * 260.0;
        cv.line((x, 800.0), (x + 40.0, 580.0), 8.0, [235, 235, 235]);
    }
    // Charging post.
    cv.rect(330.0, 330.0, 430.0, 620.0, [245, 246, 248]);
    cv.rect(345.0, 350.0, 415.0, 430.0, [30, 40, 60]);
    cv.rect(355.0, 362.0, 405.0, 380.0, [80, 220, 140]);
    cv.rect(330.0, 600.0, 430.0, 625.0, [40, 150, 200]);
    // Lightning bolt.
    cv.polygon(
        &[
            (385.0, 450.0),
            (362.0, 505.0),
            (382.0, 505.0),
            (372.0, 550.0),
            (402.0, 490.0),
            (382.0, 490.0),
        ],
        [40, 150, 200],
    );
    // Car and cable.
    car(&mut cv, 520.0, 690.0, 560.0, [60, 110, 170], [25, 35, 55]);
    let cable: Vec<(f32, f32)> = (0..=30)
        .map(|i| {
            let t = i as f32 / 30.0;
            (
                420.0 + t * 125.0,
                450.0 + (t * std::f32::consts::PI).sin() * 150.0 + t * 120.0,
            )
        })
        .collect();
    for w in cable.windows(2) {
        cv.line(w[0], w[1], 9.0, [20, 22, 26]);
    }
    cv
}

/// A city skyline at dusk: towers with lit windows against an orange-to-violet sky.
fn city_dusk() -> Canvas {
    let mut cv = Canvas::new(1200, 800);
    cv.vgradient(0.0, 800.0, [50, 40, 100], [250, 150, 90]);
    cv.circle(300.0, 560.0, 70.0, [255, 210, 140]);
    let mut rng = Rng(2026);
    // Two rows of towers: far ones lighter.
    for (layer, colour, base) in [(0, [95, 80, 120], 640.0f32), (1, [40, 35, 60], 800.0)] {
        let mut x = -20.0;
        while x < 1200.0 {
            let w = 60.0 + rng.next() * 90.0;
            let h = if layer == 0 {
                200.0 + rng.next() * 250.0
            } else {
                150.0 + rng.next() * 320.0
            };
            cv.rect(x, base - h, x + w, base, colour);
            if layer == 1 {
                // Windows.
                let mut wy = base - h + 14.0;
                while wy < base - 14.0 {
                    let mut wx = x + 10.0;
                    while wx < x + w - 14.0 {
                        if rng.next() < 0.45 {
                            cv.rect(wx, wy, wx + 8.0, wy + 12.0, [255, 215, 120]);
                        }
                        wx += 16.0;
                    }
                    wy += 22.0;
                }
            }
            x += w + 6.0 + rng.next() * 20.0;
        }
    }
    // A TV tower.
    cv.rect(905.0, 220.0, 915.0, 800.0, [40, 35, 60]);
    cv.ellipse(910.0, 330.0, 34.0, 20.0, [40, 35, 60], 1.0);
    cv.circle(910.0, 215.0, 5.0, [255, 80, 80]);
    cv
}

/// Rapeseed fields in yellow stripes up to green hills.
fn rapeseed_fields() -> Canvas {
    let mut cv = Canvas::new(1200, 800);
    cv.vgradient(0.0, 420.0, [140, 190, 235], [220, 235, 245]);
    cv.polygon(
        &[
            (0.0, 430.0),
            (0.0, 340.0),
            (300.0, 300.0),
            (650.0, 360.0),
            (950.0, 290.0),
            (1200.0, 350.0),
            (1200.0, 430.0),
        ],
        [90, 150, 100],
    );
    for k in 0..14 {
        let y0 = 420.0 + (k as f32).powf(1.6) * 12.0;
        let y1 = 420.0 + ((k + 1) as f32).powf(1.6) * 12.0;
        let c = if k % 2 == 0 {
            [245, 210, 40]
        } else {
            [225, 185, 30]
        };
        cv.polygon(
            &[
                (0.0, y0),
                (1200.0, y0 - 20.0),
                (1200.0, y1 - 20.0),
                (0.0, y1),
            ],
            c,
        );
    }
    // A farmhouse.
    cv.rect(820.0, 360.0, 920.0, 420.0, [240, 236, 228]);
    cv.polygon(
        &[(805.0, 362.0), (870.0, 320.0), (935.0, 362.0)],
        [60, 60, 70],
    );
    cv.rect(860.0, 385.0, 880.0, 420.0, [90, 70, 50]);
    cv
}

/// A function that draws one picture.
type Draw = fn() -> Canvas;

/// Writes `cv` as JPEG (quality 85) or PNG by the name's extension.
fn save(cv: &Canvas, path: &Path, png: bool) -> Result<u64, String> {
    let bytes = if png || path.extension().and_then(|e| e.to_str()) == Some("png") {
        let mut out = std::io::Cursor::new(Vec::new());
        cv.img
            .write_to(&mut out, image::ImageFormat::Png)
            .map_err(|e| e.to_string())?;
        out.into_inner()
    } else {
        let mut out = Vec::new();
        JpegEncoder::new_with_quality(&mut out, 82)
            .encode_image(&cv.img)
            .map_err(|e| e.to_string())?;
        out
    };
    std::fs::write(path, &bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(bytes.len() as u64)
}

fn main() -> ExitCode {
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    let png = args.first().is_some_and(|a| a == "--png");
    if png {
        args.remove(0);
    }
    let dir = args
        .first()
        .map_or_else(|| PathBuf::from("content-plan/media"), PathBuf::from);
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("herald-draw-media: cannot create {}: {e}", dir.display());
        return ExitCode::FAILURE;
    }
    let pictures: [(&str, Draw); 7] = [
        ("x-trail-snow.jpg", x_trail_snow),
        ("mountain-road.jpg", mountain_road),
        ("chengdu-noodles.jpg", chengdu_noodles),
        ("maintenance-checklist.png", maintenance_icons),
        ("charging-station.jpg", charging_station),
        ("city-dusk.jpg", city_dusk),
        ("rapeseed-fields.jpg", rapeseed_fields),
    ];
    for (name, draw) in pictures {
        let path = if png {
            dir.join(Path::new(name).with_extension("png"))
        } else {
            dir.join(name)
        };
        match save(&draw(), &path, png) {
            Ok(bytes) => println!("{} ({bytes} bytes)", path.display()),
            Err(e) => {
                eprintln!("herald-draw-media: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}
