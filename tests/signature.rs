//! The signature pad (`ui/signature.slint`) on the headless software renderer, wired to
//! `signature::Signature` the way a screen's adapter will be: Rust keeps the
//! strokes and sets `commands`. Driven by pointer events, checked on the callbacks, the
//! model and the pixels.
//!
//! A test binary of its own (its own process), so it installs the headless platform
//! itself; Slint allows one platform per process, so it is one `#[test]`.

use std::cell::RefCell;
use std::rc::Rc;

use slint::platform::{PointerEventButton, WindowEvent};
use slint::{ComponentHandle, LogicalPosition};
use tagtally::signature::{Signature, png_has_ink};
use tagtally::ui::headless::Headless;

slint::slint! {
    import { SignaturePad } from "../ui/signature.slint";
    import "../ui/fonts/DejaVuSans.ttf";
    import "../ui/fonts/DejaVuSans-Bold.ttf";

    export component PadWindow inherits Window {
        in property <string> commands;
        in property <bool> enabled: true;
        callback stroke-begin(float, float, float, float);
        callback stroke-extend(float, float);
        callback stroke-end();
        callback clear();
        default-font-family: "DejaVu Sans";
        background: #0f1419;
        VerticalLayout {
            padding: 20px;
            alignment: start;
            SignaturePad {
                commands: root.commands;
                enabled: root.enabled;
                stroke-begin(x, y, w, h) => { root.stroke-begin(x, y, w, h); }
                stroke-extend(x, y) => { root.stroke-extend(x, y); }
                stroke-end => { root.stroke-end(); }
                clear => { root.clear(); }
            }
        }
    }
}

/// Where the pad's sheet starts in the window (the layout's padding).
const SHEET: (f32, f32) = (20.0, 20.0);
const WIDTH: u32 = 440;
const HEIGHT: u32 = 400;

/// What the callbacks saw, beside the model they drive.
#[derive(Default)]
struct Seen {
    begins: Vec<(f32, f32, f32, f32)>,
    extends: usize,
    ends: usize,
    clears: usize,
}

struct Pad {
    ui: PadWindow,
    sig: Rc<RefCell<Signature>>,
    seen: Rc<RefCell<Seen>>,
}

/// The window, wired as the delivery screen's adapter will be.
fn open() -> Pad {
    let ui = PadWindow::new().unwrap();
    let sig = Rc::new(RefCell::new(Signature::new(1.0, 1.0)));
    let seen = Rc::new(RefCell::new(Seen::default()));
    let show = {
        let weak = ui.as_weak();
        let sig = sig.clone();
        move || {
            if let Some(ui) = weak.upgrade() {
                ui.set_commands(sig.borrow().path_commands().into());
            }
        }
    };
    ui.on_stroke_begin({
        let (sig, seen, show) = (sig.clone(), seen.clone(), show.clone());
        move |x, y, w, h| {
            seen.borrow_mut().begins.push((x, y, w, h));
            let changed = {
                let mut s = sig.borrow_mut();
                s.set_size(w, h);
                s.begin(x, y)
            };
            if changed {
                show();
            }
        }
    });
    ui.on_stroke_extend({
        let (sig, seen, show) = (sig.clone(), seen.clone(), show.clone());
        move |x, y| {
            seen.borrow_mut().extends += 1;
            let changed = sig.borrow_mut().extend(x, y);
            if changed {
                show();
            }
        }
    });
    ui.on_stroke_end({
        let (sig, seen) = (sig.clone(), seen.clone());
        move || {
            seen.borrow_mut().ends += 1;
            sig.borrow_mut().end();
        }
    });
    ui.on_clear({
        let (sig, seen, show) = (sig.clone(), seen.clone(), show.clone());
        move || {
            seen.borrow_mut().clears += 1;
            sig.borrow_mut().clear();
            show();
        }
    });
    ui.show().unwrap();
    Pad { ui, sig, seen }
}

impl Pad {
    fn send(&self, event: WindowEvent) {
        self.ui.window().dispatch_event(event);
    }

    /// Finger down at sheet position (x, y).
    fn press(&self, (x, y): (f32, f32)) {
        let position = LogicalPosition::new(SHEET.0 + x, SHEET.1 + y);
        self.send(WindowEvent::PointerMoved { position });
        self.send(WindowEvent::PointerPressed {
            position,
            button: PointerEventButton::Left,
        });
    }

