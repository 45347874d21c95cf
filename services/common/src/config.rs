//! Configuration comes only from environment variables, each with a default that works
//! against the local servers started by `scripts/infra.sh`.

use std::fmt::Display;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::str::FromStr;

/// An environment variable that is set but unusable, naming the variable, its value and why,
/// so a misconfigured service stops at startup with a clear message.
#[derive(Debug, thiserror::Error)]
#[error("environment variable {name} has an invalid value {value:?}: {reason}")]
pub struct ConfigError {
    /// The variable, e.g. `PORT`.
    pub name: String,
    /// What it held, shown so the typo can be spotted.
    pub value: String,
    /// Why the value was refused, e.g. the parser's error.
    pub reason: String,
}

/// The variable's value, or `default` when it is unset or empty.
pub fn env_or(name: &str, default: &str) -> String {
    match std::env::var(name) {
        Ok(value) if !value.trim().is_empty() => value,
        _ => default.to_owned(),
    }
}

/// The variable parsed as `T`, or `default` when it is unset or empty.
pub fn env_parse<T>(name: &str, default: T) -> Result<T, ConfigError>
where
    T: FromStr,
    T::Err: Display,
{
    match std::env::var(name) {
        Ok(value) if !value.trim().is_empty() => {
            value.trim().parse().map_err(|err: T::Err| ConfigError {
                name: name.to_owned(),
                value,
                reason: err.to_string(),
            })
        }
        _ => Ok(default),
    }
}

/// Where a service listens: `HOST` (default 127.0.0.1) and `PORT` (the service's own default;
/// 0 picks a free port, which the tests use).
pub fn listen_addr(default_port: u16) -> Result<SocketAddr, ConfigError> {
    let host: IpAddr = env_parse("HOST", IpAddr::V4(Ipv4Addr::LOCALHOST))?;
    let port: u16 = env_parse("PORT", default_port)?;
    Ok(SocketAddr::new(host, port))
}

/// Addresses of the infrastructure, shared by every service that uses them.
pub mod defaults {
    /// `MONGODB_URI` when unset: the local MongoDB.
    pub const MONGODB_URI: &str = "mongodb://127.0.0.1:27017";
    /// `REDIS_URL` when unset: the local Redis.
    pub const REDIS_URL: &str = "redis://127.0.0.1:6379";
    /// `KAFKA_BROKERS` when unset: the local Kafka broker.
    pub const KAFKA_BROKERS: &str = "127.0.0.1:9092";
    /// `SMTP_URL` when unset: the local SMTP server, without TLS or login.
    pub const SMTP_URL: &str = "smtp://127.0.0.1:1025";
}

/// Default ports of the services; the gateway finds them at these unless told otherwise.
pub mod ports {
    /// The web gateway that browsers talk to.
    pub const GATEWAY: u16 = 3000;
    /// Accounts, sessions and sign-in.
    pub const USER: u16 = 8081;
    /// Items and the public catalog.
    pub const INVENTORY: u16 = 8082;
    /// Purchases.
    pub const TRANSACTION: u16 = 8083;
    /// Receipt emails, sent by a Kafka consumer.
    pub const RECEIPT: u16 = 8084;
    /// The live-updates WebSocket hub.
    pub const NOTIFICATION: u16 = 8085;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_number_names_the_variable() {
        // SAFETY-free: a name no other test reads.
        unsafe { std::env::set_var("COMMON_TEST_BAD_PORT", "eighty") };
        let err = env_parse::<u16>("COMMON_TEST_BAD_PORT", 1).unwrap_err();
        assert!(err.to_string().contains("COMMON_TEST_BAD_PORT"), "{err}");
        assert!(err.to_string().contains("eighty"), "{err}");
    }

    #[test]
    fn an_unset_or_blank_variable_takes_the_default() {
        unsafe { std::env::set_var("COMMON_TEST_BLANK", "  ") };
        assert_eq!(env_or("COMMON_TEST_BLANK", "fallback"), "fallback");
        assert_eq!(env_parse("COMMON_TEST_UNSET_XYZ", 7u16).unwrap(), 7);
    }
}
