//! The whole marketplace started inside the test process: every service on port 0 against
//! the real local servers (a fresh database name per stack), and the gateway in front.

use common::infra::mongo::MongoSettings;
use testkit::{Infra, TestService, identity_key, unique_name};

pub struct Stack {
    pub gateway: TestService,
    pub user: TestService,
    pub inventory: TestService,
    pub transaction: TestService,
    pub receipt: TestService,
    pub notification: TestService,
    /// Between the gateway and the notification service.
    pub live_link: std::sync::Arc<testkit::TcpProxy>,
    /// In front of the inventory service for the gateway and the transaction service; records
    /// what they send.
    pub inventory_link: std::sync::Arc<testkit::TcpProxy>,
    /// Between every service and the main Redis (sessions, presence, pub/sub), to cut.
    pub redis_link: std::sync::Arc<testkit::TcpProxy>,
    /// Between the receipt worker and the mail server, to hold receipts back.
    pub smtp_link: std::sync::Arc<testkit::TcpProxy>,
    /// The gateway's own origin, which the notification service allows.
    pub origin: String,
    /// Where the gateway believes it is reached (`PUBLIC_URL`): the origin its forms must
    /// come from.
    pub public_url: String,
    pub key: common::identity::IdentityKey,
    /// The database every service of this stack shares.
    pub mongo: MongoSettings,
}

impl Stack {
    /// The inventory service's typed client, signing with the stack's key.
    pub fn inventory_client(&self) -> clients::InventoryClient {
        clients::InventoryClient::new(
            self.inventory.http.clone(),
            &self.inventory.base_url,
            self.key.clone(),
        )
        .expect("the inventory service's URL")
    }

    /// Lists an item straight at the inventory service, as `seller`; returns its id.
    pub async fn list_item(
        &self,
        seller: &common::identity::Identity,
        title: &str,
        price_cents: i64,
        stock: i64,
    ) -> String {
        let item = wire::inventory::NewItem {
            title: title.to_owned(),
            description: Some("Test item.".to_owned()),
            price_cents,
            stock,
            image_url: None,
            picture: None,
            request_id: None,
        };
        self.inventory_client()
            .create_item(&clients::CallContext::default(), seller, &item)
            .await
            .expect("list an item")
            .id
            .to_string()
    }

    /// Changes an item's price straight at the inventory service, as its `seller`.
    pub async fn set_price(
        &self,
        seller: &common::identity::Identity,
        item_id: &str,
        price_cents: i64,
    ) {
        let edit = wire::inventory::ItemEdit {
            price_cents: Some(price_cents),
            ..Default::default()
        };
        self.edit_item(seller, item_id, &edit).await;
    }

    /// Takes an item off sale (`false`) or puts it back, straight at the inventory service, as
    /// its `seller`.
    pub async fn set_on_sale(
        &self,
        seller: &common::identity::Identity,
        item_id: &str,
        on_sale: bool,
    ) {
        let edit = wire::inventory::ItemEdit {
            on_sale: Some(on_sale),
            ..Default::default()
        };
        self.edit_item(seller, item_id, &edit).await;
    }

    async fn edit_item(
        &self,
        seller: &common::identity::Identity,
        item_id: &str,
        edit: &wire::inventory::ItemEdit,
    ) {
        self.inventory_client()
            .edit_item(
                &clients::CallContext::default(),
                seller,
                &item_id.parse().expect("an item id"),
                edit,
            )
            .await
            .expect("edit the item");
    }

    /// One of `item_id` for `buyer`, straight at the transaction service; the purchase's id.
    pub async fn buy(&self, buyer: &common::identity::Identity, item_id: &str) -> String {
        let transactions = clients::TransactionClient::new(
            self.transaction.http.clone(),
            &self.transaction.base_url,
            self.key.clone(),
        )
        .expect("the transaction service's URL");
        let purchase = wire::transaction::PurchaseRequest {
            lines: vec![wire::transaction::OrderLine {
                item_id: item_id.parse().expect("an item id"),
                quantity: 1,
            }],
        };
        transactions
            .purchase(
                &clients::CallContext::default(),
                buyer,
                &unique_name("key"),
                &purchase,
            )
            .await
            .expect("purchase")
            .id
            .to_string()
    }

