//! Runs the inventory service: configuration from the environment, served until stopped.

common::service_main!("inventory-service", inventory_service);
