//! Ids that only a well-formed value can become.
//!
//! Every id in the marketplace is a MongoDB ObjectId written as 24 hexadecimal digits. An id
//! that comes from a browser, a form or a URL is parsed into one of these types where it
//! enters, and only these types are put into URLs to other services. So text such as
//! `../reservations/…/release` can never reach a service's path: it is not an id.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why some text is not an id: the sentence names the kind of id expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotAnId {
    /// "item", "user", "purchase" or "guest cart".
    pub kind: &'static str,
    /// How many hexadecimal digits such an id has.
    pub digits: u8,
}

impl fmt::Display for NotAnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "must be {} id ({} hexadecimal digits)",
            article(self.kind),
            self.digits
        )
    }
}

impl std::error::Error for NotAnId {}

fn article(kind: &str) -> String {
    match kind.chars().next() {
        Some('a' | 'e' | 'i' | 'o' | 'u') => format!("an {kind}"),
        _ => format!("a {kind}"),
    }
}

/// 24 hexadecimal digits, lower-cased; surrounding white space is ignored.
fn parse_hex24(raw: &str, kind: &'static str) -> Result<String, NotAnId> {
    let text = raw.trim();
    if text.len() == 24 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(text.to_ascii_lowercase())
    } else {
        Err(NotAnId { kind, digits: 24 })
    }
}

/// The value of one lower-case hexadecimal digit (ids hold nothing else).
fn hex_value(digit: u8) -> u8 {
    match digit {
        b'0'..=b'9' => digit - b'0',
        b'a'..=b'f' => digit - b'a' + 10,
        _ => 0,
    }
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $kind:literal, $article:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// What the id is called in messages ("item", "user", "purchase").
            pub const KIND: &'static str = $kind;

            /// Reads an id typed or sent by anyone; anything but 24 hex digits is refused.
            pub fn parse(raw: &str) -> Result<Self, NotAnId> {
                parse_hex24(raw, $kind).map(Self)
            }

            /// The 24 lower-case hexadecimal digits.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The id of a stored document's 12-byte ObjectId; every 12 bytes are an id.
            pub fn from_bytes(bytes: [u8; 12]) -> Self {
                Self(bytes.iter().map(|b| format!("{b:02x}")).collect())
            }

            /// The 12 bytes of the ObjectId, to look the document up by.
            pub fn to_bytes(&self) -> [u8; 12] {
                let mut bytes = [0u8; 12];
                for (byte, pair) in bytes.iter_mut().zip(self.0.as_bytes().chunks_exact(2)) {
                    *byte = (hex_value(pair[0]) << 4) | hex_value(pair[1]);
                }
                bytes
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = NotAnId;
            fn from_str(raw: &str) -> Result<Self, NotAnId> {
                Self::parse(raw)
            }
        }

        impl TryFrom<String> for $name {
            type Error = NotAnId;
            fn try_from(raw: String) -> Result<Self, NotAnId> {
                Self::parse(&raw)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        #[cfg(feature = "openapi")]
        crate::openapi::text_schema!(
            $name,
            concat!(
                "A", $article, " ", $kind,
                " id: 24 hexadecimal digits (answers write them in lower case)."
            ),
            "^[0-9a-fA-F]{24}$",
            "665f1c2e9b1d8a0012345678"
        );
    };
}

id_type!(
    /// An item for sale.
    ItemId,
    "item",
    "n"
);
id_type!(
    /// An account (a buyer, a seller, or both).
    UserId,
    "user",
    ""
);
id_type!(
    /// A purchase; its stock reservation at the inventory service has the same id.
    PurchaseId,
    "purchase",
    ""
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_24_hex_digits_are_ids() {
        let id = ItemId::parse(" 665F1C2E9B1D8A0012345678 ").expect("an id");
        assert_eq!(id.as_str(), "665f1c2e9b1d8a0012345678");
        for bad in [
            "",
            "665f1c2e9b1d8a001234567",
            "665f1c2e9b1d8a00123456789",
            "665f1c2e9b1d8a001234567g",
            "../reservations/665f1c2e9b1d8a0012345678/release",
            "665f1c2e9b1d8a00/2345678",
            "665f1c2e9b1d8a0012345678%2F",
        ] {
            assert_eq!(
                ItemId::parse(bad),
                Err(NotAnId {
                    kind: "item",
                    digits: 24
                }),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn the_message_names_the_kind() {
        assert_eq!(
            ItemId::parse("x").unwrap_err().to_string(),
            "must be an item id (24 hexadecimal digits)"
        );
        assert_eq!(
            PurchaseId::parse("x").unwrap_err().to_string(),
            "must be a purchase id (24 hexadecimal digits)"
        );
    }

    #[test]
    fn object_id_bytes_are_ids() {
        let id = PurchaseId::from_bytes([
            0x66, 0x5f, 0x1c, 0x2e, 0x9b, 0x1d, 0x8a, 0, 0x12, 0x34, 0x56, 0x78,
        ]);
        assert_eq!(
            id,
            PurchaseId::parse("665f1c2e9b1d8a0012345678").expect("an id")
        );
        assert_eq!(
            id.to_bytes(),
            [
                0x66, 0x5f, 0x1c, 0x2e, 0x9b, 0x1d, 0x8a, 0, 0x12, 0x34, 0x56, 0x78
            ]
        );
        let typed_upper = ItemId::parse("ABCDEF0123456789abcdef01").expect("an id");
        assert_eq!(ItemId::from_bytes(typed_upper.to_bytes()), typed_upper);
    }

    #[test]
    fn json_ids_are_checked_too() {
        assert!(serde_json::from_str::<UserId>("\"665f1c2e9b1d8a0012345678\"").is_ok());
        assert!(serde_json::from_str::<UserId>("\"../x\"").is_err());
    }
}
