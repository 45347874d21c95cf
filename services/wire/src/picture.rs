//! Item pictures: the kinds a seller may upload, the size bounds, and the name a stored
//! picture is served under.
//!
//! A picture is told apart by its first bytes (its magic number), never by its file name or
//! the type a browser declares. The inventory service decodes every upload, shrinks it to
//! [`MAX_SIDE`] and encodes it again, so what is served was made by the service, and its
//! name is a hash of those bytes: the same picture always has the same address, which can
//! therefore be cached for ever.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The largest upload accepted: 5 MiB.
pub const MAX_UPLOAD_BYTES: usize = 5 * 1024 * 1024;

/// The longest side, in pixels, of a picture as it is served; larger uploads are shrunk.
pub const MAX_SIDE: u32 = 1280;

/// The longest side, in pixels, of a picture's smaller copy for catalog cards and
/// thumbnails: a card is at most about 320 CSS pixels wide, so this is sharp at 2x.
pub const CARD_SIDE: u32 = 640;

/// The sentence a seller sees when a file is not a picture we take.
pub const NOT_A_PICTURE: &str = "That file is not a JPEG, PNG or WebP picture.";

/// The sentence a seller sees when a file is larger than [`MAX_UPLOAD_BYTES`] by an
/// unknown amount.
pub const TOO_LARGE: &str = "That picture is larger than 5 MB; a picture may be at most 5 MB.";

/// The sentence a seller sees when a file is too large, with its size in megabytes.
pub fn too_large(bytes: usize) -> String {
    format!(
        "That picture is {:.1} MB; a picture may be at most 5 MB.",
        bytes as f64 / (1024.0 * 1024.0)
    )
}

/// The picture formats a seller may upload, and in which a picture is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum PictureKind {
    /// JPEG (`FF D8 FF`).
    Jpeg,
    /// PNG (`89 50 4E 47 0D 0A 1A 0A`).
    Png,
    /// WebP (`RIFF` ... `WEBP`).
    Webp,
}

impl PictureKind {
    /// The kind the first bytes of a file say it is, or `None` when they are none of ours.
    pub fn sniff(bytes: &[u8]) -> Option<Self> {
        if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(Self::Jpeg)
        } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(Self::Png)
        } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
            Some(Self::Webp)
        } else {
            None
        }
    }

    /// The file extension in a served picture's name.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Jpeg => "jpg",
            Self::Png => "png",
            Self::Webp => "webp",
        }
    }

    /// The `Content-Type` a served picture goes out with.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
            Self::Webp => "image/webp",
        }
    }

    fn from_extension(extension: &str) -> Option<Self> {
        [Self::Jpeg, Self::Png, Self::Webp]
            .into_iter()
            .find(|kind| kind.extension() == extension)
    }
}

/// How many hexadecimal digits of the content hash a picture's name holds (128 bits).
const HASH_DIGITS: usize = 32;

/// Why some text is not a picture's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotAPictureName;

impl fmt::Display for NotAPictureName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "must be a picture name ({HASH_DIGITS} hexadecimal digits, then .jpg, .png or .webp)"
        )
    }
}

impl std::error::Error for NotAPictureName {}

/// A stored picture's name, `"<32 lower-case hex digits>.<jpg|png|webp>"`: the start of the
/// SHA-256 of its bytes and its kind. Only such text parses, so a name is safe in a path.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PictureName {
    name: String,
    kind: PictureKind,
}

#[cfg(feature = "openapi")]
crate::openapi::text_schema!(
    PictureName,
    "A stored picture: the start of its SHA-256 (32 lower-case hexadecimal digits) and its kind.",
    "^[0-9a-f]{32}\\.(jpg|png|webp)$",
    "9f86d081884c7d659a2feaa0c55ad015.png"
);

