//! Runs the user service: configuration from the environment, served until stopped.

common::service_main!("user-service", user_service);