    /// Moves a purchase `days` back in time, straight in the store (no service offers that),
    /// as if it had been made then.
    pub async fn backdate_purchase(&self, purchase_id: &str, days: i64) {
        transaction_service::testing::backdate(&self.mongo, purchase_id, days)
            .await
            .expect("back-date the purchase");
    }

    /// How many purchases `buyer` has made, as the transaction service counts them.
    pub async fn purchase_count(&self, buyer: &common::identity::Identity) -> u64 {
        let transactions = clients::TransactionClient::new(
            self.transaction.http.clone(),
            &self.transaction.base_url,
            self.key.clone(),
        )
        .expect("the transaction service's URL");
        transactions
            .history(&clients::CallContext::default(), buyer, &Default::default())
            .await
            .expect("the history")
            .total
    }

    /// The path of a server function, as the pages' forms post to it.
    pub fn server_fn<F: leptos::server_fn::ServerFn>(&self) -> String {
        self.gateway.url(F::PATH)
    }

    /// Signs `email` (password "a good password") in through the gateway's log-in form;
    /// the `Cookie` header value of the session.
    pub async fn sign_in(&self, email: &str) -> String {
        let response = browser_without_js(self)
            .post(self.server_fn::<app::api::LogIn>())
            .form(&[("email", email), ("password", "a good password")])
            .send()
            .await
            .expect("POST the log-in form");
        response
            .headers()
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .filter_map(|c| c.to_str().ok())
            .find(|c| c.contains("session=") && !c.contains("Max-Age=0"))
            .and_then(|c| c.split(';').next())
            .unwrap_or_else(|| panic!("no session cookie: {}", response.status()))
            .to_owned()
    }

    /// The HTML of the gateway's page at `path`, as an anonymous visitor gets it.
    pub async fn html(&self, path: &str) -> String {
        self.gateway
            .http
            .get(self.gateway.url(path))
            .send()
            .await
            .unwrap_or_else(|err| panic!("GET {path}: {err}"))
            .text()
            .await
            .expect("html")
    }

    /// An item as the inventory service has it now.
    pub async fn item(&self, item_id: &str) -> serde_json::Value {
        self.inventory
            .http
            .get(self.inventory.url(&format!("/v1/items/{item_id}")))
            .send()
            .await
            .expect("GET the item")
            .json()
            .await
            .expect("item")
    }

    /// GETs the item's page from the gateway, expecting 200; answers how the gateway's page
    /// cache served it (`x-page-cache`: "hit", "miss", or empty when it was bypassed).
    pub async fn open_item_page(&self, item_id: &str) -> String {
        self.open_page(&format!("/items?itemId={item_id}")).await
    }

    /// GETs the page at `path` from the gateway as an anonymous visitor, expecting 200;
    /// answers how the gateway's page cache served it (see [`Self::open_item_page`]).
    pub async fn open_page(&self, path: &str) -> String {
        let response = self
            .gateway
            .http
            .get(self.gateway.url(path))
            .send()
            .await
            .unwrap_or_else(|err| panic!("GET {path}: {err}"));
        assert_eq!(response.status().as_u16(), 200, "{path}");
        response
            .headers()
            .get("x-page-cache")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    }
}

/// A client that posts the way a browser's plain form post on one of the site's pages does
/// (Accept: HTML, the page's Origin) and does not follow redirects, so the test sees them.
pub fn browser_without_js(stack: &Stack) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::ACCEPT,
        reqwest::header::HeaderValue::from_static("text/html,application/xhtml+xml"),
    );
    headers.insert(
        reqwest::header::ORIGIN,
        reqwest::header::HeaderValue::from_str(stack.public_url.trim_end_matches('/'))
            .expect("an origin"),
    );
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(headers)
        .build()
        .expect("client")
}

/// The `name=value` pair of the cookie `name` that `response` sets, if it sets one.
pub fn cookie_set(response: &reqwest::Response, name: &str) -> Option<String> {
    let prefix = format!("{name}=");
    response
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|c| c.to_str().ok())
        .find(|c| c.starts_with(&prefix))
        .and_then(|c| c.split(';').next())
        .map(str::to_owned)
}