    /// Finger (down) slides to sheet position (x, y).
    fn slide(&self, (x, y): (f32, f32)) {
        let position = LogicalPosition::new(SHEET.0 + x, SHEET.1 + y);
        self.send(WindowEvent::PointerMoved { position });
    }

    /// Finger lifts at sheet position (x, y).
    fn lift(&self, (x, y): (f32, f32)) {
        let position = LogicalPosition::new(SHEET.0 + x, SHEET.1 + y);
        self.send(WindowEvent::PointerReleased {
            position,
            button: PointerEventButton::Left,
        });
        self.send(WindowEvent::PointerExited);
    }

    /// Draw a stroke through `points`, sliding in 4 px steps as a finger reports.
    fn draw(&self, points: &[(f32, f32)]) {
        self.press(points[0]);
        for pair in points.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            let steps = ((b.0 - a.0).hypot(b.1 - a.1) / 4.0).ceil().max(1.0) as usize;
            for i in 1..=steps {
                let t = i as f32 / steps as f32;
                self.slide((a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t));
            }
        }
        self.lift(*points.last().unwrap());
    }

    /// The sheet's size as the pad reported it on the last stroke.
    fn sheet(&self) -> (f32, f32) {
        let seen = self.seen.borrow();
        let &(_, _, w, h) = seen.begins.last().expect("a stroke was begun");
        (w, h)
    }
}

/// Grey level (0 black .. 255 white) of a snapshot at sheet position (x, y).
fn grey(img: &image::RgbaImage, (x, y): (f32, f32)) -> u8 {
    let p = img.get_pixel((SHEET.0 + x) as u32, (SHEET.1 + y) as u32).0;
    ((u32::from(p[0]) * 3 + u32::from(p[1]) * 6 + u32::from(p[2])) / 10) as u8
}

/// How many pixels of the sheet's middle band (where the hint is) are not white.
fn hint_pixels(img: &image::RgbaImage, (w, h): (f32, f32)) -> usize {
    let mut n = 0;
    for y in (h / 2.0 - 20.0) as u32..(h / 2.0 + 20.0) as u32 {
        for x in (w / 2.0 - 100.0) as u32..(w / 2.0 + 100.0) as u32 {
            if grey(img, (x as f32, y as f32)) < 235 {
                n += 1;
            }
        }
    }
    n
}

