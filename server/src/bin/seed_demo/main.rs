//! Loads demo data through the services' own HTTP APIs (so it passes the same validation as
//! any user): three sellers and fifty items with pictures. Running it again changes nothing:
//! registering a taken email is refused, and every item has a fixed request id.
//!
//! Needs `INTERNAL_AUTH_SECRET` (the services' shared secret) and reads the services'
//! addresses like the gateway does. The sellers' password is `DEMO_PASSWORD`
//! (default "demo-password").

use std::time::SystemTime;

use anyhow::{Context, bail};
use common::identity::{Caller, IDENTITY_HEADER, Identity, IdentityKey};
use serde::Deserialize;
use serde_json::{Value, json};

/// The sellers and items, embedded at compile time.
const DEMO_DATA: &str = include_str!("demo_data.json");

/// What `demo_data.json` holds.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DemoData {
    sellers: Vec<Seller>,
    /// Listed by the sellers in turn.
    items: Vec<Item>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Seller {
    email: String,
    display_name: String,
}

/// (title, picture, price in cents, stock, description)
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Item {
    title: String,
    /// Shown as `/images/demo/<picture>.svg`.
    picture: String,
    /// Integer cents.
    price_cents: i64,
    stock: i64,
    description: String,
}

impl DemoData {
    fn embedded() -> anyhow::Result<Self> {
        serde_json::from_str(DEMO_DATA).context("parsing the embedded demo_data.json")
    }
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let data = DemoData::embedded()?;
    let key = IdentityKey::from_env().context("INTERNAL_AUTH_SECRET")?;
    let user_url = env_or("USER_SERVICE_URL", "http://127.0.0.1:8081");
    let inventory_url = env_or("INVENTORY_SERVICE_URL", "http://127.0.0.1:8082");
    let password = env_or("DEMO_PASSWORD", "demo-password");
    let http = reqwest::Client::new();

    let mut sellers = Vec::new();
    for Seller {
        email,
        display_name: name,
    } in &data.sellers
    {
        // The user service takes requests from the gateway only; the seed acts as one.
        let as_gateway =
            || key.sign_as(Caller::Gateway, None, Some("seed-demo"), SystemTime::now());
        let registered = http
            .post(format!("{user_url}/v1/users"))
            .header(IDENTITY_HEADER, as_gateway())
            .json(&json!({ "email": email, "password": password, "display_name": name }))
            .send()
            .await?;
        if !(registered.status().is_success()
            || registered.status() == reqwest::StatusCode::CONFLICT)
        {
            bail!(
                "registering {email}: {} {}",
                registered.status(),
                registered.text().await.unwrap_or_default()
            );
        }
        let session: Value = http
            .post(format!("{user_url}/v1/sessions"))
            .header(IDENTITY_HEADER, as_gateway())
            .json(&json!({ "email": email, "password": password }))
            .send()
            .await?
            .error_for_status()
            .with_context(|| format!("logging in {email} (was DEMO_PASSWORD changed?)"))?
            .json()
            .await?;
        let user_id = session["user"]["id"]
            .as_str()
            .context("user id")?
            .to_owned();
        sellers.push(Identity {
            user_id,
            display_name: name.to_owned(),
            email: email.to_owned(),
        });
    }

    let mut created = 0;
    for (
        n,
        Item {
            title,
            picture,
            price_cents,
            stock,
            description,
        },
    ) in data.items.iter().enumerate()
    {
        let seller = &sellers[n % sellers.len()];
        let response = http
            .post(format!("{inventory_url}/v1/items"))
            .header(IDENTITY_HEADER, key.sign(seller, SystemTime::now()))
            .json(&json!({
                "title": title,
                "description": description,
                "price_cents": price_cents,
                "stock": stock,
                "image_url": format!("/images/demo/{picture}.svg"),
                "request_id": format!("demo-{n}"),
            }))
            .send()
            .await?;
        match response.status() {
            reqwest::StatusCode::CREATED => created += 1,
            reqwest::StatusCode::OK => {}
            status => bail!(
                "listing {title}: {status} {}",
                response.text().await.unwrap_or_default()
            ),
        }
    }
    println!(
        "demo data: {} sellers, {} items ({created} new); sellers log in with {password:?}",
        sellers.len(),
        data.items.len()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_data_parses_with_every_seller_and_item() {
        let data = DemoData::embedded().expect("demo_data.json");
        assert_eq!(data.sellers.len(), 3);
        assert_eq!(data.items.len(), 50);
    }
}
