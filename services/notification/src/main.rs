#[tokio::main]
async fn main() -> anyhow::Result<()> {
    common::telemetry::init("notification-service");
    let config = notification_service::Config::from_env()?;
    notification_service::build(config)
        .await?
        .run_until_stopped()
        .await?;
    Ok(())
}