#[test]
fn the_signature_pad() {
    let h = Headless::install(WIDTH, HEIGHT).unwrap();
    let pad = open();
    h.pump();

    // Blank: white paper, the hint, nothing recorded.
    let blank = h.snapshot().unwrap();
    assert_eq!(grey(&blank, (30.0, 30.0)), 255, "white paper");
    assert!(pad.sig.borrow().is_empty());

    // A scrawl: a zigzag across the top of the sheet, above where the hint was.
    let zigzag: Vec<(f32, f32)> = (0..=10)
        .map(|i| (30.0 + i as f32 * 34.0, if i % 2 == 0 { 15.0 } else { 45.0 }))
        .collect();
    pad.draw(&zigzag);
    h.pump();
    let (w, sheet_h) = pad.sheet();
    assert_eq!(w, 400.0, "the sheet fills the width it is given");
    assert!(
        sheet_h >= 160.0,
        "the sheet is at least 160 px tall: {sheet_h}"
    );
    assert!(
        sheet_h <= 400.0 - 40.0 - 12.0 - 64.0 + 0.5,
        "Clear fits below the sheet: {sheet_h}"
    );
    assert!(
        hint_pixels(&blank, (w, sheet_h)) > 50,
        "'Sign here' shows on a blank pad"
    );
    {
        let seen = pad.seen.borrow();
        assert_eq!(seen.begins.len(), 1);
        assert_eq!(
            (seen.begins[0].0, seen.begins[0].1),
            (30.0, 15.0),
            "sheet px"
        );
        assert!(seen.extends >= 80, "{} moves", seen.extends);
        assert_eq!(seen.ends, 1);
    }
    {
        let s = pad.sig.borrow();
        assert!(s.has_ink(), "a scrawl is a signature");
        assert_eq!(s.strokes().len(), 1);
        assert_eq!(s.strokes()[0][0], (30.0, 15.0));
        assert_eq!(*s.strokes()[0].last().unwrap(), (370.0, 15.0));
        assert_eq!((s.width(), s.height()), (w, sheet_h));
    }
    assert_eq!(
        pad.ui.get_commands().as_str(),
        pad.sig.borrow().path_commands()
    );

    // The screen shows the strokes where the finger went, 1:1, and so does the PNG.
    let drawn = h.snapshot().unwrap();
    let png = pad.sig.borrow().to_png(1.0).unwrap();
    assert!(png_has_ink(&png));
    let img = image::load_from_memory(&png).unwrap().to_luma8();
    assert_eq!(
        (img.width() as f32, img.height() as f32),
        (w, sheet_h.ceil())
    );
    for pair in zigzag.windows(2) {
        let mid = ((pair[0].0 + pair[1].0) / 2.0, (pair[0].1 + pair[1].1) / 2.0);
        assert!(grey(&drawn, mid) < 110, "ink on screen at {mid:?}");
        assert!(
            img.get_pixel(mid.0 as u32, mid.1 as u32).0[0] < 110,
            "ink in the image at {mid:?}"
        );
    }
    // Away from the strokes, the line to sign on (3/4 down) and the border.
    for spot in [(30.0, 100.0), (200.0, 100.0), (392.0, 110.0), (150.0, 90.0)] {
        assert_eq!(grey(&drawn, spot), 255, "paper on screen at {spot:?}");
        assert_eq!(img.get_pixel(spot.0 as u32, spot.1 as u32).0[0], 255);
    }
    assert_eq!(hint_pixels(&drawn, (w, sheet_h)), 0, "the hint goes");

    // A finger sliding off the sheet and lifting outside: clamped, and the stroke ends.
    pad.press((300.0, 120.0));
    pad.slide((350.0, 150.0));
    pad.slide((500.0, 500.0));
    pad.slide((-50.0, -30.0));
    pad.lift((-50.0, -30.0));
    h.pump();
    {
        let s = pad.sig.borrow();
        assert_eq!(s.strokes().len(), 2);
        let last = s.strokes()[1].clone();
        assert_eq!(
            last,
            vec![(300.0, 120.0), (350.0, 150.0), (w, sheet_h), (0.0, 0.0)]
        );
        let seen = pad.seen.borrow();
        assert_eq!(seen.ends, seen.begins.len(), "every stroke ended");
    }

    // Clear: the model, the commands and the screen are blank again.
    let (cx, cy) = (SHEET.0 + w - 40.0, SHEET.1 + sheet_h + 12.0 + 32.0);
    h.tap(cx, cy);
    h.pump();
    assert_eq!(pad.seen.borrow().clears, 1);
    assert!(pad.sig.borrow().is_empty());
    assert_eq!(pad.ui.get_commands().as_str(), "");
    let cleared = h.snapshot().unwrap();
    for pair in zigzag.windows(2) {
        let mid = ((pair[0].0 + pair[1].0) / 2.0, (pair[0].1 + pair[1].1) / 2.0);
        assert_eq!(grey(&cleared, mid), 255, "no ink at {mid:?}");
    }
    assert!(hint_pixels(&cleared, (w, sheet_h)) > 50, "the hint is back");

    // Clear with nothing drawn does nothing (the button is off).
    h.tap(cx, cy);
    h.pump();
    assert_eq!(pad.seen.borrow().clears, 1);

    // A tap is a dot: shown, recorded, and not a signature.
    h.tap(SHEET.0 + 100.0, SHEET.1 + 60.0);
    h.pump();
    {
        let s = pad.sig.borrow();
        assert_eq!(s.strokes(), &[vec![(100.0, 60.0)]]);
        assert!(!s.has_ink(), "a tap is not a signature");
        assert!(!png_has_ink(&s.to_png(1.0).unwrap()));
    }
    let dot = h.snapshot().unwrap();
    assert!(grey(&dot, (100.0, 60.0)) < 160, "the dot shows");

    // A pad that is off takes no strokes and no Clear.
    pad.ui.set_enabled(false);
    h.pump();
    let before = pad.seen.borrow().begins.len();
    pad.draw(&[(50.0, 50.0), (250.0, 90.0)]);
    h.tap(cx, cy);
    h.pump();
    assert_eq!(pad.seen.borrow().begins.len(), before);
    assert_eq!(pad.seen.borrow().clears, 1);
    assert_eq!(pad.sig.borrow().point_count(), 1);
}
