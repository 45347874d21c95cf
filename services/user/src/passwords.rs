//! argon2id with the crate's defaults (m = 19 MiB, t = 2, p = 1: OWASP's recommendation),
//! always on a blocking thread so hashing never stalls the async workers.
//!
//! Each hash works in 19 MiB, so at most a few run at once ([`Hasher`]), each in a buffer
//! that is allocated once and reused; callers past that wait briefly in line and are then told
//! the service is busy, rather than piling up on the blocking pool (300 concurrent
//! registrations once took the service to 6 GiB; a fresh 19 MiB per hash, even a few at a
//! time, still grew it by about that much per hash under glibc).

use std::sync::Arc;
use std::time::Duration;

use std::sync::{Mutex, PoisonError};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::Semaphore;

use crate::domain::Password;

/// How much password hashing may run at once.
#[derive(Debug, Clone, Copy)]
pub struct HashingLimits {
    /// Hashes running at once (each holds 19 MiB).
    pub concurrent: usize,
    /// How long a caller waits for a turn before being told to come back.
    pub queue_wait: Duration,
}

impl Default for HashingLimits {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Self {
            concurrent: 2 * cores,
            queue_wait: Duration::from_secs(2),
        }
    }
}

/// Every hash and verification waited in line too long: the service is busy.
#[derive(Debug, thiserror::Error)]
#[error("too many sign-ins at once")]
pub struct Busy;

/// Why hashing gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// No turn came within the queue wait.
    #[error(transparent)]
    Busy(#[from] Busy),
    /// The hashing itself failed.
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

/// Hashes and verifies passwords, a bounded number at a time.
#[derive(Clone)]
pub struct Hasher {
    turns: Arc<Semaphore>,
    queue_wait: Duration,
    /// One working buffer per turn, made on first use and kept.
    buffers: Arc<Mutex<Vec<Vec<Block>>>>,
}

/// argon2id, v19, m = 19 MiB, t = 2, p = 1.
fn argon2id() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::default())
}

/// Runs argon2 in `memory` when it is the right size (it is for every hash this service
/// makes), in a buffer of its own otherwise (a hash made with other parameters).
fn hash_into(
    argon2: &Argon2<'_>,
    params: &Params,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
    memory: &mut [Block],
) -> anyhow::Result<()> {
    let result = if memory.len() == params.block_count() {
        argon2.hash_password_into_with_memory(password, salt, out, memory)
    } else {
        argon2.hash_password_into(password, salt, out)
    };
    result.map_err(|e| anyhow::anyhow!("hashing failed: {e}"))
}

impl Hasher {
    /// A hasher that runs at most `limits.concurrent` hashes at once.
    pub fn new(limits: HashingLimits) -> Self {
        Self {
            turns: Arc::new(Semaphore::new(limits.concurrent.max(1))),
            queue_wait: limits.queue_wait,
            buffers: Arc::default(),
        }
    }

    /// Runs `work` on a blocking thread with a working buffer, once a turn is free.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Vec<Block>) -> anyhow::Result<T> + Send + 'static,
    ) -> Result<T, HashError> {
        let turn = tokio::time::timeout(self.queue_wait, self.turns.clone().acquire_owned())
            .await
            .map_err(|_| Busy)?
            .map_err(|_| Busy)?;
        let buffers = self.buffers.clone();
        let result = tokio::task::spawn_blocking(move || {
            let _turn = turn;
            let mut memory = buffers
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .pop()
                .unwrap_or_else(|| vec![Block::default(); Params::default().block_count()]);
            let result = work(&mut memory);
            buffers
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(memory);
            result
        })
        .await
        .map_err(|err| anyhow::anyhow!("hashing task failed: {err}"))?;
        Ok(result?)
    }

    /// The PHC string of `password` with a fresh salt.
    pub async fn hash(&self, password: Password) -> Result<String, HashError> {
        self.run(move |memory| {
            let salt = SaltString::generate(&mut OsRng);
            let mut salt_bytes = [0u8; 64];
            let salt_raw = salt
                .decode_b64(&mut salt_bytes)
                .map_err(|e| anyhow::anyhow!("salt: {e}"))?;
            let params = Params::default();
            let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
            hash_into(
                &argon2id(),
                &params,
                password.expose().as_bytes(),
                salt_raw,
                &mut out,
                memory,
            )?;
            let hash = PasswordHash {
                algorithm: argon2::ARGON2ID_IDENT,
                version: Some(Version::V0x13.into()),
                params: ParamsString::try_from(&params)
                    .map_err(|e| anyhow::anyhow!("params: {e}"))?,
                salt: Some(salt.as_salt()),
                hash: Some(Output::new(&out).map_err(|e| anyhow::anyhow!("output: {e}"))?),
            };
            Ok(hash.to_string())
        })
        .await
    }

    /// Whether `password` matches `stored`. With `stored = None` (unknown email) it checks
    /// against a fixed dummy hash, so the answer takes as long as for a real account.
    pub async fn verify(
        &self,
        password: String,
        stored: Option<String>,
        dummy: &'static str,
    ) -> Result<bool, HashError> {
        self.run(move |memory| {
            let is_real = stored.is_some();
            let stored = stored.unwrap_or_else(|| dummy.to_owned());
            let parsed = PasswordHash::new(&stored)
                .map_err(|e| anyhow::anyhow!("stored hash unreadable: {e}"))?;
            let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
                anyhow::bail!("stored hash has no salt or no output");
            };
            let algorithm = Algorithm::try_from(parsed.algorithm)
                .map_err(|e| anyhow::anyhow!("stored hash algorithm: {e}"))?;
            let version = parsed
                .version
                .map(Version::try_from)
                .transpose()
                .map_err(|e| anyhow::anyhow!("stored hash version: {e}"))?
                .unwrap_or_default();
            let params = Params::try_from(&parsed)
                .map_err(|e| anyhow::anyhow!("stored hash params: {e}"))?;
            let mut salt_bytes = [0u8; 64];
            let salt_raw = salt
                .decode_b64(&mut salt_bytes)
                .map_err(|e| anyhow::anyhow!("stored salt: {e}"))?;
            let mut out = vec![0u8; expected.len()];
            let argon2 = Argon2::new(algorithm, version, params.clone());
            hash_into(
                &argon2,
                &params,
                password.as_bytes(),
                salt_raw,
                &mut out,
                memory,
            )?;
            let computed = Output::new(&out).map_err(|e| anyhow::anyhow!("output: {e}"))?;
            // Output compares in constant time.
            Ok(is_real && computed == expected)
        })
        .await
    }

    /// A hash of a random password, made once at start-up, for `verify` of unknown emails.
    pub async fn dummy_hash(&self) -> anyhow::Result<&'static str> {
        let random: String = (0..32)
            .map(|_| char::from(b'a' + rand::random_range(0..26u8)))
            .collect();
        let password = Password::parse(random).map_err(|e| anyhow::anyhow!(e.to_string()))?;
        let hash = self
            .hash(password)
            .await
            .map_err(|e| anyhow::anyhow!(e.to_string()))?;
        Ok(Box::leak(hash.into_boxed_str()))
    }
}
