//! Paper and shown copies (issue 21): a document checked with a phone's camera. A QR code
//! opens the Verify page with what it needs: a share link, or a *proof reference*
//! `<partition>.<offset>.<32 hex digits>` naming the document's event in the citizen topic
//! and the first 16 bytes of its event hash. The hash part makes the reference a capability:
//! it cannot be guessed from a URI (an issuance's event id can), and it is checked against the
//! record before any proof is made. What a reference opens is the proof bundle: the event, its
//! signer's key chain and inclusion proofs, with the personal fields sealed (no name).
//!
//! The slip is a one-page PDF written here (PDF 1.4, the standard Helvetica and Courier, the
//! QR code drawn as filled squares): title, issuer, URI, date, the content's BLAKE3 hash and the
//! ledger key's fingerprint beside the code.

use projections::views::LogPoint;
use qrcode::QrCode;

use crate::AppError;
use crate::app::write::internal;

/// The bytes of the event hash a reference carries.
const REF_HASH_BYTES: usize = 16;

/// The reference of the record at `point` (its bytes as the log holds them).
pub(crate) fn proof_ref(point: LogPoint, record: &[u8]) -> Result<String, AppError> {
    let envelope = schemas::decode_record(record).map_err(internal)?;
    let hash = event_hash(&envelope)?;
    let prefix = schemas::to_hex(&hash.0[..REF_HASH_BYTES]);
    Ok(format!("{}.{}.{prefix}", point.partition, point.offset))
}

/// A reference's point and hash prefix; `None` for anything else.
pub(crate) fn parse_ref(text: &str) -> Option<(LogPoint, [u8; REF_HASH_BYTES])> {
    let mut parts = text.split('.');
    let partition = parts.next()?.parse().ok()?;
    let offset = parts.next()?.parse().ok()?;
    let hex = parts.next()?;
    if parts.next().is_some() || hex.len() != REF_HASH_BYTES * 2 {
        return None;
    }
    let mut hash = [0u8; REF_HASH_BYTES];
    for (i, byte) in hash.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(i * 2..i * 2 + 2)?, 16).ok()?;
    }
    Some((LogPoint { partition, offset }, hash))
}

/// Whether `record` is a document's event whose hash starts with `prefix`.
pub(crate) fn opens(record: &[u8], prefix: &[u8; REF_HASH_BYTES]) -> bool {
    let Ok(envelope) = schemas::decode_record(record) else { return false };
    let document = matches!(
        envelope.event.payload,
        schemas::Payload::DocumentIssued(_)
            | schemas::Payload::DocumentUpdated(_)
            | schemas::Payload::DocumentUploaded(_)
    );
    document && event_hash(&envelope).is_ok_and(|hash| hash.0[..REF_HASH_BYTES] == prefix[..])
}

fn event_hash(envelope: &schemas::Envelope) -> Result<schemas::Digest32, AppError> {
    let signed = schemas::signing_bytes(&envelope.event).map_err(internal)?;
    Ok(ledger::crypto::event_hash(&signed, &envelope.signature))
}

/// The QR code of `text` as an SVG image (medium error correction: a printed code survives a
/// fold or a smudge).
pub(crate) fn qr_svg(text: &str) -> Result<String, AppError> {
    let code = QrCode::with_error_correction_level(text, qrcode::EcLevel::M).map_err(internal)?;
    Ok(code
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(240, 240)
        .quiet_zone(true)
        .build())
}

/// What a verification slip shows.
pub(crate) struct Slip {
    pub title: String,
    pub issuer: String,
    pub uri: String,
    pub issued_on: String,
    pub content_hash: String,
    pub ledger_key_fingerprint: String,
    pub verify_url: String,
}

/// The slip as a one-page A4 PDF.
pub(crate) fn slip_pdf(slip: &Slip) -> Result<Vec<u8>, AppError> {
    let code = QrCode::with_error_correction_level(&slip.verify_url, qrcode::EcLevel::M)
        .map_err(internal)?;
    let mut content = String::new();
    let mut line = |font: &str, size: u32, y: u32, text: &str| {
        content.push_str(&format!("BT /{font} {size} Tf 56 {y} Td ({}) Tj ET\n", pdf_text(text)));
    };
    line("F1", 20, 780, "Verification slip");
    line("F1", 11, 760, "Scan the code with a phone camera to check this document in the ledger.");
    let rows = [
        ("Document", slip.title.as_str()),
        ("Issuer", slip.issuer.as_str()),
        ("URI", slip.uri.as_str()),
        ("Issued on", slip.issued_on.as_str()),
    ];
    for ((label, value), y) in rows.iter().zip((0..).map(|i: u32| 720 - 22 * i)) {
        line("F1", 12, y, &format!("{label}: {value}"));
    }
    line("F1", 12, 620, "Content hash (BLAKE3):");
    line("F2", 9, 606, &slip.content_hash);
    line("F1", 12, 584, "Ledger key fingerprint:");
    line("F2", 9, 570, &slip.ledger_key_fingerprint);
    line("F1", 9, 260, &slip.verify_url);
    content.push_str(&qr_squares(&code, (56.0, 280.0), 260.0));
    Ok(pdf_page((595, 842), &["Helvetica", "Courier"], &content))
}

