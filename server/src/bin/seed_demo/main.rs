//! Loads demo data through the services' own HTTP APIs (so it passes the same validation as
//! any user): three sellers and fifty items with pictures. Running it again changes nothing:
//! registering a taken email is refused, and every item has a fixed request id.
//!
//! Needs `INTERNAL_AUTH_SECRET` (the services' shared secret) and reads the services'
//! addresses like the gateway does. The sellers' password is `DEMO_PASSWORD`
//! (default "demo-password").

use anyhow::{Context, bail};
use axum::http::StatusCode;
use clients::{CallContext, CallError, InventoryClient, UserClient};
use common::identity::{Identity, IdentityKey};
use serde::Deserialize;
use wire::inventory::NewItem;
use wire::user::{LogInRequest, RegisterRequest};

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
    let http = clients::http_client();
    let users = UserClient::new(http.clone(), &user_url, key.clone())?;
    let inventory = InventoryClient::new(http, &inventory_url, key)?;
    // The user service takes requests from the gateway only; the seed signs as one, for
    // the client address "seed-demo".
    let context = CallContext {
        request_id: None,
        client_address: Some("seed-demo".to_owned()),
    };

    let mut sellers = Vec::new();
    for Seller {
        email,
        display_name,
    } in &data.sellers
    {
        let registration = RegisterRequest {
            email: email.clone(),
            password: password.clone(),
            display_name: display_name.clone(),
        };
        match users.register(&context, &registration).await {
            Ok(_) => {}
            Err(CallError::Refused { status, .. }) if status == StatusCode::CONFLICT => {}
            Err(err) => bail!("registering {email}: {err}"),
        }
        let log_in = LogInRequest {
            email: email.clone(),
            password: password.clone(),
        };
        let session = users
            .log_in(&context, &log_in)
            .await
            .with_context(|| format!("logging in {email} (was DEMO_PASSWORD changed?)"))?;
        sellers.push(Identity {
            user_id: session.user.id,
            display_name: display_name.clone(),
            email: email.clone(),
        });
    }

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
        let item = NewItem {
            title: title.clone(),
            description: Some(description.clone()),
            price_cents: *price_cents,
            stock: *stock,
            image_url: Some(format!("/images/demo/{picture}.svg")),
            picture: None,
            request_id: Some(format!("demo-{n}")),
        };
        // A fixed request id: listing it again answers the item already listed.
        inventory
            .create_item(&context, seller, &item)
            .await
            .with_context(|| format!("listing {title}"))?;
    }
    println!(
        "demo data: {} sellers, {} items; sellers log in with {password:?}",
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
