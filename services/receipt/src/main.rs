//! Runs the receipt service: configuration from the environment, served until stopped.

common::service_main!("receipt-service", receipt_service);