/// The dark modules of `code` as filled squares, `size` points wide, bottom-left at `at`.
fn qr_squares(code: &QrCode, at: (f32, f32), size: f32) -> String {
    let width = code.width();
    let quiet = 4;
    let module = size / (width + 2 * quiet) as f32;
    let mut out = String::from("0 g\n");
    for (i, color) in code.to_colors().iter().enumerate() {
        if *color == qrcode::Color::Dark {
            let (x, y) = ((i % width + quiet) as f32, (i / width + quiet) as f32);
            let (left, bottom) = (at.0 + x * module, at.1 + size - (y + 1.0) * module);
            out.push_str(&format!("{left:.2} {bottom:.2} {module:.2} {module:.2} re\n"));
        }
    }
    out.push_str("f\n");
    out
}

/// Text for a PDF string in the standard fonts: ASCII, with `\`, `(` and `)` escaped; any
/// other character is shown as `?` (the fonts have no other glyphs).
fn pdf_text(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\\' | '(' | ')' => format!("\\{c}"),
            ' '..='~' => c.to_string(),
            _ => "?".to_owned(),
        })
        .collect()
}

/// A whole PDF file of one page, `size` points, around its content stream, with the standard
/// fonts `fonts` as `/F1`, `/F2`... (the demo's documents and the slips).
pub(crate) fn pdf_page(size: (u32, u32), fonts: &[&str], stream: &str) -> Vec<u8> {
    let font_refs: Vec<String> =
        (0..fonts.len()).map(|i| format!("/F{} {} 0 R", i + 1, i + 5)).collect();
    let mut objects = vec![
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
        format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {} {}] /Contents 4 0 R /Resources << /Font << {} >> >> >>",
            size.0,
            size.1,
            font_refs.join(" ")
        ),
        format!("<< /Length {} >>\nstream\n{stream}endstream", stream.len()),
    ];
    objects
        .extend(fonts.iter().map(|f| format!("<< /Type /Font /Subtype /Type1 /BaseFont /{f} >>")));
    let mut pdf = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::with_capacity(objects.len());
    for (index, body) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n{body}\nendobj\n", index + 1).as_bytes());
    }
    let xref = pdf.len();
    pdf.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for offset in offsets {
        pdf.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    pdf.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    pdf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_parse_back_and_refuse_anything_else() {
        let point = LogPoint { partition: 3, offset: 1_234 };
        let text = format!("3.1234.{}", "ab".repeat(16));
        assert_eq!(parse_ref(&text), Some((point, [0xab; 16])));
        for bad in ["", "3.1234", "3.1234.abab", "x.1.00", &format!("3.1234.{}.", "ab".repeat(16))]
        {
            assert_eq!(parse_ref(bad), None, "{bad:?}");
        }
        assert_eq!(parse_ref(&format!("3.1234.{}", "zz".repeat(16))), None);
    }

    #[test]
    fn a_slip_is_a_pdf_with_its_text_and_a_table_of_objects() {
        let slip = Slip {
            title: "Class XII Marksheet (2024)".to_owned(),
            issuer: "Central Board".to_owned(),
            uri: "in.gov.cbse-HSCER-2024-1".to_owned(),
            issued_on: "2024-05-13".to_owned(),
            content_hash: "ab".repeat(32),
            ledger_key_fingerprint: "cd".repeat(16),
            verify_url: "http://127.0.0.1:8080/#/verify/ref/0.1.00".to_owned(),
        };
        let pdf = slip_pdf(&slip).expect("test value");
        let text = String::from_utf8_lossy(&pdf);
        assert!(text.starts_with("%PDF-1.4\n") && text.ends_with("%%EOF\n"));
        assert!(text.contains("(Document: Class XII Marksheet \\(2024\\)) Tj"));
        // Every object's offset in the table points at that object.
        let xref = text.rfind("startxref\n").expect("test value");
        let at: usize =
            text[xref + 10..].lines().next().expect("test value").parse().expect("test value");
        for (i, entry) in text[at..].lines().skip(3).take(6).enumerate() {
            let offset: usize = entry[..10].parse().expect("test value");
            assert!(text[offset..].starts_with(&format!("{} 0 obj", i + 1)), "object {}", i + 1);
        }
    }
}
