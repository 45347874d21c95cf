//! Registration input, parsed once into types that cannot hold an invalid value.

use common::input::FieldError;

/// An email address as the user typed it (trimmed), plus the key that makes it unique
/// regardless of letter case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    pub display: String,
    pub key: String,
}

impl Email {
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let display = raw.trim();
        let invalid = || FieldError::new("email", "must be an email address like name@example.com");
        if display.len() > 254 || display.chars().any(char::is_whitespace) {
            return Err(invalid());
        }
        let (local, domain) = display.rsplit_once('@').ok_or_else(invalid)?;
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && domain
                .chars()
                .all(|c| c.is_alphanumeric() || c == '.' || c == '-');
        if local.is_empty() || local.contains('@') || !domain_ok {
            return Err(invalid());
        }
        Ok(Self {
            display: display.to_owned(),
            key: display.to_lowercase(),
        })
    }
}

/// A password within the rules: at least 8 characters, at most 128 bytes (argon2 input stays
/// bounded). It is never logged.
pub struct Password(String);

impl Password {
    pub const MIN_CHARS: usize = 8;
    pub const MAX_BYTES: usize = 128;

    pub fn parse(raw: String) -> Result<Self, FieldError> {
        if raw.chars().count() < Self::MIN_CHARS {
            return Err(FieldError::new("password", "must be at least 8 characters"));
        }
        if raw.len() > Self::MAX_BYTES {
            return Err(FieldError::new("password", "must be at most 128 bytes"));
        }
        Ok(Self(raw))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password([redacted])")
    }
}

/// The name shown to other people: 1–60 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let name = raw.trim();
        if name.is_empty() {
            return Err(FieldError::new("display_name", "is required"));
        }
        if name.chars().count() > 60 {
            return Err(FieldError::new(
                "display_name",
                "must be at most 60 characters",
            ));
        }
        if name.chars().any(char::is_control) {
            return Err(FieldError::new(
                "display_name",
                "must not contain control characters",
            ));
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_unique_regardless_of_case() {
        let a = Email::parse(" Alice@Example.COM ").unwrap();
        assert_eq!(a.display, "Alice@Example.COM");
        assert_eq!(a.key, "alice@example.com");
    }

    #[test]
    fn malformed_emails_are_refused() {
        for bad in [
            "",
            "alice",
            "@example.com",
            "alice@",
            "alice@example",
            "a b@example.com",
            "a@b@c.com",
            "a@.com",
        ] {
            assert_eq!(Email::parse(bad).unwrap_err().field, "email", "{bad:?}");
        }
    }

    #[test]
    fn password_length_rules() {
        assert!(Password::parse("1234567".into()).is_err());
        assert!(Password::parse("12345678".into()).is_ok());
        assert!(Password::parse("é".repeat(64)).is_ok());
        assert!(Password::parse("é".repeat(65)).is_err());
    }

    #[test]
    fn display_names_are_trimmed_and_bounded() {
        assert_eq!(DisplayName::parse("  Bob ").unwrap().as_str(), "Bob");
        assert!(DisplayName::parse("   ").is_err());
        assert!(DisplayName::parse(&"x".repeat(61)).is_err());
        assert!(DisplayName::parse("a\u{7}b").is_err());
    }
}
