//! Signed-in item pages without a render each. The gateway renders an item page once for a
//! made-up visitor ([`Placeholders`]: a name, a cart count and a purchase key nobody could
//! type, random in each process) and keeps that render as a [`PersonalTemplate`]; each
//! signed-in visitor then gets a copy with their own name, cart and a fresh key filled in
//! ([`PersonalTemplate::fill`]). The template is the app's own render, so the page a browser
//! hydrates has exactly the markup a fresh render would have: only text and the serialised
//! resource values differ.
//!
//! A render whose placeholders do not all land where a value can be filled in (say, a page
//! that shows the visitor's email) gives no template, and those pages are rendered afresh.

use std::ops::Range;
use std::sync::Arc;

use aho_corasick::{AhoCorasick, MatchKind};
use serde::Serialize;
use wire::cart::CartView;
use wire::user::UserView;

use crate::error::AppError;

/// Whoever is browsing, as a personal page shows them: who they are and their cart.
#[derive(Debug, Clone)]
pub struct Visitor {
    /// The signed-in user.
    pub user: UserView,
    /// Their cart at today's prices.
    pub cart: CartView,
}

/// The made-up visitor a template is rendered for. The gateway puts it in the template
/// render's request extensions; [`placeholders`] finds it there.
#[derive(Debug)]
pub struct Placeholders {
    visitor: Visitor,
    /// What [`crate::pages::fresh_form_key`] gives in the template's render.
    form_key: String,
}

impl Placeholders {
    /// Values no seller can write into an item's text: random, made once per process.
    pub fn new() -> Arc<Self> {
        // Each a fresh form key: 24 random hexadecimal digits (made outside any render, so
        // not a placeholder itself).
        let random = super::fresh_form_key;
        let user = UserView {
            id: wire::UserId::parse(&random())
                .unwrap_or_else(|_| unreachable!("24 hexadecimal digits are a user id")),
            email: format!("visitor{}@example.invalid", random()),
            display_name: format!("visitorname{}", random()),
        };
        // Thirteen digits or more: a count no cart reaches, so it stands out in the page.
        let units = 1_000_000_000_000 + i64::from(rand::random::<u32>());
        let cart = CartView {
            lines: Vec::new(),
            units,
            total_cents: 0,
        };
        Arc::new(Self {
            visitor: Visitor { user, cart },
            form_key: random(),
        })
    }

    /// The made-up user, whom the template's render takes as signed in.
    pub fn user(&self) -> &UserView {
        &self.visitor.user
    }

    /// The made-up cart.
    pub fn cart(&self) -> &CartView {
        &self.visitor.cart
    }

    /// The made-up form key.
    pub fn form_key(&self) -> &str {
        &self.form_key
    }
}

/// The placeholders, when the page being rendered is a template (the request that started
/// the render carries them).
pub fn placeholders() -> Option<Arc<Placeholders>> {
    leptos::prelude::with_context::<http::request::Parts, _>(|parts| {
        parts.extensions.get::<Arc<Placeholders>>().cloned()
    })
    .flatten()
}

/// One item page, rendered for the made-up visitor, with the places their values go.
#[derive(Debug)]
pub struct PersonalTemplate {
    html: String,
    pieces: Vec<Piece>,
}

/// A piece of a template: its own markup, or a value filled in for each visitor.
#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Markup(Range<usize>),
    /// The response's CSP nonce (Leptos writes it on its scripts).
    Nonce,
    /// The visitor's name, in markup.
    DisplayName,
    /// The user resource's value, as Leptos serialises it for hydration.
    UserData,
    /// The header's count of units in the cart.
    CartUnits,
    /// The cart resource's value, as Leptos serialises it for hydration.
    CartData,
    /// A fresh form key (the "Buy now" form's purchase key).
    FormKey,
}

/// Why a render cannot serve as a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotATemplate {
    /// A value of the visitor's that the page holds only once is not there once.
    NotOnce(&'static str, usize),
    /// The page shows something of the visitor's that no piece fills in.
    Unfilled(&'static str),
}

impl std::fmt::Display for NotATemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotOnce(what, times) => {
                write!(f, "the render holds {what} {times} times instead of once")
            }
            Self::Unfilled(what) => {
                write!(
                    f,
                    "the render shows the visitor's {what}, which is not filled in"
                )
            }
        }
    }
}

