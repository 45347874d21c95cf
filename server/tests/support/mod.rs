//! The whole marketplace started inside the test process: every service on port 0 against
//! the real local servers (a fresh database name per stack), and the gateway in front.

use common::infra::mongo::MongoSettings;
use testkit::{Infra, TestService, unique_name};

pub struct Stack {
    pub gateway: TestService,
}

fn any_port() -> std::net::SocketAddr {
    std::net::SocketAddr::from(([127, 0, 0, 1], 0))
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

pub async fn spawn_stack() -> Stack {
    let infra = Infra::from_env();
    let mongo = MongoSettings {
        uri: infra.mongodb_uri.clone(),
        database: unique_name("stack"),
    };
    let smtp = common::infra::smtp::SmtpSettings {
        url: infra.smtp_url.clone().into(),
    };

    let user = user_service::build(user_service::Config {
        listen: any_port(),
        mongo: mongo.clone(),
        redis_url: infra.redis_url.clone(),
    });
    let inventory = inventory_service::build(inventory_service::Config {
        listen: any_port(),
        mongo: mongo.clone(),
        redis_url: infra.redis_url.clone(),
    });
    let transaction = transaction_service::build(transaction_service::Config {
        listen: any_port(),
        mongo: mongo.clone(),
        redis_url: infra.redis_url.clone(),
        kafka_brokers: infra.kafka_brokers.clone(),
    });
    let receipt = receipt_service::build(receipt_service::Config {
        listen: any_port(),
        mongo: mongo.clone(),
        kafka_brokers: infra.kafka_brokers.clone(),
        smtp,
    });
    let notification = notification_service::build(notification_service::Config {
        listen: any_port(),
        redis_url: infra.redis_url.clone(),
    });

    let user = testkit::spawn(user.await.expect("user service")).await;
    let inventory = testkit::spawn(inventory.await.expect("inventory service")).await;
    let transaction = testkit::spawn(transaction.await.expect("transaction service")).await;
    let receipt = testkit::spawn(receipt.await.expect("receipt service")).await;
    let notification = testkit::spawn(notification.await.expect("notification service")).await;

    let gateway = server::build(server::Config {
        listen: any_port(),
        site_root: site_root(),
        user_url: user.base_url.clone(),
        inventory_url: inventory.base_url.clone(),
        transaction_url: transaction.base_url.clone(),
        receipt_url: receipt.base_url.clone(),
        notification_url: notification.base_url.clone(),
    })
    .await
    .expect("gateway");
    Stack {
        gateway: testkit::spawn(gateway).await,
    }
}
