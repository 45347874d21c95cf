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

#[derive(Clone)]
pub struct Users {
    collection: Collection<UserDocument>,
}

impl Users {
    pub fn new(database: &Database) -> Self {
        Self {
            collection: database.collection("users"),
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

    pub async fn by_id(&self, id: &wire::UserId) -> mongodb::error::Result<Option<UserDocument>> {
        let Ok(id) = ObjectId::parse_str(id.as_str()) else {
            return Ok(None);
        };
        self.collection.find_one(doc! { "_id": id }).await
    }
}

impl Indexed for Users {
    const COLLECTION: &'static str = "users";

    async fn create_indexes(&self) -> mongodb::error::Result<()> {
        let unique_email = unique_index(doc! { "email_key": 1 }, "unique_email");
        self.collection.create_index(unique_email).await.map(drop)
    }
}
