//! Parsing the topics a browser subscribes to.

use wire::{ItemId, socket_topics};

/// What one socket may be subscribed to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Topic {
    Feed,
    Item(ItemId),
    User,
}

impl Topic {
    pub(super) fn parse(topic: &str) -> Result<Self, String> {
        match topic {
            socket_topics::FEED => Ok(Self::Feed),
            socket_topics::USER => Ok(Self::User),
            _ => match topic.strip_prefix(socket_topics::ITEM_PREFIX) {
                Some(id) if id.len() == 24 => ItemId::parse(id)
                    .map(Self::Item)
                    .map_err(|_| "an item topic is item:<24 hex digit id>".into()),
                Some(_) => Err("an item topic is item:<24 hex digit id>".into()),
                None => Err(format!(
                    "unknown topic {topic:?}: expected {}, {} or item:<id>",
                    socket_topics::FEED,
                    socket_topics::USER
                )),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_parse_once() {
        assert_eq!(Topic::parse("feed"), Ok(Topic::Feed));
        assert_eq!(Topic::parse("user"), Ok(Topic::User));
        assert_eq!(
            Topic::parse("item:665F1C2E9B1D8A0012345678"),
            Ok(Topic::Item(
                "665f1c2e9b1d8a0012345678".parse().expect("an id")
            ))
        );
        assert!(Topic::parse("item:nope").is_err());
        assert!(Topic::parse("user:665f1c2e9b1d8a0012345678").is_err());
        assert!(Topic::parse("").is_err());
    }
}