impl PictureName {
    /// Reads a name sent by anyone (a browser's URL); anything else is refused.
    pub fn parse(raw: &str) -> Result<Self, NotAPictureName> {
        let (hash, extension) = raw.split_once('.').ok_or(NotAPictureName)?;
        let kind = PictureKind::from_extension(extension).ok_or(NotAPictureName)?;
        if hash.len() != HASH_DIGITS
            || !hash
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(NotAPictureName);
        }
        Ok(Self {
            name: raw.to_owned(),
            kind,
        })
    }

    /// The name of a picture of `kind` whose bytes hash to `digest` (the first 16 bytes are
    /// used).
    pub fn from_digest(digest: &[u8], kind: PictureKind) -> Self {
        let hash: String = digest
            .iter()
            .take(HASH_DIGITS / 2)
            .map(|byte| format!("{byte:02x}"))
            .collect();
        Self {
            name: format!("{hash}.{}", kind.extension()),
            kind,
        }
    }

    /// The whole name, e.g. `"9f86d081884c7d659a2feaa0c55ad015.png"`.
    pub fn as_str(&self) -> &str {
        &self.name
    }

    /// The picture's format.
    pub fn kind(&self) -> PictureKind {
        self.kind
    }

    /// Where the gateway serves it: `/pictures/<name>`, the `image_url` an item gets.
    pub fn site_path(&self) -> String {
        format!("{PICTURES_PATH}/{}", self.name)
    }

    /// Where the gateway serves its smaller copy (at most [`CARD_SIDE`]):
    /// `/pictures/card/<name>`.
    pub fn card_path(&self) -> String {
        format!("{PICTURES_PATH}/card/{}", self.name)
    }
}

/// Which copy of a stored picture: the picture itself, or its smaller copy for cards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PictureSize {
    /// At most [`MAX_SIDE`] on the longest side.
    Full,
    /// At most [`CARD_SIDE`] on the longest side.
    Card,
}

/// The picture to show on a catalog card for an item whose picture is at `image_url`: the
/// smaller copy of an uploaded picture, any other address as it is.
pub fn card_address(image_url: &str) -> String {
    image_url
        .strip_prefix(PICTURES_PATH)
        .and_then(|rest| rest.strip_prefix('/'))
        .and_then(|name| PictureName::parse(name).ok())
        .map_or_else(|| image_url.to_owned(), |name| name.card_path())
}

/// The folder of the site's address space where the gateway serves stored pictures.
pub const PICTURES_PATH: &str = "/pictures";

impl fmt::Display for PictureName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

impl TryFrom<String> for PictureName {
    type Error = NotAPictureName;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<PictureName> for String {
    fn from(value: PictureName) -> Self {
        value.name
    }
}

/// A picture's file as the seller chose it, sent inside the listing or edit that uses it
/// ([`crate::inventory::NewItem::picture`], [`crate::inventory::ItemEdit::picture`]), base64
/// in the JSON: the inventory service checks everything else the form says before it stores
/// a byte, so a refused form stores nothing. At most [`MAX_UPLOAD_BYTES`]; the service checks
/// what it is.
#[derive(Clone, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(value_type = String, format = Byte))]
pub struct PictureUpload(Vec<u8>);

impl PictureUpload {
    /// The file's bytes, unchecked (the service checks them).
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// The file's bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }

    /// The file's bytes, taken out.
    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }
}

impl fmt::Debug for PictureUpload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PictureUpload({} bytes)", self.0.len())
    }
}

