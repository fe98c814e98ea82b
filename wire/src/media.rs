//! The media types the service takes, recognised by a file's first bytes (never by its name),
//! and the types a file name's extension allows.

use std::path::Path;

use schemas::MediaType;

/// Recognises a media type by the file's first bytes, never by its name.
pub fn sniff(head: &[u8]) -> Option<MediaType> {
    let starts = |magic: &[u8]| head.starts_with(magic);
    if starts(b"%PDF-") {
        Some(MediaType::Pdf)
    } else if starts(&[0xFF, 0xD8, 0xFF]) {
        Some(MediaType::Jpeg)
    } else if starts(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]) {
        Some(MediaType::Png)
    } else if starts(b"GIF87a") || starts(b"GIF89a") {
        Some(MediaType::Gif)
    } else if starts(b"BM") && head.len() >= 14 {
        Some(MediaType::Bmp)
    } else {
        let text = head.trim_ascii_start();
        if text.starts_with(b"<?xml") || (text.starts_with(b"<") && text.len() > 1) {
            Some(MediaType::Xml)
        } else if text.starts_with(b"{") || text.starts_with(b"[") {
            Some(MediaType::Json)
        } else {
            None
        }
    }
}

/// The media types a file name's extension allows, lower-cased; `None` without an extension.
pub fn extension_types(file_name: &str) -> Option<&'static [MediaType]> {
    let extension = Path::new(file_name).extension()?.to_str()?.to_ascii_lowercase();
    Some(match extension.as_str() {
        "pdf" => &[MediaType::Pdf],
        "jpg" | "jpeg" => &[MediaType::Jpeg],
        "png" => &[MediaType::Png],
        "bmp" => &[MediaType::Bmp],
        "gif" => &[MediaType::Gif],
        "xml" => &[MediaType::Xml],
        "json" => &[MediaType::Json],
        _ => &[],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_by_content() {
        assert_eq!(sniff(b"%PDF-1.7\n"), Some(MediaType::Pdf));
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), Some(MediaType::Jpeg));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n...."), Some(MediaType::Png));
        assert_eq!(sniff(b"GIF89a..."), Some(MediaType::Gif));
        assert_eq!(sniff(b"BM\0\0\0\0\0\0\0\0\0\0\0\0\0\0"), Some(MediaType::Bmp));
        assert_eq!(sniff(b"  <?xml version"), Some(MediaType::Xml));
        assert_eq!(sniff(b"{\"a\":1}"), Some(MediaType::Json));
        assert_eq!(sniff(b"MZ\x90\0"), None);
        assert_eq!(sniff(b""), None);
    }

    #[test]
    fn extensions() {
        assert_eq!(extension_types("Marks.PDF"), Some(&[MediaType::Pdf][..]));
        assert_eq!(extension_types("photo.jpeg"), Some(&[MediaType::Jpeg][..]));
        assert_eq!(extension_types("virus.exe"), Some(&[][..]));
        assert_eq!(extension_types("README"), None);
    }
}