/// A multipart form of text fields only: an upload form sent with no file chosen.
pub fn text_form(fields: &[(&str, &str)]) -> reqwest::multipart::Form {
    fields
        .iter()
        .fold(reqwest::multipart::Form::new(), |form, (name, value)| {
            form.text(name.to_string(), value.to_string())
        })
}

/// A seller identity for items listed straight at the inventory service.
pub fn seller(name: &str) -> common::identity::Identity {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let n = (u64::from(std::process::id()) << 32)
        | NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    common::identity::Identity {
        user_id: format!("{n:024x}").parse().expect("an id"),
        display_name: name.to_owned(),
        email: format!("seller-{n:x}@example.com"),
    }
}

fn any_port() -> std::net::SocketAddr {
    std::net::SocketAddr::from(([127, 0, 0, 1], 0))
}

/// A port free right now, for a server whose address must be known before it starts.
fn free_port() -> std::net::SocketAddr {
    ReservedPort::new().release()
}

/// A port held (bound by a listener nobody accepts on) until the server that is to listen on
/// it is about to bind: while held, no other test's server or outgoing connection can take it.
struct ReservedPort(std::net::TcpListener);

impl ReservedPort {
    fn new() -> Self {
        Self(std::net::TcpListener::bind(any_port()).expect("a free port"))
    }

    fn addr(&self) -> std::net::SocketAddr {
        self.0.local_addr().expect("a bound socket's address")
    }

    /// Frees the port for the server to bind at once.
    fn release(self) -> std::net::SocketAddr {
        self.addr()
    }
}

/// A notification instance on the shared Redis; viewers of a crashed one leave within 3 s.
pub async fn spawn_notification(allowed_origins: Vec<String>) -> TestService {
    spawn_notification_on(&Infra::from_env().redis_url, allowed_origins).await
}

async fn spawn_notification_on(redis_url: &str, allowed_origins: Vec<String>) -> TestService {
    let service = notification_service::build(notification_service::Config {
        redis_url: redis_url.to_owned(),
        allowed_origins,
        presence: notification_service::PresenceTiming {
            ttl: std::time::Duration::from_secs(2),
            heartbeat: std::time::Duration::from_secs(1),
        },
        ..notification_service::Config::for_tests(&Infra::from_env())
    })
    .await
    .expect("notification service");
    testkit::spawn(service).await
}

/// Where `scripts/build-site.sh` put the hydrate bundle.
fn site_root() -> String {
    let root = std::env::var("SITE_ROOT")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../target/site").to_owned());
    let wasm = std::path::Path::new(&root).join("pkg/marketplace_bg.wasm");
    assert!(
        wasm.exists(),
        "{} is missing: run scripts/build-site.sh first",
        wasm.display()
    );
    root
}

/// The stack, with the gateway reached at its own address.
pub async fn spawn_stack() -> Stack {
    spawn_stack_with(StackOptions::default()).await
}

/// The stack with the gateway believing it is reached at `public_url`.
pub async fn spawn_stack_at(public_url: &str) -> Stack {
    spawn_stack_with(StackOptions {
        public_url: Some(public_url.to_owned()),
        ..StackOptions::default()
    })
    .await
}

/// How a test's stack differs from the usual one.
#[derive(Default)]
pub struct StackOptions {
    /// `PUBLIC_URL`; default the gateway's own address.
    pub public_url: Option<String>,
    /// `TRUSTED_PROXIES` of the gateway; default none.
    pub trusted_proxies: Option<String>,
    /// Limit login attempts per client address as in production (30 a minute). Off by
    /// default: every test signs in from 127.0.0.1 against one shared Redis, so the tests
    /// running at once would share one address's budget.
    pub limit_logins_per_address: bool,
    /// Each seller's hourly listings and edits; default the inventory's own.
    pub seller_limits: Option<inventory_service::SellerLimits>,
    /// The state Redis (`host:port`); default the shared local one.
    pub redis_addr: Option<String>,
}

