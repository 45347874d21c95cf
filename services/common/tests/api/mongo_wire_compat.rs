//! Does the MongoDB-wire server at `MONGODB_URI` do what the services rely on?
//!
//! One test per operation the services use, written against MongoDB's documented semantics.
//! `scripts/mongo-compat.sh` runs this file against each candidate local server and records
//! the results in docs/mongo-wire-compat.md; in CI it guards the chosen one.

use futures::TryStreamExt;
use marketplace_common::infra::mongo::is_duplicate_key;
use mongodb::bson::{self, Document, doc, oid::ObjectId};
use mongodb::options::{IndexOptions, ReturnDocument};
use mongodb::{Collection, Database, IndexModel};
use testkit::{Infra, unique_name};

async fn fresh_database() -> Database {
    let uri = Infra::from_env().mongodb_uri;
    let client = marketplace_common::infra::mongo::connect(&uri, "mongo-compat")
        .await
        .expect("client");
    client.database(&unique_name("compat"))
}

/// A fresh `items` collection in `db` holding one item with `fields` (and a new `_id`), and
/// that id.
async fn one_item(db: &Database, fields: Document) -> (Collection<Document>, ObjectId) {
    let items: Collection<Document> = db.collection("items");
    let id = ObjectId::new();
    let mut item = doc! { "_id": id };
    item.extend(fields);
    items.insert_one(item).await.expect("insert");
    (items, id)
}

/// The item `id` as stored now.
async fn stored(items: &Collection<Document>, id: ObjectId) -> Document {
    items
        .find_one(doc! { "_id": id })
        .await
        .expect("find")
        .expect("present")
}

#[tokio::test]
async fn insert_and_find_by_object_id_round_trips_types() {
    let db = fresh_database().await;
    let now = bson::DateTime::now();
    let (items, id) = one_item(
        &db,
        doc! { "title": "Red lamp", "price_cents": 1_999_i64, "stock": 3_i32, "created_at": now },
    )
    .await;
    let found = stored(&items, id).await;
    assert_eq!(found.get_str("title").ok(), Some("Red lamp"));
    assert_eq!(found.get_i64("price_cents").ok(), Some(1_999));
    assert_eq!(found.get_i32("stock").ok(), Some(3));
    assert_eq!(found.get_datetime("created_at").ok(), Some(&now));
    db.drop().await.expect("drop");
}

#[tokio::test]
async fn a_unique_index_refuses_duplicates_on_insert_and_update() {
    let db = fresh_database().await;
    let users: Collection<Document> = db.collection("users");
    users
        .create_index(
            IndexModel::builder()
                .keys(doc! { "email": 1 })
                .options(IndexOptions::builder().unique(true).build())
                .build(),
        )
        .await
        .expect("create unique index");
    users
        .insert_one(doc! { "email": "a@example.com" })
        .await
        .expect("first insert");
    users
        .insert_one(doc! { "email": "b@example.com" })
        .await
        .expect("second insert");
    let err = users
        .insert_one(doc! { "email": "a@example.com" })
        .await
        .expect_err("duplicate insert");
    assert!(is_duplicate_key(&err), "{err:?}");
    let err = users
        .update_one(
            doc! { "email": "b@example.com" },
            doc! { "$set": { "email": "a@example.com" } },
        )
        .await
        .expect_err("update into a duplicate");
    assert!(is_duplicate_key(&err), "{err:?}");
    db.drop().await.expect("drop");
}

