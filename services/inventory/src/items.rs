//! The `items` collection.

use common::infra::mongo::is_duplicate_key;
use common::infra::mongo::{Indexed, index, unique_index};
use futures::TryStreamExt;
use mongodb::bson::{self, doc, oid::ObjectId};
use mongodb::options::ReturnDocument;
use mongodb::{Collection, Database};
use serde::{Deserialize, Serialize};

use wire::inventory::CatalogPage;
use wire::inventory::ItemView;
use wire::{ItemId, UserId};

use crate::domain::{CatalogQuery, regex_literal};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ItemDocument {
    #[serde(rename = "_id")]
    pub id: ObjectId,
    pub seller_id: UserId,
    pub seller_name: String,
    pub title: String,
    pub description: String,
    pub price_cents: i64,
    pub stock: i64,
    pub sold: i64,
    pub image_url: Option<String>,
    /// In the catalog and for sale (items stored before sellers could take one off sale are).
    #[serde(default = "on_sale_unless_taken_off")]
    pub on_sale: bool,
    /// The client's key for "create this item", so a retried submit creates nothing new.
    pub request_id: String,
    pub created_at: bson::DateTime,
    pub updated_at: bson::DateTime,
}

impl ItemDocument {
    pub fn view(&self) -> ItemView {
        ItemView {
            id: ItemId::from_bytes(self.id.bytes()),
            seller_id: self.seller_id.clone(),
            seller_name: self.seller_name.clone(),
            title: self.title.clone(),
            description: self.description.clone(),
            price_cents: self.price_cents,
            stock: self.stock,
            sold: self.sold,
            image_url: self.image_url.clone(),
            on_sale: self.on_sale,
            created_at: self.created_at.timestamp_millis(),
            updated_at: self.updated_at.timestamp_millis(),
        }
    }
}

fn on_sale_unless_taken_off() -> bool {
    true
}

/// The fields an edit may change; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct ItemChanges {
    pub title: Option<String>,
    pub description: Option<String>,
    pub price_cents: Option<i64>,
    pub stock: Option<i64>,
    pub image_url: Option<Option<String>>,
    pub on_sale: Option<bool>,
}

pub enum EditOutcome {
    Edited(Box<ItemDocument>),
    NotFound,
    NotTheSeller,
}

#[derive(Clone)]
pub struct Items {
    collection: Collection<ItemDocument>,
}

impl Items {
    pub fn new(database: &Database) -> Self {
        Self {
            collection: database.collection("items"),
        }
    }

    /// Inserts the item, or returns the one this seller already created with the same
    /// request id (the first answer wins; `false` says it existed).
    pub async fn create(&self, item: ItemDocument) -> mongodb::error::Result<(ItemDocument, bool)> {
        match self.collection.insert_one(&item).await {
            Ok(_) => Ok((item, true)),
            Err(err) if is_duplicate_key(&err) => {
                let existing = self
                    .collection
                    .find_one(doc! { "seller_id": item.seller_id.as_str(), "request_id": &item.request_id })
                    .await?;
                match existing {
                    Some(existing) => Ok((existing, false)),
                    None => Err(err),
                }
            }
            Err(err) => Err(err),
        }
    }

    /// The item `seller_id` listed with `request_id`, if any: a retried listing.
    pub async fn by_request(
        &self,
        seller_id: &UserId,
        request_id: &str,
    ) -> mongodb::error::Result<Option<ItemDocument>> {
        self.collection
            .find_one(doc! { "seller_id": seller_id.as_str(), "request_id": request_id })
            .await
    }

    /// Whether any item shows the picture at `site_path`.
    pub async fn use_picture(&self, site_path: &str) -> mongodb::error::Result<bool> {
        Ok(self
            .collection
            .clone_with_type::<bson::Document>()
            .find_one(doc! { "image_url": site_path })
            .projection(doc! { "_id": 1 })
            .await?
            .is_some())
    }

    pub async fn by_id(&self, id: ObjectId) -> mongodb::error::Result<Option<ItemDocument>> {
        self.collection.find_one(doc! { "_id": id }).await
    }

    pub async fn catalog(&self, query: &CatalogQuery) -> mongodb::error::Result<CatalogPage> {
        let mut filter = doc! { "on_sale": { "$ne": false } };
        if let Some(text) = &query.search {
            filter.insert(
                "title",
                doc! { "$regex": regex_literal(text), "$options": "i" },
            );
        }
        let total = self.collection.count_documents(filter.clone()).await?;
        let items: Vec<ItemDocument> = self
            .collection
            .find(filter)
            .sort(doc! { "created_at": -1, "_id": -1 })
            .skip((query.page - 1) * query.per_page)
            .limit(query.per_page as i64)
            .await?
            .try_collect()
            .await?;
        Ok(CatalogPage {
            items: items.iter().map(ItemDocument::view).collect(),
            page: query.page,
            per_page: query.per_page,
            total,
            search: query.search.clone(),
        })
    }

    pub async fn of_seller(&self, seller_id: &UserId) -> mongodb::error::Result<Vec<ItemDocument>> {
        self.collection
            .find(doc! { "seller_id": seller_id.as_str() })
            .sort(doc! { "created_at": -1, "_id": -1 })
            .limit(1_000)
            .await?
            .try_collect()
            .await
    }

    /// Applies `changes` only if `seller_id` sells the item: the check and the write are one
    /// conditional update, so no one else's edit slips in between.
    pub async fn edit(
        &self,
        id: ObjectId,
        seller_id: &UserId,
        changes: ItemChanges,
    ) -> mongodb::error::Result<EditOutcome> {
        let mut set = doc! { "updated_at": bson::DateTime::now() };
        if let Some(title) = changes.title {
            set.insert("title", title);
        }
        if let Some(description) = changes.description {
            set.insert("description", description);
        }
        if let Some(price) = changes.price_cents {
            set.insert("price_cents", price);
        }
        if let Some(stock) = changes.stock {
            set.insert("stock", stock);
        }
        if let Some(image_url) = changes.image_url {
            set.insert("image_url", image_url);
        }
        if let Some(on_sale) = changes.on_sale {
            set.insert("on_sale", on_sale);
        }
        let edited = self
            .collection
            .find_one_and_update(
                doc! { "_id": id, "seller_id": seller_id.as_str() },
                doc! { "$set": set },
            )
            .return_document(ReturnDocument::After)
            .await?;
        match edited {
            Some(item) => Ok(EditOutcome::Edited(Box::new(item))),
            None if self.by_id(id).await?.is_some() => Ok(EditOutcome::NotTheSeller),
            None => Ok(EditOutcome::NotFound),
        }
    }
}

impl Indexed for Items {
    const COLLECTION: &'static str = "items";

    async fn create_indexes(&self) -> mongodb::error::Result<()> {
        let indexes = vec![
            unique_index(
                doc! { "seller_id": 1, "request_id": 1 },
                "one_item_per_create_request",
            ),
            index(doc! { "created_at": -1, "_id": -1 }),
            index(doc! { "seller_id": 1, "created_at": -1 }),
        ];
        self.collection.create_indexes(indexes).await.map(drop)
    }
}
