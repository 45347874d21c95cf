//! The identity secret every service and gateway under test shares, as `INTERNAL_AUTH_SECRET`
//! is shared in a deployment.

use common::identity::IdentityKey;

/// The secret behind [`identity_key`], for a service started as a process of its own
/// (`INTERNAL_AUTH_SECRET`).
pub const IDENTITY_SECRET: &str = "marketplace-tests-identity-secret-0123456789";

/// The key the services and the gateway under test sign and verify identities with.
pub fn identity_key() -> IdentityKey {
    IdentityKey::new(IDENTITY_SECRET.to_owned().into()).expect("the test secret is long enough")
}