/// The local server orders its unique indexes by value (`scripts/mongo-java-server`,
/// `KeyOrder`); MongoDB compares index keys by BSON type and value. Either way every stored key
/// is found again by value, a number is the same key whatever its BSON type, and a compound key
/// differs when any part does.
#[tokio::test]
async fn a_unique_index_finds_every_key_of_every_kind() {
    let db = fresh_database().await;
    let entries: Collection<Document> = db.collection("entries");
    entries
        .create_index(
            IndexModel::builder()
                .keys(doc! { "owner": 1, "key": 1 })
                .options(IndexOptions::builder().unique(true).build())
                .build(),
        )
        .await
        .expect("create unique index");
    let ids: Vec<ObjectId> = (0..100).map(|_| ObjectId::new()).collect();
    let keys: Vec<bson::Bson> = (0..600_i64)
        .map(|n| match n % 6 {
            0 => bson::Bson::String(format!("entry:{n}")),
            1 => bson::Bson::Int64(n),
            2 => bson::Bson::Double(n as f64 + 0.5),
            3 => bson::Bson::ObjectId(ids[(n / 6) as usize]),
            4 => bson::Bson::Boolean(n % 12 == 4),
            _ => bson::Bson::DateTime(bson::DateTime::from_millis(n * 1_000)),
        })
        .collect();
    // Booleans repeat (two values): under their own owner, only the first of each is new.
    let owner_of = |key: &bson::Bson| match key {
        bson::Bson::Boolean(_) => "one",
        _ => "many",
    };
    let mut stored = 0;
    for (n, key) in keys.iter().enumerate() {
        let owner = owner_of(key);
        match entries
            .insert_one(doc! { "owner": owner, "key": key.clone(), "n": n as i64 })
            .await
        {
            Ok(_) => stored += 1,
            Err(err) if is_duplicate_key(&err) => {
                assert!(
                    matches!(key, bson::Bson::Boolean(_)),
                    "{key:?} refused: {err:?}"
                )
            }
            Err(err) => panic!("insert {key:?}: {err:?}"),
        }
    }
    assert_eq!(stored, 500 + 2);
    for key in &keys {
        let found = entries
            .find_one(doc! { "owner": owner_of(key), "key": key.clone() })
            .await
            .expect("find");
        assert!(found.is_some(), "{key:?} not found by its unique key");
    }
    let err = entries
        .insert_one(doc! { "owner": "many", "key": 1_i32 })
        .await
        .expect_err("1 as an int32 is the stored int64 1");
    assert!(is_duplicate_key(&err), "{err:?}");
    entries
        .insert_one(doc! { "owner": "other", "key": 1_i64 })
        .await
        .expect("another owner with the same key is a different compound key");
    db.drop().await.expect("drop");
}

#[tokio::test]
async fn find_sorts_skips_limits_and_projects() {
    let db = fresh_database().await;
    let items: Collection<Document> = db.collection("items");
    let docs: Vec<Document> = (0..25)
        .map(|n| doc! { "n": n, "title": format!("item {n}"), "secret": "x" })
        .collect();
    items.insert_many(docs).await.expect("insert many");
    let page: Vec<Document> = items
        .find(doc! {})
        .sort(doc! { "n": -1 })
        .skip(10)
        .limit(5)
        .projection(doc! { "n": 1, "title": 1 })
        .await
        .expect("find")
        .try_collect()
        .await
        .expect("collect");
    let ns: Vec<i32> = page.iter().filter_map(|d| d.get_i32("n").ok()).collect();
    assert_eq!(ns, vec![14, 13, 12, 11, 10]);
    assert!(
        page.iter().all(|d| !d.contains_key("secret")),
        "projection ignored: {page:?}"
    );
    assert_eq!(
        items
            .count_documents(doc! { "n": { "$gte": 20 } })
            .await
            .expect("count"),
        5
    );
    db.drop().await.expect("drop");
}

#[tokio::test]
async fn case_insensitive_regex_and_in_filters() {
    let db = fresh_database().await;
    let items: Collection<Document> = db.collection("items");
    items
        .insert_many(vec![
            doc! { "title": "Red Lamp", "seller": "a" },
            doc! { "title": "lamp shade", "seller": "b" },
            doc! { "title": "Chair", "seller": "c" },
        ])
        .await
        .expect("insert");
    let lamps = items
        .count_documents(doc! { "title": { "$regex": "LAMP", "$options": "i" } })
        .await
        .expect("regex");
    assert_eq!(lamps, 2);
    let of_sellers = items
        .count_documents(doc! { "seller": { "$in": ["a", "c"] } })
        .await
        .expect("in");
    assert_eq!(of_sellers, 2);
    db.drop().await.expect("drop");
}

#[tokio::test]
async fn guarded_increment_never_oversells_under_concurrency() {
    let db = fresh_database().await;
    let (items, id) = one_item(&db, doc! { "stock": 10_i32, "sold": 0_i32 }).await;

    let attempts = (0..50).map(|_| {
        let items = items.clone();
        tokio::spawn(async move {
            items
                .find_one_and_update(
                    doc! { "_id": id, "stock": { "$gte": 1 } },
                    doc! { "$inc": { "stock": -1, "sold": 1 } },
                )
                .return_document(ReturnDocument::After)
                .await
                .expect("find_one_and_update")
        })
    });
    let mut succeeded = 0;
    for attempt in attempts {
        if attempt.await.expect("task").is_some() {
            succeeded += 1;
        }
    }
    assert_eq!(succeeded, 10);
    let item = stored(&items, id).await;
    assert_eq!(item.get_i32("stock").ok(), Some(0));
    assert_eq!(item.get_i32("sold").ok(), Some(10));
    db.drop().await.expect("drop");
}

