//! Runs the transaction service: configuration from the environment, served until stopped.

common::service_main!("transaction-service", transaction_service);
