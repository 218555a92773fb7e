//! A small page layout for the export PDFs: a cursor that runs down US Letter pages,
//! breaks to a new page when the next block does not fit, repeats the page header (and
//! a table's column heads) on every page, and numbers the pages "Page n of m" once the
//! count is known.
//!
//! Text is set in the fonts of [`super::text`], measured there so nothing overruns.

use miniz_oxide::deflate::compress_to_vec_zlib;
use pdf_writer::{Content, Filter, Finish, Name, Pdf, Rect, Ref, Str, TextStr};

pub use super::text::{Font, fit, width, winansi, wrap};

/// US Letter width, points.
pub const PAGE_WIDTH: f32 = 612.0;
/// US Letter height, points.
pub const PAGE_HEIGHT: f32 = 792.0;
/// Left, right and top margin.
pub const MARGIN: f32 = 40.0;
/// Width between the margins.
pub const CONTENT_WIDTH: f32 = PAGE_WIDTH - 2.0 * MARGIN;
/// Content stops here; the footer sits below.
const BOTTOM: f32 = 50.0;
/// Height of the header on every page, from the top margin.
const HEADER: f32 = 42.0;
/// Table body font size and row height.
pub const TABLE_SIZE: f32 = 8.0;
pub const ROW: f32 = 11.0;
/// Width of a field's label, in any number of columns, so values line up.
const LABEL_WIDTH: f32 = 96.0;
/// Inner padding of a table cell.
pub const PAD: f32 = 4.0;
/// Zlib level for content and image streams.
const LEVEL: u8 = 6;

/// Text alignment in a table column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

/// One column of a table.
#[derive(Clone, Copy, Debug)]
pub struct Column {
    pub title: &'static str,
    pub width: f32,
    pub align: Align,
    pub font: Font,
}

impl Column {
    pub const fn left(title: &'static str, width: f32, font: Font) -> Column {
        Column {
            title,
            width,
            align: Align::Left,
            font,
        }
    }

    pub const fn right(title: &'static str, width: f32) -> Column {
        Column {
            title,
            width,
            align: Align::Right,
            font: Font::Regular,
        }
    }
}

/// A raster image ready for the PDF: 8-bit RGB samples, zlib-compressed.
pub struct Image {
    pub width: u32,
    pub height: u32,
    pub rgb_zlib: Vec<u8>,
}

/// Draws inside a [`Layout::block`]: x from the left margin's page edge (points,
/// as [`MARGIN`]), y down from the block's top.
pub struct Pen<'a> {
    layout: &'a mut Layout,
    top: f32,
}

impl Pen<'_> {
    /// Text with its baseline `y` below the block's top, cut to `max_w` with an
    /// ellipsis; returns the width drawn.
    pub fn text(&mut self, font: Font, size: f32, x: f32, y: f32, text: &str, max_w: f32) -> f32 {
        let bytes = fit(font, size, &winansi(text), max_w);
        let w = width(font, size, &bytes);
        self.layout.text_at(font, size, x, self.top - y, bytes);
        w
    }

    /// A filled rectangle (`gray` 0 is black) whose top edge is `y` below the block's
    /// top.
    pub fn fill(&mut self, x: f32, y: f32, w: f32, h: f32, gray: f32) {
        let y = self.top - y - h;
        self.layout.ops().push(Op::Fill { x, y, w, h, gray });
    }

    /// The outline of a rectangle, `line` points thick.
    pub fn frame(&mut self, x: f32, y: f32, w: f32, h: f32, line: f32) {
        self.fill(x, y, w, line, 0.0);
        self.fill(x, y + h - line, w, line, 0.0);
        self.fill(x, y, line, h, 0.0);
        self.fill(x + w - line, y, line, h, 0.0);
    }

    /// A horizontal rule `y` below the block's top.
    pub fn rule(&mut self, x1: f32, x2: f32, y: f32, line: f32) {
        let y = self.top - y;
        self.layout.rule_at(x1, x2, y, line);
    }
}