pub async fn spawn_stack_with(options: StackOptions) -> Stack {
    let mut infra = Infra::from_env();
    let redis_addr = options
        .redis_addr
        .clone()
        .unwrap_or_else(|| infra.redis_addr());
    let redis_link = testkit::TcpProxy::start(&redis_addr).await;
    infra.redis_url = redis_link.url("redis");
    let mongo = MongoSettings {
        uri: infra.mongodb_uri.clone(),
        database: unique_name("stack"),
    };
    // Transaction and receipt services of one stack share a topic no other stack uses.
    let topic = unique_name("purchases");

    // Every service reaches Redis through the stack's link (`infra.redis_url`), and all use
    // the database of the stack.
    let user = user_service::build(user_service::Config {
        mongo: mongo.clone(),
        // Every test signs up and in from 127.0.0.1 on one shared Redis.
        login_limits: user_service::LoginLimits {
            registrations_per_address_per_hour: 1_000_000,
            attempts_per_address_per_minute: if options.limit_logins_per_address {
                user_service::LoginLimits::default().attempts_per_address_per_minute
            } else {
                1_000_000
            },
            ..user_service::LoginLimits::default()
        },
        ..user_service::Config::for_tests(&infra)
    });
    let inventory = inventory_service::build(inventory_service::Config {
        mongo: mongo.clone(),
        // Every test uploads from 127.0.0.1, counted in one shared Redis.
        picture_limits: inventory_service::PictureLimits {
            per_address_per_hour: 1_000_000,
            ..inventory_service::PictureLimits::default()
        },
        seller_limits: options.seller_limits.unwrap_or_default(),
        ..inventory_service::Config::for_tests(&infra)
    });
    let inventory = testkit::spawn(inventory.await.expect("inventory service")).await;
    // What the gateway and the transaction service send the inventory service is kept, for
    // checks of the wire.
    let inventory_link =
        testkit::TcpProxy::start_recording(&testkit::host_port(&inventory.base_url)).await;
    let transaction = transaction_service::build(transaction_service::Config {
        mongo: mongo.clone(),
        purchases_topic: topic.clone(),
        inventory_url: inventory_link.url("http"),
        ..transaction_service::Config::for_tests(&infra)
    });
    let smtp_link = testkit::TcpProxy::start(&infra.smtp_addr()).await;
    let receipt = receipt_service::build(receipt_service::Config {
        mongo: mongo.clone(),
        purchases_topic: topic.clone(),
        smtp: common::infra::smtp::SmtpSettings {
            url: smtp_link.url("smtp").into(),
        },
        ..receipt_service::Config::for_tests(&infra)
    });
    // The gateway's address is chosen first: it is the Origin the notification service allows.
    let gateway_port = ReservedPort::new();
    let gateway_listen = gateway_port.addr();
    let origin = format!("http://{gateway_listen}");
    let public_url = options.public_url.unwrap_or_else(|| origin.clone());
    let notification =
        spawn_notification_on(&infra.redis_url, vec![origin.clone(), public_url.clone()]);

    let user = testkit::spawn(user.await.expect("user service")).await;
    let transaction = testkit::spawn(transaction.await.expect("transaction service")).await;
    let receipt = testkit::spawn(receipt.await.expect("receipt service")).await;
    let notification = notification.await;
    // The gateway reaches it through a proxy a test can cut, as a network failure would.
    let live_link = testkit::TcpProxy::start(&testkit::host_port(&notification.base_url)).await;

    let gateway = server::build(server::Config {
        listen: gateway_port.release(),
        public_url: public_url.clone(),
        site_root: site_root(),
        identity: identity_key(),
        user_url: user.base_url.clone(),
        inventory_url: inventory_link.url("http"),
        transaction_url: transaction.base_url.clone(),
        receipt_url: receipt.base_url.clone(),
        notification_url: live_link.url("http"),
        redis_url: infra.redis_url.clone(),
        metrics_listen: any_port(),
        trusted_proxies: common::client::TrustedProxies::parse(
            options.trusted_proxies.as_deref().unwrap_or_default(),
        )
        .expect("trusted proxies"),
    })
    .await
    .expect("gateway");
    Stack {
        gateway: testkit::spawn(gateway).await,
        user,
        inventory,
        transaction,
        receipt,
        notification,
        live_link,
        inventory_link,
        redis_link,
        smtp_link,
        origin,
        public_url,
        key: identity_key(),
        mongo,
    }
}