/// Purchases of one popular item, as the inventory makes them: a guarded `$inc` that pushes the
/// reservation's marker, then a `$pull` of the marker once the purchase is complete. Every
/// change the server acknowledges must count, however many arrive at once (a server that reads,
/// changes and writes a document back without a lock loses some: FerretDB 1.24 on PostgreSQL
/// counted 2,206 units sold for 3,343 completed purchases in purchase-bench).
#[tokio::test]
async fn concurrent_changes_of_one_document_are_each_counted() {
    let db = fresh_database().await;
    let (items, id) = one_item(
        &db,
        doc! { "stock": 1_000_000_i64, "sold": 0_i64, "pending": [] },
    )
    .await;

    const BUYERS: usize = 64;
    const PURCHASES_EACH: usize = 10;
    let buyers = (0..BUYERS).map(|_| {
        let items = items.clone();
        tokio::spawn(async move {
            let (mut acknowledged, mut clearing) = (0, Vec::new());
            for _ in 0..PURCHASES_EACH {
                let marker = ObjectId::new();
                let reserved = items
                    .find_one_and_update(
                        doc! { "_id": id, "stock": { "$gte": 1 }, "pending": { "$ne": marker } },
                        doc! {
                            "$inc": { "stock": -1_i64, "sold": 1_i64 },
                            "$push": { "pending": marker },
                        },
                    )
                    .return_document(ReturnDocument::After)
                    .await
                    .expect("find_one_and_update");
                if reserved.is_some() {
                    acknowledged += 1;
                }
                // Cleared in the background, as the inventory does.
                let items = items.clone();
                clearing.push(tokio::spawn(async move {
                    items
                        .update_one(doc! { "_id": id }, doc! { "$pull": { "pending": marker } })
                        .await
                        .expect("update_one");
                }));
            }
            for cleared in clearing {
                cleared.await.expect("task");
            }
            acknowledged
        })
    });
    let mut acknowledged = 0;
    for buyer in buyers {
        acknowledged += buyer.await.expect("task");
    }
    assert_eq!(acknowledged, (BUYERS * PURCHASES_EACH) as u64);
    let item = stored(&items, id).await;
    assert_eq!(
        (item.get_i64("sold").ok(), item.get_i64("stock").ok()),
        (
            Some(acknowledged as i64),
            Some(1_000_000 - acknowledged as i64)
        ),
        "acknowledged {acknowledged} increments"
    );
    assert_eq!(
        item.get_array("pending").map(Vec::len).ok(),
        Some(0),
        "every marker pulled"
    );
    db.drop().await.expect("drop");
}

#[tokio::test]
async fn find_one_and_update_returns_the_projected_document_after_the_change() {
    let db = fresh_database().await;
    let (items, id) = one_item(&db, doc! { "stock": 2_i32, "title": "old" }).await;
    let after = items
        .find_one_and_update(
            doc! { "_id": id },
            doc! { "$set": { "title": "new" }, "$inc": { "stock": 3 } },
        )
        .return_document(ReturnDocument::After)
        .await
        .expect("update")
        .expect("matched");
    assert_eq!(after.get_str("title").ok(), Some("new"));
    assert_eq!(after.get_i32("stock").ok(), Some(5));
    let missing = items
        .find_one_and_update(
            doc! { "_id": id, "stock": { "$gte": 6 } },
            doc! { "$inc": { "stock": -6 } },
        )
        .await
        .expect("update");
    assert!(missing.is_none(), "the guard must stop the update");
    db.drop().await.expect("drop");
}

#[tokio::test]
async fn upsert_with_set_on_insert_keeps_the_first_value() {
    let db = fresh_database().await;
    let keys: Collection<Document> = db.collection("idempotency");
    for answer in ["first", "second"] {
        keys.update_one(
            doc! { "_id": "key-1" },
            doc! { "$setOnInsert": { "answer": answer } },
        )
        .upsert(true)
        .await
        .expect("upsert");
    }
    let stored = keys
        .find_one(doc! { "_id": "key-1" })
        .await
        .expect("find")
        .expect("present");
    assert_eq!(stored.get_str("answer").ok(), Some("first"));
    assert_eq!(keys.count_documents(doc! {}).await.expect("count"), 1);
    db.drop().await.expect("drop");
}