enum Op {
    Text {
        font: Font,
        size: f32,
        x: f32,
        y: f32,
        bytes: Vec<u8>,
    },
    Rule {
        x1: f32,
        x2: f32,
        y: f32,
        width: f32,
    },
    Fill {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        gray: f32,
    },
    Image {
        index: usize,
        x: f32,
        y: f32,
        w: f32,
        h: f32,
    },
}

/// The document being laid out: pages of drawing operations and a cursor.
pub struct Layout {
    title: String,
    subtitle: String,
    footer: String,
    pages: Vec<Vec<Op>>,
    /// Baseline room left: the cursor's height on the page.
    y: f32,
    /// Column heads repeated after a page break while a table is open.
    repeat: Option<&'static [Column]>,
    /// Body rows drawn in the open table (for the zebra stripes).
    rows: usize,
    images: Vec<Image>,
}

impl Layout {
    /// A document whose every page has `title` and `subtitle` at the top and `footer`
    /// at the bottom.
    pub fn new(title: &str, subtitle: &str, footer: &str) -> Layout {
        let mut l = Layout {
            title: title.to_string(),
            subtitle: subtitle.to_string(),
            footer: footer.to_string(),
            pages: Vec::new(),
            y: 0.0,
            repeat: None,
            rows: 0,
            images: Vec::new(),
        };
        l.start_page();
        l
    }

    fn ops(&mut self) -> &mut Vec<Op> {
        if self.pages.is_empty() {
            self.pages.push(Vec::new());
        }
        let last = self.pages.len() - 1;
        &mut self.pages[last]
    }

    fn text_at(&mut self, font: Font, size: f32, x: f32, y: f32, bytes: Vec<u8>) {
        if !bytes.is_empty() {
            self.ops().push(Op::Text {
                font,
                size,
                x,
                y,
                bytes,
            });
        }
    }

    fn rule_at(&mut self, x1: f32, x2: f32, y: f32, width: f32) {
        self.ops().push(Op::Rule { x1, x2, y, width });
    }

    fn start_page(&mut self) {
        self.pages.push(Vec::new());
        let top = PAGE_HEIGHT - MARGIN;
        let title = fit(
            Font::Bold,
            13.0,
            &winansi(&self.title),
            CONTENT_WIDTH - 90.0,
        );
        self.text_at(Font::Bold, 13.0, MARGIN, top - 11.0, title);
        let subtitle = fit(Font::Regular, 8.5, &winansi(&self.subtitle), CONTENT_WIDTH);
        self.text_at(Font::Regular, 8.5, MARGIN, top - 25.0, subtitle);
        self.rule_at(MARGIN, PAGE_WIDTH - MARGIN, top - 31.0, 0.8);
        let footer = fit(Font::Regular, 7.0, &winansi(&self.footer), CONTENT_WIDTH);
        self.text_at(Font::Regular, 7.0, MARGIN, BOTTOM - 22.0, footer);
        self.y = top - HEADER;
        if let Some(cols) = self.repeat {
            self.draw_head(cols, true);
        }
    }

    /// Room left on this page above the footer.
    fn room(&self) -> f32 {
        self.y - BOTTOM
    }

    /// Make sure `height` points fit on this page, breaking to a new one if not.
    pub fn need(&mut self, height: f32) {
        if self.room() < height {
            self.start_page();
        }
    }

    /// Continue on a new page, unless nothing has been written on this one yet.
    pub fn page_break(&mut self) {
        if self.y < PAGE_HEIGHT - MARGIN - HEADER {
            self.start_page();
        }
    }

    /// Vertical space; never carried over to a new page.
    pub fn space(&mut self, height: f32) {
        self.y -= height.min(self.room().max(0.0));
    }

    /// A section heading, kept with at least `keep` points of what follows.
    pub fn heading(&mut self, text: &str, keep: f32) {
        self.need(26.0 + keep);
        let bytes = fit(Font::Bold, 11.0, &winansi(text), CONTENT_WIDTH);
        self.y -= 16.0;
        self.text_at(Font::Bold, 11.0, MARGIN, self.y, bytes);
        self.y -= 4.0;
        self.rule_at(MARGIN, PAGE_WIDTH - MARGIN, self.y, 0.4);
        self.y -= 6.0;
    }

