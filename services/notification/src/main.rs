//! Runs the notification service: configuration from the environment, served until stopped.

common::service_main!("notification-service", notification_service);
