//! A shop set up on the running stack for the purchase benchmarks: bench items with plenty of
//! stock, signed-in buyers, and the Buy now form each purchase posts.

use std::sync::Arc;

use anyhow::Context;
use clients::{CallContext, InventoryClient, TransactionClient};
use common::config::env_or;
use testkit::unique_name;
use wire::ids::ItemId;
use wire::inventory::NewItem;
use wire::user::{LogInRequest, RegisterRequest};

/// A signed-in bench buyer.
pub struct Buyer {
    /// The session cookie (`session=…`).
    pub cookie: String,
    /// Where their receipts go.
    pub email: String,
}

/// What every purchase needs: where to post, what to buy, who buys.
pub struct Shop {
    http: reqwest::Client,
    /// The Buy now form's full address on the gateway.
    buy_url: String,
    origin: String,
    /// The bench items, each listed with the stock [`Setup::new`] was given.
    pub items: Vec<ItemId>,
}

impl Shop {
    /// Posts the Buy now form for one unit of `item`, as a browser without JavaScript does;
    /// `Err` holds the status (or the transport error) of a purchase that was not made.
    pub async fn buy(&self, buyer: &Buyer, item: &ItemId) -> Result<(), String> {
        let lines = serde_json::to_string(&[wire::transaction::OrderLine {
            item_id: item.clone(),
            quantity: 1,
        }])
        .map_err(|e| e.to_string())?;
        let key = unique_name("bench-key");
        let response = self
            .http
            .post(&self.buy_url)
            .header("cookie", &buyer.cookie)
            // A form on the gateway's own page (the gateway refuses cross-site posts).
            .header("origin", &self.origin)
            .form(&[("lines", lines.as_str()), ("key", key.as_str())])
            .send()
            .await
            .map_err(|e| format!("no answer ({e})"))?;
        let status = response.status();
        if status.is_success() || status.is_redirection() {
            Ok(())
        } else {
            Err(status.to_string())
        }
    }
}

/// Registers and signs in a buyer; each has an address of its own as the user service sees
/// it, so per-address limits see many people, not one.
async fn new_buyer(users: &clients::UserClient, n: usize) -> anyhow::Result<Buyer> {
    let email = format!("{}-{n}@bench.example", unique_name("buyer"));
    let context = CallContext {
        request_id: None,
        client_address: Some(format!("198.18.{}.{}", n / 250, n % 250 + 1)),
    };
    let registration = RegisterRequest {
        email: email.clone(),
        password: "bench-password".into(),
        display_name: format!("Bench buyer {n}"),
    };
    users.register(&context, &registration).await?;
    let log_in = LogInRequest {
        email: email.clone(),
        password: "bench-password".into(),
    };
    let id = users.log_in(&context, &log_in).await?.session_id;
    Ok(Buyer {
        cookie: format!("session={id}"),
        email,
    })
}

/// The shop, its buyers, and the services' clients, on the stack the environment names
/// (`GATEWAY_URL`, `*_SERVICE_URL`, `INTERNAL_AUTH_SECRET`; the local defaults otherwise).
pub struct Setup {
    /// Ten bench items and the Buy now form.
    pub shop: Arc<Shop>,
    /// The buyers who make the purchases.
    pub buyers: Vec<Buyer>,
    /// Buyers kept apart, whose receipts are timed.
    pub probes: Vec<Buyer>,
    /// The inventory service.
    pub inventory: InventoryClient,
    /// The transaction service.
    pub transactions: TransactionClient,
}

impl Setup {
    /// Lists ten bench items of `stock` units each, and registers `buyers` buyers and
    /// `probes` probe buyers.
    pub async fn new(buyers: usize, probes: usize, stock: i64) -> anyhow::Result<Self> {
        let gateway = env_or("GATEWAY_URL", "http://127.0.0.1:3000");
        let key = common::identity::IdentityKey::from_env()
            .context("INTERNAL_AUTH_SECRET (see the README's Benchmarks)")?;
        let services = clients::http_client();
        let inventory = InventoryClient::new(
            services.clone(),
            &env_or("INVENTORY_SERVICE_URL", "http://127.0.0.1:8082"),
            key.clone(),
        )?;
        let transactions = TransactionClient::new(
            services.clone(),
            &env_or("TRANSACTION_SERVICE_URL", "http://127.0.0.1:8083"),
            key.clone(),
        )?;
        let users = clients::UserClient::new(
            services,
            &env_or("USER_SERVICE_URL", "http://127.0.0.1:8081"),
            key,
        )?;

        // Listed by a bench seller, so the run measures purchases rather than "sold out".
        let seller = common::identity::Identity {
            user_id: format!("{:0>24x}", std::process::id()).parse()?,
            display_name: "Bench seller".into(),
            email: "bench-seller@bench.example".into(),
        };
        let mut items = Vec::new();
        for n in 0..10 {
            let item = NewItem {
                title: format!("Bench item {n}"),
                description: None,
                price_cents: 100 + n,
                stock,
                image_url: None,
                picture: None,
                request_id: None,
            };
            items.push(
                inventory
                    .create_item(&CallContext::default(), &seller, &item)
                    .await?
                    .id,
            );
        }
        let mut sessions = Vec::new();
        for n in 0..buyers {
            sessions.push(new_buyer(&users, n).await?);
        }
        let mut probe_buyers = Vec::new();
        for n in 0..probes {
            probe_buyers.push(new_buyer(&users, 1_000 + n).await?);
        }

        // The Buy now form is on the item page of a signed-in buyer.
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let first = sessions.first().context("at least one buyer")?;
        let item_page = http
            .get(format!("{gateway}/items?itemId={}", items[0]))
            .header("cookie", &first.cookie)
            .send()
            .await?
            .text()
            .await?;
        let action = item_page
            .split(r#"action="/api/buy"#)
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .context("no Buy now form on a signed-in buyer's item page")?;
        let shop = Arc::new(Shop {
            http,
            buy_url: format!("{gateway}/api/buy{action}"),
            origin: gateway.clone(),
            items,
        });
        Ok(Self {
            shop,
            buyers: sessions,
            probes: probe_buyers,
            inventory,
            transactions,
        })
    }
}