    /// A paragraph, wrapped to the page width (at most `max_lines` lines).
    pub fn paragraph(&mut self, font: Font, size: f32, text: &str, max_lines: usize) {
        for line in wrap(font, size, text, CONTENT_WIDTH, max_lines) {
            self.need(size * 1.35);
            self.y -= size * 1.35;
            self.text_at(font, size, MARGIN, self.y, line);
        }
    }

    /// Label/value pairs in `columns` side-by-side columns; long values wrap (at most
    /// four lines each).
    pub fn fields(&mut self, columns: usize, pairs: &[(&str, String)]) {
        let columns = columns.max(1);
        let col_w = CONTENT_WIDTH / columns as f32;
        let label_w = LABEL_WIDTH.min(col_w * 0.5);
        let value_w = col_w - label_w - 8.0;
        let line_h = 11.5;
        for row in pairs.chunks(columns) {
            let cells: Vec<(Vec<u8>, Vec<Vec<u8>>)> = row
                .iter()
                .map(|(label, value)| {
                    let label = fit(Font::Bold, 8.0, &winansi(label), label_w - 4.0);
                    (label, wrap(Font::Regular, 9.0, value, value_w, 4))
                })
                .collect();
            let lines = cells.iter().map(|(_, v)| v.len()).max().unwrap_or(1);
            self.need(lines as f32 * line_h + 2.0);
            let top = self.y;
            for (i, (label, value)) in cells.into_iter().enumerate() {
                let x = MARGIN + i as f32 * col_w;
                self.text_at(Font::Bold, 8.0, x, top - line_h + 1.5, label);
                for (n, line) in value.into_iter().enumerate() {
                    let y = top - line_h * (n as f32 + 1.0) + 1.5;
                    self.text_at(Font::Regular, 9.0, x + label_w, y, line);
                }
            }
            self.y = top - lines as f32 * line_h - 2.0;
        }
    }

    fn draw_head(&mut self, cols: &'static [Column], continued: bool) {
        let h = ROW + 2.0;
        let y = self.y - h;
        self.ops().push(Op::Fill {
            x: MARGIN,
            y,
            w: CONTENT_WIDTH,
            h,
            gray: 0.85,
        });
        let baseline = self.y - h + 4.0;
        let mut x = MARGIN;
        for (i, col) in cols.iter().enumerate() {
            let title = if continued && i == 0 && col.title.is_empty() {
                "(cont.)"
            } else {
                col.title
            };
            let bytes = fit(Font::Bold, 7.5, &winansi(title), col.width - 2.0 * PAD);
            let tx = match col.align {
                Align::Left => x + PAD,
                Align::Right => x + col.width - PAD - width(Font::Bold, 7.5, &bytes),
            };
            self.text_at(Font::Bold, 7.5, tx, baseline, bytes);
            x += col.width;
        }
        self.y -= h;
        self.rows = 0;
    }

    /// Start a table: its column heads now and on every page it runs onto.
    pub fn table_head(&mut self, cols: &'static [Column]) {
        self.need(ROW * 3.0 + 2.0);
        self.repeat = Some(cols);
        self.draw_head(cols, false);
    }

    /// One table row; each cell is cut to its column.
    pub fn table_row(&mut self, cols: &'static [Column], cells: &[String]) {
        self.need(ROW);
        if self.rows % 2 == 1 {
            let y = self.y - ROW;
            self.ops().push(Op::Fill {
                x: MARGIN,
                y,
                w: CONTENT_WIDTH,
                h: ROW,
                gray: 0.95,
            });
        }
        let baseline = self.y - ROW + 3.0;
        let mut x = MARGIN;
        for (col, cell) in cols.iter().zip(cells) {
            let bytes = fit(col.font, TABLE_SIZE, &winansi(cell), col.width - 2.0 * PAD);
            let tx = match col.align {
                Align::Left => x + PAD,
                Align::Right => x + col.width - PAD - width(col.font, TABLE_SIZE, &bytes),
            };
            self.text_at(col.font, TABLE_SIZE, tx, baseline, bytes);
            x += col.width;
        }
        self.y -= ROW;
        self.rows += 1;
    }

