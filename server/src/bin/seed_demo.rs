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
use serde_json::{Value, json};

const SELLERS: [(&str, &str); 3] = [
    ("ada@demo.marketplace.test", "Ada's Workshop"),
    ("bo@demo.marketplace.test", "Bo Home & Garden"),
    ("cy@demo.marketplace.test", "Cy Outdoor"),
];

/// (title, picture, price in cents, stock, description)
const ITEMS: [(&str, &str, i64, i64, &str); 50] = [
    (
        "Brass desk lamp",
        "lamp",
        4_900,
        7,
        "Adjustable arm, warm light, solid brass base.",
    ),
    (
        "Paper pendant lamp",
        "lamp",
        2_450,
        12,
        "Soft, diffused light for a calm room.",
    ),
    (
        "Reading lamp with dimmer",
        "lamp",
        3_999,
        5,
        "Three brightness levels and a flexible neck.",
    ),
    (
        "Oak side chair",
        "chair",
        12_900,
        4,
        "Hand-finished oak, comfortable for long dinners.",
    ),
    (
        "Folding garden chair",
        "chair",
        3_500,
        20,
        "Weatherproof and folds flat for winter.",
    ),
    (
        "Velvet armchair",
        "chair",
        34_900,
        2,
        "Deep seat, green velvet, walnut legs.",
    ),
    (
        "Stoneware mug",
        "mug",
        1_800,
        40,
        "Holds 350 ml; glazed by hand, no two alike.",
    ),
    (
        "Espresso cup pair",
        "mug",
        2_200,
        25,
        "Two thick-walled cups that keep coffee hot.",
    ),
    (
        "Travel mug",
        "mug",
        2_600,
        30,
        "Leak-proof lid, keeps drinks warm for hours.",
    ),
    (
        "Monstera in a pot",
        "plant",
        3_900,
        9,
        "A young monstera, about 40 cm tall.",
    ),
    (
        "Herb trio",
        "plant",
        1_500,
        18,
        "Basil, thyme and mint for a sunny windowsill.",
    ),
    (
        "Snake plant",
        "plant",
        2_800,
        11,
        "Nearly impossible to kill; cleans the air.",
    ),
    (
        "Hanging fern",
        "plant",
        2_100,
        7,
        "Lush and green, with a macramé hanger.",
    ),
    (
        "Cookbook: One Pan",
        "book",
        2_499,
        15,
        "Ninety dinners that need a single pan.",
    ),
    (
        "Field guide to birds",
        "book",
        1_999,
        10,
        "Pocket-sized, 300 species with drawings.",
    ),
    (
        "Notebook, dotted",
        "book",
        1_250,
        50,
        "A5, 192 pages of 100 g paper, lies flat.",
    ),
    (
        "Poetry anthology",
        "book",
        1_650,
        6,
        "A century of short poems, hardback.",
    ),
    (
        "Wall clock, oak",
        "clock",
        5_400,
        6,
        "Silent sweep movement, 30 cm across.",
    ),
    (
        "Alarm clock",
        "clock",
        2_900,
        14,
        "Loud bell, no screen, no ticking.",
    ),
    (
        "Kitchen timer",
        "clock",
        1_100,
        22,
        "Wind-up, rings for a full five seconds.",
    ),
    (
        "Canvas tote",
        "bag",
        1_900,
        35,
        "Heavy cotton canvas with an inside pocket.",
    ),
    (
        "Leather backpack",
        "bag",
        15_900,
        3,
        "Full-grain leather, fits a 15-inch laptop.",
    ),
    (
        "Weekend duffel",
        "bag",
        8_900,
        5,
        "Waxed cotton, brass zips, shoulder strap.",
    ),
    (
        "Market basket",
        "bag",
        3_300,
        8,
        "Woven willow with leather handles.",
    ),
    (
        "Ceramic vase, tall",
        "vase",
        4_200,
        5,
        "Matte white glaze, 35 cm tall.",
    ),
    (
        "Bud vase set",
        "vase",
        2_700,
        12,
        "Three small glass vases for single stems.",
    ),
    (
        "Terracotta jug",
        "vase",
        3_100,
        7,
        "Unglazed outside, sealed inside; holds water.",
    ),
    (
        "Wireless headphones",
        "headphones",
        8_900,
        10,
        "Over-ear, 30 hours of battery, folds small.",
    ),
    (
        "Studio headphones",
        "headphones",
        12_900,
        4,
        "Closed back, flat sound, long cable.",
    ),
    (
        "Kids' headphones",
        "headphones",
        2_900,
        16,
        "Volume limited, bendable band.",
    ),
    (
        "City bike",
        "bike",
        49_900,
        2,
        "Seven gears, mudguards, rack and lights.",
    ),
    (
        "Bike lights set",
        "bike",
        3_400,
        25,
        "Front and rear, USB rechargeable.",
    ),
    (
        "Bike lock",
        "bike",
        4_500,
        13,
        "Hardened steel D-lock with two keys.",
    ),
    (
        "Kids' balance bike",
        "bike",
        8_900,
        6,
        "Birch wood frame for ages 2 to 5.",
    ),
    (
        "Instant camera",
        "camera",
        9_900,
        8,
        "Prints a photo in ninety seconds.",
    ),
    (
        "35 mm film camera",
        "camera",
        14_500,
        3,
        "Restored and tested, with a 50 mm lens.",
    ),
    (
        "Camera strap",
        "camera",
        2_200,
        20,
        "Woven cotton, adjustable, leather ends.",
    ),
    (
        "Trail running shoes",
        "shoe",
        11_900,
        9,
        "Grippy sole, quick-drying mesh.",
    ),
    (
        "Canvas sneakers",
        "shoe",
        5_500,
        15,
        "Classic low tops in off-white.",
    ),
    (
        "Wool slippers",
        "shoe",
        3_900,
        12,
        "Felted wool with a soft suede sole.",
    ),
    (
        "Hiking boots",
        "shoe",
        16_900,
        4,
        "Waterproof leather, ankle support.",
    ),
    (
        "Desk lamp, matte black",
        "lamp",
        5_900,
        6,
        "Clean lines and a heavy, stable base.",
    ),
    (
        "Bar stool",
        "chair",
        7_900,
        8,
        "Counter height, powder-coated steel.",
    ),
    (
        "Teapot",
        "mug",
        3_600,
        9,
        "One litre, with a removable steel infuser.",
    ),
    (
        "Succulent set",
        "plant",
        1_800,
        20,
        "Five small succulents in clay pots.",
    ),
    (
        "Sketchbook",
        "book",
        1_450,
        30,
        "Thick paper that takes ink and watercolour.",
    ),
    (
        "Mantel clock",
        "clock",
        8_900,
        2,
        "Walnut case with a gentle chime.",
    ),
    (
        "Laptop sleeve",
        "bag",
        3_200,
        17,
        "Felt sleeve with a magnetic flap.",
    ),
    (
        "Glass carafe",
        "vase",
        2_400,
        14,
        "One litre with a cup that doubles as a lid.",
    ),
    (
        "Picnic blanket",
        "bag",
        4_400,
        10,
        "Waterproof backing, rolls up with a strap.",
    ),
];

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let key = IdentityKey::from_env().context("INTERNAL_AUTH_SECRET")?;
    let user_url = env_or("USER_SERVICE_URL", "http://127.0.0.1:8081");
    let inventory_url = env_or("INVENTORY_SERVICE_URL", "http://127.0.0.1:8082");
    let password = env_or("DEMO_PASSWORD", "demo-password");
    let http = reqwest::Client::new();

    let mut sellers = Vec::new();
    for (email, name) in SELLERS {
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
    for (n, (title, picture, price_cents, stock, description)) in ITEMS.iter().enumerate() {
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
        ITEMS.len()
    );
    Ok(())
}
