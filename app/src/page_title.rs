//! The one way a page sets the document's `<title>`. leptos_meta (0.8.7, and 0.9.0-rc1 alike)
//! writes a title's text into the server's HTML as it is, so an item titled
//! `</title><script>…` would close the element and run as script in every visitor's browser.
//! [`PageTitle`] escapes the text for the server's HTML; in the browser the text is set as
//! text (`document.title`), where it needs no escaping. A test below keeps every page on it.

use leptos::prelude::*;

/// The site's name, the whole title of a page that gives none and the end of every other.
pub const SITE_TITLE: &str = "Marketplace";

/// Sets the document's title to `page` and the site's name ("Lamp · Marketplace"), or to the
/// site's name alone. `page` may be anything a person typed: it is shown as text.
#[component]
pub fn PageTitle(#[prop(optional, into)] page: Option<String>) -> impl IntoView {
    let text = match page {
        Some(page) => format!("{page} · {SITE_TITLE}"),
        None => SITE_TITLE.to_owned(),
    };
    // The server writes the text into the HTML as leptos_meta gives it: escaped here. The
    // browser sets it as text, so it gets it as it is.
    #[cfg(feature = "ssr")]
    let text = escape_title_text(&text);
    view! { <leptos_meta::Title text /> }
}

/// `text` as the content of a `<title>` element (raw text: only a character reference or
/// `</title>` means anything there), with `&`, `<` and `>` written as references.
#[cfg(any(feature = "ssr", test))]
fn escape_title_text(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            c => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_a_title_is_written_as_text() {
        assert_eq!(
            escape_title_text("</title><script>alert(3)</script> & co"),
            "&lt;/title&gt;&lt;script&gt;alert(3)&lt;/script&gt; &amp; co"
        );
        assert_eq!(
            escape_title_text("Lamp · Marketplace"),
            "Lamp · Marketplace"
        );
    }

    /// leptos_meta's own `<Title>` writes its text raw: no page may use it but [`PageTitle`].
    #[test]
    fn every_page_sets_its_title_through_page_title() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut offenders = Vec::new();
        let mut folders = vec![root.clone()];
        while let Some(folder) = folders.pop() {
            for entry in std::fs::read_dir(&folder).expect("read the app's sources") {
                let path = entry.expect("a directory entry").path();
                if path.is_dir() {
                    folders.push(path);
                } else if path.extension().is_some_and(|e| e == "rs")
                    && !path.ends_with("page_title.rs")
                {
                    let source = std::fs::read_to_string(&path).expect("read a source file");
                    if source.contains("<Title") || source.contains("leptos_meta::Title") {
                        offenders.push(path.display().to_string());
                    }
                }
            }
        }
        assert!(
            offenders.is_empty(),
            "these set a title with leptos_meta's <Title>, which does not escape it; use \
             <PageTitle>: {offenders:?}"
        );
    }
}
