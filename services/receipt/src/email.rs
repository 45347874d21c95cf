//! The receipt email: plain text and HTML, listing every line and the total.

use lettre::Message;
use lettre::message::{Mailbox, MultiPart};
use wire::events::PurchaseEvent;
use wire::money::format_cents;

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn short_id(transaction_id: &str) -> &str {
    &transaction_id[transaction_id.len().saturating_sub(8)..]
}

/// Fails only for an address that is not an email address (the record is set aside).
pub fn receipt(event: &PurchaseEvent, from: &Mailbox) -> Result<Message, String> {
    let to: Mailbox = format!(
        "{} <{}>",
        event.buyer_name.replace(['<', '>', '"'], ""),
        event.buyer_email
    )
    .parse()
    .or_else(|_| event.buyer_email.parse())
    .map_err(|e| {
        format!(
            "the buyer's address {:?} is not an email address: {e}",
            event.buyer_email
        )
    })?;
    let order = short_id(event.transaction_id.as_str()).to_uppercase();

    let mut text = format!(
        "Hello {},\n\nthank you for your purchase. Order {order}:\n\n",
        event.buyer_name
    );
    for line in &event.lines {
        text.push_str(&format!(
            "  {} × {} ({} each, sold by {}): ${}\n",
            line.quantity,
            line.title,
            format_cents(line.unit_price_cents),
            line.seller_name,
            format_cents(line.line_total_cents)
        ));
    }
    text.push_str(&format!(
        "\nTotal: ${}\n\nMarketplace\n",
        format_cents(event.total_cents)
    ));

    let rows: String = event
        .lines
        .iter()
        .map(|line| {
            format!(
                "<tr><td>{}</td><td>{}</td><td style=\"text-align:right\">{}</td><td style=\"text-align:right\">${}</td></tr>",
                escape(&line.title),
                escape(&line.seller_name),
                line.quantity,
                format_cents(line.line_total_cents)
            )
        })
        .collect();
    let html = format!(
        "<!DOCTYPE html><html><body style=\"font-family:sans-serif\"><p>Hello {name},</p>\
         <p>thank you for your purchase. Order <strong>{order}</strong>:</p>\
         <table cellpadding=\"6\"><thead><tr><th align=\"left\">Item</th><th align=\"left\">Seller</th>\
         <th align=\"right\">Quantity</th><th align=\"right\">Amount</th></tr></thead><tbody>{rows}</tbody>\
         <tfoot><tr><th colspan=\"3\" align=\"right\">Total</th><th align=\"right\">${total}</th></tr></tfoot></table>\
         <p>Marketplace</p></body></html>",
        name = escape(&event.buyer_name),
        total = format_cents(event.total_cents),
    );

    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(format!("Your receipt for order {order}"))
        .message_id(Some(format!(
            "<receipt-{}@marketplace>",
            event.transaction_id
        )))
        .multipart(MultiPart::alternative_plain_html(text, html))
        .map_err(|e| format!("cannot build the email: {e}"))
}