impl Serialize for PictureUpload {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use base64::Engine;
        serializer.serialize_str(&base64::engine::general_purpose::STANDARD.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for PictureUpload {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use base64::Engine;
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        // Checked before decoding: base64 is 4 characters for every 3 bytes.
        let bytes = text.len() / 4 * 3;
        if bytes > MAX_UPLOAD_BYTES + 3 {
            return Err(serde::de::Error::custom(too_large(bytes)));
        }
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(text.as_bytes())
            .map_err(|_| serde::de::Error::custom("must be the picture's bytes in base64"))?;
        if decoded.len() > MAX_UPLOAD_BYTES {
            return Err(serde::de::Error::custom(too_large(decoded.len())));
        }
        Ok(Self(decoded))
    }
}

/// A stored picture as it is served.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StoredPicture {
    /// Its name; `name.site_path()` is the address to give an item.
    pub name: PictureName,
    /// Its width in pixels, at most [`MAX_SIDE`].
    pub width: u32,
    /// Its height in pixels, at most [`MAX_SIDE`].
    pub height: u32,
    /// The size of the stored bytes.
    pub bytes: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_told_by_their_first_bytes_only() {
        assert_eq!(
            PictureKind::sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"),
            Some(PictureKind::Png)
        );
        assert_eq!(
            PictureKind::sniff(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10]),
            Some(PictureKind::Jpeg)
        );
        assert_eq!(
            PictureKind::sniff(b"RIFF\x24\0\0\0WEBPVP8 "),
            Some(PictureKind::Webp)
        );
        assert_eq!(PictureKind::sniff(b"RIFF\x24\0\0\0WAVEfmt "), None);
        assert_eq!(
            PictureKind::sniff(b"<svg xmlns=\"http://www.w3.org/2000/svg\">"),
            None
        );
        assert_eq!(PictureKind::sniff(b"GIF89a"), None);
        assert_eq!(PictureKind::sniff(b""), None);
    }

    #[test]
    fn only_hash_and_known_extension_make_a_name() {
        let name = PictureName::from_digest(&[0xab; 32], PictureKind::Webp);
        assert_eq!(name.as_str(), format!("{}.webp", "ab".repeat(16)));
        assert_eq!(PictureName::parse(name.as_str()), Ok(name.clone()));
        assert_eq!(name.site_path(), format!("/pictures/{name}"));
        for bad in [
            "",
            "ab.png",
            &format!("{}.gif", "ab".repeat(16)),
            &format!("{}.PNG", "ab".repeat(16)),
            &format!("{}.png", "AB".repeat(16)),
            &format!("{}.png.png", "ab".repeat(16)),
            &format!("../{}.png", "ab".repeat(15)),
            &format!("{}.png", "ab".repeat(17)),
        ] {
            assert_eq!(PictureName::parse(bad), Err(NotAPictureName), "{bad}");
        }
    }

    #[test]
    fn cards_show_the_smaller_copy_of_an_uploaded_picture_only() {
        let name = PictureName::from_digest(&[0x12; 32], PictureKind::Jpeg);
        assert_eq!(card_address(&name.site_path()), name.card_path());
        assert_eq!(name.card_path(), format!("/pictures/card/{name}"));
        for other in [
            "/images/demo/lamp.svg",
            "https://example.com/pictures/a.jpg",
            "/pictures/not-a-name.jpg",
        ] {
            assert_eq!(card_address(other), other);
        }
    }

    #[test]
    fn an_upload_travels_as_base64_and_a_large_one_is_refused_with_its_size() {
        let upload = PictureUpload::new(b"\x89PNG\r\n\x1a\n....".to_vec());
        let json = serde_json::to_string(&upload).expect("json");
        assert_eq!(json, "\"iVBORw0KGgouLi4u\"");
        assert_eq!(
            serde_json::from_str::<PictureUpload>(&json).expect("decodes"),
            upload
        );
        let large = format!("\"{}\"", "A".repeat((MAX_UPLOAD_BYTES + 30) / 3 * 4));
        let err = serde_json::from_str::<PictureUpload>(&large).expect_err("too large");
        assert!(
            err.to_string().contains("a picture may be at most 5 MB"),
            "{err}"
        );
        let err = serde_json::from_str::<PictureUpload>("\"not base64!\"").expect_err("junk");
        assert!(err.to_string().contains("base64"), "{err}");
    }

    #[test]
    fn sizes_are_said_in_megabytes() {
        assert_eq!(
            too_large(6 * 1024 * 1024),
            "That picture is 6.0 MB; a picture may be at most 5 MB."
        );
    }
}
