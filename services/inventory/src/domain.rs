//! Item input, parsed once into types that cannot hold an invalid value. Money is integer
//! cents everywhere.

use common::input::FieldError;
use mongodb::bson::oid::ObjectId;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Title(String);

impl Title {
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let title = raw.trim();
        let length = title.chars().count();
        if length == 0 {
            return Err(FieldError::new("title", "is required"));
        }
        if length > 120 {
            return Err(FieldError::new("title", "must be at most 120 characters"));
        }
        if title.chars().any(char::is_control) {
            return Err(FieldError::new(
                "title",
                "must not contain control characters",
            ));
        }
        Ok(Self(title.to_owned()))
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Description(String);

impl Description {
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let description = raw.trim();
        if description.chars().count() > 5_000 {
            return Err(FieldError::new(
                "description",
                "must be at most 5,000 characters",
            ));
        }
        Ok(Self(description.to_owned()))
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// 1 cent to 1,000,000.00.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PriceCents(i64);

impl PriceCents {
    pub const MAX: i64 = 100_000_000;

    pub fn parse(cents: i64) -> Result<Self, FieldError> {
        if !(1..=Self::MAX).contains(&cents) {
            return Err(FieldError::new(
                "price_cents",
                "must be between 1 cent and 1,000,000.00",
            ));
        }
        Ok(Self(cents))
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

/// 0 to 1,000,000 units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stock(i64);

impl Stock {
    pub fn parse(units: i64) -> Result<Self, FieldError> {
        if !(0..=1_000_000).contains(&units) {
            return Err(FieldError::new("stock", "must be between 0 and 1,000,000"));
        }
        Ok(Self(units))
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

/// An http(s) address or a path on this site, at most 500 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageUrl(String);

impl ImageUrl {
    const HINT: &'static str =
        "must be an https:// address of a picture (or one of the site's own /images/ paths)";

    /// An `https://host/...` address without credentials or backslashes, a plain path
    /// under the site's own `/images/` (the demo pictures), or an uploaded picture's
    /// `/pictures/<name>`. Nothing else: no `http:`, no
    /// `//host` or `/\host` that a browser would take to another site, no `javascript:`.
    pub fn parse(raw: &str) -> Result<Option<Self>, FieldError> {
        let text = raw.trim();
        if text.is_empty() {
            return Ok(None);
        }
        let refuse = || FieldError::new("image_url", Self::HINT);
        if text.len() > 500
            || text.contains('\\')
            || text
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || c == '"')
        {
            return Err(refuse());
        }
        if let Some(name) = text.strip_prefix(wire::picture::PICTURES_PATH) {
            // A picture uploaded here: only its exact content-hash name.
            return match name
                .strip_prefix('/')
                .map(wire::picture::PictureName::parse)
            {
                Some(Ok(name)) => Ok(Some(Self(name.site_path()))),
                _ => Err(refuse()),
            };
        }
        if let Some(path) = text.strip_prefix("/images/") {
            let plain = path
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_' | b'.'));
            if !plain || path.contains("..") || path.contains("//") || path.is_empty() {
                return Err(refuse());
            }
            return Ok(Some(Self(text.to_owned())));
        }
        let url = url::Url::parse(text).map_err(|_| refuse())?;
        let has_host = url.host_str().is_some_and(|host| !host.is_empty());
        if url.scheme() != "https"
            || !has_host
            || !url.username().is_empty()
            || url.password().is_some()
        {
            return Err(refuse());
        }
        Ok(Some(Self(url.into())))
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// Item ids are MongoDB ObjectIds: 24 hexadecimal digits.
pub fn parse_item_id(raw: &str) -> Result<ObjectId, FieldError> {
    ObjectId::parse_str(raw.trim())
        .map_err(|_| FieldError::new("itemId", "must be an item id (24 hexadecimal digits)"))
}

/// A page of the catalog: page from 1, at most 48 items per page, optional title search.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CatalogQuery {
    pub page: u64,
    pub per_page: u64,
    pub search: Option<String>,
}

impl CatalogQuery {
    pub const DEFAULT_PER_PAGE: u64 = 24;
    pub const MAX_PER_PAGE: u64 = 48;

    pub fn parse(
        page: Option<&str>,
        per_page: Option<&str>,
        search: Option<&str>,
    ) -> Result<Self, FieldError> {
        let number = |field: &str, raw: Option<&str>, default: u64| -> Result<u64, FieldError> {
            match raw.map(str::trim).filter(|s| !s.is_empty()) {
                None => Ok(default),
                Some(s) => s
                    .parse::<u64>()
                    .map_err(|_| FieldError::new(field, "must be a whole number")),
            }
        };
        let page = number("page", page, 1)?;
        if !(1..=10_000).contains(&page) {
            return Err(FieldError::new("page", "must be between 1 and 10,000"));
        }
        let per_page = number("per_page", per_page, Self::DEFAULT_PER_PAGE)?;
        if !(1..=Self::MAX_PER_PAGE).contains(&per_page) {
            return Err(FieldError::new("per_page", "must be between 1 and 48"));
        }
        let search = search
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned);
        if search.as_ref().is_some_and(|s| s.chars().count() > 100) {
            return Err(FieldError::new("q", "must be at most 100 characters"));
        }
        Ok(Self {
            page,
            per_page,
            search,
        })
    }
}

/// Escapes a search text so it matches literally inside a `$regex`.
pub fn regex_literal(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len() * 2);
    for c in text.chars() {
        if "\\^$.|?*+()[]{}-/".contains(c) {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_of_each_field() {
        assert!(Title::parse("").is_err());
        assert!(Title::parse(&"t".repeat(120)).is_ok());
        assert!(Title::parse(&"t".repeat(121)).is_err());
        assert!(Description::parse(&"d".repeat(5_000)).is_ok());
        assert!(Description::parse(&"d".repeat(5_001)).is_err());
        assert!(PriceCents::parse(0).is_err());
        assert!(PriceCents::parse(1).is_ok());
        assert!(PriceCents::parse(100_000_000).is_ok());
        assert!(PriceCents::parse(100_000_001).is_err());
        assert!(Stock::parse(-1).is_err());
        assert!(Stock::parse(0).is_ok());
        assert!(Stock::parse(1_000_001).is_err());
    }

    #[test]
    fn image_urls_are_web_addresses_or_site_paths() {
        assert!(
            ImageUrl::parse("https://example.com/a.png")
                .unwrap()
                .is_some()
        );
        assert!(ImageUrl::parse("/images/demo/1.svg").unwrap().is_some());
        assert!(ImageUrl::parse("").unwrap().is_none());
        let picture = format!("/pictures/{}.jpg", "0a".repeat(16));
        assert_eq!(
            ImageUrl::parse(&picture).unwrap().map(ImageUrl::into_inner),
            Some(picture)
        );
        for bad in [
            "javascript:alert(1)",
            "//evil.example/x.png",
            "/\\evil.example/x.png",
            "https:\\\\evil.example/x.png",
            "http://example.com/a.png",
            "https://user:secret@example.com/a.png",
            "https://example.com\\@evil.example/a.png",
            "data:image/png;base64,xx",
            "/a b.png",
            "/images/../api/log_out",
            "/api/log_out",
            "/pictures/../api/log_out",
            "/pictures/x.png",
            "/picturesque.png",
        ] {
            assert!(ImageUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn catalog_query_defaults_and_bounds() {
        let q = CatalogQuery::parse(None, None, Some("  lamp ")).unwrap();
        assert_eq!(
            (q.page, q.per_page, q.search.as_deref()),
            (1, 24, Some("lamp"))
        );
        assert_eq!(
            CatalogQuery::parse(Some("0"), None, None)
                .unwrap_err()
                .field,
            "page"
        );
        assert_eq!(
            CatalogQuery::parse(None, Some("49"), None)
                .unwrap_err()
                .field,
            "per_page"
        );
        assert_eq!(
            CatalogQuery::parse(Some("x"), None, None)
                .unwrap_err()
                .field,
            "page"
        );
    }

    #[test]
    fn search_text_matches_literally() {
        assert_eq!(regex_literal("a.b*(c)"), r"a\.b\*\(c\)");
    }

    #[test]
    fn item_ids_must_be_object_ids() {
        assert!(parse_item_id("665f1c2e9b1d8a0012345678").is_ok());
        assert_eq!(parse_item_id("123").unwrap_err().field, "itemId");
    }
}