#[tokio::test]
async fn aggregate_unwinds_and_groups_sales_per_seller() {
    let db = fresh_database().await;
    let transactions: Collection<Document> = db.collection("transactions");
    transactions
        .insert_many(vec![
            doc! { "lines": [
                { "seller": "a", "qty": 2_i32, "line_total_cents": 400_i64 },
                { "seller": "b", "qty": 1_i32, "line_total_cents": 150_i64 },
            ] },
            doc! { "lines": [ { "seller": "a", "qty": 1_i32, "line_total_cents": 200_i64 } ] },
        ])
        .await
        .expect("insert");
    let totals: Vec<Document> = transactions
        .aggregate(vec![
            doc! { "$unwind": "$lines" },
            doc! { "$match": { "lines.seller": "a" } },
            doc! { "$group": { "_id": "$lines.seller", "qty": { "$sum": "$lines.qty" }, "cents": { "$sum": "$lines.line_total_cents" } } },
            doc! { "$sort": { "_id": 1 } },
        ])
        .await
        .expect("aggregate")
        .try_collect()
        .await
        .expect("collect");
    assert_eq!(totals.len(), 1, "{totals:?}");
    let qty = totals[0]
        .get("qty")
        .and_then(bson::Bson::as_i64)
        .or_else(|| totals[0].get_i32("qty").ok().map(i64::from));
    assert_eq!(qty, Some(3), "{totals:?}");
    assert_eq!(totals[0].get_i64("cents").ok(), Some(600), "{totals:?}");
    db.drop().await.expect("drop");
}

#[tokio::test]
async fn aggregate_pages_unwound_lines_and_sums_them_per_utc_day() {
    let db = fresh_database().await;
    let transactions: Collection<Document> = db.collection("transactions");
    // 2026-12-03T23:59:59Z and 2026-12-04T00:00:00Z: a second apart, two days apart.
    let (late, early) = (
        bson::DateTime::from_millis(1_796_342_399_000),
        bson::DateTime::from_millis(1_796_342_400_000),
    );
    transactions
        .insert_many(vec![
            doc! { "_id": 1, "created_at": late, "lines": [
                { "seller": "a", "cents": 400_i64 }, { "seller": "b", "cents": 1_i64 },
            ] },
            doc! { "_id": 2, "created_at": early, "lines": [ { "seller": "a", "cents": 200_i64 } ] },
            doc! { "_id": 3, "created_at": early, "lines": [ { "seller": "a", "cents": 50_i64 } ] },
        ])
        .await
        .expect("insert");
    let this_sellers_lines = [
        doc! { "$unwind": "$lines" },
        doc! { "$match": { "lines.seller": "a" } },
    ];
    let mut page = vec![doc! { "$sort": { "created_at": -1, "_id": -1 } }];
    page.extend(this_sellers_lines.iter().cloned());
    page.extend([doc! { "$skip": 1_i64 }, doc! { "$limit": 1_i64 }]);
    let second: Vec<Document> = transactions
        .aggregate(page)
        .await
        .expect("aggregate a page")
        .try_collect()
        .await
        .expect("collect");
    assert_eq!(
        second
            .iter()
            .map(|d| d.get_i32("_id").ok())
            .collect::<Vec<_>>(),
        [Some(2)],
        "{second:?}"
    );

    let mut per_day = this_sellers_lines.to_vec();
    per_day.extend([
        doc! { "$group": {
            "_id": { "$dateToString": { "format": "%Y-%m-%d", "date": "$created_at" } },
            "cents": { "$sum": "$lines.cents" },
        } },
        doc! { "$sort": { "_id": 1 } },
    ]);
    let days: Vec<Document> = transactions
        .aggregate(per_day)
        .await
        .expect("aggregate per day")
        .try_collect()
        .await
        .expect("collect");
    let days: Vec<(&str, i64)> = days
        .iter()
        .map(|d| {
            (
                d.get_str("_id").unwrap_or("?"),
                d.get_i64("cents").unwrap_or(-1),
            )
        })
        .collect();
    assert_eq!(days, [("2026-12-03", 400), ("2026-12-04", 250)]);
    db.drop().await.expect("drop");
}

#[tokio::test]
async fn claim_the_oldest_pending_outbox_entry_once() {
    let db = fresh_database().await;
    let outbox: Collection<Document> = db.collection("transactions");
    let now = bson::DateTime::now();
    outbox
        .insert_many(vec![
            doc! { "_id": 1, "outbox": "pending", "created_at": now },
            doc! { "_id": 2, "outbox": "pending", "created_at": now },
        ])
        .await
        .expect("insert");
    let claim = || {
        outbox
            .find_one_and_update(
                doc! { "outbox": "pending" },
                doc! { "$set": { "outbox": "sent" } },
            )
            .sort(doc! { "created_at": 1, "_id": 1 })
    };
    let first = claim().await.expect("claim").expect("one pending");
    let second = claim().await.expect("claim").expect("another pending");
    assert_eq!(first.get_i32("_id").ok(), Some(1));
    assert_eq!(second.get_i32("_id").ok(), Some(2));
    assert!(claim().await.expect("claim").is_none());
    db.drop().await.expect("drop");
}