    /// Close the open table.
    pub fn end_table(&mut self) {
        self.repeat = None;
        self.rule_at(MARGIN, PAGE_WIDTH - MARGIN, self.y, 0.4);
        self.space(6.0);
    }

    /// Signature lines: for each party a label and lines for the printed name (filled
    /// in when known), the signature and the date and time.
    pub fn signatures(&mut self, parties: &[(&str, Option<&str>)]) {
        let widths = [170.0, 210.0, CONTENT_WIDTH - 380.0 - 20.0];
        let captions = ["Printed name", "Signature", "Date and time"];
        for (label, name) in parties {
            self.need(44.0);
            self.y -= 11.0;
            let label = fit(Font::Bold, 9.0, &winansi(label), CONTENT_WIDTH);
            self.text_at(Font::Bold, 9.0, MARGIN, self.y, label);
            let line_y = self.y - 18.0;
            let mut x = MARGIN;
            for (i, (w, caption)) in widths.iter().zip(captions).enumerate() {
                if i == 0
                    && let Some(name) = name
                {
                    let bytes = fit(Font::Regular, 9.0, &winansi(name), w - 4.0);
                    self.text_at(Font::Regular, 9.0, x + 2.0, line_y + 3.0, bytes);
                }
                self.rule_at(x, x + w, line_y, 0.6);
                let cap = winansi(caption);
                self.text_at(Font::Regular, 6.5, x, line_y - 8.0, cap);
                x += w + 10.0;
            }
            self.y = line_y - 14.0;
        }
    }

