//! QR codes read back as a phone's camera reads them: with rqrr, a decoder that shares no code
//! with the `qrcode` encoder the service uses. From an SVG's dark modules, or from a
//! screenshot (PNG).

/// The text of the one QR code in an SVG the service drew (`qrcode`'s renderer: one
/// `M{x} {y}h{w}v{h}H{x}V{y}` square per dark module, on a white square).
pub(crate) fn svg_text(svg: &str) -> String {
    let size = svg_number(svg, "width=\"");
    let path = svg.split(" d=\"").nth(1).expect("a path of dark modules");
    let path = &path[..path.find('"').expect("the path ends")];
    let mut dark = vec![false; size * size];
    let mut module = size;
    for square in path.split('M').skip(1) {
        let mut numbers = square
            .split(|c: char| !c.is_ascii_digit())
            .filter(|n| !n.is_empty())
            .map(|n| n.parse::<usize>().expect("a number"));
        let (x, y, w) =
            (numbers.next().expect("x"), numbers.next().expect("y"), numbers.next().expect("w"));
        module = module.min(w);
        for dy in 0..w {
            for dx in 0..w {
                dark[(y + dy) * size + x + dx] = true;
            }
        }
    }
    assert!(module > 0 && module < size, "modules of {module} px");
    decode(size, size, |x, y| if dark[y * size + x] { 0 } else { 255 })
}

fn svg_number(svg: &str, attribute: &str) -> usize {
    let rest = svg.split(attribute).nth(1).expect("the attribute");
    rest[..rest.find('"').expect("quoted")].parse().expect("a number")
}

/// The text of the one QR code in a screenshot.
pub(crate) fn png_text(png: &[u8]) -> String {
    let mut reader = png::Decoder::new(std::io::Cursor::new(png)).read_info().expect("a PNG");
    let mut pixels = vec![0; reader.output_buffer_size().expect("a size")];
    let frame = reader.next_frame(&mut pixels).expect("a frame");
    let channels = frame.color_type.samples();
    let (width, height) = (frame.width as usize, frame.height as usize);
    // The first sample (red, or grey) is enough: the code is black on white.
    decode(width, height, |x, y| pixels[(y * width + x) * channels])
}

fn decode(width: usize, height: usize, pixel: impl FnMut(usize, usize) -> u8) -> String {
    let mut image = rqrr::PreparedImage::prepare_from_greyscale(width, height, pixel);
    let grids = image.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code in the image");
    let (_, text) = grids[0].decode().expect("the QR code decodes");
    text
}
