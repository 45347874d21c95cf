//! The `users` collection: one document per account, unique by the lower-cased email.

use common::infra::mongo::is_duplicate_key;
use common::infra::mongo::{Indexed, unique_index};
use mongodb::bson::{self, doc, oid::ObjectId};
use mongodb::{Collection, Database};
use serde::{Deserialize, Serialize};
use wire::user::UserView;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserDocument {
    #[serde(rename = "_id")]
    pub id: ObjectId,
    pub email: String,
    pub email_key: String,
    pub display_name: String,
    pub password_hash: String,
    pub created_at: bson::DateTime,
}

impl UserDocument {
    /// What other services and the gateway see of a user (never the hash).
    pub fn view(&self) -> UserView {
        UserView {
            id: wire::UserId::from_bytes(self.id.bytes()),
            email: self.email.clone(),
            display_name: self.display_name.clone(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum InsertError {
    #[error("an account with this email already exists")]
    EmailTaken,
    #[error(transparent)]
    Database(#[from] mongodb::error::Error),
}

/// The accounts, and the views of those recently seen by id.
#[derive(Clone)]
pub struct Users {
    collection: Collection<UserDocument>,
    /// An account never changes once registered (no route edits one), so a view read once
    /// stays true: every signed-in request asks who its session's user is, and this answers
    /// it without a database read. Bounded in size, and in time for an operator's direct
    /// deletion of an account.
    views: moka::sync::Cache<ObjectId, UserView>,
}

/// At most this many views are kept (a few hundred bytes each).
const KEPT_VIEWS: u64 = 100_000;
/// A kept view is read again after this long.
const VIEW_TTL: std::time::Duration = std::time::Duration::from_secs(600);

impl Users {
    pub fn new(database: &Database) -> Self {
        Self {
            collection: database.collection("users"),
            views: moka::sync::Cache::builder()
                .max_capacity(KEPT_VIEWS)
                .time_to_live(VIEW_TTL)
                .build(),
        }
    }

    pub async fn insert(&self, user: &UserDocument) -> Result<(), InsertError> {
        match self.collection.insert_one(user).await {
            Ok(_) => Ok(()),
            Err(err) if is_duplicate_key(&err) => Err(InsertError::EmailTaken),
            Err(err) => Err(err.into()),
        }
    }

    pub async fn by_email_key(
        &self,
        email_key: &str,
    ) -> mongodb::error::Result<Option<UserDocument>> {
        self.collection
            .find_one(doc! { "email_key": email_key })
            .await
    }

    /// What others see of the account `id`, if there is one; from memory when seen lately.
    pub async fn view_by_id(&self, id: &wire::UserId) -> mongodb::error::Result<Option<UserView>> {
        let Ok(id) = ObjectId::parse_str(id.as_str()) else {
            return Ok(None);
        };
        if let Some(view) = self.views.get(&id) {
            return Ok(Some(view));
        }
        let found = self.collection.find_one(doc! { "_id": id }).await?;
        let view = found.map(|user| user.view());
        if let Some(view) = &view {
            self.views.insert(id, view.clone());
        }
        Ok(view)
    }
}

impl Indexed for Users {
    const COLLECTION: &'static str = "users";

    async fn create_indexes(&self) -> mongodb::error::Result<()> {
        let unique_email = unique_index(doc! { "email_key": 1 }, "unique_email");
        self.collection.create_index(unique_email).await.map(drop)
    }
}