impl PersonalTemplate {
    /// Finds the placeholders' values in `html`, a page rendered for `placeholders` with the
    /// CSP nonce `nonce`.
    pub fn new(
        html: String,
        placeholders: &Placeholders,
        nonce: &str,
    ) -> Result<Self, NotATemplate> {
        let visitor = &placeholders.visitor;
        // The serialised values first: the name and count inside them are not pieces of
        // their own (leftmost-first matching takes the longer, earlier pattern).
        let patterns = [
            (user_data(&visitor.user), Ok(Piece::UserData)),
            (cart_data(&visitor.cart), Ok(Piece::CartData)),
            (nonce.to_owned(), Ok(Piece::Nonce)),
            (visitor.user.display_name.clone(), Ok(Piece::DisplayName)),
            (visitor.cart.units.to_string(), Ok(Piece::CartUnits)),
            (placeholders.form_key.clone(), Ok(Piece::FormKey)),
            (
                visitor.user.email.clone(),
                Err(NotATemplate::Unfilled("email")),
            ),
            (
                visitor.user.id.to_string(),
                Err(NotATemplate::Unfilled("user id")),
            ),
        ];
        let finder = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostFirst)
            .build(patterns.iter().map(|(text, _)| text.as_str()))
            .unwrap_or_else(|_| unreachable!("a handful of short patterns always build"));
        let mut pieces = Vec::new();
        let mut markup_start = 0;
        for found in finder.find_iter(&html) {
            let piece = patterns[found.pattern().as_usize()].1.clone()?;
            pieces.push(Piece::Markup(markup_start..found.start()));
            pieces.push(piece);
            markup_start = found.end();
        }
        pieces.push(Piece::Markup(markup_start..html.len()));
        for (piece, name) in [(Piece::UserData, "the user"), (Piece::CartData, "the cart")] {
            let times = pieces.iter().filter(|p| **p == piece).count();
            if times != 1 {
                return Err(NotATemplate::NotOnce(name, times));
            }
        }
        pieces.retain(|piece| !matches!(piece, Piece::Markup(range) if range.is_empty()));
        Ok(Self { html, pieces })
    }

    /// The page for `visitor`, with `nonce` on its scripts and `form_key` in its forms.
    pub fn fill(&self, visitor: &Visitor, nonce: &str, form_key: &str) -> String {
        let mut page = String::with_capacity(self.html.len() + 512);
        for piece in &self.pieces {
            match piece {
                Piece::Markup(range) => page.push_str(&self.html[range.clone()]),
                Piece::Nonce => page.push_str(nonce),
                Piece::DisplayName => escape_html_into(&visitor.user.display_name, &mut page),
                Piece::UserData => page.push_str(&user_data(&visitor.user)),
                Piece::CartUnits => page.push_str(&visitor.cart.units.to_string()),
                Piece::CartData => page.push_str(&cart_data(&visitor.cart)),
                Piece::FormKey => page.push_str(form_key),
            }
        }
        page
    }

    /// Bytes of markup kept.
    pub fn len(&self) -> usize {
        self.html.len()
    }

    /// Whether the template is empty (never, for a page).
    pub fn is_empty(&self) -> bool {
        self.html.is_empty()
    }
}

/// The user resource's value (`crate::api::current_user`) as the page carries it.
fn user_data(user: &UserView) -> String {
    resource_value(&Ok::<_, AppError>(Some(user)))
}

/// The cart resource's value (`crate::api::my_cart`) as the page carries it.
fn cart_data(cart: &CartView) -> String {
    resource_value(&Ok::<_, AppError>(cart))
}

/// A resource's value as Leptos writes it into the page for hydration: its JSON, with `<`
/// escaped, as a Rust-escaped string literal (hydration_context's `AsyncDataStream`).
fn resource_value(value: &impl Serialize) -> String {
    let json = serde_json::to_string(value).unwrap_or_default();
    format!("{:?}", json.replace('<', "\\u003c"))
}

/// Escapes text for HTML text and attribute values alike.
fn escape_html_into(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A page shaped like the app's: the name in the header, the count, a form key, the
    /// nonce on two scripts, and the two values in the hydration script.
    fn render_for(visitor: &Visitor, nonce: &str, key: &str) -> String {
        let mut name = String::new();
        escape_html_into(&visitor.user.display_name, &mut name);
        format!(
            r#"<script nonce="{nonce}">x</script><p>Signed in as <strong>{name}</strong></p><span>({units})</span><input name="key" value="{key}-0"><script nonce="{nonce}">__RESOLVED_RESOURCES[1] = {user};__RESOLVED_RESOURCES[2] = {cart};</script>"#,
            units = visitor.cart.units,
            user = user_data(&visitor.user),
            cart = cart_data(&visitor.cart),
        )
    }

    fn ola() -> Visitor {
        Visitor {
            user: UserView {
                id: wire::UserId::parse("665f1c2e9b1d8a0012345678").expect("an id"),
                email: "ola@example.com".into(),
                display_name: r#"Ola <b>"&"</b>"#.into(),
            },
            cart: CartView {
                lines: Vec::new(),
                units: 3,
                total_cents: 4_500,
            },
        }
    }

    #[test]
    fn a_filled_template_is_the_page_a_render_for_the_visitor_gives() {
        let placeholders = Placeholders::new();
        let template = PersonalTemplate::new(
            render_for(
                &placeholders.visitor,
                "template-nonce",
                placeholders.form_key(),
            ),
            &placeholders,
            "template-nonce",
        )
        .expect("a template");
        let page = template.fill(&ola(), "fresh-nonce", "fresh-key");
        assert_eq!(page, render_for(&ola(), "fresh-nonce", "fresh-key"));
        assert!(
            page.contains("Ola &lt;b&gt;&quot;&amp;&quot;&lt;/b&gt;"),
            "{page}"
        );
        assert!(!page.contains("<b>"), "{page}");
    }

    #[test]
    fn a_render_that_shows_the_email_or_lacks_the_cart_is_no_template() {
        let placeholders = Placeholders::new();
        let render = render_for(&placeholders.visitor, "n", placeholders.form_key());
        let with_email = format!("{render}<p>{}</p>", placeholders.user().email);
        assert_eq!(
            PersonalTemplate::new(with_email, &placeholders, "n").unwrap_err(),
            NotATemplate::Unfilled("email")
        );
        let without_cart = render.replace(&cart_data(placeholders.cart()), "null");
        assert_eq!(
            PersonalTemplate::new(without_cart, &placeholders, "n").unwrap_err(),
            NotATemplate::NotOnce("the cart", 0)
        );
    }
}