    /// A block `height` points tall kept on one page, drawn by `draw` with a [`Pen`]
    /// whose coordinates run from the block's top left corner (x to the right, y
    /// down, in points).
    pub fn block(&mut self, height: f32, draw: impl FnOnce(&mut Pen<'_>)) {
        self.need(height);
        let top = self.y;
        draw(&mut Pen { layout: self, top });
        self.y = top - height;
    }

    /// `image` scaled to fit `max_w` x `max_h` points (never enlarged past 1 pt per
    /// pixel), left-aligned, with a thin frame.
    pub fn image(&mut self, image: Image, max_w: f32, max_h: f32) {
        let (iw, ih) = (image.width.max(1) as f32, image.height.max(1) as f32);
        let scale = (max_w / iw).min(max_h / ih).min(1.0);
        let (w, h) = (iw * scale, ih * scale);
        self.need(h + 6.0);
        let index = self.images.len();
        self.images.push(image);
        let y = self.y - h - 2.0;
        self.ops().push(Op::Image {
            index,
            x: MARGIN + 2.0,
            y,
            w,
            h,
        });
        self.rule_at(MARGIN, MARGIN + w + 4.0, y - 2.0, 0.4);
        self.y = y - 6.0;
    }

    /// The finished PDF: pages numbered "Page n of m" in the header, content streams
    /// and images Flate-compressed. Deterministic: no creation date.
    pub fn finish(self, title: &str) -> Vec<u8> {
        let Layout {
            pages, mut images, ..
        } = self;
        let count = pages.len();
        let mut pdf = Pdf::new();
        let catalog = Ref::new(1);
        let tree = Ref::new(2);
        let info = Ref::new(3);
        let font_refs = [Ref::new(4), Ref::new(5), Ref::new(6)];
        let mut next = 7;
        let mut alloc = || {
            let r = Ref::new(next);
            next += 1;
            r
        };
        let page_refs: Vec<(Ref, Ref)> = (0..count).map(|_| (alloc(), alloc())).collect();
        let image_refs: Vec<Ref> = images.iter().map(|_| alloc()).collect();

        pdf.catalog(catalog).pages(tree);
        pdf.pages(tree)
            .kids(page_refs.iter().map(|(p, _)| *p))
            .count(i32::try_from(count).unwrap_or(i32::MAX));
        let mut doc_info = pdf.document_info(info);
        doc_info.title(TextStr(title));
        doc_info.producer(TextStr("tagtally"));
        doc_info.finish();
        for (font, id) in Font::ALL.iter().zip(font_refs) {
            pdf.type1_font(id)
                .base_font(font.base())
                .encoding_predefined(Name(b"WinAnsiEncoding"));
        }
        for (i, image) in images.drain(..).enumerate() {
            let mut x = pdf.image_xobject(image_refs[i], &image.rgb_zlib);
            x.filter(Filter::FlateDecode);
            x.width(i32::try_from(image.width).unwrap_or(i32::MAX));
            x.height(i32::try_from(image.height).unwrap_or(i32::MAX));
            x.color_space().device_rgb();
            x.bits_per_component(8);
            x.finish();
        }
        for (n, (ops, (page_id, content_id))) in pages.iter().zip(&page_refs).enumerate() {
            let mut page = pdf.page(*page_id);
            page.media_box(Rect::new(0.0, 0.0, PAGE_WIDTH, PAGE_HEIGHT));
            page.parent(tree);
            page.contents(*content_id);
            let mut resources = page.resources();
            let mut fonts = resources.fonts();
            for (font, id) in Font::ALL.iter().zip(font_refs) {
                fonts.pair(font.resource(), id);
            }
            fonts.finish();
            if !image_refs.is_empty() {
                let mut xs = resources.x_objects();
                for (i, id) in image_refs.iter().enumerate() {
                    xs.pair(Name(format!("Im{i}").as_bytes()), *id);
                }
                xs.finish();
            }
            resources.finish();
            page.finish();
            let number = winansi(&format!("Page {} of {count}", n + 1));
            let content = render(ops, &number);
            pdf.stream(*content_id, &compress_to_vec_zlib(&content, LEVEL))
                .filter(Filter::FlateDecode);
        }
        pdf.finish()
    }
}

/// The content stream of one page: fills, then rules and images, then all text in one
/// text object (fonts switched only when they change), then the page number.
fn render(ops: &[Op], page_number: &[u8]) -> Vec<u8> {
    let mut c = Content::new();
    c.set_fill_gray(0.0);
    for op in ops {
        if let Op::Fill { x, y, w, h, gray } = op {
            c.set_fill_gray(*gray);
            c.rect(*x, *y, *w, *h);
            c.fill_nonzero();
        }
    }
    c.set_fill_gray(0.0);
    for op in ops {
        match op {
            Op::Rule { x1, x2, y, width } => {
                c.set_line_width(*width);
                c.move_to(*x1, *y);
                c.line_to(*x2, *y);
                c.stroke();
            }
            Op::Image { index, x, y, w, h } => {
                c.save_state();
                c.transform([*w, 0.0, 0.0, *h, *x, *y]);
                c.x_object(Name(format!("Im{index}").as_bytes()));
                c.restore_state();
            }
            _ => {}
        }
    }
    c.begin_text();
    let mut current: Option<(Font, f32)> = None;
    let mut show = |c: &mut Content, font: Font, size: f32, x: f32, y: f32, bytes: &[u8]| {
        if current != Some((font, size)) {
            c.set_font(font.resource(), size);
            current = Some((font, size));
        }
        c.set_text_matrix([1.0, 0.0, 0.0, 1.0, x, y]);
        c.show(Str(bytes));
    };
    for op in ops {
        if let Op::Text {
            font,
            size,
            x,
            y,
            bytes,
        } = op
        {
            show(&mut c, *font, *size, *x, *y, bytes);
        }
    }
    let x = PAGE_WIDTH - MARGIN - width(Font::Regular, 9.0, page_number);
    show(
        &mut c,
        Font::Regular,
        9.0,
        x,
        PAGE_HEIGHT - MARGIN - 11.0,
        page_number,
    );
    c.end_text();
    c.finish().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_break_and_are_numbered() {
        const COLS: &[Column] = &[Column::left("Tag", 200.0, Font::Mono)];
        let mut l = Layout::new("Title", "Sub", "Foot");
        l.table_head(COLS);
        for i in 0..200 {
            l.table_row(COLS, &[format!("row {i}")]);
        }
        l.end_table();
        let pages = l.pages.len();
        assert!(pages >= 3, "{pages}");
        let pdf = l.finish("t");
        assert!(pdf.starts_with(b"%PDF-"));
        assert!(pdf.ends_with(b"%%EOF") || pdf.ends_with(b"%%EOF\n"));
    }
}