/// Set to the name of the test a process runs alone.
const ALONE: &str = "MARKETPLACE_TEST_ALONE";

/// For a test whose numbers are process-wide (telemetry, gauges): runs `test` (its full name,
/// `module::function`) again, alone in a new process of this test binary, and fails if it fails
/// there. True in that process, where the test goes on; false in this one, where it returns.
pub async fn alone_in_a_process(test: &str) -> bool {
    if std::env::var(ALONE).is_ok_and(|alone| alone == test) {
        return true;
    }
    let binary = std::env::current_exe().expect("the test binary");
    let output = tokio::process::Command::new(binary)
        .args([test, "--exact", "--nocapture"])
        .env(ALONE, test)
        .output()
        .await
        .expect("run the test binary again");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    assert!(
        output.status.success() && stdout.contains("test result: ok. 1 passed"),
        "{test} alone in a process: {}\n{stdout}\n{stderr}",
        output.status
    );
    false
}

/// Registers `name` at the user service; their email (password "a good password") and identity.
pub async fn register(stack: &Stack, name: &str) -> (String, common::identity::Identity) {
    let local_part: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let email = format!("{}@example.com", unique_name(&local_part));
    let users = clients::UserClient::new(
        stack.user.http.clone(),
        &stack.user.base_url,
        stack.key.clone(),
    )
    .expect("the user service's URL");
    let context = clients::CallContext {
        request_id: None,
        client_address: Some(unique_name("192.0.2.1")),
    };
    let registration = wire::user::RegisterRequest {
        email: email.clone(),
        password: "a good password".to_owned(),
        display_name: name.to_owned(),
    };
    let user = users
        .register(&context, &registration)
        .await
        .expect("register")
        .user;
    (
        email.clone(),
        common::identity::Identity {
            user_id: user.id,
            display_name: name.to_owned(),
            email,
        },
    )
}

/// Logs in through the login page of a real browser.
pub async fn log_in(browser: &fantoccini::Client, base: &str, email: &str) {
    browser
        .goto(&format!("{base}/login"))
        .await
        .expect("open /login");
    testkit::browser::wait_for_hydration(browser).await;
    testkit::browser::fill(browser, "#field-email", email).await;
    testkit::browser::fill(browser, "#field-password", "a good password").await;
    testkit::browser::click_button(browser, "Log in").await;
    testkit::browser::wait_for_text(
        browser,
        ".site-header .account",
        std::time::Duration::from_secs(15),
        |t| t.contains("Signed in as"),
    )
    .await;
}

/// A second gateway copy in a process of its own, in front of the same services; killed when
/// dropped.
pub struct GatewayProcess {
    pub base_url: String,
    child: std::process::Child,
}

impl Drop for GatewayProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Stack {
    /// Starts another copy of the gateway (the `marketplace-web` binary) against this stack's
    /// services and Redis, and waits until it is ready.
    pub async fn another_gateway_process(&self) -> GatewayProcess {
        let listen = free_port();
        let base_url = format!("http://{listen}");
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_marketplace-web"))
            .env("HOST", listen.ip().to_string())
            .env("PORT", listen.port().to_string())
            .env("PUBLIC_URL", &base_url)
            .env("SITE_ROOT", site_root())
            .env("INTERNAL_AUTH_SECRET", testkit::IDENTITY_SECRET)
            .env("USER_SERVICE_URL", &self.user.base_url)
            .env("INVENTORY_SERVICE_URL", &self.inventory.base_url)
            .env("TRANSACTION_SERVICE_URL", &self.transaction.base_url)
            .env("RECEIPT_SERVICE_URL", &self.receipt.base_url)
            .env("NOTIFICATION_SERVICE_URL", &self.notification.base_url)
            .env("REDIS_URL", self.redis_link.url("redis"))
            .env("METRICS_LISTEN", free_port().to_string())
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("start the marketplace-web binary");
        testkit::wait_until_process_ready(
            &base_url,
            &mut child,
            std::time::Duration::from_secs(30),
        )
        .await;
        GatewayProcess { base_url, child }
    }
}
